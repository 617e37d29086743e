"""MEXC spot WebSocket protobuf messages (generated; regenerate with scripts/gen-protos.sh).

Every binary frame is one serialized ``PushDataV3ApiWrapper``; import as
``from trading.exchange.proto import PushDataV3ApiWrapper_pb2``.
"""
