#!/usr/bin/env bash
# Regenerates trading/exchange/proto/*_pb2.py(i) from the vendored MEXC .proto files.
# protoc emits flat imports (`import PublicDealsV3Api_pb2`) because the upstream files import each other
# by bare name; they are rewritten to package-qualified imports so the modules load as
# `trading.exchange.proto.*` without touching sys.path.
set -euo pipefail
cd "$(dirname "$0")/.."
PROTO_DIR=trading/exchange/proto
PY=${PYTHON:-.venv/bin/python}

rm -f "$PROTO_DIR"/*_pb2.py "$PROTO_DIR"/*_pb2.pyi
"$PY" -m grpc_tools.protoc -I"$PROTO_DIR" --python_out="$PROTO_DIR" --pyi_out="$PROTO_DIR" "$PROTO_DIR"/*.proto
sed -i -E 's/^import ([A-Za-z0-9]+_pb2) as /from trading.exchange.proto import \1 as /' \
    "$PROTO_DIR"/*_pb2.py "$PROTO_DIR"/*_pb2.pyi
echo "generated $(ls "$PROTO_DIR"/*_pb2.py | wc -l) modules in $PROTO_DIR"
