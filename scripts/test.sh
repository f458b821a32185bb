#!/usr/bin/env bash
# The test command (CI runs it too): installs dependencies, builds everything,
# runs every test, then the sanitizer stage (scripts/sanitize.sh: ASan/UBSan,
# TSan, 60 s of fuzzing). CONVEYOR_SANITIZE=0 skips that stage (quick local
# runs).
# Usage: scripts/test.sh [extra ctest args for the normal suite]
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
BUILD_DIR=${BUILD_DIR:-build}
# Relative paths in the compiler cache key: clones and worktrees share hits.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache
cmake --build "$BUILD_DIR" -j"$(nproc)"
ctest --test-dir "$BUILD_DIR" --output-on-failure -j"$(nproc)" "$@"
if [ "${CONVEYOR_SANITIZE:-1}" != 0 ]; then
  scripts/sanitize.sh
fi
