#ifndef CONVEYOR_SERVER_STORE_JOB_LIFECYCLE_H_
#define CONVEYOR_SERVER_STORE_JOB_LIFECYCLE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "server/engine/ids.h"
#include "server/engine/job.h"

namespace conveyor {

// The fields of a Job that change after it is created: what a store writes
// for JobObserver::OnJobUpdated. The others (queue, type, payload, priority,
// labels, idempotency key, attempt limits, deadline, created_at) are fixed at
// creation and written once, with the insert.
struct JobLifecycle {
  JobState state = JobState::kQueued;
  int32_t attempts = 0;
  absl::Time run_at = absl::InfinitePast();
  absl::Time finished_at = absl::InfinitePast();
  absl::Time expires_at = absl::InfiniteFuture();
  std::string result;
  std::string error;
  DeadReason dead_reason = DeadReason::kNone;
  std::string cancel_reason;
  Progress progress;
  std::vector<Attempt> history;
  FencingToken last_token;

  // Copies the lifecycle fields of `job`, reusing this one's buffers.
  void CopyFrom(const Job& job);
  // Overwrites the lifecycle fields of `job` with these.
  void ApplyTo(Job& job) const;
};

// Copies the lifecycle fields of `from` into `to`, leaving the rest of `to`
// (payload included) as it is.
void CopyLifecycle(const Job& from, Job& to);

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_STORE_JOB_LIFECYCLE_H_
