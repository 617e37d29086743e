from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.models import User
from config import realtime as live
from trading import services
from trading.schemas import OrderOut
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = ("feed.control", "live.text")


def test_group_names_come_from_one_place() -> None:
    assert live.user_group(7) == "user.7"
    assert live.market_group("SOLUSDT") == "market.SOLUSDT"
    assert live.ALL_MARKETS_GROUP == "markets"
    assert live.FEED_CONTROL_GROUP == "feed.control"


def test_no_app_spells_a_group_name_or_the_forwarded_type_itself() -> None:
    """config/realtime.py names the groups and the type the socket forwards; the apps import them."""
    root = Path(__file__).resolve().parents[2]
    found = []
    for app in ("accounts", "backups", "config", "trading"):
        for path in (root / app).rglob("*.py"):
            if path == root / "config" / "realtime.py" or "simexchange" in path.parts:
                continue
            tree = ast.parse(path.read_text())
            docstrings = {
                id(node.body[0].value)
                for node in ast.walk(tree)
                if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and node.body
                and isinstance(node.body[0], ast.Expr)
            }
            found += [
                f"{path.relative_to(root)}:{node.lineno}"
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and (
                    node.value.startswith(("user.", "market.")) or node.value in ("feed.control", "live.text")
                )
            ]
    assert found == []


def test_an_order_is_announced_to_its_owner_after_commit(synced: SimExchangeThread, trader: User) -> None:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(live.user_group(trader.pk), channel)

    order = services.order_place(
        user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="20"
    )

    seen = []
    while True:
        message = async_to_sync(layer.receive)(channel)
        seen.append(message)
        if message["type"] == "order.changed" and message["order"]["status"] == "FILLED":
            break
    # A paper order is written once, filled, in one transaction: no PENDING state is ever committed.
    assert [m["order"]["status"] for m in seen if m["type"] == "order.changed"] == ["FILLED"]
    assert seen[-1]["order"]["id"] == order.pk
    assert "api_secret" not in str(seen)
    # The event carries the API's shape (OrderOut), amounts as plain-notation strings.
    order.refresh_from_db()
    event = seen[-1]["order"]
    assert set(event) == set(OrderOut.model_fields)
    assert event["executed_quantity"] == format(order.executed_qty.normalize(), "f")
    assert event["average_price"] == format(order.avg_price.normalize(), "f")
    assert json.loads(json.dumps(event)) == event


def test_an_order_event_that_cannot_be_built_never_undoes_the_order(
    synced: SimExchangeThread, trader: User, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The live event is a display concern: a serialisation failure is logged, the order stays."""
    from trading import realtime
    from trading.models import Order

    def broken(order: Order) -> dict[str, object]:
        raise ValueError("a status the schema does not know")

    monkeypatch.setattr(realtime, "order_json", broken)
    order = services.order_place(
        user=trader, symbol="SOLUSDT", side="BUY", type="MARKET", quote_quantity="20"
    )
    assert Order.objects.get(pk=order.pk).status == "FILLED"
    assert "live event not built" in caplog.text
