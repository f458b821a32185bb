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

}  // namespace conveyor
