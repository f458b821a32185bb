#!/usr/bin/env bash
# The sanitizer stage (scripts/test.sh runs it after the normal suite):
#   1. build-asan: clang, AddressSanitizer + UBSan (every report fatal); the
#      whole ctest suite except tests labelled no_sanitizer (throughput and
#      big-load tests), including the fuzz corpus replay; then
#      coordinator_fuzzer for CONVEYOR_FUZZ_SECONDS (default 60).
#   2. build-tsan: clang, ThreadSanitizer; the engine and store tests (see
#      below for why not those over gRPC).
# Usage: scripts/sanitize.sh [asan|tsan|fuzz]...   (default: all three)
# A fuzzer finding (crash, leak, timeout, OOM) fails the stage and is copied
# into fuzz/regression/, which the ctest coordinator_fuzzer_corpus replays:
# commit the file with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
JOBS=$(nproc)
FUZZ_SECONDS=${CONVEYOR_FUZZ_SECONDS:-60}
STAGES=("$@")
((${#STAGES[@]})) || STAGES=(asan tsan fuzz)

SYMBOLIZER=/usr/lib/llvm-14/bin/llvm-symbolizer  # llvm-14 (scripts/bootstrap.sh)
export ASAN_SYMBOLIZER_PATH=$SYMBOLIZER TSAN_SYMBOLIZER_PATH=$SYMBOLIZER
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:check_initialization_order=1"
export LSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export TSAN_OPTIONS="suppressions=$PWD/tests/sanitizers/tsan.supp:halt_on_error=1:second_deadlock_stack=1:print_suppressions=0"

configure() {  # dir sanitizer skip-list
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
    -DCONVEYOR_SANITIZER="$2" -DCONVEYOR_SKIP="$3" >/dev/null
}

elapsed() { echo "sanitize: $1 took $((SECONDS - $2))s"; }

for stage in "${STAGES[@]}"; do
  start=$SECONDS
  case "$stage" in
    asan)
      # bench and the compose check measure or wrap nothing the sanitizers see.
      configure build-asan asan "bench;compose"
      cmake --build build-asan -j"$JOBS"
      ctest --test-dir build-asan --output-on-failure -j"$JOBS" -LE no_sanitizer
      elapsed asan $start ;;
    tsan)
      # The in-process tests without gRPC: engine and store (threads, absl
      # locks, SQLite). Tests over gRPC (rpc, worker, client, e2e) are not
      # run here yet: Debian's gRPC is not TSan-instrumented and hands
      # messages and reactors between threads through lock-free queues TSan
      # cannot see (hundreds of reports inside protobuf/gRPC frames, and
      # "unlock of an unlocked mutex" from its event engine's TimerManager).
      configure build-tsan tsan "bench;compose;interop;chaos"
      cmake --build build-tsan -j"$JOBS" --target engine_test store_test store_crash_child
      ctest --test-dir build-tsan --output-on-failure -j"$JOBS" -LE no_sanitizer \
        -R '^(engine|store)\.'
      elapsed tsan $start ;;
    fuzz)
      configure build-asan asan "bench;compose"
      cmake --build build-asan -j"$JOBS" --target coordinator_fuzzer
      rm -rf build-asan/fuzz-artifacts
      mkdir -p build-asan/fuzz-corpus build-asan/fuzz-artifacts
      # New inputs go to the build tree's corpus; the checked-in ones are read.
      if ! build-asan/fuzz/coordinator_fuzzer \
        -max_total_time="$FUZZ_SECONDS" -timeout=60 -rss_limit_mb=4096 -max_len=4096 \
        -print_final_stats=1 -artifact_prefix=build-asan/fuzz-artifacts/ \
        build-asan/fuzz-corpus fuzz/corpus/coordinator fuzz/regression; then
        # Every finding becomes a regression input: coordinator_fuzzer_corpus
        # replays it until it is fixed (commit the file with the fix).
        for f in build-asan/fuzz-artifacts/*; do
          [ -f "$f" ] || continue
          cp "$f" fuzz/regression/
          echo "sanitize: fuzzer finding saved as fuzz/regression/$(basename "$f")" >&2
        done
        elapsed fuzz $start
        exit 1
      fi
      elapsed fuzz $start ;;
    *) echo "sanitize: unknown stage $stage (asan, tsan or fuzz)" >&2; exit 2 ;;
  esac
done
