from google.protobuf import json_format

from trading.exchange.proto import PushDataV3ApiWrapper_pb2

# The fact sheet's first decoded example (section 10).
AGGRE_DEALS_EXAMPLE = {
    "channel": "spot@public.aggre.deals.v3.api.pb@100ms@BTCUSDT",
    "symbol": "BTCUSDT",
    "sendTime": "1736409765052",
    "publicAggreDeals": {
        "deals": [
            {
                "price": "93220.00",
                "quantity": "0.04438243",
                "tradeType": 2,
                "time": "1736409765051",
                "tradeId": "505979017439002624X1",
            }
        ],
        "eventType": "spot@public.aggre.deals.v3.api.pb@100ms",
    },
}


def test_the_documented_example_serializes_to_the_documented_wire_bytes():
    wrapper = json_format.ParseDict(AGGRE_DEALS_EXAMPLE, PushDataV3ApiWrapper_pb2.PushDataV3ApiWrapper())
    wire = wrapper.SerializeToString()
    assert len(wire) == 164
    assert wire.hex().startswith("0a2f73706f74")
    assert bytes.fromhex("d213") in wire


def test_a_frame_round_trips_through_the_wrapper_oneof():
    wrapper = json_format.ParseDict(AGGRE_DEALS_EXAMPLE, PushDataV3ApiWrapper_pb2.PushDataV3ApiWrapper())
    decoded = PushDataV3ApiWrapper_pb2.PushDataV3ApiWrapper.FromString(wrapper.SerializeToString())
    assert decoded.WhichOneof("body") == "publicAggreDeals"
    assert decoded.publicAggreDeals.deals[0].tradeId == "505979017439002624X1"
    assert json_format.MessageToDict(decoded) == AGGRE_DEALS_EXAMPLE


def test_the_2026_06_fields_exist():
    wrapper = PushDataV3ApiWrapper_pb2.PushDataV3ApiWrapper()
    wrapper.publicAggreDepths.lastOrderCreateTime = 5
    wrapper.publicLimitDepths.lastOrderCreateTime = 6
    wrapper.publicAggreBookTicker.version = "7"
    wrapper.publicBookTickerBatch.version = "8"
    assert wrapper.WhichOneof("body") == "publicBookTickerBatch"
