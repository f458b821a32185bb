#include "server/engine/queue_state.h"

#include <algorithm>

namespace conveyor {

bool RateLimiter::Ready(double rate, absl::Time now) {
  const double capacity = std::max(1.0, rate);
  if (refilled_at_ == absl::InfinitePast()) {
    tokens_ = capacity;
  } else if (now > refilled_at_) {
    tokens_ = std::min(capacity, tokens_ + absl::ToDoubleSeconds(now - refilled_at_) * rate);
  }
  refilled_at_ = std::max(refilled_at_, now);
  return tokens_ >= 1.0;
}

absl::Time RateLimiter::NextToken(double rate) const {
  if (tokens_ >= 1.0 || rate <= 0) return refilled_at_;
  // Rounded up a microsecond so the refill at that time surely reaches 1.
  return refilled_at_ + absl::Seconds((1.0 - tokens_) / rate) + absl::Microseconds(1);
}

}  // namespace conveyor
