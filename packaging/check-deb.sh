#!/usr/bin/env bash
# CI: installs the package built by make-deb.sh with apt on this (Debian bookworm) machine, runs the installed
# CLI on the installed demo model, the installed app offscreen, the desktop entry's Exec line under Xvfb, and
# removes the package again, checking that nothing it installed is left behind. Needs root (or sudo).
#   packaging/check-deb.sh [build/pellucid_*.deb]
set -euo pipefail
cd "$(dirname "$0")/.."
deb="$(realpath "${1:-$(ls -1 build/pellucid_*.deb | tail -1)}")"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
dpkg-query -W -f='${Status}' xvfb 2>/dev/null | grep -q "install ok installed" || $SUDO apt-get install -y --no-install-recommends xvfb xauth
$SUDO apt-get install -y "$deb"
files="$(mktemp)"; dpkg -L pellucid | sort > "$files"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp" "$files"' EXIT
export OMP_WAIT_POLICY=PASSIVE
cd "$tmp"   # nothing of the checkout is in reach: the installed files only
echo "== pellucid-cli info on the installed demo"
/usr/bin/pellucid-cli info --model /usr/share/pellucid/models/fashion_mnist_cnn.pt | grep -q 'Fashion-MNIST CNN'
echo "== the ONNX demo through OpenCV DNN"
/usr/bin/pellucid-cli predict --model /usr/share/pellucid/models/fashion_mnist_cnn.onnx \
  --input /usr/share/pellucid/samples/7-sneaker.png | grep -q '"Sneaker"'
echo "== the SentencePiece plugin from /usr/lib/pellucid"
/usr/bin/pellucid-cli tokenize --tokenizer /usr/share/pellucid/models/gpt_fortunes_sp.model --text "You will be happy." | grep -q "▁happy"
echo "== man pages and completion"
test -s /usr/share/man/man1/pellucid-cli.1 && test -s /usr/share/man/man1/pellucid.1
bash -n /usr/share/bash-completion/completions/pellucid-cli
echo "== the installed app offscreen, on its bundled demo"
QT_QPA_PLATFORM=offscreen timeout 120 /usr/bin/pellucid --screenshot "$tmp/offscreen.png" --delay-ms 500
test -s "$tmp/offscreen.png"
echo "== the desktop entry's Exec line under Xvfb"
exec_line="$(sed -n 's/^Exec=//p' /usr/share/applications/pellucid.desktop | sed 's/ %[fFuU]//')"
[ "$exec_line" = "pellucid" ]
timeout 120 xvfb-run -a "$exec_line" --screenshot "$tmp/xvfb.png" --delay-ms 500
test -s "$tmp/xvfb.png"
echo "== opening a bundled session from the command line"
QT_QPA_PLATFORM=offscreen timeout 120 /usr/bin/pellucid /usr/share/pellucid/sessions/classifier_methods.json --screenshot "$tmp/session.png"
test -s "$tmp/session.png"
echo "== removing"
$SUDO apt-get remove -y pellucid
left=0
while read -r f; do
  [ -e "$f" ] || continue
  [ -d "$f" ] && continue   # shared folders (/usr/bin, /usr/share/man/man1, …) stay
  echo "left behind: $f"; left=1
done < "$files"
[ -d /usr/share/pellucid ] && { echo "left behind: /usr/share/pellucid"; left=1; }
[ "$left" -eq 0 ]
echo "package check: ok"
