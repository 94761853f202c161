#!/usr/bin/env bash
# The one test command: builds vsp, exports the tiny random models, writes the reference fixtures
# (diffusers / transformers outputs), then runs the C++ unit tests (ctest) and the Python parity
# and CLI tests (pytest). Where clang is installed it also builds everything with clang
# (build-clang) and runs its unit tests, and fuzzes each input parser briefly (scripts/fuzz.sh).
# Last, the torch-free unit tests run under ASan and UBSan (scripts/sanitize.sh, build-asan).
# Run scripts/setup.sh once before.
#
#   scripts/test.sh [pytest args...]     e.g. scripts/test.sh -k parity
#   VSP_FUZZ_SECONDS=N   seconds per fuzz target (default 10; 0 skips fuzzing)
#   VSP_SANITIZE=0       skips the sanitizer run
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

# The tiny exports and the fixtures depend only on the Python side: redo them when it changes.
stamp=$(cat scripts/requirements.txt scripts/*.py scripts/vsp_export/*.py tests/python/fixtures_*.py tests/python/p2p_alignment.py \
        tests/data/* 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ "$(cat "$data/.stamp" 2>/dev/null)" != "$stamp" ]; then
  rm -rf "$data"
  mkdir -p "$data"
  echo "[test] exporting the tiny models (SDXL, SD 1.x, SD 2.x) and writing fixtures to $data"
  "$py" scripts/export.py --tiny --out "$data/tiny" --save-pipeline "$data/tiny-diffusers" 2>&1 | grep '^\[export\]'
  for family in sd1 sd2; do
    "$py" scripts/export.py --random $family-tiny --out "$data/$family-tiny" \
      --save-pipeline "$data/$family-tiny-diffusers" 2>&1 | grep '^\[export\] wrote'
  done
  for fixture in tests/python/fixtures_*.py; do
    "$py" "$fixture" "$data"
  done
  echo "$stamp" > "$data/.stamp"
fi

echo "[test] C++ unit tests"
(cd "$build" && ctest --output-on-failure -j "$(nproc)")

echo "[test] Python parity and CLI tests"
VSP_BUILD_DIR=$build "$py" -m pytest tests/python -q "$@"

clang=$(command -v clang++-14 || command -v clang++ || true)
if [ -n "$clang" ]; then
  # A second compiler catches what gcc lets through; same LibTorch, same test data.
  echo "[test] clang build and unit tests (build-clang)"
  torch_dir=$(sed -n 's/^Torch_DIR:PATH=//p' "$build/CMakeCache.txt")
  # ccache caches the files that use the precompiled torch header only with these settings (its
  # manual, "Precompiled headers"): a fresh build-clang then takes seconds instead of minutes.
  cmake -S . -B build-clang -DCMAKE_CXX_COMPILER="$clang" -DCMAKE_BUILD_TYPE=Release -DTorch_DIR="$torch_dir" \
    -DCMAKE_CXX_FLAGS="-Xclang -fno-pch-timestamp" -DVSP_TEST_DATA="$data" >/dev/null
  CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime cmake --build build-clang -j "$(nproc)"
  (cd build-clang && ctest --output-on-failure -j "$(nproc)")
  if [ "${VSP_FUZZ_SECONDS:-10}" != 0 ]; then
    echo "[test] fuzzing each input parser for ${VSP_FUZZ_SECONDS:-10} s"
    scripts/fuzz.sh "${VSP_FUZZ_SECONDS:-10}"
  fi
else
  echo "[test] clang++ not found: skipping the clang build and the fuzzers (scripts/setup.sh installs clang-14)"
fi
if [ "${VSP_SANITIZE:-1}" != 0 ]; then
  echo "[test] unit tests under ASan and UBSan (build-asan)"
  scripts/sanitize.sh
fi
