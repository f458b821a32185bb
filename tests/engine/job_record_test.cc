// JobRecord: the engine's compact in-memory form of a Job.

#include "server/engine/job_record.h"

#include <gtest/gtest.h>

#include "absl/time/time.h"
#include "tests/testing/test_jobs.h"

namespace conveyor {
namespace {

using testing::ExpectSameJob;

// testing::MakeFullJob with what the record packs tightest at its limits: a
// queue name longer than the small-string buffer, 16-bit extremes, a finite
// deadline with nanoseconds.
Job FullJob() {
  Job j = testing::MakeFullJob(42);
  j.queue = "a-queue-name-longer-than-sso";
  j.priority = -1000;
  j.max_attempts = 1000;
  j.deadline = absl::FromUnixNanos(1'700'000'000'123'456'789);
  return j;
}

TEST(JobRecordTest, EveryFieldSurvivesTheRoundTrip) {
  NameTable names;
  BackoffPool backoffs;
  const Job original = FullJob();
  Job moved = original;
  JobRecord record = JobRecord::FromJob(moved, names, backoffs);
  Job out;
  record.ToJob(out);
  ExpectSameJob(out, original);

  Job without;
  record.ToJob(without, /*with_payload=*/false);
  EXPECT_EQ(without.payload, "");
  EXPECT_EQ(without.result, "");
  EXPECT_EQ(without.error, original.error);
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
  ExpectSameJob(out, original);
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
