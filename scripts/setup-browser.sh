#!/usr/bin/env bash
# Makes a Chromium available for the console's browser test (playwright-core drives the system browser:
# Playwright's own browser downloads are not reachable here). Uses CHROMIUM_PATH, or a chromium on PATH,
# or installs Debian's `chromium` package (as root, or with sudo). Prints the browser's path.
set -euo pipefail
found() { command -v chromium || command -v chromium-browser || command -v google-chrome || true; }
if [ -n "${CHROMIUM_PATH:-}" ]; then
  [ -x "$CHROMIUM_PATH" ] || { echo "setup:browser: CHROMIUM_PATH=$CHROMIUM_PATH is not an executable" >&2; exit 2; }
  echo "setup:browser: $CHROMIUM_PATH"
  exit 0
fi
if [ -z "$(found)" ]; then
  if command -v apt-get >/dev/null 2>&1; then
    as_root=""
    [ "$(id -u)" = 0 ] || as_root="sudo"
    echo "setup:browser: installing Debian's chromium (apt-get install chromium)"
    $as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
  else
    echo "setup:browser: no chromium found and no apt-get: install Chromium or Chrome, or set CHROMIUM_PATH" >&2
    exit 2
  fi
fi
echo "setup:browser: $(found)"
