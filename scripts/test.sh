#!/usr/bin/env bash
# The one test command. Its stages, in order:
#   build     the includes against the layer order (scripts/check_layers.py), then
#             cmake --build build (vsp and the unit tests)
#   fixtures  the tiny random exports (SDXL, SD 1.x, SD 2.x) and the reference fixtures
#             (diffusers / transformers outputs) in build/testdata, redone when the Python side changes
#   ctest     the C++ unit tests
#   pytest    the Python parity and CLI tests
#   dispatch  the chunking and determinism tests (pytest -m chunking) again under the CPU dispatch
#             paths of other machines: AVX2 and no SIMD (ATEN_CPU_CAPABILITY, MKL_ENABLE_INSTRUCTIONS,
#             ONEDNN_MAX_CPU_ISA), so that a developer sees what another CPU would do
#   clang     a second compiler (build-clang) and the unit tests that check the code it compiles
#   fuzz      each input parser under libFuzzer for a few seconds (scripts/fuzz.sh)
#   sanitize  the torch-free unit tests under ASan and UBSan (scripts/sanitize.sh)
# Every stage runs even when an earlier one fails (a stage that needs a failed one is skipped and
# says so); each prints one summary line, and the script exits 1 if any stage failed.
# Run scripts/setup.sh once before.
#
#   scripts/test.sh [pytest args...]     e.g. scripts/test.sh -k parity
#   VSP_FUZZ_SECONDS=N   seconds per fuzz target (default 10; 0 skips fuzzing)
#   VSP_SANITIZE=0       skips the sanitizer run
#   VSP_DISPATCH=0       skips the dispatch variants
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# ccache keys on paths relative to the checkout, so clones share one cache; the sloppiness lets it
# cache the files that use the precompiled torch header (its manual, "Precompiled headers").
export CCACHE_BASEDIR=$root
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
py=$root/.venv/bin/python
build=$root/build
data=$build/testdata
logs=$build/test-logs
[ -x "$py" ] && [ -f "$build/CMakeCache.txt" ] || { echo "test.sh: run scripts/setup.sh first" >&2; exit 2; }
mkdir -p "$logs"

declare -A result
summary=()
total_passed=0
total_failed=0

# Counts the tests of a stage's log: ctest's "...% tests passed[, N tests failed] out of M", else every pytest
# closing line's "N passed" / "N failed" / "N errors" (the dispatch stage has one per variant).
count_tests() {
  local log=$1 passed=0 failed=0 line
  if line=$(grep -E '% tests passed(, [0-9]+ tests failed)? out of [0-9]+' "$log" | tail -1) && [ -n "$line" ]; then
    [[ "$line" =~ ([0-9]+)\ tests\ failed ]] && failed=${BASH_REMATCH[1]}
    passed=$(( $(sed -E 's/.* out of ([0-9]+).*/\1/' <<<"$line") - failed ))
  else
    for line in $(grep -E '^(=+ )?[0-9]+ (passed|failed|error|errors|skipped|deselected)' "$log" |
                  grep -oE '[0-9]+ (passed|failed|errors?)' | tr ' ' ':'); do
      case ${line#*:} in
        passed) passed=$(( passed + ${line%%:*} )) ;;
        *) failed=$(( failed + ${line%%:*} )) ;;
      esac
    done
  fi
  echo "$passed $failed"
}

# stage NAME NEEDS COMMAND...: runs COMMAND (output to the terminal and build/test-logs/NAME.log)
# unless a stage named in NEEDS (comma-separated) did not pass.
stage() {
  local name=$1 needs=$2 need started rc status counts=""
  shift 2
  for need in ${needs//,/ }; do
    if [ "${result[$need]:-}" != passed ]; then
      result[$name]=skipped
      summary+=("$(printf '%-9s skipped (needs %s)' "$name" "$need")")
      return
    fi
  done
  echo "[test] $name"
  started=$SECONDS
  "$@" 2>&1 | tee "$logs/$name.log"
  rc=${PIPESTATUS[0]}
  case $rc in
    0) status=passed ;;
    77) status=skipped ;;  # the stage's own word: nothing to run here
    *) status=failed ;;
  esac
  result[$name]=$status
  read -r passed failed < <(count_tests "$logs/$name.log")
  if [ "$passed" -gt 0 ] || [ "$failed" -gt 0 ]; then
    counts=", $passed passed, $failed failed"
    total_passed=$(( total_passed + passed ))
    total_failed=$(( total_failed + failed ))
  fi
  summary+=("$(printf '%-9s %s (%d s%s)' "$name" "$status" $(( SECONDS - started )) "$counts")")
}

# The build, after the includes are checked against the layers (scripts/check_layers.py).
build_vsp() { python3 scripts/check_layers.py && cmake --build "$build" -j "$(nproc)"; }

# The tiny exports and the fixtures depend only on the Python side: redo them when it changes.
write_fixtures() {
  local stamp
  stamp=$(cat scripts/requirements.txt scripts/*.py scripts/vsp_export/*.py tests/python/fixtures_*.py \
          tests/python/p2p_alignment.py tests/data/* 2>/dev/null | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$data/.stamp" 2>/dev/null)" = "$stamp" ]; then
    echo "up to date ($data)"
    return 0
  fi
  set -e
  rm -rf "$data"
  mkdir -p "$data"
  echo "exporting the tiny models (SDXL, SD 1.x, SD 2.x) and writing fixtures to $data"
  "$py" scripts/export.py --tiny --out "$data/tiny" --save-pipeline "$data/tiny-diffusers" 2>&1 | grep '^\[export\]'
  for family in sd1 sd2; do
    "$py" scripts/export.py --random $family-tiny --out "$data/$family-tiny" \
      --save-pipeline "$data/$family-tiny-diffusers" 2>&1 | grep '^\[export\] wrote'
  done
  for fixture in tests/python/fixtures_*.py; do
    "$py" "$fixture" "$data"
  done
  echo "$stamp" > "$data/.stamp"
}

unit_tests() { (cd "$1" && ctest --output-on-failure -j "$(nproc)"); }

pytest_all() { VSP_BUILD_DIR=$build "$py" -m pytest tests/python -q -p no:cacheprovider "$@"; }

# What another CPU would compute: ATen's kernels, MKL's GEMMs and oneDNN's convolutions each capped
# at AVX2, then at no SIMD. Only the tests that compare chunkings or reruns run here: they compare
# vsp with itself, so they must hold on every dispatch path. A variant that is this CPU's own path
# (AVX2 on an AVX2 machine) already ran in the pytest stage and is not repeated.
dispatch_variants() {
  local rc=0 variant native
  native=$("$py" -c 'import torch; print(torch.backends.cpu.get_cpu_capability())')
  for variant in "ATEN_CPU_CAPABILITY=avx2 MKL_ENABLE_INSTRUCTIONS=AVX2 ONEDNN_MAX_CPU_ISA=AVX2" \
                 "ATEN_CPU_CAPABILITY=default MKL_ENABLE_INSTRUCTIONS=SSE4_2 ONEDNN_MAX_CPU_ISA=SSE41"; do
    if [ "$native" = AVX2 ] && [[ "$variant" == *=avx2* ]]; then
      echo "[test] dispatch: AVX2 is this CPU's own path (the pytest stage ran it)"
      continue
    fi
    echo "[test] dispatch: $variant"
    env $variant VSP_BUILD_DIR="$build" "$py" -m pytest tests/python -q -p no:cacheprovider -m chunking "$@"
    case $? in
      0) ;;
      5) echo "no chunking test among the ones selected" ;;  # pytest's exit for "none collected"
      *) rc=1 ;;
    esac
  done
  return $rc
}

# A second compiler catches what gcc lets through; same LibTorch, same test data. It compiles
# everything without optimisation (-O0, no debug info: a third of the compile time, and asserts
# on) and runs every unit test but the pipeline ones, which spend minutes in LibTorch's UNet and
# run in ctest; their code is compiled here all the same.
clang_build() {
  local clang torch_dir
  clang=$(command -v clang++-14 || command -v clang++ || true)
  if [ -z "$clang" ]; then
    echo "clang++ not found (scripts/setup.sh installs clang-14)"
    return 77
  fi
  torch_dir=$(sed -n 's/^Torch_DIR:PATH=//p' "$build/CMakeCache.txt")
  # With clang, ccache caches the users of the precompiled header only without its timestamp.
  cmake -S . -B build-clang -DCMAKE_CXX_COMPILER="$clang" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS_DEBUG="-O0" \
    -DTorch_DIR="$torch_dir" -DCMAKE_CXX_FLAGS="-Xclang -fno-pch-timestamp" -DVSP_TEST_DATA="$data" >/dev/null ||
    return 1
  cmake --build build-clang -j "$(nproc)" || return 1
  (cd build-clang && ctest --output-on-failure -j "$(nproc)" -LE pipeline)
}

fuzz() {
  if [ "${VSP_FUZZ_SECONDS:-10}" = 0 ]; then echo "VSP_FUZZ_SECONDS=0"; return 77; fi
  command -v clang++-14 >/dev/null || command -v clang++ >/dev/null || { echo "clang++ not found"; return 77; }
  scripts/fuzz.sh "${VSP_FUZZ_SECONDS:-10}"
}

sanitize() {
  if [ "${VSP_SANITIZE:-1}" = 0 ]; then echo "VSP_SANITIZE=0"; return 77; fi
  scripts/sanitize.sh
}

stage build "" build_vsp
stage fixtures "" write_fixtures
stage ctest build,fixtures unit_tests "$build"
stage pytest build,fixtures pytest_all "$@"
if [ "${VSP_DISPATCH:-1}" = 0 ]; then
  result[dispatch]=skipped; summary+=("$(printf '%-9s skipped (VSP_DISPATCH=0)' dispatch)")
else
  stage dispatch build,fixtures dispatch_variants "$@"
fi
stage clang fixtures clang_build
stage fuzz "" fuzz
stage sanitize fixtures sanitize

echo
echo "[test] summary"
for line in "${summary[@]}"; do echo "  $line"; done
failed_stages=0
for name in "${!result[@]}"; do
  [ "${result[$name]}" = failed ] && failed_stages=$(( failed_stages + 1 ))
done
echo "tests: $total_passed passed, $total_failed failed"
[ "$failed_stages" = 0 ] || { echo "test.sh: $failed_stages stage(s) failed; logs in $logs" >&2; exit 1; }
