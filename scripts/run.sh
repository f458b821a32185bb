#!/usr/bin/env bash
# The run command: installs dependencies, builds, and runs a coordinator on
# its embedded SQLite store (./data) plus a few workers, until Ctrl-C.
# Usage: scripts/run.sh [workers, default 2]   (env: CONVEYOR_LISTEN, BUILD_DIR)
set -euo pipefail
cd "$(dirname "$0")/.."
WORKERS=${1:-2}
scripts/bootstrap.sh
BUILD_DIR=${BUILD_DIR:-build}
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_COMPILER_LAUNCHER=ccache >/dev/null
targets=(conveyord)
[ -f worker/CMakeLists.txt ] && targets+=(conveyor-worker)
[ -f client/CMakeLists.txt ] && targets+=(conveyor)
cmake --build "$BUILD_DIR" -j"$(nproc)" --target "${targets[@]}"

LISTEN=${CONVEYOR_LISTEN:-127.0.0.1:7070}
pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait || true
}
trap stop INT TERM EXIT
"$BUILD_DIR/server/conveyord" --listen="$LISTEN" --data-dir=data &
pids+=($!)
if [ -x "$BUILD_DIR/worker/conveyor-worker" ]; then
  for i in $(seq 1 "$WORKERS"); do
    "$BUILD_DIR/worker/conveyor-worker" --coordinator="$LISTEN" --queues=default \
      --name="worker-$i" &
    pids+=($!)
  done
fi
echo "conveyor: coordinator on $LISTEN, $WORKERS workers; Ctrl-C stops them" >&2
wait "${pids[0]}"
