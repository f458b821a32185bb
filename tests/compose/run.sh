#!/usr/bin/env bash
# End-to-end check of the container setup (Dockerfile + docker-compose.yml), run on demand:
# builds the image, brings the stack up with WORKERS worker replicas, lets the producer submit
# JOBS jobs, waits until all succeeded and checks that every worker took part; then stops the
# workers while jobs are running and checks that they drained (exit 0, the running jobs
# succeeded, none went back to the queue), stops the coordinator (exit 0) and brings it all down.
#
#   tests/compose/run.sh                      # podman + podman-compose (no Docker engine here;
#                                             # run /work/shared/tools/container-base once first)
#   CONTAINER_ENGINE=docker tests/compose/run.sh
#
# Env: WORKERS (3), JOBS (300), DEADLINE_SECONDS (240, per wait), KEEP_IMAGE_BUILD=1 skips the
# image build (uses an existing conveyor:dev).
set -euo pipefail
cd "$(dirname "$0")/../.."

WORKERS=${WORKERS:-3}
JOBS=${JOBS:-300}
DEADLINE_SECONDS=${DEADLINE_SECONDS:-240}
DRAIN_JOBS=$((WORKERS * 2))   # sleep 3s jobs running while the workers are told to stop
ENGINE=${CONTAINER_ENGINE:-podman}
if [ "$ENGINE" = podman ]; then COMPOSE=(podman-compose); else COMPOSE=(docker compose); fi
PROJECT=conveyor_compose_test_$$
PY=$(command -v python3)

log() { echo "compose-test: $*"; }
fail() { echo "compose-test: FAIL: $*" >&2; exit 1; }
free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

export CONVEYOR_IMAGE=${CONVEYOR_IMAGE:-conveyor:dev}
export CONVEYOR_WORKERS=$WORKERS   # deploy.replicas: podman-compose 1.0 ignores --scale
export CONVEYOR_PRODUCER_JOBS=$JOBS CONVEYOR_PRODUCER_TYPE=sleep CONVEYOR_PRODUCER_PAYLOAD=50ms
CONVEYOR_GRPC_PORT=$(free_port); CONVEYOR_METRICS_PORT=$(free_port)
export CONVEYOR_GRPC_PORT CONVEYOR_METRICS_PORT

compose() { "${COMPOSE[@]}" -p "$PROJECT" "$@"; }
UPLOG=$(mktemp)
started=0
teardown() {
  compose down -v -t 60 >>"$UPLOG" 2>&1 || return 1
  # podman-compose 1.0 leaves the project's network behind: remove the one this run made.
  if [ "$ENGINE" = podman ] && "$ENGINE" network exists "${PROJECT}_default" 2>/dev/null; then
    "$ENGINE" network rm "${PROJECT}_default" >/dev/null
  fi
}
cleanup() {
  local rc=$?
  if ((started)); then
    if ((rc != 0)); then
      log "compose output:"; tail -20 "$UPLOG"
      log "logs of the failed run (last 30 lines per container):"
      for c in $(containers ''); do echo "--- $c"; "$ENGINE" logs --tail 30 "$c" 2>&1 || true; done
    fi
    log "tearing down $PROJECT"
    teardown || true
  fi
  rm -f "$UPLOG"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Names of this project's containers of one service ('' for all), in creation order.
containers() {
  local filter=(--filter "label=com.docker.compose.project=$PROJECT")
  [ -n "$1" ] && filter+=(--filter "label=com.docker.compose.service=$1")
  "$ENGINE" ps -a "${filter[@]}" --format '{{.Names}}' | sort
}
state_of() { "$ENGINE" inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1"; }
cli() { "$ENGINE" exec "$COORD" conveyor --rpc-timeout 5s "$@"; }
cli_stdin() { "$ENGINE" exec -i "$COORD" conveyor --rpc-timeout 5s "$@"; }
# Prints "succeeded queued running scheduled dead cancelled" of queue default (zeros if absent).
queue_counts() {
  cli --json queues 2>/dev/null | "$PY" -c '
import json, sys
q = next((q for q in json.load(sys.stdin) if q["name"] == "default"), {})
print(" ".join(str(int(q.get(k, 0))) for k in
      ("succeeded", "queued", "running", "scheduled", "dead", "cancelled")))' ||
    echo "0 0 0 0 0 0"
}
# Polls `cond` (a shell expression over $succeeded $queued $running $dead ...) until true.
wait_counts() {
  local what=$1 cond=$2 deadline=$((SECONDS + DEADLINE_SECONDS))
  while :; do
    read -r succeeded queued running scheduled dead cancelled < <(queue_counts)
    if eval "$cond"; then return 0; fi
    ((SECONDS < deadline)) || fail "$what: not reached in ${DEADLINE_SECONDS}s (succeeded=$succeeded queued=$queued running=$running scheduled=$scheduled dead=$dead cancelled=$cancelled)"
    if [ -n "${PRODUCER:-}" ]; then
      read -r pstate pexit < <(state_of "$PRODUCER")
      [ "$pstate" != exited ] || [ "$pexit" = 0 ] || fail "producer exited $pexit"
    fi
    sleep 0.5
  done
}

if [ "${KEEP_IMAGE_BUILD:-0}" != 1 ]; then
  log "building $CONVEYOR_IMAGE with $ENGINE"
  t0=$SECONDS
  "$ENGINE" build --network=host -t "$CONVEYOR_IMAGE" . >/tmp/conveyor-compose-build.$$.log 2>&1 ||
    { tail -30 /tmp/conveyor-compose-build.$$.log; fail "image build failed (log: /tmp/conveyor-compose-build.$$.log)"; }
  rm -f /tmp/conveyor-compose-build.$$.log
  log "image built in $((SECONDS - t0))s: $("$ENGINE" image inspect -f '{{.Size}}' "$CONVEYOR_IMAGE" | awk '{printf "%.0f MB", $1/1e6}')"
fi

log "up: project $PROJECT, $WORKERS workers, producer submits $JOBS jobs"
started=1
t0=$SECONDS
compose up -d --no-build --scale "worker=$WORKERS" >>"$UPLOG" 2>&1 || fail "compose up failed"
COORD=$(containers coordinator | head -1)
PRODUCER=$(containers producer | head -1)
mapfile -t WORKER_CONTAINERS < <(containers worker)
[ -n "$COORD" ] && [ -n "$PRODUCER" ] || fail "coordinator or producer container missing"
((${#WORKER_CONTAINERS[@]} == WORKERS)) || fail "expected $WORKERS worker containers, got ${#WORKER_CONTAINERS[@]}"
log "containers: $COORD $PRODUCER ${WORKER_CONTAINERS[*]}"

# The compose healthcheck (podman without systemd runs it only on demand).
coordinator_healthy() {
  if [ "$ENGINE" = podman ]; then podman healthcheck run "$COORD" >/dev/null 2>&1
  else [ "$(docker inspect -f '{{.State.Health.Status}}' "$COORD")" = healthy ]; fi
}
deadline=$((SECONDS + DEADLINE_SECONDS))
until coordinator_healthy; do
  ((SECONDS < deadline)) || fail "coordinator not healthy in ${DEADLINE_SECONDS}s"
  sleep 0.5
done
log "coordinator healthy $((SECONDS - t0))s after up"

wait_counts "all $JOBS jobs succeeded" '((succeeded >= JOBS || dead > 0))'
((dead == 0)) || fail "$dead jobs dead"
log "all $succeeded jobs succeeded $((SECONDS - t0))s after up (queued=$queued running=$running dead=$dead)"
read -r pstate pexit < <(state_of "$PRODUCER")
log "producer: $pstate, exit $pexit"
[ "$pexit" = 0 ] || fail "producer exit $pexit"

# Who ran what: the worker_name of each job's final attempt.
cli --json jobs --queue default --state succeeded --limit 0 | "$PY" -c '
import collections, json, sys
jobs = json.load(sys.stdin)
by = collections.Counter(j["history"][-1]["worker_name"] for j in jobs)
for name, n in sorted(by.items()): print(f"compose-test:   {name:<28} {n:>4} jobs")
print(f"compose-test:   {len(by)} workers ran {sum(by.values())} jobs", file=sys.stderr)
sys.exit(0 if len(by) == int(sys.argv[1]) else 3)' "$WORKERS" ||
  fail "not all $WORKERS workers ran jobs"

log "drain: $DRAIN_JOBS jobs of 3s running, then stop the workers (SIGTERM)"
submitted=$(seq 1 "$DRAIN_JOBS" | sed 's/.*/3s/' | cli_stdin submit --queue default --type sleep --batch-file -)
log "  $submitted"
wait_counts "$DRAIN_JOBS drain jobs running" '((running == DRAIN_JOBS))'
t0=$SECONDS
# All at once (compose stops replicas one by one), with the stop signal compose gave them.
"$ENGINE" stop -t 60 "${WORKER_CONTAINERS[@]}" >>"$UPLOG" 2>&1 || fail "stopping the workers failed"
log "workers stopped in $((SECONDS - t0))s"
bad=0
for w in "${WORKER_CONTAINERS[@]}"; do
  read -r st ex < <(state_of "$w")
  drained=$("$ENGINE" logs "$w" 2>&1 | grep -c 'event=drain_done' || true)
  log "  $w: $st, exit $ex, drain_done lines: $drained"
  { [ "$st" = exited ] && [ "$ex" = 0 ] && [ "$drained" -ge 1 ]; } || bad=1
done
((bad == 0)) || fail "a worker did not drain cleanly"
read -r succeeded queued running scheduled dead cancelled < <(queue_counts)
log "after drain: succeeded=$succeeded queued=$queued running=$running dead=$dead"
((succeeded == JOBS + DRAIN_JOBS && queued == 0 && running == 0)) ||
  fail "running jobs did not finish during the drain"

t0=$SECONDS
compose stop -t 60 coordinator >>"$UPLOG" 2>&1 || fail "compose stop coordinator failed"
read -r st ex < <(state_of "$COORD")
log "coordinator: $st, exit $ex ($((SECONDS - t0))s)"
[ "$ex" = 0 ] || fail "coordinator exit $ex"

teardown || fail "compose down failed"
started=0
left=$(containers '' | wc -l)
log "down: $left containers left"
((left == 0)) || fail "containers left after down"
log "PASS"
