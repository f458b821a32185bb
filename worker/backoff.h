#ifndef CONVEYOR_WORKER_BACKOFF_H_
#define CONVEYOR_WORKER_BACKOFF_H_

#include <cstdint>
#include <random>

#include "absl/time/time.h"

namespace conveyor {

// Reconnect delays: capped exponential growth with "equal jitter": the n-th
// delay (n from 0) is uniform in [c/2, c] where c = min(max, initial * 2^n).
// Not thread-safe: the worker calls it under its lock.
class Backoff {
 public:
  // `seed` makes the jitter reproducible in tests.
  Backoff(absl::Duration initial, absl::Duration max, uint64_t seed);

  // The delay before the next attempt; each call grows the cap.
  absl::Duration Next();
  // Back to `initial` (after a successful connection).
  void Reset() { attempt_ = 0; }

 private:
  const absl::Duration initial_;
  const absl::Duration max_;
  int attempt_ = 0;
  std::mt19937_64 random_;
};

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_BACKOFF_H_
