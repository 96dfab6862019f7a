#!/usr/bin/env bash
# Installs the Debian (bookworm) packages Pellucid builds and runs with, when any is missing.
# Idempotent: does nothing when all are present. Uses sudo when not root.
set -euo pipefail
PACKAGES=(
  cmake ninja-build g++ ccache pkg-config
  qt6-base-dev qt6-svg-dev libgl-dev libqcustomplot-dev
  libqt6sql6-sqlite   # the feedback database (Qt SQL's SQLite driver)
  zlib1g-dev libgif-dev   # IDX datasets; GIF animations
  libsentencepiece-dev   # SentencePiece tokenizers for text transformers
  libopencv-dev libopencv-contrib-dev   # contrib: SLIC superpixels for LIME / KernelSHAP
  libtorch-dev libopenblas0-pthread   # OpenBLAS: Debian's reference BLAS makes LibTorch ~40x slower
  dataset-fashion-mnist
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "Installing missing packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
