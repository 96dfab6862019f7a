#!/usr/bin/env bash
# Configures and builds Pellucid in ./build (idempotent; incremental after the first run).
# PELLUCID_CMAKE_ARGS: extra configure options (CI: -DPELLUCID_WERROR=ON, warnings in the project's code fail).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo ${PELLUCID_CMAKE_ARGS:-}
elif [ -n "${PELLUCID_CMAKE_ARGS:-}" ]; then
  cmake build ${PELLUCID_CMAKE_ARGS}
fi
cmake --build build -j "$(nproc)"
