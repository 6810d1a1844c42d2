#!/usr/bin/env bash
# Compiles the layer's modules to bytecode for Lambda's Python. /opt is read-only on Lambda, so a
# layer without bytecode has every cold start compile every module the handlers import.
#   usage: scripts/layer-bytecode.sh <layer's python dir> <runtime's Python, e.g. 3.14> [<interpreter>]
# Without an interpreter argument, python<version> on PATH; with none there, the layer ships source
# only, unless REQUIRE_LAYER_BYTECODE is set (the deploy workflow sets it).
set -euo pipefail
dir=$1 version=$2 python=${3:-$(command -v "python$version" || true)}
if [ -z "$python" ]; then
  if [ -n "${REQUIRE_LAYER_BYTECODE:-}" ]; then
    echo "make layer: no python$version on PATH (or LAMBDA_PYTHON_BIN=) to compile the layer's bytecode with; install it, or unset REQUIRE_LAYER_BYTECODE" >&2
    exit 2
  fi
  echo "make layer: no python$version here, so the layer ships no bytecode and each cold start on Lambda compiles its modules (docs/benchmarks.md); fine for make run and the tests"
  exit 0
fi
actual=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$actual" != "$version" ]; then
  echo "make layer: $python is Python $actual, not $version: Lambda's Python $version would ignore its bytecode" >&2
  exit 2
fi
# unchecked-hash: the layer never changes in place, so no .pyc needs checking against its source.
# Beside the sources, where Lambda's Python looks, whatever PYTHONPYCACHEPREFIX make sets.
env -u PYTHONPYCACHEPREFIX "$python" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$dir"
