#!/usr/bin/env bash
# The test suite: every test but the browser ones in one pytest process (`pytest` from the repository
# root is the same run), then the browser tests in a process of their own (Playwright's sync API and
# asyncio-based tests cannot share one). Extra arguments go to the first run, e.g. `-x`, `--lf`,
# `-n 2` (pytest-xdist: each worker gets its own test database, Redis, sqld and exchange server).
set -u
cd "$(dirname "$0")/.."
# The tests get a var/ of their own (database files, file cache, secrets): a test run must not leave
# heartbeats or snapshots in the cache that `make run` reads, nor read what `make run` left there.
if [ -z "${BRUTE_VAR_DIR:-}" ]; then
  BRUTE_VAR_DIR=$(mktemp -d -t brute-test-var-XXXXXX)
  export BRUTE_VAR_DIR
  trap 'rm -rf "$BRUTE_VAR_DIR"' EXIT
fi
PYTEST=.venv/bin/pytest
# Branch coverage of the app code ([tool.coverage] in pyproject.toml): the first run starts the data file
# afresh, the browser run adds to it, and the report at the end covers both.
status=0
# --durations: the 20 slowest tests, so a run that grows slower shows where.
"$PYTEST" -q --cov --cov-report= --durations=20 "$@" || status=1
echo "== tests/browser/"
"$PYTEST" -o addopts="-ra --strict-markers -p no:cacheprovider" -q --cov --cov-append --cov-report= \
  tests/browser || status=1
echo "== coverage of the app code (the files below 100 %; \`.venv/bin/coverage html\` writes htmlcov/)"
.venv/bin/coverage report || status=1
exit $status
