"""static/js/countdown.js run under Node with a minimal DOM: it must use live.js's one socket (the
"brute:listing" events live.js dispatches), never open a second WebSocket of its own."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from django.conf import settings

HARNESS = """
const fs = require("fs");
// Node 18 (Debian 12's nodejs) has EventTarget and Event but no global CustomEvent yet.
globalThis.CustomEvent ??= class extends Event {
  constructor(type, init) { super(type, init); this.detail = init?.detail; }
};
let sockets = 0;
const cell = { textContent: "upcoming" };
const document = new EventTarget();
document.body = new EventTarget();
document.body.dataset = { liveUrl: "/ws/live/" };
const wanted = '[data-listing="NEWUSDT"] .listing-state';
document.querySelectorAll = (selector) => (selector === wanted ? [cell] : []);
let refreshed = 0;
document.body.addEventListener("sniper-listing", () => { refreshed += 1; });
globalThis.document = document;
globalThis.window = globalThis;
globalThis.location = { protocol: "http:", host: "testserver", hostname: "testserver" };
globalThis.WebSocket = function () { sockets += 1; this.readyState = 0; };
globalThis.setInterval = () => 0;
eval(fs.readFileSync(process.argv[1], "utf8"));
const frame = { type: "listing", symbol: "NEWUSDT", state: "open" };
document.dispatchEvent(new CustomEvent("brute:listing", { detail: frame }));
console.log(JSON.stringify({ sockets, state: cell.textContent, refreshed }));
"""


def test_countdown_takes_listing_events_from_live_js_and_opens_no_socket_of_its_own() -> None:
    script = Path(settings.BASE_DIR) / "static" / "js" / "countdown.js"
    run = subprocess.run(
        ["node", "-e", HARNESS, str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert json.loads(run.stdout) == {"sockets": 0, "state": "open", "refreshed": 1}


def test_only_live_js_opens_a_websocket() -> None:
    scripts = (Path(settings.BASE_DIR) / "static" / "js").glob("*.js")
    assert [p.name for p in scripts if "new WebSocket" in p.read_text()] == ["live.js"]
