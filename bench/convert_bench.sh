#!/bin/sh
# Conversion benchmark: converts the synthetic Llama-3.2-1B-shaped checkpoint (context 1024,
# 2 chunks, no LUT) and prints wall time, peak RSS and output size next to the I/O floor (the time
# to read the input and write as many bytes as the output holds).
#
#   python3 tools/make_synthetic_llama.py /tmp/synth-llama-1b     # once, ~2.5 GB
#   sh bench/convert_bench.sh [anec binary] [model dir] [scratch dir]
set -eu
ANEC=${1:-build/src/cli/anec}
MODEL=${2:-/tmp/synth-llama-1b}
SCRATCH=${3:-/tmp/anec-convert-bench}
OUT="$SCRATCH/out"
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH"

now() { date +%s.%N; }

# Floor: read the checkpoint once (page cache dropped is not possible without root, so this is
# the warm-cache floor, like the conversion that follows), then write the same number of bytes the
# conversion writes to its final files.
t0=$(now)
cat "$MODEL"/model*.safetensors > /dev/null
t1=$(now)

/usr/bin/time -v "$ANEC" convert --model "$MODEL" --output "$OUT" --context 1024 --chunks 2 \
  --lut none --skip-check 2> "$SCRATCH/time.txt" || { cat "$SCRATCH/time.txt"; exit 1; }
t2=$(now)

final_bytes=$(du -sb --exclude=.anec-work "$OUT" | cut -f1)
work_bytes=$(du -sb "$OUT/.anec-work" | cut -f1)
t3=$(now)
head -c "$final_bytes" /dev/zero > "$SCRATCH/floor.bin"
sync "$SCRATCH/floor.bin" 2>/dev/null || true
t4=$(now)
rm -f "$SCRATCH/floor.bin"

read_s=$(echo "$t1 - $t0" | bc)
conv_s=$(echo "$t2 - $t1" | bc)
write_s=$(echo "$t4 - $t3" | bc)
floor_s=$(echo "$read_s + $write_s" | bc)
rss_kb=$(grep "Maximum resident set size" "$SCRATCH/time.txt" | awk '{print $NF}')
input_bytes=$(cat "$MODEL"/model*.safetensors | wc -c)

printf '%-34s %s\n' "input (safetensors)" "$(echo "scale=2; $input_bytes/1000000000" | bc) GB"
printf '%-34s %s\n' "output (final files)" "$(echo "scale=2; $final_bytes/1000000000" | bc) GB"
printf '%-34s %s\n' "work folder (infer chunks + prefill programs)" "$(echo "scale=2; $work_bytes/1000000000" | bc) GB"
printf '%-34s %.1f s\n' "conversion wall time" "$conv_s"
printf '%-34s %.1f s (read %.1f s + write %.1f s)\n' "I/O floor" "$floor_s" "$read_s" "$write_s"
printf '%-34s %.2fx\n' "ratio to floor" "$(echo "$conv_s / $floor_s" | bc -l)"
printf '%-34s %s MB\n' "peak RSS" "$((rss_kb / 1024))"
user_s=$(grep "User time" "$SCRATCH/time.txt" | awk '{print $NF}')
sys_s=$(grep "System time" "$SCRATCH/time.txt" | awk '{print $NF}')
printf '%-34s %s s user + %s s system\n' "CPU time" "$user_s" "$sys_s"
printf '%-34s %s\n' "load average" "$(cut -d' ' -f1-3 /proc/loadavg)"
grep -E "^step|total time" "$SCRATCH/time.txt" || true
