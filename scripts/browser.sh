#!/usr/bin/env bash
# The real-browser tests drive Debian's chromium through Playwright (no browser download).
# Installs it when missing and this machine can (root with apt-get); otherwise says what to do.
set -euo pipefail
# fonts-noto-cjk and fonts-noto-color-emoji make Chinese and the 👍 buttons render in the screenshots the tests save.
have_font() { [ -d /usr/share/fonts/opentype/noto ] && ls /usr/share/fonts/opentype/noto | grep -qi cjk; }
for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -x "$candidate" ] && have_font; then exit 0; fi
done
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "browser: installing Debian's chromium and a CJK font for the widget tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk fonts-noto-color-emoji >/dev/null
  exit 0
fi
echo "browser: chromium or fonts-noto-cjk is missing; install them (Debian: sudo apt-get install chromium fonts-noto-cjk) and run make test again" >&2
exit 1
