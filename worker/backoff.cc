#include "worker/backoff.h"

#include <algorithm>

namespace conveyor {

Backoff::Backoff(absl::Duration initial, absl::Duration max, uint64_t seed)
    : initial_(initial), max_(std::max(initial, max)), random_(seed) {}

absl::Duration Backoff::Next() {
  absl::Duration cap = initial_;
  for (int i = 0; i < attempt_ && cap < max_; ++i) cap *= 2;
  cap = std::min(cap, max_);
  if (attempt_ < 64) ++attempt_;
  std::uniform_real_distribution<double> fraction(0.5, 1.0);
  return cap * fraction(random_);
}

}  // namespace conveyor
