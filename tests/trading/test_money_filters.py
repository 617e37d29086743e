"""The number filters of the pages (trading/templatetags/money.py), and app.js's live formatter,
which must show the same digits (a live update never changes what the page showed)."""

from __future__ import annotations

import json
import subprocess
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings

from trading.templatetags.money import available, fixed, money

MONEY = [
    ("0.0063291", "0.006329"),
    ("0.006329", "0.006329"),
    ("0.0063", "0.0063"),
    ("0.99999", "0.9999"),
    ("0.5", "0.50"),
    ("0.123456", "0.1234"),
    ("0.00000001234567", "0.00000001234"),
    ("-0.0063291", "-0.006329"),
    ("1.239", "1.23"),
    ("1.999", "1.99"),
    ("-1.239", "-1.23"),
    ("9999.999", "9,999.99"),
    ("1234567.891", "1,234,567.89"),
    ("10000", "10,000.00"),
    ("1E+4", "10,000.00"),
    ("0", "0.00"),
    ("-0.000", "0.00"),
    ("100.123456789012345678", "100.12"),
]


@pytest.mark.parametrize(
    ("free", "places", "shown"),
    [
        (Decimal("1.20564752963"), 2, "1.20"),
        (Decimal("9999.999"), 2, "9,999.99"),
        (Decimal("0.0099"), 2, "0.00"),
        (Decimal("5"), 3, "5.000"),
        ("1.999", 0, "1"),
    ],
)
def test_an_available_amount_is_cut_toward_zero_never_rounded_up(free, places, shown):
    assert available(free, places) == shown


def test_a_plain_fixed_value_still_rounds_half_up():
    assert fixed(Decimal("1.205"), 2) == "1.21"


def test_an_available_amount_without_a_value_shows_a_dash():
    assert available(None, 2) == "—"


@pytest.mark.parametrize(("value", "shown"), MONEY)
def test_money_is_cut_toward_zero_and_keeps_four_significant_digits_below_one(value, shown):
    assert money(Decimal(value)) == shown
    assert money(value) == shown


def test_money_without_a_value_shows_a_dash():
    assert money(None) == "—"


HARNESS = """
const fs = require("fs");
const noop = () => {};
globalThis.window = globalThis;
globalThis.document = { addEventListener: noop, getElementById: () => null, querySelectorAll: () => [] };
eval(fs.readFileSync(process.argv[1], "utf8"));
const input = JSON.parse(process.argv[2]);
const f = window.bruteFormat;
let total = "0";
for (const [p, q] of input.book) total = f.plus(total, f.times(p, q));
console.log(JSON.stringify({
  money: input.money.map((v) => f.money(v)),
  available: input.available.map(([v, d]) => f.available(v, d)),
  total: total,
  shownTotal: f.money(total),
}));
"""


def run_app_js(payload: dict[str, object]) -> dict[str, object]:
    script = Path(settings.BASE_DIR) / "static" / "js" / "app.js"
    done = subprocess.run(
        ["node", "-e", HARNESS, str(script), json.dumps(payload)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_live_formatter_shows_the_same_digits_as_the_server():
    cases = [
        (Decimal("1.20564752963"), 2),
        (Decimal("9999.999"), 2),
        (Decimal("0.0099"), 2),
        (Decimal("5"), 0),
    ]
    # A ladder whose float sum is 114.99999999999999: the server's Decimal says 115.
    book = [("1.15", "50"), ("1.15", "50")]
    got = run_app_js(
        {
            "money": [value for value, _ in MONEY],
            "available": [[str(value), places] for value, places in cases],
            "book": book,
        }
    )

    assert got["money"] == [money(Decimal(value)) for value, _ in MONEY]
    assert got["available"] == [available(value, places) for value, places in cases]
    exact = sum((Decimal(p) * Decimal(q) for p, q in book), Decimal(0))
    assert Decimal(str(got["total"])) == exact
    assert got["shownTotal"] == money(exact) == "115.00"


BOOK_HARNESS = """
const fs = require("fs");
globalThis.CustomEvent ??= class extends Event {
  constructor(type, init) { super(type, init); this.detail = init?.detail; }
};
function el(tag) {
  return {
    tag, children: [], dataset: {}, className: "", textContent: "", innerHTML: "",
    classList: { add() {}, remove() {}, toggle() {} },
    append(...c) { this.children.push(...c); },
    replaceChildren(...c) { this.children = c; },
  };
}
const asks = el("tbody"), bids = el("tbody"), spread = el("td"), table = el("table");
const parts = { "[data-book-asks]": asks, "[data-book-bids]": bids, ".spread td": spread };
table.querySelector = (s) => parts[s];
const container = el("div");
container.dataset.depth = "20";
container.querySelector = () => table;
container.closest = () => container;
container.getAttribute = (name) => ({ "data-decimals": "2", "data-qty-decimals": "2" })[name];
const document = new EventTarget();
document.body = { dataset: { liveUrl: "/ws/live/", liveGroups: "market.SOLUSDT" } };
document.getElementById = () => null;
document.createElement = el;
document.querySelectorAll = (s) => (s === '[data-book="SOLUSDT"]' ? [container] : []);
globalThis.document = document;
globalThis.window = globalThis;
globalThis.CSS = { escape: (s) => s };
globalThis.location = { protocol: "http:", host: "testserver", hostname: "testserver" };
let socket;
globalThis.WebSocket = function () { socket = this; this.listeners = {}; this.readyState = 1; };
WebSocket.prototype.addEventListener = function (type, fn) { this.listeners[type] = fn; };
WebSocket.OPEN = 1;
globalThis.setInterval = () => 0;
eval(fs.readFileSync(process.argv[1], "utf8"));
eval(fs.readFileSync(process.argv[2], "utf8"));
const frame = JSON.parse(process.argv[3]);
socket.listeners.message({ data: JSON.stringify(frame) });
console.log(JSON.stringify(bids.children.map((tr) => tr.children[2].textContent)));
"""


def test_the_live_order_book_totals_show_the_servers_digits():
    from trading.quotes import _ladder

    # Float sums would give 57.49999999999999 and 114.99999999999999 here, cut to 57.49 and 114.99.
    bids = [["1.15", "50"], ["1.15", "50"], ["0.0001", "1.2345678"]]
    js = Path(settings.BASE_DIR) / "static" / "js"
    frame = {"type": "book", "symbol": "SOLUSDT", "asks": [], "bids": bids}
    done = subprocess.run(
        ["node", "-e", BOOK_HARNESS, str(js / "app.js"), str(js / "live.js"), json.dumps(frame)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    server = [money(level["cumulative"]) for level in _ladder(bids, Decimal(1), len(bids))]
    assert json.loads(done.stdout) == server == ["57.50", "115.00", "115.00"]
