#ifndef CONVEYOR_SERVER_ENGINE_QUEUE_STATE_H_
#define CONVEYOR_SERVER_ENGINE_QUEUE_STATE_H_

#include <array>
#include <cstdint>
#include <utility>

#include "absl/container/btree_set.h"
#include "absl/time/time.h"
#include "server/engine/histogram.h"
#include "server/engine/ids.h"
#include "server/engine/job.h"
#include "server/engine/queue_settings.h"
#include "server/engine/ready_queue.h"

namespace conveyor {

// A token bucket: `rate` tokens per second, holding at most max(1, rate).
// Not thread-safe.
class RateLimiter {
 public:
  // Refills for the time since the last call; true if a token is available.
  bool Ready(double rate, absl::Time now);
  // Takes a token. REQUIRES: Ready() returned true.
  void Take() { tokens_ -= 1; }
  // When the next token is available (valid after Ready() returned false).
  absl::Time NextToken(double rate) const;

 private:
  double tokens_ = 1;
  absl::Time refilled_at_ = absl::InfinitePast();
};

// Cumulative counts of what happened in one queue since the coordinator
// started, for metrics.
struct QueueCounters {
  int64_t submitted = 0;
  int64_t dispatched = 0;
  int64_t succeeded = 0;
  int64_t failed_attempts = 0;  // Failed, timed out or lost attempts.
  int64_t dead = 0;
  int64_t cancelled = 0;
  int64_t leases_expired = 0;
  Histogram queue_wait;  // From ready (QUEUED) to leased.
  Histogram run_time;    // Of attempts that ended with a result or failure.
};

// Everything the engine keeps per queue. Not thread-safe: Engine owns it.
struct QueueState {
  QueueSettings settings;
  bool configured = false;  // Settings were set through UpdateQueue.
  ReadyQueue ready;
  // Workers subscribed to this queue that have free capacity: those with a
  // free slot first, then those with only prefetch room, each least recently
  // assigned first (Engine::UpdateHunger's key, worker).
  absl::btree_set<std::pair<uint64_t, WorkerId>> hungry;
  size_t subscribers = 0;
  RateLimiter rate;
  // Jobs of this queue by state (indexed by JobState's value).
  std::array<int64_t, 7> counts{};
  QueueCounters counters;

  int64_t count(JobState s) const { return counts[static_cast<int>(s)]; }
  int64_t unended() const {
    return count(JobState::kScheduled) + count(JobState::kQueued) + count(JobState::kRunning);
  }
  int64_t total() const {
    int64_t n = 0;
    for (int64_t c : counts) n += c;
    return n;
  }
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_QUEUE_STATE_H_
