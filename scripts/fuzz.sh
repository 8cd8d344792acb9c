#!/usr/bin/env bash
# Runs the libFuzzer targets of a build configured with -DANEC_FUZZ=ON (docs/FUZZING.md) for a
# bounded time each, a few at a time, and fails on any crash, leak, timeout or out-of-memory.
# Builds nothing.
#
# Usage: scripts/fuzz.sh BUILD_DIR [TARGET...]     (targets: gguf safetensors ... ; default all)
#   ANEC_FUZZ_SECONDS  seconds of fuzzing per target (default 60)
#   ANEC_FUZZ_JOBS     targets run at once (default: the number of cores)
#
# Per target: first every input under tests/fuzz/regressions/<target>/ is replayed once, then
# libFuzzer starts from the committed seeds (tests/fuzz/corpus/<target>/, read only) plus the
# working corpus BUILD_DIR/fuzz/<target>/corpus (kept between runs: local runs build on earlier
# ones, CI starts from the seeds), with tests/fuzz/<target>.dict when present. A failing input is
# saved as BUILD_DIR/fuzz/<target>/{crash,leak,timeout,oom}-<sha1>; the script prints its path
# and the command that reproduces it. Ends with a table: executions, coverage (libFuzzer's
# `cov:` edges), corpus size and result per target.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:?usage: scripts/fuzz.sh BUILD_DIR [TARGET...]}
shift
build=$(cd "$build" && pwd)
all_targets=(gguf safetensors hf_config prequant_config tokenizer chat_template mlpackage model_folder)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all_targets[@]}")
seconds=${ANEC_FUZZ_SECONDS:-60}
jobs=${ANEC_FUZZ_JOBS:-$(nproc)}
# The same bound as kMaxInputBytes in src/fuzz/fuzz_util.h.
max_len=262144
# A single input may run 10 s and use 2 GB: anything beyond is a hang or a runaway allocation
# in a reader (a fuzzed size that is not checked against the file), and fails the run.
flags=(-timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 -max_len=$max_len -print_final_stats=1)

for t in "${targets[@]}"; do
  if [ ! -x "$build/src/fuzz/${t}_fuzz" ]; then
    echo "fuzz.sh: $build/src/fuzz/${t}_fuzz is missing; configure with -DANEC_FUZZ=ON and build" \
         "the target fuzz_targets" >&2
    exit 2
  fi
done

# Runs one target; writes BUILD/fuzz/<t>/{replay.log,fuzz.log,result}.
run_target() {
  local t=$1 bin="$build/src/fuzz/${1}_fuzz" dir="$build/fuzz/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  rm -f "$dir/result" "$dir/seconds" "$dir/fuzz.log" "$dir/replay.log" "$dir"/artifacts/*
  local regressions=("$root/tests/fuzz/regressions/$t"/*)
  if [ -e "${regressions[0]}" ]; then
    if ! "$bin" "${flags[@]}" -artifact_prefix="$dir/artifacts/" "${regressions[@]}" \
         >"$dir/replay.log" 2>&1; then
      echo "REGRESSION" >"$dir/result"
      return
    fi
  fi
  local dict=() seeds=()
  [ -f "$root/tests/fuzz/$t.dict" ] && dict=(-dict="$root/tests/fuzz/$t.dict")
  [ -d "$root/tests/fuzz/corpus/$t" ] && seeds=("$root/tests/fuzz/corpus/$t")
  local start=$SECONDS
  "$bin" "${flags[@]}" "${dict[@]}" -max_total_time="$seconds" \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" "${seeds[@]}" >"$dir/fuzz.log" 2>&1
  local rc=$?
  echo "$((SECONDS - start))" >"$dir/seconds"
  if [ $rc -eq 0 ]; then
    echo "ok" >"$dir/result"
  else
    local kind=crash a
    for a in "$dir"/artifacts/*; do
      [ -e "$a" ] && kind=$(basename "$a" | cut -d- -f1)
    done
    echo "$kind" >"$dir/result"
  fi
}

echo "== fuzzing ${targets[*]}: ${seconds} s each, $jobs at a time"
running=0
for t in "${targets[@]}"; do
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
  run_target "$t" &
  running=$((running + 1))
done
wait

# "#1234 DONE cov: 5678 ft: ... corp: 90/12Kb ..." is libFuzzer's last status line.
field() { grep -Eo "$2: [0-9]+" <<<"$1" | tail -1 | awk '{print $2}'; }
failed=0
printf '\n%-16s %7s %11s %8s %9s %8s %6s  %s\n' target seconds executions exec/s "cov edges" corpus new result
for t in "${targets[@]}"; do
  dir="$build/fuzz/$t"
  result=$(cat "$dir/result" 2>/dev/null || echo "not run")
  log=$(cat "$dir/fuzz.log" 2>/dev/null)
  status=$(grep -E "^#[0-9]+.*cov: " <<<"$log" | tail -1)
  execs=$(grep -Eo "number_of_executed_units: *[0-9]+" <<<"$log" | awk '{print $2}')
  rate=$(grep -Eo "average_exec_per_sec: *[0-9]+" <<<"$log" | awk '{print $2}')
  new=$(grep -Eo "new_units_added: *[0-9]+" <<<"$log" | awk '{print $2}')
  corp=$(grep -Eo "corp: [0-9]+" <<<"$status" | awk '{print $2}')
  printf '%-16s %7s %11s %8s %9s %8s %6s  %s\n' "$t" "$(cat "$dir/seconds" 2>/dev/null || echo -)" \
    "${execs:--}" "${rate:--}" "$(field "$status" cov)" "${corp:--}" "${new:--}" "$result"
  if [ "$result" != ok ]; then
    failed=1
  fi
done
for t in "${targets[@]}"; do
  dir="$build/fuzz/$t"
  result=$(cat "$dir/result" 2>/dev/null || echo "not run")
  [ "$result" = ok ] && continue
  log="$dir/fuzz.log"
  [ "$result" = REGRESSION ] && log="$dir/replay.log"
  echo
  echo "== $t: $result (log: $log)"
  grep -E "ERROR: |SUMMARY: |runtime error|Test unit written to|==[0-9]+==" "$log" | head -20 ||
    tail -5 "$log"
  for a in "$dir"/artifacts/*; do
    [ -e "$a" ] || continue
    echo "failing input saved as $a"
    echo "reproduce: $build/src/fuzz/${t}_fuzz $a"
  done
  if [ "$result" = REGRESSION ]; then
    echo "an input under tests/fuzz/regressions/$t/ fails again; reproduce:" \
         "$build/src/fuzz/${t}_fuzz tests/fuzz/regressions/$t/*"
  fi
done
if [ "$failed" -ne 0 ]; then
  echo
  echo "fuzz.sh: FAILED. Fix the reader, then add the saved input under tests/fuzz/regressions/<target>/"
  echo "and as a test in the reader's *_test.cc (docs/FUZZING.md)."
  exit 1
fi
echo "fuzz.sh: all targets ran clean"
