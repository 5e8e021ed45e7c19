#!/usr/bin/env bash
# The real-browser tests drive Debian's chromium through Playwright (no browser download).
# Installs it when missing and this machine can (root with apt-get); otherwise says what to do.
set -euo pipefail
for candidate in /usr/bin/chromium /usr/bin/chromium-browser; do
  if [ -x "$candidate" ]; then exit 0; fi
done
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  echo "browser: installing Debian's chromium for the widget tests"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  exit 0
fi
echo "browser: chromium is missing; install it (Debian: sudo apt-get install chromium) and run make test again" >&2
exit 1
