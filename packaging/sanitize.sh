#!/usr/bin/env bash
# The AddressSanitizer + UndefinedBehaviorSanitizer build (build-asan, -DPELLUCID_SANITIZE=ON: -O1, line tables) of
# what the engine, CLI, I/O, workflow and fuzz-replay tests need — the target `sanitize-tests`, not the GUI — and
# those tests under it (ctest label `sanitize`, tests/CMakeLists.txt). CI runs it after the README's test command.
# Leak checking is off: LibTorch keeps its singletons to the end of the process. Extra arguments go to ctest.
#   packaging/sanitize.sh [--build-only] [ctest options]
set -euo pipefail
cd "$(dirname "$0")/.."
bash packaging/deps.sh
if [ ! -f build-asan/build.ninja ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPELLUCID_SANITIZE=ON
fi
cmake --build build-asan -j "$(nproc)" --target sanitize-tests
[ "${1:-}" = "--build-only" ] && exit 0
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1:detect_stack_use_after_return=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" QT_QPA_PLATFORM=offscreen
ctest --test-dir build-asan -L sanitize -j "$(nproc)" --output-on-failure --timeout 3000 "$@"
