#!/usr/bin/env bash
# Builds conveyord, conveyor-worker and conveyor-bench (Release) and runs the
# full benchmark suite of issue 7, printing the tables. Extra arguments go to
# every conveyor-bench run (e.g. --jobs 20000, or --smoke).
#
#   bench/run.sh                  # everything, default sizes (~10 min on 2 cores)
#   BUILD_DIR=out bench/run.sh    # another build directory
#   JOBS=1 bench/run.sh           # build parallelism (default 2)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
out="${OUT_DIR:-$build/bench-results}"
BUILD_DIR="$build" "$root/bench/build.sh"

mkdir -p "$out"
bench="$build/bench/conveyor-bench"
status=0
echo "== conveyor-bench all (default durable store) =="
"$bench" all --json-out "$out/all.json" "$@" || status=1
echo
echo "== conveyor-bench throughput --fsync =="
"$bench" throughput --fsync --json-out "$out/fsync.json" "$@" || status=1
echo
echo "JSON: $out/all.json $out/fsync.json"
exit $status
