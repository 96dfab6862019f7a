#!/usr/bin/env bash
# The GUI soak at length (tests/gui/soak): random clicks, keys, drops, layer and model switches and slider
# storms for 10 minutes offscreen (ctest runs 20 s). Memory must end within 20 MB of its start.
#   packaging/soak.sh [SECONDS [MB [SEED]]]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/tests/gui/test_soak ] || bash packaging/build.sh
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}" QT_QPA_PLATFORM=offscreen
PELLUCID_SOAK_SECONDS="${1:-600}" PELLUCID_SOAK_MB="${2:-20}" PELLUCID_SOAK_SEED="${3:-1}" build/tests/gui/test_soak
