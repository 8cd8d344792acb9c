#!/bin/sh
# Two or more runtime_bench binaries against each other on one converted model, alternated in
# one run (this VM drifts by 5-10% between runs minutes apart, so only the same run compares).
# Not in CI.
#
#   sh bench/runtime_ab.sh MODEL_DIR ROUNDS BINARY_A BINARY_B [BINARY ...]
#
# Each round runs every binary once, in the order given, with
# `--prompt-tokens $PROMPT_TOKENS --decode-tokens $DECODE_TOKENS --threads $THREADS --profile`
# (defaults 448, 64, 2). Prints, per binary, the median prefill and decode tok/s over the
# rounds, then the median microseconds per call of every op type, prefill and decode, one
# column per binary. A binary built before a change (e.g. from `git worktree`) is the usual A.
set -eu
[ $# -ge 4 ] || { sed -n '2,12p' "$0" >&2; exit 2; }
MODEL=$1
ROUNDS=$2
shift 2
PROMPT_TOKENS=${PROMPT_TOKENS:-448}
DECODE_TOKENS=${DECODE_TOKENS:-64}
THREADS=${THREADS:-2}
[ -f "$MODEL/meta.yaml" ] || { echo "$MODEL has no meta.yaml: convert a model first" >&2; exit 2; }
for b in "$@"; do
  [ -x "$b" ] || { echo "$b is not an executable runtime_bench" >&2; exit 2; }
done

RAW=$(mktemp)
trap 'rm -f "$RAW"' EXIT
i=0
while [ "$i" -lt "$ROUNDS" ]; do
  for b in "$@"; do
    # Lines: BINARY tok PHASE TOKS_PER_S, and BINARY PHASE OP US_PER_CALL.
    "$b" "$MODEL" --prompt-tokens "$PROMPT_TOKENS" --decode-tokens "$DECODE_TOKENS" \
      --threads "$THREADS" --profile |
      awk -v b="$b" -F'|' '
        /^prefill, per op/ { ph = "prefill" }
        /^decode, per op/ { ph = "decode" }
        /^\| (prefill|decode) +\|/ { gsub(/ /, "", $2); gsub(/ /, "", $5); print b, "tok", $2, $5 }
        ph != "" && /^\| [a-z_]+ \|/ && $2 !~ /op type/ {
          gsub(/ /, "", $2); gsub(/ /, "", $6); print b, ph, $2, $6 }' >> "$RAW"
  done
  i=$((i + 1))
done

python3 - "$RAW" "$@" <<'EOF'
import collections, statistics, sys
raw, binaries = sys.argv[1], sys.argv[2:]
values = collections.defaultdict(list)
for line in open(raw):
    b, phase, key, v = line.split()
    values[(phase, key, b)].append(float(v))
def med(phase, key, b):
    v = values.get((phase, key, b))
    return f"{statistics.median(v):.2f}" if v else "-"
print("| binary | prefill tok/s | decode tok/s | runs |")
print("|---|---:|---:|---:|")
for b in binaries:
    print(f"| {b} | {med('tok', 'prefill', b)} | {med('tok', 'decode', b)} |"
          f" {len(values.get(('tok', 'prefill', b), []))} |")
print()
print("| phase | op | " + " | ".join(f"us/call {i + 1}" for i in range(len(binaries))) + " |")
print("|---|---|" + "---:|" * len(binaries))
for phase in ("prefill", "decode"):
    ops = sorted({k for (p, k, _) in values if p == phase},
                 key=lambda k: -max(statistics.median(values[(phase, k, b)])
                                    for b in binaries if (phase, k, b) in values))
    for op in ops:
        print(f"| {phase} | {op} | " + " | ".join(med(phase, op, b) for b in binaries) + " |")
print()
print("columns: " + ", ".join(f"{i + 1} = {b}" for i, b in enumerate(binaries)))
EOF
