#!/usr/bin/env bash
# Installs each pinned Python tool (scripts/python/<tool>.txt) into its own project-local virtualenv,
# .venv/<tool>: moto and Checkov need different botocore versions. The tools install side by side (the
# time is mostly downloads and unpacking). Re-running is cheap: a tool is reinstalled only when its pins
# changed. Override the interpreter with PYTHON=...
set -euo pipefail
cd "$(dirname "$0")/.."
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "setup:python: $python not found. Install Python 3.9+ with venv and pip (Debian: apt-get install python3-venv python3-pip), then run npm run setup:python again." >&2
  exit 2
fi
# An earlier layout kept both tools in one virtualenv at .venv itself.
if [ -x .venv/bin/python ]; then rm -rf .venv; fi

# One tool: its virtualenv, then its pins (the venv's own pip: upgrading it first only cost time).
install() {
  local pins="$1" tool venv stamp want
  tool="$(basename "$pins" .txt)"
  venv=".venv/$tool"
  stamp="$venv/.pins.sha256"
  want="$(sha256sum "$pins" | cut -d' ' -f1)"
  if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    echo "setup:python: $venv already has the tools of $pins"
    return 0
  fi
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -qq --disable-pip-version-check -r "$pins"
  echo "$want" > "$stamp"
  echo "setup:python: installed $("$venv/bin/python" -m pip freeze --disable-pip-version-check | grep -iE "^${tool}==" | tr '\n' ' ')into $venv"
}

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
pids=()
tools=()
for pins in scripts/python/*.txt; do
  tool="$(basename "$pins" .txt)"
  install "$pins" > "$logs/$tool.log" 2>&1 &
  pids+=("$!")
  tools+=("$tool")
done
failed=0
for i in "${!pids[@]}"; do
  if wait "${pids[$i]}"; then
    cat "$logs/${tools[$i]}.log"
  else
    echo "setup:python: installing ${tools[$i]} failed:" >&2
    cat "$logs/${tools[$i]}.log" >&2
    failed=1
  fi
done
exit "$failed"
