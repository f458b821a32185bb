// Cancellation by a client and by the job's deadline.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

TEST_F(EngineTest, CancelQueuedJob) {
  JobId id = SubmitOne(Spec());
  clock_.Advance(absl::Seconds(1));
  ASSERT_OK_AND_ASSIGN(Mutation<Job> m, engine().Cancel(id, "changed my mind"));
  EXPECT_EQ(m.value.state, JobState::kCancelled);
  EXPECT_EQ(m.seq, observer_.last_seq());
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kCancelled);
  EXPECT_EQ(j.cancel_reason, "changed my mind");
  EXPECT_EQ(j.finished_at, Now());
  EXPECT_EQ(StatsOf("q").queued, 0);
  EXPECT_EQ(StatsOf("q").cancelled, 1);

  TestWorker w = Connect();
  EXPECT_TRUE(w.channel->assignments.empty()) << "a cancelled job is never dispatched";
}

TEST_F(EngineTest, CancelScheduledJob) {
  JobSpec spec = Spec();
  spec.delay = absl::Seconds(5);
  JobId id = SubmitOne(spec);
  ASSERT_OK(engine().Cancel(id, "nope"));
  EXPECT_EQ(StateOf(id), JobState::kCancelled);
  TestWorker w = Connect();
  AdvanceAndTick(absl::Seconds(10));
  EXPECT_EQ(StateOf(id), JobState::kCancelled);
  EXPECT_TRUE(w.channel->assignments.empty());
  EXPECT_EQ(StatsOf("q").scheduled, 0);
}

TEST_F(EngineTest, CancelRunningJobTellsTheWorker) {
  TestWorker w = Connect("w", {"q"}, 1);
  JobId id = SubmitOne(Spec());
  JobId next = SubmitOne(Spec());
  const Assignment a = w.channel->assignments.at(0);
  ASSERT_EQ(a.job.id, id);

  ASSERT_OK(engine().Cancel(id, "client gave up"));
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kCancelled);
  EXPECT_EQ(j.cancel_reason, "client gave up");
  ASSERT_EQ(j.history.size(), 1u);
  EXPECT_EQ(j.history[0].outcome, AttemptOutcome::kCancelled);
  ASSERT_EQ(w.channel->cancels.size(), 1u);
  EXPECT_EQ(w.channel->cancels[0].job, id);
  EXPECT_EQ(w.channel->cancels[0].token, a.token);
  EXPECT_EQ(engine().RunningCount(), 1u) << "the freed slot runs the next job";
  ASSERT_EQ(w.channel->assignments.size(), 2u);
  EXPECT_EQ(w.channel->assignments[1].job.id, next);

  EXPECT_STATUS(engine().Complete(w.id, id, a.token, "too late"), absl::StatusCode::kAborted, "");
  EXPECT_EQ(StateOf(id), JobState::kCancelled);
  EXPECT_EQ(Get(id).result, "");
}

TEST_F(EngineTest, CancelEndedJobIsFailedPrecondition) {
  TestWorker w = Connect();
  JobId id = SubmitOne(Spec());
  ASSERT_OK(engine().Complete(w.id, id, w.channel->assignments.at(0).token, "r"));
  const uint64_t seq = observer_.last_seq();
  EXPECT_STATUS(engine().Cancel(id, "x"), absl::StatusCode::kFailedPrecondition, "SUCCEEDED");
  EXPECT_EQ(observer_.last_seq(), seq);

  JobId c = SubmitOne(Spec("other"));
  ASSERT_OK(engine().Cancel(c, "x"));
  EXPECT_STATUS(engine().Cancel(c, "again"), absl::StatusCode::kFailedPrecondition, "");
  EXPECT_EQ(Get(c).cancel_reason, "x");

  EXPECT_STATUS(engine().Cancel(JobId{5555}, "x"), absl::StatusCode::kNotFound, "5555");
}

TEST_F(EngineTest, DeadlinePassingCancelsARunningJob) {
  TestWorker w = Connect();
  const absl::Time t0 = Now();
  JobSpec spec = Spec();
  spec.timeout = absl::Seconds(10);
  JobId id = SubmitOne(spec);
  EXPECT_EQ(Get(id).deadline, t0 + absl::Seconds(10));
  const Assignment a = w.channel->assignments.at(0);
  EXPECT_EQ(a.deadline, t0 + absl::Seconds(10));
  EXPECT_EQ(engine().NextWakeup(), t0 + absl::Seconds(10));

  AdvanceAndTick(absl::Seconds(10) - absl::Milliseconds(1));
  EXPECT_EQ(StateOf(id), JobState::kRunning);
  AdvanceAndTick(absl::Milliseconds(1));
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kCancelled);
  EXPECT_THAT(j.cancel_reason, ::testing::HasSubstr("deadline"));
  EXPECT_EQ(j.finished_at, t0 + absl::Seconds(10));
  ASSERT_EQ(w.channel->cancels.size(), 1u);
  EXPECT_EQ(w.channel->cancels[0].job, id);
  EXPECT_EQ(w.channel->cancels[0].token, a.token);
  EXPECT_STATUS(engine().Complete(w.id, id, a.token, ""), absl::StatusCode::kAborted, "");
}

TEST_F(EngineTest, DeadlinePassingCancelsAQueuedOrScheduledJob) {
  const absl::Time t0 = Now();
  JobSpec queued = Spec();
  queued.deadline = t0 + absl::Seconds(3);
  JobSpec retrying = Spec();
  retrying.delay = absl::Seconds(60);
  retrying.timeout = absl::Seconds(4);
  JobId q = SubmitOne(queued);
  JobId s = SubmitOne(retrying);
  AdvanceAndTick(absl::Seconds(3));
  EXPECT_EQ(StateOf(q), JobState::kCancelled);
  EXPECT_THAT(Get(q).cancel_reason, ::testing::HasSubstr("deadline"));
  EXPECT_EQ(StateOf(s), JobState::kScheduled);
  AdvanceAndTick(absl::Seconds(1));
  EXPECT_EQ(StateOf(s), JobState::kCancelled);
}

TEST_F(EngineTest, AssignmentDeadlineIsTheEarlierOfDeadlineAndAttemptTimeout) {
  TestWorker w = Connect("w", {"q"}, 2);
  const absl::Time t0 = Now();
  JobSpec a = Spec();
  a.timeout = absl::Seconds(100);
  a.attempt_timeout = absl::Seconds(20);
  JobSpec b = Spec();
  b.timeout = absl::Seconds(15);
  b.attempt_timeout = absl::Seconds(20);
  JobId ia = SubmitOne(a);
  JobId ib = SubmitOne(b);
  ASSERT_TRUE(w.channel->Find(ia).has_value());
  ASSERT_TRUE(w.channel->Find(ib).has_value());
  EXPECT_EQ(w.channel->Find(ia)->deadline, t0 + absl::Seconds(20));
  EXPECT_EQ(w.channel->Find(ib)->deadline, t0 + absl::Seconds(15));
}

TEST_F(EngineTest, EndedJobIsNotCancelledByItsDeadline) {
  TestWorker w = Connect();
  JobSpec spec = Spec();
  spec.timeout = absl::Seconds(10);
  JobId id = SubmitOne(spec);
  ASSERT_OK(engine().Complete(w.id, id, w.channel->assignments.at(0).token, "r"));
  AdvanceAndTick(absl::Seconds(20));
  EXPECT_EQ(StateOf(id), JobState::kSucceeded);
  EXPECT_TRUE(w.channel->cancels.empty());
}

}  // namespace
}  // namespace conveyor::testing
