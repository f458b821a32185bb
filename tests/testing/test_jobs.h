#ifndef CONVEYOR_TESTS_TESTING_TEST_JOBS_H_
#define CONVEYOR_TESTS_TESTING_TEST_JOBS_H_

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/engine/job.h"
#include "server/engine/queue_settings.h"

namespace conveyor::testing {

// A job with every field set to a non-default value (ids, times, labels,
// a two-attempt history, progress, backoff), distinct per `id`.
inline Job MakeFullJob(uint64_t id) {
  const absl::Time t0 = absl::FromUnixNanos(1'700'000'000'123'456'789 + static_cast<int64_t>(id));
  Job job;
  job.id = JobId{id};
  job.queue = "emails";
  job.type = "send";
  job.payload = absl::StrCat("payload-", id, std::string("\0binary\xff", 8));
  job.priority = -7;
  job.labels = {{"tenant", "acme"}, {"", "empty key"}, {"k", std::string("\0v", 2)}};
  job.idempotency_key = absl::StrCat("key-", id);
  job.max_attempts = 5;
  job.backoff = Backoff{absl::Milliseconds(250), absl::Hours(2), 1.5};
  job.attempt_timeout = absl::Seconds(90) + absl::Nanoseconds(1);
  job.deadline = absl::InfiniteFuture();
  job.state = JobState::kDead;
  job.attempts = 2;
  job.created_at = t0;
  job.run_at = t0 + absl::Seconds(1);
  job.finished_at = t0 + absl::Minutes(3);
  job.expires_at = absl::InfiniteFuture();
  job.result = "result bytes";
  job.error = "boom: disk full";
  job.dead_reason = DeadReason::kAttemptsExhausted;
  job.cancel_reason = "operator said so";
  job.progress = Progress{42, "halfway-ish"};
  job.history = {
      Attempt{1, WorkerId{11}, "w-1", t0 + absl::Seconds(1), t0 + absl::Seconds(2),
              AttemptOutcome::kFailed, "first failure"},
      Attempt{2, WorkerId{12}, "w-2", t0 + absl::Seconds(5), absl::InfinitePast(),
              AttemptOutcome::kLeaseLost, ""},
  };
  job.last_token = FencingToken{(uint64_t{1} << 62) + id};
  return job;
}

// A job as Submit would first create it: defaults wherever possible.
inline Job MakeNewJob(uint64_t id, std::string payload = "") {
  Job job;
  job.id = JobId{id};
  job.queue = "default";
  job.type = "t";
  job.payload = payload.empty() ? absl::StrCat("payload-", id) : std::move(payload);
  return job;
}

inline void ExpectSameAttempt(const Attempt& a, const Attempt& b) {
  EXPECT_EQ(a.number, b.number);
  EXPECT_EQ(a.worker, b.worker);
  EXPECT_EQ(a.worker_name, b.worker_name);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.ended_at, b.ended_at);
  EXPECT_EQ(a.outcome, b.outcome);
  EXPECT_EQ(a.error, b.error);
}

// Field by field, so a field a store forgets shows up by name.
inline void ExpectSameJob(const Job& a, const Job& b) {
  SCOPED_TRACE(absl::StrCat("job ", a.id.value));
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.queue, b.queue);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.idempotency_key, b.idempotency_key);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_TRUE(a.backoff == b.backoff);
  EXPECT_EQ(a.attempt_timeout, b.attempt_timeout);
  EXPECT_EQ(a.deadline, b.deadline);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.attempts, b.attempts);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.run_at, b.run_at);
  EXPECT_EQ(a.finished_at, b.finished_at);
  EXPECT_EQ(a.expires_at, b.expires_at);
  EXPECT_EQ(a.result, b.result);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.dead_reason, b.dead_reason);
  EXPECT_EQ(a.cancel_reason, b.cancel_reason);
  EXPECT_EQ(a.progress.percent, b.progress.percent);
  EXPECT_EQ(a.progress.message, b.progress.message);
  ASSERT_EQ(a.history.size(), b.history.size());
  for (size_t i = 0; i < a.history.size(); ++i) ExpectSameAttempt(a.history[i], b.history[i]);
  EXPECT_EQ(a.last_token, b.last_token);
}

}  // namespace conveyor::testing

#endif  // CONVEYOR_TESTS_TESTING_TEST_JOBS_H_
