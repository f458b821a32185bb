// The happy path: submit, dispatch, complete; dispatch order; delayed jobs.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

using ::testing::ElementsAre;

TEST_F(EngineTest, SubmitDispatchCompleteSucceeds) {
  TestWorker w = Connect("w1");
  const absl::Time submitted = Now();
  JobSpec spec = Spec();
  spec.payload = "in";
  spec.labels = {{"k", "v"}};
  JobId id = SubmitOne(spec);
  ASSERT_NE(id, JobId{});

  ASSERT_EQ(w.channel->assignments.size(), 1u);
  const Assignment& a = w.channel->assignments[0];
  EXPECT_EQ(a.job.id, id);
  EXPECT_EQ(a.job.payload, "in");
  EXPECT_EQ(a.job.labels, (Labels{{"k", "v"}}));
  EXPECT_EQ(a.attempt, 1);
  EXPECT_GT(a.token.value, 0u);
  EXPECT_EQ(a.lease_expires_at, submitted + kLease);
  EXPECT_EQ(a.deadline, absl::InfiniteFuture());

  Job running = Get(id);
  EXPECT_EQ(running.state, JobState::kRunning);
  EXPECT_EQ(running.attempts, 1);
  EXPECT_EQ(running.last_token, a.token);
  EXPECT_EQ(engine().RunningCount(), 1u);

  clock_.Advance(absl::Seconds(2));
  ASSERT_OK_AND_ASSIGN(Mutation<JobTransition> done, engine().Complete(w.id, id, a.token, "out"));
  EXPECT_EQ(done.value.state, JobState::kSucceeded);
  EXPECT_EQ(done.seq, observer_.last_seq());

  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kSucceeded);
  EXPECT_EQ(j.result, "out");
  EXPECT_EQ(j.attempts, 1);
  EXPECT_EQ(j.created_at, submitted);
  EXPECT_EQ(j.finished_at, submitted + absl::Seconds(2));
  EXPECT_EQ(j.expires_at, submitted + absl::Seconds(2) + absl::Hours(24));
  ASSERT_EQ(j.history.size(), 1u);
  EXPECT_EQ(j.history[0].number, 1);
  EXPECT_EQ(j.history[0].worker, w.id);
  EXPECT_EQ(j.history[0].worker_name, "w1");
  EXPECT_EQ(j.history[0].started_at, submitted);
  EXPECT_EQ(j.history[0].ended_at, submitted + absl::Seconds(2));
  EXPECT_EQ(j.history[0].outcome, AttemptOutcome::kSucceeded);
  EXPECT_EQ(engine().RunningCount(), 0u);
  EXPECT_EQ(LeasesOf(w.id), 0u);

  QueueStats q = StatsOf("q");
  EXPECT_EQ(q.succeeded, 1);
  EXPECT_EQ(q.queued + q.running + q.scheduled, 0);
}

TEST_F(EngineTest, SubmitReturnsIncreasingIdsAndSeq) {
  std::vector<JobSpec> specs = {Spec(), Spec(), Spec()};
  ASSERT_OK_AND_ASSIGN(auto r, engine().Submit(specs));
  ASSERT_EQ(r.value.size(), 3u);
  EXPECT_LT(r.value[0].id, r.value[1].id);
  EXPECT_LT(r.value[1].id, r.value[2].id);
  for (const SubmitResult& s : r.value) EXPECT_FALSE(s.duplicate);
  EXPECT_EQ(r.seq, observer_.last_seq());
  EXPECT_EQ(observer_.Count(RecordingObserver::Kind::kCreated), 3);
  for (const SubmitResult& s : r.value) EXPECT_EQ(StateOf(s.id), JobState::kQueued);
  JobId next = SubmitOne(Spec());
  EXPECT_LT(r.value[2].id, next);
}

TEST_F(EngineTest, QueuedJobWaitsForAWorker) {
  JobId id = SubmitOne(Spec());
  EXPECT_EQ(StateOf(id), JobState::kQueued);
  EXPECT_EQ(StatsOf("q").queued, 1);
  TestWorker w = Connect();
  ASSERT_EQ(w.channel->assignments.size(), 1u) << "connecting must dispatch waiting jobs";
  EXPECT_EQ(w.channel->assignments[0].job.id, id);
  EXPECT_EQ(StateOf(id), JobState::kRunning);
}

TEST_F(EngineTest, HigherPriorityFirstThenFifo) {
  JobId low = SubmitWithPriority(-5);
  JobId mid1 = SubmitWithPriority(0);
  JobId high = SubmitWithPriority(7);
  JobId mid2 = SubmitWithPriority(0);
  clock_.Advance(absl::Milliseconds(1));
  JobId mid3 = SubmitWithPriority(0);
  JobId high2 = SubmitWithPriority(7);

  TestWorker w = Connect("w", {"q"}, 1);
  std::vector<JobId> order;
  for (int i = 0; i < 6; ++i) {
    ASSERT_EQ(w.channel->assignments.size(), static_cast<size_t>(i + 1));
    const Assignment& a = w.channel->assignments.back();
    order.push_back(a.job.id);
    ASSERT_OK(engine().Complete(w.id, a.job.id, a.token, ""));
  }
  EXPECT_THAT(order, ElementsAre(high, high2, mid1, mid2, mid3, low));
}

TEST_F(EngineTest, ExtremePrioritiesAreOrdered) {
  JobId lo = SubmitWithPriority(-1000);
  JobId hi = SubmitWithPriority(1000);
  TestWorker w = Connect("w", {"q"}, 2);
  EXPECT_THAT(w.channel->AssignedIds(), ElementsAre(hi, lo));
}

TEST_F(EngineTest, DelayedJobStaysScheduledUntilDue) {
  TestWorker w = Connect();
  const absl::Time t0 = Now();
  JobSpec spec = Spec();
  spec.delay = absl::Seconds(10);
  JobId id = SubmitOne(spec);

  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kScheduled);
  EXPECT_EQ(j.run_at, t0 + absl::Seconds(10));
  EXPECT_EQ(engine().NextWakeup(), t0 + absl::Seconds(10));
  EXPECT_TRUE(w.channel->assignments.empty());
  EXPECT_EQ(StatsOf("q").scheduled, 1);

  AdvanceAndTick(absl::Seconds(10) - absl::Milliseconds(1));
  EXPECT_EQ(StateOf(id), JobState::kScheduled);
  EXPECT_TRUE(w.channel->assignments.empty());

  AdvanceAndTick(absl::Milliseconds(1));
  EXPECT_EQ(StateOf(id), JobState::kRunning);
  ASSERT_EQ(w.channel->assignments.size(), 1u);
  EXPECT_EQ(w.channel->assignments[0].job.id, id);
  EXPECT_EQ(w.channel->assignments[0].lease_expires_at, t0 + absl::Seconds(10) + kLease);
}

TEST_F(EngineTest, RunAtJobStaysScheduledUntilDue) {
  const absl::Time t0 = Now();
  JobSpec spec = Spec();
  spec.run_at = t0 + absl::Seconds(5);
  JobId id = SubmitOne(spec);
  EXPECT_EQ(StateOf(id), JobState::kScheduled);
  EXPECT_EQ(engine().NextWakeup(), t0 + absl::Seconds(5));

  AdvanceAndTick(absl::Seconds(5));
  EXPECT_EQ(StateOf(id), JobState::kQueued);
  TestWorker w = Connect();
  EXPECT_EQ(w.channel->assignments.size(), 1u);
}

TEST_F(EngineTest, RunAtInThePastQueuesAtOnce) {
  JobSpec spec = Spec();
  spec.run_at = Now() - absl::Hours(1);
  JobId id = SubmitOne(spec);
  EXPECT_EQ(StateOf(id), JobState::kQueued);
}

TEST_F(EngineTest, NextWakeupIsTheEarliestDueTime) {
  EXPECT_EQ(engine().NextWakeup(), absl::InfiniteFuture());
  const absl::Time t0 = Now();
  JobSpec a = Spec();
  a.delay = absl::Seconds(30);
  JobSpec b = Spec();
  b.delay = absl::Seconds(7);
  JobSpec c = Spec();
  c.run_at = t0 + absl::Seconds(12);
  SubmitOne(a);
  EXPECT_EQ(engine().NextWakeup(), t0 + absl::Seconds(30));
  JobId bid = SubmitOne(b);
  SubmitOne(c);
  EXPECT_EQ(engine().NextWakeup(), t0 + absl::Seconds(7));

  AdvanceAndTick(absl::Seconds(7));
  EXPECT_EQ(StateOf(bid), JobState::kQueued);
  EXPECT_EQ(engine().NextWakeup(), t0 + absl::Seconds(12));
}

TEST_F(EngineTest, DelayedJobsComeOutInPriorityOrder) {
  JobSpec lo = Spec();
  lo.delay = absl::Seconds(1);
  lo.priority = 1;
  JobSpec hi = Spec();
  hi.delay = absl::Seconds(2);
  hi.priority = 9;
  JobId lo_id = SubmitOne(lo);
  JobId hi_id = SubmitOne(hi);
  TestWorker w = Connect("w", {"q"}, 0 + 1);
  // Occupy the worker so both become QUEUED before dispatch.
  JobId blocker = SubmitWithPriority(0);
  ASSERT_EQ(w.channel->assignments.size(), 1u);
  EXPECT_EQ(w.channel->assignments[0].job.id, blocker);
  AdvanceAndTick(absl::Seconds(2));
  EXPECT_EQ(StateOf(lo_id), JobState::kQueued);
  EXPECT_EQ(StateOf(hi_id), JobState::kQueued);
  ASSERT_OK(engine().Complete(w.id, blocker, w.channel->assignments[0].token, ""));
  ASSERT_EQ(w.channel->assignments.size(), 2u);
  EXPECT_EQ(w.channel->assignments[1].job.id, hi_id);
}

TEST_F(EngineTest, WorkerGetsOnlyItsQueuesAndTypes) {
  TestWorker only_a = Connect("a", {"qa"}, 5, {"ta"});
  JobId other_queue = SubmitOne(Spec("qb", "ta"));
  JobId other_type = SubmitOne(Spec("qa", "tb"));
  JobId match = SubmitOne(Spec("qa", "ta"));
  EXPECT_THAT(only_a.channel->AssignedIds(), ElementsAre(match));
  EXPECT_EQ(StateOf(other_queue), JobState::kQueued);
  EXPECT_EQ(StateOf(other_type), JobState::kQueued);

  TestWorker any_type = Connect("b", {"qa", "qb"}, 5);
  EXPECT_THAT(any_type.channel->AssignedIds(),
              ::testing::UnorderedElementsAre(other_queue, other_type));
}

TEST_F(EngineTest, ListJobsFiltersByQueueAndState) {
  JobId a1 = SubmitOne(Spec("a"));
  JobId b1 = SubmitOne(Spec("b"));
  JobId a2 = SubmitOne(Spec("a"));
  TestWorker w = Connect("w", {"a"}, 1);
  ASSERT_EQ(w.channel->assignments.size(), 1u);
  EXPECT_EQ(w.channel->assignments[0].job.id, a1);

  JobFilter f;
  f.queue = "a";
  std::vector<JobId> ids;
  for (const Job& j : engine().ListJobs(f)) ids.push_back(j.id);
  EXPECT_THAT(ids, ElementsAre(a1, a2));

  f.state = JobState::kQueued;
  ids.clear();
  for (const Job& j : engine().ListJobs(f)) ids.push_back(j.id);
  EXPECT_THAT(ids, ElementsAre(a2));

  JobFilter all;
  all.after = a1;
  all.limit = 1;
  ids.clear();
  for (const Job& j : engine().ListJobs(all)) ids.push_back(j.id);
  EXPECT_THAT(ids, ElementsAre(b1));

  JobFilter omit;
  for (const Job& j : engine().ListJobs(omit, /*omit_payloads=*/true)) {
    EXPECT_TRUE(j.payload.empty()) << j.id;
  }
}

TEST_F(EngineTest, GetUnknownJobIsNotFound) {
  EXPECT_STATUS(engine().GetJob(JobId{12345}), absl::StatusCode::kNotFound, "12345");
}

TEST_F(EngineTest, ProgressIsRecordedOnTheJob) {
  TestWorker w = Connect();
  JobId id = SubmitOne(Spec());
  const Assignment a = w.channel->assignments.at(0);
  Progress p;
  p.percent = 40;
  p.message = "half-ish";
  ASSERT_OK_AND_ASSIGN(Mutation<JobTransition> m, engine().ReportProgress(w.id, id, a.token, p));
  EXPECT_EQ(m.value.state, JobState::kRunning);
  Job j = Get(id);
  EXPECT_EQ(j.progress.percent, 40);
  EXPECT_EQ(j.progress.message, "half-ish");
  EXPECT_EQ(j.state, JobState::kRunning);
}

}  // namespace
}  // namespace conveyor::testing
