#!/usr/bin/env bash
# The unit tests under AddressSanitizer and UndefinedBehaviorSanitizer: builds the torch-free test
# binaries (unit_io, unit_text, unit_config, unit_models) in build-asan with
#   -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
# (clang when installed, else gcc) and runs them on build/testdata, which scripts/test.sh writes.
# The torch-linked tests stay out: LibTorch is not instrumented, so ASan would need its checks
# loosened for them, and building the torch parts a third time costs minutes.
#
#   scripts/sanitize.sh          (scripts/test.sh runs it after the other tests)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CCACHE_BASEDIR=$root
build=$root/build-asan
data=${VSP_TEST_DATA:-$root/build/testdata}  # scripts/test.sh writes it
[ -d "$data/tiny" ] || { echo "sanitize.sh: run scripts/test.sh first (it writes $data)" >&2; exit 2; }

cxx=$(command -v clang++-14 || command -v clang++ || command -v g++)
flags="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-g -O1" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" -DVSP_TORCH=OFF -DVSP_TEST_DATA="$data" >/dev/null
cmake --build "$build" -j "$(nproc)"
export ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1
export UBSAN_OPTIONS=print_stacktrace=1
(cd "$build" && ctest --output-on-failure -j "$(nproc)")
