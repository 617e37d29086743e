"""Where the web process's CPU goes for one paper order: `bench api_trading`'s POST /api/v1/orders
(a MARKET buy for 2 USDT of SOLUSDT) through `make run`'s WSGI application (config/wsgi.py, every
middleware, token auth, throttles, the API), called in one process under cProfile.

Set up as `bench api_trading` does: the simulated exchange, a migrated temporary database with the
bench's trader and token, and the "live" process the order's events are posted to. The orders run
on one thread, one after another (PROFILE_ORDERS, default 300, after 50 warm-up ones), so the
figures are the request's own CPU without contention. Prints the CPU ms per order of the process and
of each of its threads (unprofiled), then, from a second, profiled run of the same number: the
app's own functions by cumulative time scaled to the unprofiled CPU, and every function by
cumulative and by own time (PROFILE_LINES, default 45). PROFILE_OUT=file keeps the raw profile.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from bench._app import ROOT, live_environment, serve
from bench.api import environment
from bench.api_trading import ORDER, ORDERS, SETTINGS, SimExchange, prepare, simulated

ORDERS_N = int(os.environ.get("PROFILE_ORDERS", "300"))
LINES = int(os.environ.get("PROFILE_LINES", "45"))

CHILD = """
import cProfile, io, json, os, pstats, sys, threading, time
sys.setrecursionlimit(10000)
from config.wsgi import application
from config import livebus

token, path, body = sys.argv[1], sys.argv[2], sys.argv[3].encode()
n, lines = int(sys.argv[4]), int(sys.argv[5])
base = {
    "REQUEST_METHOD": "POST", "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
    "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
    "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
    "HTTP_AUTHORIZATION": "Bearer " + token, "HTTP_HOST": "127.0.0.1:8000",
    "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": True,
    "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
}
statuses = []

def order():
    environ = dict(base, **{"wsgi.input": io.BytesIO(body)})
    def start_response(status, headers, exc_info=None):
        statuses.append(status[:3])
    answer = application(environ, start_response)
    b"".join(answer)
    answer.close()

def cpu_ms(k):
    start, mine = time.process_time(), time.thread_time()
    for _ in range(k):
        order()
    livebus.flush()
    return (time.process_time() - start) * 1000 / k, (time.thread_time() - mine) * 1000 / k

def by_thread():
    tick = os.sysconf("SC_CLK_TCK")
    names = {t.native_id: t.name for t in threading.enumerate()}
    seen = {}
    for tid in os.listdir("/proc/self/task"):
        try:
            fields = open(f"/proc/self/task/{tid}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        name = names.get(int(tid), "other")
        seen[name] = seen.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return seen

cpu_ms(50)
threads_before = by_thread()
plain, thread = cpu_ms(n)
threads_after = by_thread()
profiler = cProfile.Profile(time.thread_time)  # the request thread's CPU, not its waits
profiler.enable()
cpu_ms(n)
profiler.disable()
if os.environ.get("PROFILE_OUT"):
    profiler.dump_stats(os.environ["PROFILE_OUT"])
bad = [s for s in statuses if s != "201"]
print(
    f"CPU per order: {plain:.2f} ms in the process, {thread:.2f} ms of it in the request's thread "
    f"(the rest: the hub loop's depth request, the live events' sender); {n} orders one after "
    f"another, {len(bad)} answered other than 201 {sorted(set(bad))}"
)
spent = {k: (v - threads_before.get(k, 0.0)) * 1000 / n for k, v in threads_after.items()}
ranked = sorted(spent.items(), key=lambda kv: -kv[1])
print("  by thread (ms per order): " + ", ".join(f"{k} {v:.2f}" for k, v in ranked if v))
stats = pstats.Stats(profiler)
# The profiler slows the thread several times over: its figures are scaled to the unprofiled CPU.
scale = thread / (stats.total_tt * 1000 / n)
root = os.getcwd() + os.sep
print(f"the app's own functions, cumulative ms per order (profiled figures x {scale:.2f}):")
ours = [
    (ct * 1000 / n * scale, nc / n, f"{f.removeprefix(root)}:{line} {name}")
    for (f, line, name), (cc, nc, tt, ct, callers) in stats.stats.items()
    if f.startswith(root) and ".venv" not in f
]
for cum, calls, where in sorted(ours, reverse=True)[:lines]:
    print(f"  {cum:6.2f} ms  {calls:4.1f} calls  {where}")
for key in ("cumulative", "tottime"):
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats(key).print_stats(lines)
    print(out.getvalue())
"""


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="brute-bench-profile-") as name, SimExchange() as exchange:
        tmp = Path(name)
        (tmp / "bench_api_settings.py").write_text(SETTINGS)
        env = simulated(environment(tmp, None), exchange)
        token = prepare(env)["Authorization"].split()[-1]
        with serve(env, logs=tmp, roles=("live",)) as app:
            live_port = int(app.live.rsplit(":", 1)[1])
            child = {**env, **live_environment(live_port=live_port, redis=False)}
            argv = [sys.executable, "-c", CHILD, token, ORDERS, json.dumps(ORDER), str(ORDERS_N), str(LINES)]
            subprocess.run(argv, cwd=ROOT, env=child, check=True)


if __name__ == "__main__":
    run()
