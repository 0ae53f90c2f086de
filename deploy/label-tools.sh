#!/usr/bin/env bash
# Installs what PDF labels need on a Debian machine when it is missing: the fonts they embed (Noto Sans for Latin,
# Greek and Cyrillic, WenQuanYi Micro Hei for CJK; the image installs the same) and poppler-utils, with which the
# tests read labels back. Used by .ci/run and `make bench` (without the fonts the label endpoints answer 503).
set -euo pipefail

missing=""
for font in noto/NotoSans-Regular.ttf noto/NotoSans-Bold.ttf wqy/wqy-microhei.ttc; do
  [[ -f "/usr/share/fonts/truetype/$font" ]] || missing=1
done
command -v pdftoppm >/dev/null 2>&1 || missing=1
[[ -z "$missing" ]] && exit 0

echo "installing the label fonts and poppler-utils from Debian's packages" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo -n"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  fonts-noto-core fonts-wqy-microhei poppler-utils >/dev/null
