// JobRecord: the engine's compact in-memory form of a Job.

#include "server/engine/job_record.h"

#include <gtest/gtest.h>

#include "absl/time/time.h"

namespace conveyor {
namespace {

Job FullJob() {
  Job j;
  j.id = JobId{42};
  j.queue = "a-queue-name-longer-than-sso";
  j.type = "t";
  j.payload = std::string(100, 'x') + std::string(1, '\0') + "tail";
  j.priority = -1000;
  j.labels = {{"k", "v"}, {"k2", "v2"}};
  j.idempotency_key = "key";
  j.max_attempts = 1000;
  j.backoff = Backoff{absl::Milliseconds(3), absl::Seconds(9), 1.5};
  j.attempt_timeout = absl::Seconds(4);
  j.deadline = absl::FromUnixNanos(1'700'000'000'123'456'789);
  j.state = JobState::kDead;
  j.attempts = 3;
  j.created_at = absl::FromUnixNanos(1'600'000'000'000'000'001);
  j.run_at = absl::FromUnixNanos(1'600'000'000'000'000'002);
  j.finished_at = absl::FromUnixSeconds(1'700'000'001);
  j.expires_at = absl::FromUnixSeconds(1'700'086'401);
  j.result = "result";
  j.error = "error";
  j.dead_reason = DeadReason::kAttemptsExhausted;
  j.cancel_reason = "cancel";
  j.progress = Progress{50, "half"};
  Attempt a;
  a.number = 1;
  a.worker = WorkerId{7};
  a.worker_name = "w";
  a.started_at = absl::FromUnixSeconds(1'700'000'000);
  a.ended_at = absl::FromUnixSeconds(1'700'000'001);
  a.outcome = AttemptOutcome::kFailed;
  a.error = "boom";
  j.history = {a};
  j.last_token = FencingToken{9};
  return j;
}

void ExpectSame(const Job& a, const Job& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.queue, b.queue);
  EXPECT_EQ(a.type, b.type);
  EXPECT_EQ(a.payload, b.payload);
  EXPECT_EQ(a.priority, b.priority);
  EXPECT_EQ(a.labels, b.labels);
  EXPECT_EQ(a.idempotency_key, b.idempotency_key);
  EXPECT_EQ(a.max_attempts, b.max_attempts);
  EXPECT_EQ(a.backoff, b.backoff);
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
  for (size_t i = 0; i < a.history.size(); ++i) {
    EXPECT_EQ(a.history[i].number, b.history[i].number);
    EXPECT_EQ(a.history[i].worker, b.history[i].worker);
    EXPECT_EQ(a.history[i].worker_name, b.history[i].worker_name);
    EXPECT_EQ(a.history[i].started_at, b.history[i].started_at);
    EXPECT_EQ(a.history[i].ended_at, b.history[i].ended_at);
    EXPECT_EQ(a.history[i].outcome, b.history[i].outcome);
    EXPECT_EQ(a.history[i].error, b.history[i].error);
  }
  EXPECT_EQ(a.last_token, b.last_token);
}

TEST(JobRecordTest, EveryFieldSurvivesTheRoundTrip) {
  NameTable names;
  BackoffPool backoffs;
  const Job original = FullJob();
  Job moved = original;
  JobRecord record = JobRecord::FromJob(moved, names, backoffs);
  Job out;
  record.ToJob(out);
  ExpectSame(out, original);

  Job without;
  record.ToJob(without, /*with_payload=*/false);
  EXPECT_EQ(without.payload, "");
  EXPECT_EQ(without.result, "");
  EXPECT_EQ(without.error, "error");
  record.ReleaseNames(names);
  EXPECT_EQ(names.size(), 0u);
}

TEST(JobRecordTest, AQueuedJobHasNoRareFieldsAndDefaultsRoundTrip) {
  NameTable names;
  BackoffPool backoffs;
  Job plain;
  plain.id = JobId{1};
  plain.queue = "q";
  plain.type = "t";
  const Job original = plain;
  JobRecord record = JobRecord::FromJob(plain, names, backoffs);
  EXPECT_EQ(&record.rare_or_default(), &JobRecord().rare_or_default())
      << "a job with only defaults must not allocate its rare fields";
  EXPECT_EQ(record.payload(), "");
  Job out = FullJob();  // Every field overwritten, buffers reused.
  record.ToJob(out);
  ExpectSame(out, original);
  EXPECT_EQ(out.deadline, absl::InfiniteFuture());
  EXPECT_EQ(out.created_at, absl::InfinitePast());
  record.ReleaseNames(names);
}

TEST(JobRecordTest, NamesAndBackoffsAreShared) {
  NameTable names;
  BackoffPool backoffs;
  std::vector<JobRecord> records;
  for (int i = 0; i < 3; ++i) {
    Job j;
    j.queue = i < 2 ? "q" : "other";
    j.type = "t";
    records.push_back(JobRecord::FromJob(j, names, backoffs));
  }
  EXPECT_EQ(names.size(), 3u);  // q, t, other
  EXPECT_EQ(&records[0].queue.str(), &records[1].queue.str());
  EXPECT_EQ(records[0].backoff.get(), records[2].backoff.get());
  records[0].ReleaseNames(names);
  EXPECT_EQ(records[1].queue.str(), "q");
  records[1].ReleaseNames(names);
  EXPECT_EQ(names.size(), 2u);  // t, other
  records[2].ReleaseNames(names);
  EXPECT_EQ(names.size(), 0u);
}

TEST(PackedTimeTest, KeepsNanosecondsAndInfinities) {
  for (absl::Time t : {absl::InfinitePast(), absl::InfiniteFuture(), absl::UnixEpoch(),
                       absl::FromUnixNanos(-5), absl::FromUnixNanos(1'700'000'000'000'000'007)}) {
    EXPECT_EQ(PackedTime(t).time(), t);
  }
  EXPECT_EQ(sizeof(PackedTime), 8u);
}

}  // namespace
}  // namespace conveyor
