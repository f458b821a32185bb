#include "client/retry_policy.h"

#include <gtest/gtest.h>

#include <random>

namespace conveyor {
namespace {

TEST(RetryPolicyTest, DefaultsAreValid) { EXPECT_TRUE(ValidateRetryPolicy(RetryPolicy{}).ok()); }

TEST(RetryPolicyTest, RejectsOutOfRange) {
  RetryPolicy p;
  p.max_attempts = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRetryPolicy(p)));
  p = RetryPolicy{};
  p.initial_backoff = absl::ZeroDuration();
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRetryPolicy(p)));
  p = RetryPolicy{};
  p.initial_backoff = absl::Seconds(10);
  p.max_backoff = absl::Seconds(1);
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRetryPolicy(p)));
  p = RetryPolicy{};
  p.multiplier = 0.5;
  EXPECT_TRUE(absl::IsInvalidArgument(ValidateRetryPolicy(p)));
}

TEST(RetryPolicyTest, CapGrowsExponentiallyUpToMax) {
  RetryPolicy p;
  p.initial_backoff = absl::Milliseconds(100);
  p.max_backoff = absl::Seconds(1);
  p.multiplier = 2.0;
  EXPECT_EQ(BackoffCap(p, 1), absl::Milliseconds(100));
  EXPECT_EQ(BackoffCap(p, 2), absl::Milliseconds(200));
  EXPECT_EQ(BackoffCap(p, 3), absl::Milliseconds(400));
  EXPECT_EQ(BackoffCap(p, 4), absl::Milliseconds(800));
  EXPECT_EQ(BackoffCap(p, 5), absl::Seconds(1));
  EXPECT_EQ(BackoffCap(p, 1'000'000), absl::Seconds(1));  // no overflow
}

TEST(RetryPolicyTest, MultiplierOneKeepsInitial) {
  RetryPolicy p;
  p.multiplier = 1.0;
  EXPECT_EQ(BackoffCap(p, 1'000'000), p.initial_backoff);
}

TEST(RetryPolicyTest, JitteredDelayStaysWithinZeroAndCap) {
  RetryPolicy p;
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  for (int retry = 1; retry <= 20; ++retry) {
    for (int i = 0; i < 100; ++i) {
      const absl::Duration d = RetryDelay(p, retry, unit(rng));
      EXPECT_GE(d, absl::ZeroDuration());
      EXPECT_LE(d, BackoffCap(p, retry));
      EXPECT_LE(d, p.max_backoff);
    }
  }
  EXPECT_EQ(RetryDelay(p, 1, 0.0), absl::ZeroDuration());
  EXPECT_EQ(RetryDelay(p, 1, 7.0), BackoffCap(p, 1));  // clamped
  EXPECT_EQ(RetryDelay(p, 1, -1.0), absl::ZeroDuration());
}

}  // namespace
}  // namespace conveyor
