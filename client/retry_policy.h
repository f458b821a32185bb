#ifndef CONVEYOR_CLIENT_RETRY_POLICY_H_
#define CONVEYOR_CLIENT_RETRY_POLICY_H_

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace conveyor {

// How a Client retries calls that are safe to repeat when they fail with
// UNAVAILABLE: retry n (n >= 1) waits a random time in
// [0, min(max_backoff, initial_backoff * multiplier^(n-1))] ("full jitter").
// Retries also stop at the call's deadline.
struct RetryPolicy {
  // Tries in all, the first included. 1 disables retries.
  int max_attempts = 5;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  double multiplier = 2.0;
};

// OK, or INVALID_ARGUMENT naming the field out of range: max_attempts >= 1,
// 0 < initial_backoff <= max_backoff, multiplier >= 1.
absl::Status ValidateRetryPolicy(const RetryPolicy& policy);

// The longest wait before retry `retry` (1 for the first retry):
// min(max_backoff, initial_backoff * multiplier^(retry-1)). Never overflows.
// REQUIRES: ValidateRetryPolicy(policy).ok(), retry >= 1.
absl::Duration BackoffCap(const RetryPolicy& policy, int retry);

// The wait before retry `retry`: BackoffCap scaled by `unit`, a uniform
// random number the caller draws from [0, 1) (values outside are clamped).
absl::Duration RetryDelay(const RetryPolicy& policy, int retry, double unit);

}  // namespace conveyor

#endif  // CONVEYOR_CLIENT_RETRY_POLICY_H_
