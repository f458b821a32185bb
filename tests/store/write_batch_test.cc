#include "server/store/write_batch.h"

#include "gtest/gtest.h"
#include "tests/testing/test_jobs.h"

namespace conveyor {
namespace {

using testing::MakeNewJob;

TEST(WriteBatchTest, KeepsOnlyTheLastUpdateOfAJob) {
  WriteBatch batch;
  Job job = MakeNewJob(1);
  for (int i = 1; i <= 5; ++i) {
    job.attempts = i;
    batch.Update(static_cast<uint64_t>(i), job);
  }
  EXPECT_EQ(batch.changes(), 5u);
  EXPECT_EQ(batch.last_seq(), 5u);
  ASSERT_EQ(batch.updates().size(), 1u);
  EXPECT_TRUE(batch.inserts().empty());
  EXPECT_EQ(batch.updates().at(1).attempts, 5);
  EXPECT_EQ(batch.max_job_id(), JobId{});  // No create here.
}

TEST(WriteBatchTest, CreateThenUpdateIsOneInsertOfTheLastVersion) {
  WriteBatch batch;
  Job job = MakeNewJob(4, "the payload");
  batch.Create(1, job);
  job.state = JobState::kRunning;
  batch.Update(2, job);
  ASSERT_EQ(batch.inserts().size(), 1u);
  EXPECT_TRUE(batch.updates().empty());
  const Job& insert = batch.inserts().at(4);
  EXPECT_EQ(insert.state, JobState::kRunning);
  EXPECT_EQ(insert.payload, "the payload");
}

TEST(WriteBatchTest, UpdateCopiesOnlyTheLifecycle) {
  WriteBatch batch;
  Job job = MakeNewJob(3, "payload never copied by an update");
  job.state = JobState::kSucceeded;
  job.result = "out";
  job.history.push_back(Attempt{1, WorkerId{9}, "w", absl::UnixEpoch(), absl::UnixEpoch(),
                                AttemptOutcome::kSucceeded, ""});
  job.last_token = FencingToken{4};
  batch.Update(1, job);
  ASSERT_EQ(batch.updates().size(), 1u);
  const JobLifecycle& update = batch.updates().at(3);
  EXPECT_EQ(update.state, JobState::kSucceeded);
  EXPECT_EQ(update.result, "out");
  ASSERT_EQ(update.history.size(), 1u);
  EXPECT_EQ(update.history[0].worker, WorkerId{9});
  EXPECT_EQ(update.last_token, FencingToken{4});
}

TEST(WriteBatchTest, CreateThenDeleteCancelsOutButCountsTheId) {
  WriteBatch batch;
  batch.Create(1, MakeNewJob(7));
  batch.Update(2, MakeNewJob(7));
  batch.Delete(3, JobId{7});
  EXPECT_TRUE(batch.inserts().empty());
  EXPECT_TRUE(batch.updates().empty());
  EXPECT_TRUE(batch.deletes().empty());
  EXPECT_EQ(batch.max_job_id(), JobId{7});
  EXPECT_EQ(batch.changes(), 3u);
  EXPECT_FALSE(batch.empty());
}

TEST(WriteBatchTest, UpdateThenDeleteIsADelete) {
  WriteBatch batch;
  batch.Update(1, MakeNewJob(2));
  batch.Delete(2, JobId{2});
  EXPECT_TRUE(batch.updates().empty());
  EXPECT_EQ(batch.deletes().size(), 1u);
  EXPECT_TRUE(batch.deletes().contains(2));
}

TEST(WriteBatchTest, QueueSettingsLastWins) {
  WriteBatch batch;
  QueueSettings a, b;
  a.max_attempts = 1;
  b.max_attempts = 2;
  batch.SetQueueSettings(1, "q", a);
  batch.SetQueueSettings(2, "q", b);
  batch.SetQueueSettings(3, "r", a);
  ASSERT_EQ(batch.queues().size(), 2u);
  EXPECT_EQ(batch.queues().at("q").max_attempts, 2);
  EXPECT_EQ(batch.queues().at("r").max_attempts, 1);
}

}  // namespace
}  // namespace conveyor
