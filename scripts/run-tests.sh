#!/usr/bin/env bash
# The test suite, one pytest process per test folder.
#
# Tests that drive consumers, the paper exchange or the sniper through worker threads open database
# connections of their own; on the embedded libSQL file a connection leaked by one folder's tests can
# hold a lock that another folder's tests then trip over. A fresh process per folder keeps each
# folder's tests independent of the others. The browser tests need their own process anyway
# (Playwright's sync API and asyncio tests cannot share one).
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
failed=()
for dir in tests/*/; do
  name=$(basename "$dir")
  case "$name" in browser|__pycache__) continue ;; esac
  echo "== $dir"
  "$PYTEST" "$dir" -q || failed+=("$dir")
done
echo "== tests/browser/"
"$PYTEST" -o addopts="-ra --strict-markers -p no:cacheprovider" -q tests/browser || failed+=("tests/browser/")
if [ ${#failed[@]} -gt 0 ]; then
  echo "test folders with failures: ${failed[*]}"
  exit 1
fi
echo "every test folder passed"
