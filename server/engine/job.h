#ifndef CONVEYOR_SERVER_ENGINE_JOB_H_
#define CONVEYOR_SERVER_ENGINE_JOB_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "server/engine/ids.h"

namespace conveyor {

// The job states of proto/conveyor/v1/job.proto, same numbers.
enum class JobState : int {
  kScheduled = 1,
  kQueued = 2,
  kRunning = 3,
  kSucceeded = 4,
  kDead = 5,
  kCancelled = 6,
};
bool IsTerminal(JobState state);
const char* JobStateName(JobState state);

enum class DeadReason : int {
  kNone = 0,
  kAttemptsExhausted = 1,
  kPermanentFailure = 2,
  kLeaseLost = 3,
};

enum class AttemptOutcome : int {
  kRunning = 1,
  kSucceeded = 2,
  kFailed = 3,
  kLeaseLost = 4,
  kTimedOut = 5,
  kCancelled = 6,
  kReleased = 7,
};

using Labels = std::map<std::string, std::string>;

// Retry delays: after failed attempt n the job waits a uniformly random time
// in [0, min(max, initial * multiplier^(n-1))].
struct Backoff {
  absl::Duration initial = absl::Seconds(1);
  absl::Duration max = absl::Minutes(5);
  double multiplier = 2.0;
  friend bool operator==(const Backoff&, const Backoff&) = default;
};

// What a producer asks for. Zero/empty fields take the queue's defaults.
struct JobSpec {
  std::string queue;
  std::string type;
  std::string payload;
  int32_t priority = 0;
  // At most one of `delay` (relative to acceptance) and `run_at` is set.
  std::optional<absl::Duration> delay;
  std::optional<absl::Time> run_at;
  int32_t max_attempts = 0;             // 0: queue default.
  std::optional<Backoff> backoff;       // unset: queue default.
  absl::Duration attempt_timeout = absl::ZeroDuration();  // 0: none.
  // At most one of `deadline` and `timeout` (relative to acceptance).
  std::optional<absl::Time> deadline;
  std::optional<absl::Duration> timeout;
  std::string idempotency_key;
  Labels labels;
};

struct Progress {
  int32_t percent = -1;
  std::string message;
};

struct Attempt {
  int32_t number = 0;
  WorkerId worker;
  std::string worker_name;
  absl::Time started_at = absl::InfinitePast();
  absl::Time ended_at = absl::InfinitePast();  // InfinitePast while running.
  AttemptOutcome outcome = AttemptOutcome::kRunning;
  std::string error;
};

// A job as the engine keeps it; also the record a Store persists. The fields
// down to `deadline` are fixed when the job is created; those from `state` on
// (its lifecycle) change afterwards.
struct Job {
  JobId id;
  std::string queue;
  std::string type;
  std::string payload;
  int32_t priority = 0;
  Labels labels;
  std::string idempotency_key;
  int32_t max_attempts = 0;
  Backoff backoff;
  absl::Duration attempt_timeout = absl::ZeroDuration();  // 0: none.
  absl::Time deadline = absl::InfiniteFuture();           // InfiniteFuture: none.

  JobState state = JobState::kQueued;
  int32_t attempts = 0;  // Attempts started, released ones excluded.
  absl::Time created_at = absl::InfinitePast();
  absl::Time run_at = absl::InfinitePast();       // When it was or will be queued.
  absl::Time finished_at = absl::InfinitePast();  // Terminal jobs only.
  absl::Time expires_at = absl::InfiniteFuture();  // Terminal jobs: retention end.
  std::string result;
  std::string error;  // The last failure's text.
  DeadReason dead_reason = DeadReason::kNone;
  std::string cancel_reason;
  Progress progress;
  std::vector<Attempt> history;
  // The token of the current (RUNNING) or last lease; the next lease gets a
  // greater one, also after a restart.
  FencingToken last_token;
};

// A copy of `job` with what a worker needs to run it: everything but
// history, result, error, cancel_reason and progress (left empty).
Job JobForWorker(const Job& job);

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_JOB_H_
