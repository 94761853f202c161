#!/usr/bin/env bash
# Fuzzes vsp's input parsers with libFuzzer under AddressSanitizer and UndefinedBehaviorSanitizer:
# the jobs, style and manifest loaders, the layer and step selection parser, the CLIP tokenizer,
# the PNG and JPEG readers, and the edit options' parsers with the output path rule (tests/fuzz,
# one target each). Builds them with clang in build-fuzz
# (-DVSP_FUZZ=ON -DVSP_TORCH=OFF: no LibTorch) and runs each for a bounded time from its seeds in
# tests/fuzz/corpus/<target>; the inputs it finds go to build-fuzz/corpus/<target>. A crash, an
# escaped exception, a leak, a hang (-timeout) or running out of memory (-rss_limit_mb) fails,
# with the input saved as build-fuzz/findings/<target>-*. docs/fuzzing.md records past runs.
#
#   scripts/fuzz.sh [seconds-per-target] [target...]      default 60 seconds, every target
#   build-fuzz/fuzz_jobs build-fuzz/findings/jobs-crash-...   replays one finding
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export CCACHE_BASEDIR=$root
seconds=${1:-60}
[ $# -gt 0 ] && shift
targets=${*:-"jobs style manifest selection tokenizer png jpeg edit_options"}
build=$root/build-fuzz

cxx=$(command -v clang++-14 || command -v clang++ || true)
[ -n "$cxx" ] || { echo "fuzz.sh: needs clang++ (Debian: apt-get install clang-14 libclang-rt-14-dev)" >&2; exit 2; }
cmake -S . -B "$build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVSP_FUZZ=ON -DVSP_TORCH=OFF \
  -DVSP_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target $(printf 'fuzz_%s ' $targets) >/dev/null

# The tokenizer needs a vocabulary: the test fixtures' when scripts/test.sh made them, else one
# written from the CLIP vocabulary that scripts/setup.sh fetched.
vocab=$root/build/testdata/text/tokenizer
if [ ! -f "$vocab/merges.txt" ]; then
  vocab=$build/vocab/tokenizer
  [ -f "$vocab/merges.txt" ] || .venv/bin/python -c "import sys; sys.path.insert(0, 'scripts')
from clip_vocab import find_clip_vocab, write_clip_tokenizers
write_clip_tokenizers(find_clip_vocab(), sys.argv[1])" "$build/vocab" >/dev/null
fi
export VSP_FUZZ_TOKENIZER=$vocab

mkdir -p "$build/findings"
# The targets write each input to a file: in memory where possible, and gone afterwards.
VSP_FUZZ_SCRATCH=$(mktemp -d /dev/shm/vsp-fuzz.XXXXXX 2>/dev/null || mktemp -d)
export VSP_FUZZ_SCRATCH
trap 'rm -rf "$VSP_FUZZ_SCRATCH"' EXIT
failed=""
printf '%-10s %8s %12s %8s  %s\n' target seconds executions corpus result
for target in $targets; do
  mkdir -p "$build/corpus/$target"
  log=$build/fuzz_$target.log
  status=ok
  "$build/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$build/findings/$target-" "$build/corpus/$target" "tests/fuzz/corpus/$target" >"$log" 2>&1 ||
    status="FAILED (see $log)"
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  corpus=$(find "$build/corpus/$target" -type f | wc -l)
  printf '%-10s %8s %12s %8s  %s\n' "$target" "$seconds" "${runs:-?}" "$corpus" "$status"
  [ "$status" = ok ] || failed="$failed $target"
done
if [ -n "$failed" ]; then
  echo "fuzz.sh: findings in:$failed; the inputs are in $build/findings" >&2
  exit 1
fi
