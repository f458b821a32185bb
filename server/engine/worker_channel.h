#ifndef CONVEYOR_SERVER_ENGINE_WORKER_CHANNEL_H_
#define CONVEYOR_SERVER_ENGINE_WORKER_CHANNEL_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/engine/ids.h"
#include "server/engine/job.h"

namespace conveyor {

// A job leased to a worker.
struct Assignment {
  // Snapshot at lease time of what a worker needs (JobForWorker): payload
  // included; no history, result, error or progress.
  Job job;
  int32_t attempt = 0;
  FencingToken token;
  absl::Time lease_expires_at;
  // The earlier of the job's deadline and its attempt timeout;
  // InfiniteFuture when neither is set.
  absl::Time deadline = absl::InfiniteFuture();
  // Observer sequence number of the grant (the job's new attempt, lease and
  // token). The channel must not let the worker see the assignment before
  // the store made this change durable: a grant lost in a crash would be
  // made again, the same attempt and token to another worker.
  uint64_t seq = 0;
};

// What the engine says to one connected worker. The rpc layer implements it
// over the worker's stream.
//
// Calls are made outside the engine's lock, in the order the engine decided
// them, possibly from any thread, and possibly after the worker was
// disconnected (ignore those). They must not block or call into the engine.
// What the worker is told must keep that order: a Cancel or Drain made
// after an Assign must not reach the worker before that assignment does,
// and the answer to a result before the assignment of the slot it freed.
class WorkerChannel {
 public:
  virtual ~WorkerChannel() = default;
  // The channel owns `assignment` (moving its payload out is fine).
  virtual void Assign(Assignment assignment) = 0;
  // The job's lease is gone (cancelled, deadline passed, attempt timed out):
  // the worker should stop running it.
  virtual void Cancel(JobId job, FencingToken token, const std::string& reason) = 0;
  // The engine's answer to a result the worker reported (Complete, Fail or
  // Release; Progress gets none). OK: the engine took it as change `seq`,
  // which the worker must not hear of before it is durable. ABORTED (the
  // lease is gone) or NOT_FOUND (no such job): the result changed nothing
  // and `seq` is 0. Results that break the protocol get no answer: the
  // caller of Report ends the worker's stream.
  virtual void Answer(JobId job, FencingToken token, absl::Status verdict, uint64_t seq) = 0;
  // The coordinator is shutting down: finish within `grace`, take no more.
  virtual void Drain(absl::Duration grace) = 0;
};

// Follows one job. Same calling rules as WorkerChannel.
class JobWatcher {
 public:
  virtual ~JobWatcher() = default;
  // The job after a change (first: as it was when Watch was called).
  // `seq` is the observer sequence number of the change (0 when nothing was
  // written): wait for it to be durable before telling a client. After a
  // terminal state there are no more calls.
  virtual void OnJobChanged(const Job& job, uint64_t seq) = 0;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_WORKER_CHANNEL_H_
