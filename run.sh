#!/usr/bin/env bash
# Installs what is missing, builds, and launches Pellucid on the bundled demo model.
# Extra arguments go to the application (for example a model path, or --image FILE).
set -euo pipefail
cd "$(dirname "$0")"
bash packaging/deps.sh
bash packaging/build.sh
exec ./build/app/pellucid "$@"
