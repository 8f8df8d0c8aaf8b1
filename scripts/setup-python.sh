#!/usr/bin/env bash
# Installs the pinned Python tools (scripts/python-tools.txt) into a project-local virtualenv, .venv.
# Re-running is cheap: it reinstalls only when the pins changed. Override the interpreter with PYTHON=...
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "setup:python: $python not found. Install Python 3.9+ with venv and pip (Debian: apt-get install python3-venv python3-pip), then run npm run setup:python again." >&2
  exit 2
fi
pins="scripts/python-tools.txt"
stamp=".venv/.python-tools.sha256"
want="$(sha256sum "$pins" | cut -d' ' -f1)"
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "setup:python: .venv already has the tools of $pins"
  exit 0
fi
"$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r "$pins"
echo "$want" > "$stamp"
echo "setup:python: installed $(.venv/bin/python -m pip freeze --disable-pip-version-check | grep -iE '^(moto|checkov)==' | tr '\n' ' ')into .venv"
