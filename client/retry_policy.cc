#include "client/retry_policy.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace conveyor {

absl::Status ValidateRetryPolicy(const RetryPolicy& policy) {
  if (policy.max_attempts < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry max_attempts ", policy.max_attempts, ": must be at least 1"));
  }
  if (policy.initial_backoff <= absl::ZeroDuration() ||
      policy.initial_backoff > policy.max_backoff) {
    return absl::InvalidArgumentError(absl::StrCat(
        "retry initial_backoff ", absl::FormatDuration(policy.initial_backoff),
        ": must be positive and at most max_backoff ", absl::FormatDuration(policy.max_backoff)));
  }
  if (!(policy.multiplier >= 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("retry multiplier ", policy.multiplier, ": must be at least 1"));
  }
  return absl::OkStatus();
}

absl::Duration BackoffCap(const RetryPolicy& policy, int retry) {
  const double max_ns = absl::FDivDuration(policy.max_backoff, absl::Nanoseconds(1));
  double ns = absl::FDivDuration(policy.initial_backoff, absl::Nanoseconds(1));
  for (int i = 1; i < retry && ns < max_ns && policy.multiplier > 1.0; ++i) {
    ns *= policy.multiplier;
  }
  return std::min(policy.max_backoff, absl::Nanoseconds(std::min(ns, max_ns)));
}

absl::Duration RetryDelay(const RetryPolicy& policy, int retry, double unit) {
  unit = std::clamp(unit, 0.0, 1.0);
  return BackoffCap(policy, retry) * unit;
}

}  // namespace conveyor
