#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs the C++ tests (Release and
# ASan/UBSan Debug builds, both with warnings as errors) and the Python cross-checks
# (coremltools, tokenizers, ...).
# Usage: scripts/test.sh            (everything; what CI runs)
#        ANEC_SKIP_SANITIZE=1 scripts/test.sh   (skip the sanitizer build and the fuzzing, for a
#                                                quick local run)
#        ANEC_FUZZ_SECONDS=N scripts/test.sh    (fuzz each reader N s instead of 50)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)

# Wall time per stage, printed at the end (the whole command must stay under 30 minutes on 2
# cores; this shows where the time goes).
timings=()
stage_start=$SECONDS
stage_name=""
stage() {
  if [ -n "$stage_name" ]; then timings+=("$(printf '%-44s %5d s' "$stage_name" $((SECONDS - stage_start)))"); fi
  stage_name=$1
  stage_start=$SECONDS
  [ -n "$1" ] && echo "== $1"
  return 0
}
print_timings() {
  stage ""
  echo "== stage times (wall)"
  printf '%s\n' "${timings[@]}"
  printf '%-44s %5d s\n' "total" "$SECONDS"
}
# The background sanitizer build (below) dies with the script.
asan_pid=""
kill_tree() {
  local child
  for child in $(pgrep -P "$1"); do kill_tree "$child"; done
  kill "$1" 2>/dev/null || true
}
trap '[ -n "$asan_pid" ] && kill_tree "$asan_pid"; true' EXIT

# Every package a test converts must pass the Neural Engine placement check (docs/ANE_RULES.md):
# with this set, an error-level finding fails that conversion.
export ANEC_STRICT_ANE_CHECK=1

stage "install Debian packages and the Python venv"
bash scripts/install-deps.sh
bash scripts/setup-venv.sh ci

# The tests run on the Release build (what users benchmark and ship), warnings as errors; the
# sanitizer build below is the Debug configuration, also warnings as errors. A user's own build
# of any type warns but never fails on warnings (ANEC_WERROR is OFF by default).
# ANEC_PYTHON adds the Python extension module (python/, docs/PYTHON.md) to this tree, so the
# `pip install .` below reuses it instead of compiling the core a second time.
stage "build (Release, warnings as errors, with the Python module)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DANEC_WERROR=ON \
  -DANEC_PYTHON=ON -DPython_EXECUTABLE="$root/.venv/bin/python" >/dev/null
cmake --build build -j"$jobs"

stage "C++ tests"
ctest --test-dir build --output-on-failure -j"$jobs"

# Every C++ test binary again, and the fuzz targets (docs/FUZZING.md), from one clang build
# under AddressSanitizer + UndefinedBehaviorSanitizer, Debug at -O1, libraries instrumented for
# libFuzzer (the tools and the anec binary are not rebuilt: the tests cover their code).
# The build runs in the background while the Python checks run: those mostly wait on one
# process at a time, so the two together keep both cores busy.
sanitized=(base_tests coreml_tests mil_tests io_tests model_tests quant_tests text_tests
           ane_tests runtime_tests pipeline_tests parity_tests cli_tests calib_tests)
if [ -z "${ANEC_SKIP_SANITIZE:-}" ]; then
  # A tree configured by another compiler (gcc, before the fuzz targets) cannot be switched.
  if [ -f build-asan/CMakeCache.txt ] && ! grep -q "^CMAKE_CXX_COMPILER:.*clang" build-asan/CMakeCache.txt; then
    rm -rf build-asan
  fi
  mkdir -p build-asan
  echo "== build (clang, ASan + UBSan) in the background: ${sanitized[*]} fuzz_targets; log: build-asan/build.log"
  ( CC=clang CXX=clang++ cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug \
      -DANEC_SANITIZE=ON -DANEC_FUZZ=ON -DANEC_BUILD_BENCH=OFF -DANEC_WERROR=ON >/dev/null &&
    nice -n 5 cmake --build build-asan -j"$jobs" --target "${sanitized[@]}" fuzz_targets
  ) >build-asan/build.log 2>&1 &
  asan_pid=$!
fi

# The real `pip install .` (scikit-build-core), pointed at build/: same configuration, so Ninja
# finds the module up to date and pip only packs and installs the wheel that the tests import.
stage "pip install . (the anec Python package, from build/)"
"$root/.venv/bin/python" -m pip install -q --no-build-isolation -C build-dir="$root/build" .

stage "Python cross-checks (coremltools, tokenizers, transformers references, the package)"
ANEC_BINARY_DIR="$root/build" "$root/.venv/bin/python" -m pytest -q tests/python

if [ -n "$asan_pid" ]; then
  stage "finish the sanitizer build"
  if ! wait "$asan_pid"; then
    asan_pid=""
    tail -n 60 build-asan/build.log
    echo "test.sh: the sanitizer build failed; the whole log is build-asan/build.log" >&2
    exit 1
  fi
  asan_pid=""
  stage "C++ tests with AddressSanitizer and UndefinedBehaviorSanitizer"
  # Binaries registered as shards (cmake/AnecModule.cmake) are named NAME_<i>of<n>.
  regex="^(($(IFS='|'; echo "${sanitized[*]}"))(_[0-9]+of[0-9]+)?|.*_fuzz_replay)$"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -R "$regex"

  # Each fuzz target for ANEC_FUZZ_SECONDS (50 here: about a minute each, as the whole command
  # must stay under 30 minutes on 2 cores; scripts/fuzz.sh alone defaults to 60), $jobs at a
  # time; any crash, leak, timeout or out-of-memory fails the run and prints where the input
  # was saved.
  fuzz_seconds=${ANEC_FUZZ_SECONDS:-50}
  stage "fuzzing every reader (scripts/fuzz.sh, $fuzz_seconds s per target)"
  ANEC_FUZZ_SECONDS="$fuzz_seconds" ANEC_FUZZ_JOBS="$jobs" bash scripts/fuzz.sh build-asan
fi
print_timings
