#!/usr/bin/env bash
# The unit tests under AddressSanitizer and UndefinedBehaviorSanitizer: builds the torch-free test
# binaries (unit_io, unit_text, unit_config) in build-asan with
#   -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# (clang when installed, else gcc) and runs them on build/testdata, which scripts/test.sh writes.
# VSP_SANITIZE_TORCH=1 builds and runs every unit test, the torch-linked ones too, in
# build-asan-torch: LibTorch itself is not instrumented, but they pass with leak checks on; the
# torch parts cost about 13 minutes of CPU to build the first time, so they are not the default.
#
#   scripts/sanitize.sh                         (scripts/test.sh runs it after the other tests)
#   VSP_SANITIZE_TORCH=1 scripts/sanitize.sh
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CCACHE_BASEDIR=$root
data=${VSP_TEST_DATA:-$root/build/testdata}  # scripts/test.sh writes it
[ -d "$data/tiny" ] || { echo "sanitize.sh: run scripts/test.sh first (it writes $data)" >&2; exit 2; }

cxx=$(command -v clang++-14 || command -v clang++ || command -v g++)
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
build=$root/build-asan
torch=(-DVSP_TORCH=OFF)
pch=""
if [ "${VSP_SANITIZE_TORCH:-0}" = 1 ]; then
  build=$root/build-asan-torch
  torch=(-DVSP_TORCH=ON -DTorch_DIR="$(sed -n 's/^Torch_DIR:PATH=//p' "$root/build/CMakeCache.txt")")
  # As in scripts/test.sh: lets ccache cache the users of the precompiled torch header.
  if [[ "$cxx" == *clang* ]]; then
    pch="-Xclang -fno-pch-timestamp"
    export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
  fi
fi
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
  -DCMAKE_CXX_FLAGS="$flags $pch" -DCMAKE_EXE_LINKER_FLAGS="$flags" "${torch[@]}" -DVSP_TEST_DATA="$data" >/dev/null
cmake --build "$build" -j "$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1
(cd "$build" && ctest --output-on-failure -j "$(nproc)")
