#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite through ctest.
set -euo pipefail
cd "$(dirname "$0")"
bash packaging/deps.sh
bash packaging/build.sh
# LibTorch's OpenMP workers sleep between parallel regions instead of spinning, unless told otherwise: on
# few cores their spinning takes the CPU from OpenBLAS's threads (2-4x slower, erratic; README, Performance).
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
export QT_QPA_PLATFORM=offscreen
# Tests run side by side on every core (the CLI cases in four shards); `./test.sh -j 1` runs them one by one.
ctest --test-dir build --output-on-failure -j "$(nproc)" "$@"
