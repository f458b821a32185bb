#include "server/store/job_codec.h"

#include <limits>

#include "gtest/gtest.h"
#include "tests/testing/test_jobs.h"

namespace conveyor {
namespace {

TEST(JobCodecTest, TimesRoundTripIncludingInfinities) {
  for (absl::Time t :
       {absl::InfinitePast(), absl::InfiniteFuture(), absl::UnixEpoch(), absl::FromUnixNanos(1),
        absl::FromUnixNanos(-1), absl::FromUnixNanos(1'700'000'000'123'456'789)}) {
    EXPECT_EQ(NanosToTime(TimeToNanos(t)), t) << t;
  }
  EXPECT_EQ(TimeToNanos(absl::InfinitePast()), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(TimeToNanos(absl::InfiniteFuture()), std::numeric_limits<int64_t>::max());
}

TEST(JobCodecTest, DurationsRoundTripIncludingInfinities) {
  for (absl::Duration d : {absl::InfiniteDuration(), -absl::InfiniteDuration(),
                           absl::ZeroDuration(), absl::Nanoseconds(-3), absl::Hours(100000)}) {
    EXPECT_EQ(NanosToDuration(DurationToNanos(d)), d) << d;
  }
}

TEST(JobCodecTest, LabelsRoundTrip) {
  for (const Labels& labels : {Labels{}, testing::MakeFullJob(1).labels,
                               Labels{{std::string(300, 'k'), std::string(70000, 'v')}}}) {
    absl::StatusOr<Labels> decoded = DecodeLabels(EncodeLabels(labels));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_EQ(*decoded, labels);
  }
}

TEST(JobCodecTest, BackoffRoundTrip) {
  for (const Backoff& b : {Backoff{}, Backoff{absl::ZeroDuration(), absl::InfiniteDuration(), 0.0},
                           Backoff{absl::Nanoseconds(1), absl::Nanoseconds(2), 1e300}}) {
    absl::StatusOr<Backoff> decoded = DecodeBackoff(EncodeBackoff(b));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_TRUE(*decoded == b);
  }
}

TEST(JobCodecTest, HistoryRoundTrip) {
  std::vector<Attempt> history = testing::MakeFullJob(7).history;
  history.push_back(Attempt{});  // Defaults: InfinitePast times, kRunning.
  history.push_back(Attempt{-1, WorkerId{~uint64_t{0}}, "", absl::InfiniteFuture(),
                            absl::InfiniteFuture(), AttemptOutcome::kReleased, "x"});
  absl::StatusOr<std::vector<Attempt>> decoded = DecodeHistory(EncodeHistory(history));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  ASSERT_EQ(decoded->size(), history.size());
  for (size_t i = 0; i < history.size(); ++i) testing::ExpectSameAttempt((*decoded)[i], history[i]);

  decoded = DecodeHistory(EncodeHistory({}));
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_TRUE(decoded->empty());
}

TEST(JobCodecTest, QueueSettingsRoundTrip) {
  QueueSettings custom;
  custom.max_attempts = 9;
  custom.backoff = Backoff{absl::Seconds(2), absl::Minutes(1), 3.0};
  custom.lease_duration = absl::Milliseconds(1500);
  custom.max_depth = int64_t{1} << 40;
  custom.max_running = 4;
  custom.rate_limit = 12.5;
  custom.paused = true;
  custom.retention = absl::InfiniteDuration();
  for (const QueueSettings& s : {QueueSettings{}, custom}) {
    absl::StatusOr<QueueSettings> decoded = DecodeQueueSettings(EncodeQueueSettings(s));
    ASSERT_TRUE(decoded.ok()) << decoded.status();
    EXPECT_TRUE(*decoded == s);
  }
}

TEST(JobCodecTest, RejectsTruncatedTrailingAndUnknownFormat) {
  const std::string good = EncodeHistory(testing::MakeFullJob(3).history);
  for (size_t n = 0; n < good.size(); ++n) {
    EXPECT_EQ(DecodeHistory(good.substr(0, n)).status().code(), absl::StatusCode::kDataLoss)
        << "prefix of " << n << " bytes";
  }
  EXPECT_EQ(DecodeHistory(good + "x").status().code(), absl::StatusCode::kDataLoss);
  std::string future = good;
  future[0] = 99;
  absl::Status status = DecodeHistory(future).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(status.message().find("history"), std::string::npos) << status;
}

TEST(JobCodecTest, RejectsHugeCountsWithoutAllocating) {
  // Format byte, then a count of 2^62 labels in a few bytes.
  std::string data = EncodeLabels({});
  data.pop_back();
  data += std::string("\x80\x80\x80\x80\x80\x80\x80\x80\x40", 9);
  EXPECT_EQ(DecodeLabels(data).status().code(), absl::StatusCode::kDataLoss);
}

TEST(JobCodecTest, RejectsOutOfRangeOutcome) {
  Attempt bad;
  bad.outcome = static_cast<AttemptOutcome>(77);
  EXPECT_EQ(DecodeHistory(EncodeHistory({bad})).status().code(), absl::StatusCode::kDataLoss);
}

}  // namespace
}  // namespace conveyor
