#!/usr/bin/env bash
# Installs the Debian packages the tests need, only when they are missing. Needs root (or sudo).
set -euo pipefail
need=()
command -v redis-server >/dev/null || need+=(redis-server)
# The browser tests drive Debian's Chromium (Playwright cannot download a browser here).
[ -x /usr/bin/chromium ] || need+=(chromium)
# tests/trading/test_countdown_js.py runs a front-end script under Node (Debian's nodejs).
command -v node >/dev/null || need+=(nodejs)
# `scripts/system-deps.sh bench` (make bench): wrk drives the HTTP benches (bench/_load.py); without it
# they fall back to a Python load client that shares the same cores and reads less precisely.
if [ "${1:-}" = "bench" ]; then command -v wrk >/dev/null || need+=(wrk); fi
[ ${#need[@]} -eq 0 ] && exit 0
sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing Debian packages: ${need[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
