#!/usr/bin/env bash
# The `duplicates` report on the app code only, and the count issue #17 sets a target for (at most 10).
#
# Usage: scripts/duplicates-app.sh [--most N] [--seconds N] [--min-lines N]   (passed to `duplicates`)
#
# The app-code view: the files git tracks, and the untracked ones it does not ignore, as they are in
# the working tree, copied to a temporary folder without
#   tests/, bench/, docs/      tests, benchmarks and documentation
#   */migrations/*             generated migrations
#   *_pb2*, */proto/*          MEXC's protocol definitions and the modules generated from them
#   static/vendor/             vendored front-end assets (htmx, charts, fonts)
# then `duplicates --repo <that folder> --most 200 --seconds 120`.
#
# Prints the report, then one line `counted: N pairs ...`. A pair is counted unless
#   - `duplicates` marks it `boilerplate` (thin lines, or a shape that recurs across a folder), or
#   - it is a shape-only pair between two models.py files (field and choices declarations of
#     different models: the model boilerplate the issue leaves out).
# Exit status: 0; 2 when `duplicates` is not on PATH or says its report is incomplete.
set -euo pipefail

cd "$(git -C "$(dirname "$0")" rev-parse --show-toplevel)"
command -v duplicates >/dev/null || { echo "duplicates-app: the duplicates command is not on PATH" >&2; exit 2; }

tree=$(mktemp -d)
trap 'rm -rf "$tree"' EXIT

git ls-files -z --cached --others --exclude-standard \
    | grep -zEv '^(tests|bench|docs)/|(^|/)migrations/|_pb2|(^|/)proto/|^static/vendor/' \
    | while IFS= read -r -d '' path; do
        [ -f "$path" ] || continue # deleted in the working tree
        mkdir -p "$tree/$(dirname "$path")"
        cp "$path" "$tree/$path"
    done

report=$(duplicates --repo "$tree" --most 200 --seconds 120 "$@")
printf '%s\n' "$report"

rows=$(printf '%s\n' "$report" | grep -E '^D[0-9]+ ' || true)
total=$(printf '%s' "$rows" | grep -c . || true)
marked=$(printf '%s' "$rows" | grep -c ' boilerplate' || true)
models=$(printf '%s' "$rows" | grep -v ' boilerplate' \
    | grep -cE '^D[0-9]+ [^ ]*models\.py:[0-9-]+ ~ [^ ]*models\.py:[0-9-]+ shape' || true)
echo "counted: $((total - marked - models)) pairs (of $total listed; $marked marked boilerplate, $models model declarations)"
if printf '%s\n' "$report" | grep -qE '^incomplete:|^\(\+[0-9]+ more pairs\)'; then
    echo "duplicates-app: the report is incomplete or cut by --most; the count is a floor" >&2
    exit 2
fi
