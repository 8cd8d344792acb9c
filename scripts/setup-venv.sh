#!/usr/bin/env bash
# Creates the repo's Python venv (.venv, git-ignored) and installs the cross-check packages.
# Usage: scripts/setup-venv.sh [ci|dev]   (dev adds torch + transformers for the fixture generators)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kind=${1:-ci}
venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.installed-$kind"
req="$root/scripts/requirements-$kind.txt"
if [ ! -f "$stamp" ] || [ "$req" -nt "$stamp" ]; then
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q -r "$req"
  touch "$stamp"
fi
