"""Paper orders from 4 concurrent API clients against an app whose database is a real sqld.

Before: 27-47 % of such orders answered 500 (SQLITE_BUSY, "Transaction timed out"), and twice the
order had filled before the 500. Here the whole app runs as it would in production: daphne serving
the API with DATABASE_URL pointing at sqld, the paper exchange reading the project's simulated MEXC
over HTTP. Afterwards the books are checked exactly: every asset's balance is the starting balance
plus what the fills moved, and what is locked is what the open limit orders still need. One client
cancels all open orders halfway through, while the others keep placing.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from config.libsql.testing import free_port
from tests.config.conftest import Sqld
from trading.simexchange.config import SimConfig
from trading.simexchange.testing import SimExchangeThread

pytestmark = pytest.mark.sqld

ROOT = Path(__file__).resolve().parents[2]
WRITERS = 4
ROUNDS = 5  # each round: market buy by quote, limit buy below the market, market sell, limit sell above
SETTINGS = """
from config.settings import *  # noqa: F403
API_RATE_LIMIT_IP = "100000000/min"
API_RATE_LIMIT_TOKEN = "100000000/min"
"""
ASGI = """
from django.core.asgi import get_asgi_application
application = get_asgi_application()
"""
SETUP = """
import django
django.setup()
from accounts.models import Role, User
from accounts.tokens import api_token_create
from trading import services
services.symbols_sync()
user = User.objects.create_user("sqld-orders@example.com", "a long password 123", role=Role.TRADER)
services.trading_account_get_or_create(user=user)
print(api_token_create(user=user, name="test", scopes=["read", "trade"])[1])
"""


def orders_for(writer: int) -> list[dict[str, str]]:
    orders = []
    for i in range(ROUNDS):
        tag = f"w{writer}r{i}"
        orders += [
            {"side": "BUY", "type": "MARKET", "quote_quantity": "20", "client_order_id": f"{tag}mb"},
            {
                "side": "BUY",
                "type": "LIMIT",
                "quantity": "0.05",
                "price": "60.00",
                "client_order_id": f"{tag}lb",
            },
            {"side": "SELL", "type": "MARKET", "quantity": "0.05", "client_order_id": f"{tag}ms"},
            {
                "side": "SELL",
                "type": "LIMIT",
                "quantity": "0.02",
                "price": "900.00",
                "client_order_id": f"{tag}ls",
            },
        ]
    return [{"symbol": "SOLUSDT", **order} for order in orders]


def run(args: list[str], env: dict[str, str]) -> str:
    result = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_four_writers_place_paper_orders_on_sqld_with_no_errors_and_exact_books(
    sqld_servers: Sqld, tmp_path: Path
) -> None:
    url = sqld_servers.start("orders")
    (tmp_path / "sqld_orders_settings.py").write_text(SETTINGS)
    (tmp_path / "sqld_orders_asgi.py").write_text(ASGI)
    quiet = SimConfig(rate_limit_weight=10**9, rate_limit_strikes=10**9)
    with SimExchangeThread(quiet) as sim:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "DJANGO_"))},
            "DJANGO_SETTINGS_MODULE": "sqld_orders_settings",
            "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
            "BRUTE_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": url,
            "LIBSQL_AUTH_TOKEN": sqld_servers.token,
            "DATABASE_CONN_MAX_AGE": "0",
            "MEXC_BASE_URL": sim.base_url,
            "MEXC_WS_URL": sim.ws_url,
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "sqld-orders-" + "k" * 60,
            "LOG_LEVEL": "WARNING",
        }
        run([sys.executable, "manage.py", "migrate", "--no-input", "-v0"], env)
        token = run([sys.executable, "-c", SETUP], env).split()[-1]
        port = free_port()
        daphne = str(Path(sys.executable).with_name("daphne"))
        server = subprocess.Popen(
            [daphne, "-b", "127.0.0.1", "-p", str(port), "sqld_orders_asgi:application"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as probe:
                for _ in range(300):
                    try:
                        probe.get("/api/v1/openapi.json")
                        break
                    except httpx.TransportError:
                        assert server.poll() is None, (
                            server.stderr.read().decode()[-3000:] if server.stderr else ""
                        )
                        threading.Event().wait(0.1)
            outcomes: Counter[str] = Counter()
            canceled: list[Any] = []
            lock = threading.Lock()

            def writer(number: int) -> None:
                with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                    for i, order in enumerate(orders_for(number)):
                        if number == 0 and i == ROUNDS * 2:  # a cancel-all while the others place orders
                            response = http.post("/api/v1/orders/cancel-all")
                            with lock:
                                canceled.append(response.json().get("count", response.text[:200]))
                        response = http.post("/api/v1/orders", json=order)
                        with lock:
                            ok = response.status_code == 201
                            outcomes["201" if ok else f"{response.status_code} {response.text[:200]}"] += 1

            threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(600)
            # Read back through the API, which reads through the models: whatever the columns' encoding.
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                orders, fills = every(http, "/api/v1/orders"), every(http, "/api/v1/fills")
                balances = {
                    row["asset"]: (Decimal(row["free"]), Decimal(row["locked"]))
                    for row in http.get("/api/v1/balances").json()["balances"]
                }
        finally:
            server.terminate()
            server.wait(timeout=20)

    assert outcomes == Counter({"201": WRITERS * ROUNDS * 4})
    assert len(orders) == WRITERS * ROUNDS * 4
    usdt, sol = Decimal(10000), Decimal(0)
    for fill in fills:
        qty, quote, commission = (Decimal(fill[k]) for k in ("quantity", "quote_quantity", "commission"))
        if fill["side"] == "BUY":
            usdt -= quote
            sol += qty - (commission if fill["commission_asset"] == "SOL" else 0)
        else:
            sol -= qty
            usdt += quote - (commission if fill["commission_asset"] == "USDT" else 0)
    resting = [order for order in orders if order["is_open"]]
    locked_usdt = sum(
        (rest(order) * Decimal(order["price"]) for order in resting if order["side"] == "BUY"), Decimal(0)
    )
    locked_sol = sum((rest(order) for order in resting if order["side"] == "SELL"), Decimal(0))
    # Every limit order rests (buys below the market, sells above it) until the cancel-all met some.
    assert isinstance(canceled[0], int)
    assert canceled[0] > 0
    assert sum(order["status"] == "CANCELED" for order in orders) == canceled[0]
    assert len(resting) == WRITERS * ROUNDS * 2 - canceled[0]
    assert balances["USDT"] == (usdt - locked_usdt, locked_usdt)
    assert balances["SOL"] == (sol - locked_sol, locked_sol)


def every(http: httpx.Client, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page: dict[str, Any] = {"next": f"{path}?limit=100"}
    while page["next"]:
        page = http.get(page["next"]).json()
        items += page["items"]
    return items


def rest(order: dict[str, Any]) -> Decimal:
    return Decimal(order["quantity"]) - Decimal(order["executed_quantity"])
