#!/usr/bin/env bash
# Conveyor side by side with beanstalkd (binlog), NATS JetStream (file storage, work-queue
# stream, explicit acks) and BullMQ on Redis (AOF, fsync every second): issue 7, section 3.
#
# Installs what it needs (apt: beanstalkd nats-server redis-server; npm ci here), builds
# conveyord, conveyor-worker and conveyor-bench (Release, as bench/run.sh does), then runs
# peers.mjs: the same throughput and latency workloads through one Node harness against each
# system, plus the native conveyor-bench, and prints one table (JSON too). On demand, not in CI.
#
#   bench/peers/run.sh                       # 100k jobs, 2,000 jobs/s for 10 s, K=4 x C=16
#   bench/peers/run.sh --quick               # 10k jobs, 3 s of latency
#   bench/peers/run.sh --systems conveyor,bullmq --jobs 20000
#   bench/peers/run.sh --help                # every flag (PEERS_JOBS etc. in the environment too)
#   BUILD_DIR=out JOBS=1 bench/peers/run.sh  # another build directory; build parallelism
#   SKIP_INSTALL=1 SKIP_BUILD=1 bench/peers/run.sh   # use what is installed and built
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
build="${BUILD_DIR:-$root/build-bench}"
json_out="${JSON_OUT:-$build/bench-results/peers.json}"

for arg in "$@"; do
  if [ "$arg" = --help ] || [ "$arg" = -h ]; then
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
    echo
    exec node "$here/peers.mjs" --help
  fi
done

if [ -z "${SKIP_INSTALL:-}" ]; then
  missing=()
  for pair in beanstalkd:beanstalkd nats-server:nats-server redis-server:redis-server node:nodejs npm:npm; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "run.sh: installing ${missing[*]}" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
  fi
  stamp="$here/node_modules/.conveyor-lock.sha256"
  want=$(sha256sum "$here/package-lock.json" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    (cd "$here" && npm ci --no-audit --no-fund --ignore-scripts)
    echo "$want" > "$stamp"
  fi
fi

if [ -z "${SKIP_BUILD:-}" ]; then
  BUILD_DIR="$build" "$root/bench/build.sh"
fi

mkdir -p "$(dirname "$json_out")"
exec node "$here/peers.mjs" --conveyord "$build/server/conveyord" \
  --conveyor-bench "$build/bench/conveyor-bench" --json-out "$json_out" "$@"
