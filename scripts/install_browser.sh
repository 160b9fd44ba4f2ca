#!/usr/bin/env bash
# Install (idempotent) what the end-to-end UI test needs: Debian's chromium and chromium-driver
# (tests/test_browser.py skips itself without them) and a CJK font (fonts-noto-cjk), without which the
# page's Chinese text renders as boxes in the screenshot. Does nothing when all are present and runs
# `apt-get update` only when something is missing. Without apt-get it prints a note and exits 0.
set -euo pipefail

missing=()
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then
  missing+=(chromium chromium-driver)
fi
if ! { command -v dpkg-query >/dev/null 2>&1 && dpkg-query -W -f='${Status}' fonts-noto-cjk 2>/dev/null | grep -q "install ok installed"; }; then
  if ! { command -v fc-list >/dev/null 2>&1 && [ -n "$(fc-list :lang=zh family 2>/dev/null)" ]; }; then
    missing+=(fonts-noto-cjk)
  fi
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "browser test deps already installed (chromium, chromedriver, a CJK font)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not available: install ${missing[*]} by hand (tests/test_browser.py is skipped without chromium)"
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
echo "installing ${missing[*]}"
$SUDO apt-get update -q
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "installed: $(/usr/bin/chromium --version 2>/dev/null || echo chromium) + ${missing[*]}"
