#!/usr/bin/env bash
# The one test command: builds vsp, exports the tiny random model, writes the reference fixtures
# (diffusers / transformers outputs), then runs the C++ unit tests (ctest) and the Python parity
# and CLI tests (pytest). Run scripts/setup.sh once before.
#
#   scripts/test.sh [pytest args...]     e.g. scripts/test.sh -k parity
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# ccache keys on paths relative to the checkout, so clones share one cache.
export CCACHE_BASEDIR=$root
py=$root/.venv/bin/python
build=$root/build
data=$build/testdata
[ -x "$py" ] && [ -f "$build/CMakeCache.txt" ] || { echo "test.sh: run scripts/setup.sh first" >&2; exit 2; }

cmake --build "$build" -j "$(nproc)"

# The tiny export and the fixtures depend only on the Python side: redo them when it changes.
stamp=$(cat scripts/requirements.txt scripts/*.py scripts/vsp_export/*.py tests/python/fixtures_*.py \
        tests/data/* 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ "$(cat "$data/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$data"
  mkdir -p "$data"
  echo "[test] exporting the tiny model and writing fixtures to $data"
  "$py" scripts/export.py --tiny --out "$data/tiny" --save-pipeline "$data/tiny-diffusers" 2>&1 | grep '^\[export\]'
  for fixture in tests/python/fixtures_*.py; do
    "$py" "$fixture" "$data"
  done
  echo "$stamp" > "$data/.stamp"
fi

echo "[test] C++ unit tests"
(cd "$build" && ctest --output-on-failure -j "$(nproc)")

echo "[test] Python parity and CLI tests"
VSP_BUILD_DIR=$build "$py" -m pytest tests/python -q "$@"
