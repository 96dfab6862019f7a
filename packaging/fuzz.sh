#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz, clang + AddressSanitizer + UndefinedBehaviorSanitizer) against
# the main build and runs each one on a copy of its committed seed corpus.
#
#   packaging/fuzz.sh                      a long campaign: 10 minutes per harness
#   packaging/fuzz.sh --seconds 20         a short run
#   packaging/fuzz.sh --runs 10000 npy     a fixed number of inputs, some harnesses only
#   packaging/fuzz.sh --ci                 CI's run (.ci/run): 10,000 inputs each from the committed corpora
#                                          with a fixed seed, so it is the same run on every machine
#
# A harness fails when a parser crashes, hangs (over 10 s on one input), allocates over 512 MB at once or
# 2 GB in all, throws anything but its one-line error, or breaks a round trip (harness.h). The failing
# input is kept under build-fuzz/crashes/<harness>/ — add it to tests/fuzz/corpus/<harness>/ with the fix.
# The grown corpora stay in build-fuzz/corpus/ between runs; each run's figures go to build-fuzz/report.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=600
runs=""
seed=""
fresh=0
harnesses=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --runs) runs="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --ci) runs=10000; seed=1; fresh=1; shift ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) harnesses+=("$1"); shift ;;
  esac
done

missing=()
for p in clang libclang-rt-14-dev llvm; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
[ -f build/engine/libpellucid_engine.a ] || bash packaging/build.sh
if [ ! -f build-fuzz/build.ninja ]; then
  cmake -S tests/fuzz -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DPELLUCID_BUILD="$PWD/build"
fi
cmake --build build-fuzz -j "$(nproc)"

if [ ${#harnesses[@]} -eq 0 ]; then
  for f in tests/fuzz/fuzz_*.cpp; do n=$(basename "$f" .cpp); harnesses+=("${n#fuzz_}"); done
fi
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" OMP_NUM_THREADS=1 QT_QPA_PLATFORM=offscreen
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export PELLUCID_PLUGIN_DIR="$PWD/build/app"
report=build-fuzz/report.txt
: > "$report"
failed=0
for h in "${harnesses[@]}"; do
  corpus=build-fuzz/corpus/$h crashes=build-fuzz/crashes/$h log=build-fuzz/logs/$h.log
  [ $fresh -eq 1 ] && corpus=build-fuzz/ci-corpus/$h && rm -rf "$corpus"
  mkdir -p "$corpus" "$crashes" build-fuzz/logs
  cp -n tests/fuzz/corpus/"$h"/* "$corpus"/ 2>/dev/null || true
  limit=(-max_total_time="$seconds")
  [ -n "$runs" ] && limit=(-runs="$runs")
  [ -n "$seed" ] && limit+=(-seed="$seed")
  set +e
  build-fuzz/fuzz_"$h" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=512 -max_len=65536 -print_final_stats=1 \
    -artifact_prefix="$crashes"/ "$corpus" > "$log" 2>&1
  rc=$?
  set -e
  executed=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
  elapsed=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | grep -o 'in [0-9]*' | grep -o '[0-9]*' || echo "?")
  size=$(ls "$corpus" | wc -l)
  if [ $rc -eq 0 ]; then
    printf '%-16s %10s runs  %5s s  corpus %5s  ok\n' "$h" "$executed" "$elapsed" "$size" | tee -a "$report"
  else
    failed=1
    printf '%-16s %10s runs  FAILED (exit %s): %s\n' "$h" "$executed" "$rc" "$log" | tee -a "$report"
    grep -E 'ERROR|pellucid-fuzz|SUMMARY|Test unit written' "$log" | head -5 | tee -a "$report"
  fi
done
exit $failed
