#include "server/engine/job.h"

namespace conveyor {

bool IsTerminal(JobState state) {
  return state == JobState::kSucceeded || state == JobState::kDead ||
         state == JobState::kCancelled;
}

const char* JobStateName(JobState state) {
  switch (state) {
    case JobState::kScheduled: return "SCHEDULED";
    case JobState::kQueued: return "QUEUED";
    case JobState::kRunning: return "RUNNING";
    case JobState::kSucceeded: return "SUCCEEDED";
    case JobState::kDead: return "DEAD";
    case JobState::kCancelled: return "CANCELLED";
  }
  return "UNKNOWN";
}

Job JobForWorker(const Job& job) {
  Job out;
  out.id = job.id;
  out.queue = job.queue;
  out.type = job.type;
  out.payload = job.payload;
  out.priority = job.priority;
  out.labels = job.labels;
  out.idempotency_key = job.idempotency_key;
  out.max_attempts = job.max_attempts;
  out.backoff = job.backoff;
  out.attempt_timeout = job.attempt_timeout;
  out.deadline = job.deadline;
  out.state = job.state;
  out.attempts = job.attempts;
  out.created_at = job.created_at;
  out.run_at = job.run_at;
  out.finished_at = job.finished_at;
  out.expires_at = job.expires_at;
  out.dead_reason = job.dead_reason;
  out.last_token = job.last_token;
  return out;
}

}  // namespace conveyor
