#!/usr/bin/env bash
# Builds conveyord, conveyor-worker and conveyor-bench (Release, with ccache
# when present) into $BUILD_DIR (default build-bench), with $JOBS (default 2)
# parallel jobs. bench/run.sh and bench/peers/run.sh call it.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
launcher=()
if command -v ccache >/dev/null; then
  export CCACHE_BASEDIR="$root" CCACHE_NOHASHDIR=true
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "${launcher[@]}" >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target conveyord conveyor-worker conveyor-bench
