#!/usr/bin/env bash
# Builds pellucid_<version>_<arch>.deb from this checkout with CPack's DEB generator (dependencies computed by
# dpkg-shlibdeps): /usr/bin/pellucid, pellucid-cli, pellucid-bench, the SentencePiece plugin in
# /usr/lib/pellucid, demo models, samples and sessions in /usr/share/pellucid, man pages, bash completion, the
# desktop entry, icon and MIME types. Install with `apt install ./pellucid_*.deb`.
#   packaging/make-deb.sh [OUT_DIR]     (default: build/)
set -euo pipefail
cd "$(dirname "$0")/.."
out="$(realpath -m "${1:-build}")"
bash packaging/deps.sh
dpkg-query -W -f='${Status}' dpkg-dev 2>/dev/null | grep -q "install ok installed" || {
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends dpkg-dev
}
bash packaging/build.sh
(cd build && cpack -G DEB -B "$out" > cpack.log 2>&1) || { cat build/cpack.log; exit 1; }
ls -1 "$out"/pellucid_*.deb
