#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, runs the C++ tests (Release and
# ASan/UBSan Debug builds, both with warnings as errors) and the Python cross-checks
# (coremltools, tokenizers, ...).
# Usage: scripts/test.sh            (everything; what CI runs)
#        ANEC_SKIP_SANITIZE=1 scripts/test.sh   (skip the sanitizer build, for a quick local run)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
jobs=$(nproc)

# Every package a test converts must pass the Neural Engine placement check (docs/ANE_RULES.md):
# with this set, an error-level finding fails that conversion.
export ANEC_STRICT_ANE_CHECK=1

bash scripts/install-deps.sh
bash scripts/setup-venv.sh ci

# The tests run on the Release build (what users benchmark and ship), warnings as errors; the
# sanitizer build below is the Debug configuration, also warnings as errors. A user's own build
# of any type warns but never fails on warnings (ANEC_WERROR is OFF by default).
echo "== build (Release, warnings as errors)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DANEC_WERROR=ON >/dev/null
cmake --build build -j"$jobs"

echo "== C++ tests"
ctest --test-dir build --output-on-failure -j"$jobs"

echo "== Python cross-checks (coremltools, tokenizers, transformers references)"
ANEC_BINARY_DIR="$root/build" "$root/.venv/bin/python" -m pytest -q tests/python

if [ -z "${ANEC_SKIP_SANITIZE:-}" ]; then
  # Every C++ test binary again, under AddressSanitizer + UndefinedBehaviorSanitizer (the tools
  # and the anec binary are not rebuilt: the tests cover their code).
  sanitized=(base_tests coreml_tests mil_tests io_tests model_tests quant_tests text_tests
             ane_tests runtime_tests pipeline_tests parity_tests cli_tests calib_tests)
  echo "== build + C++ tests with AddressSanitizer and UndefinedBehaviorSanitizer: ${sanitized[*]}"
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DANEC_SANITIZE=ON \
    -DANEC_BUILD_BENCH=OFF -DANEC_WERROR=ON >/dev/null
  cmake --build build-asan -j"$jobs" --target "${sanitized[@]}"
  regex="^($(IFS='|'; echo "${sanitized[*]}"))$"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j"$jobs" -R "$regex"
fi
