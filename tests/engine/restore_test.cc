// Restore: loading what a store recovered after a restart.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

class RestoreTest : public EngineTest {
 protected:
  Job MakeJob(uint64_t id, JobState state) {
    Job j;
    j.id = JobId{id};
    j.queue = "q";
    j.type = "t";
    j.payload = absl::StrCat("p", id);
    j.max_attempts = 3;
    j.state = state;
    j.created_at = Now() - absl::Minutes(5);
    j.run_at = j.created_at;
    return j;
  }
  // A job that was RUNNING when the coordinator stopped.
  Job MakeRunning(uint64_t id, int32_t attempts, uint64_t token) {
    Job j = MakeJob(id, JobState::kRunning);
    j.attempts = attempts;
    j.last_token = FencingToken{token};
    for (int i = 1; i <= attempts; ++i) {
      Attempt a;
      a.number = i;
      a.worker = WorkerId{1};
      a.worker_name = "old";
      a.started_at = Now() - absl::Minutes(1);
      if (i < attempts) {
        a.ended_at = Now() - absl::Minutes(1);
        a.outcome = AttemptOutcome::kFailed;
        a.error = "earlier";
      }
      j.history.push_back(a);
    }
    return j;
  }
};

TEST_F(RestoreTest, RunningJobsLoseTheirLeaseAndIdsContinue) {
  RecoveredState state;
  state.jobs.push_back(MakeRunning(3, 1, 7));   // Retried.
  state.jobs.push_back(MakeRunning(5, 3, 20));  // Its last attempt: dead.
  state.jobs.push_back(MakeJob(8, JobState::kQueued));
  Job scheduled = MakeJob(9, JobState::kScheduled);
  scheduled.run_at = Now() + absl::Seconds(30);
  state.jobs.push_back(scheduled);
  Job done = MakeJob(10, JobState::kSucceeded);
  done.result = "r";
  done.finished_at = Now() - absl::Minutes(1);
  done.expires_at = Now() + absl::Hours(1);
  done.idempotency_key = "kept";
  state.jobs.push_back(done);
  state.max_job_id = JobId{100};
  observer_.Seed(state.jobs);
  ASSERT_OK(engine().Restore(state));
  ExpectReplayMatchesEngine();

  Job retried = Get(JobId{3});
  EXPECT_EQ(retried.state, JobState::kQueued) << "Restore: RUNNING jobs are queued again";
  EXPECT_EQ(retried.attempts, 1);
  ASSERT_EQ(retried.history.size(), 1u);
  EXPECT_EQ(retried.history[0].outcome, AttemptOutcome::kLeaseLost);
  EXPECT_NE(retried.history[0].ended_at, absl::InfinitePast());

  Job dead = Get(JobId{5});
  EXPECT_EQ(dead.state, JobState::kDead);
  EXPECT_EQ(dead.dead_reason, DeadReason::kLeaseLost);
  EXPECT_EQ(dead.attempts, 3);
  EXPECT_EQ(dead.history.back().outcome, AttemptOutcome::kLeaseLost);

  EXPECT_EQ(StateOf(JobId{8}), JobState::kQueued);
  EXPECT_EQ(StateOf(JobId{9}), JobState::kScheduled);
  EXPECT_EQ(Get(JobId{10}).result, "r");
  EXPECT_EQ(Get(JobId{5}).payload, "p5");

  QueueStats q = StatsOf("q");
  EXPECT_EQ(q.queued, 2);
  EXPECT_EQ(q.scheduled, 1);
  EXPECT_EQ(q.running, 0);
  EXPECT_EQ(q.dead, 1);
  EXPECT_EQ(q.succeeded, 1);

  // New ids continue after the greatest ever assigned.
  JobId fresh = SubmitOne(Spec());
  EXPECT_GT(fresh, JobId{100});

  // The kept job's idempotency key still deduplicates.
  JobSpec dup = Spec();
  dup.idempotency_key = "kept";
  ASSERT_OK_AND_ASSIGN(auto r, engine().Submit({dup}));
  EXPECT_TRUE(r.value[0].duplicate);
  EXPECT_EQ(r.value[0].id, JobId{10});

  // The next lease's token is greater than the one before the restart.
  TestWorker w = Connect("w", {"q"}, 10);
  std::optional<Assignment> a = w.channel->Find(JobId{3});
  ASSERT_TRUE(a.has_value());
  EXPECT_GT(a->token, FencingToken{7});
  EXPECT_EQ(a->attempt, 2);

  // Due times recovered: the scheduled job and the retention end. (The
  // worker's unheartbeated leases expire meanwhile; its heartbeat brings it
  // back and it takes the now-due job.)
  AdvanceAndTick(absl::Seconds(30));
  ASSERT_OK(engine().Heartbeat(w.id));
  EXPECT_EQ(StateOf(JobId{9}), JobState::kRunning);
  AdvanceAndTick(absl::Hours(1));
  EXPECT_STATUS(engine().GetJob(JobId{10}), absl::StatusCode::kNotFound, "");
}

TEST_F(RestoreTest, RestoreReportsTheLostLeasesToTheObserver) {
  RecoveredState state;
  state.jobs.push_back(MakeRunning(1, 1, 3));
  state.max_job_id = JobId{1};
  observer_.Seed(state.jobs);
  ASSERT_OK(engine().Restore(state));
  EXPECT_GE(observer_.Count(RecordingObserver::Kind::kUpdated), 1)
      << "the lost attempt must be durable, or a second restart would forget it";
  ASSERT_FALSE(observer_.events().empty());
  const auto& e = observer_.events().back();
  ASSERT_TRUE(e.job.has_value());
  EXPECT_EQ(e.job->id, JobId{1});
  EXPECT_EQ(e.job->state, JobState::kQueued);
}

TEST_F(RestoreTest, RestoredQueueSettingsApply) {
  RecoveredState state;
  QueueSettings s;
  s.max_depth = 1;
  s.lease_duration = absl::Seconds(9);
  state.queues.emplace_back("q", s);
  observer_.Seed(state.jobs);
  ASSERT_OK(engine().Restore(state));
  ASSERT_OK_AND_ASSIGN(QueueStats q, engine().GetQueue("q"));
  EXPECT_EQ(q.settings, s);
  TestWorker w = Connect();
  const absl::Time t = Now();
  SubmitOne(Spec());
  EXPECT_EQ(w.channel->assignments.at(0).lease_expires_at, t + absl::Seconds(9));
  EXPECT_STATUS(engine().Submit({Spec()}), absl::StatusCode::kResourceExhausted, "");
}

TEST_F(RestoreTest, StreamedRestoreLoadsEachPieceAndCountsTheJobs) {
  std::vector<Job> jobs = {MakeRunning(2, 1, 4), MakeJob(4, JobState::kQueued)};
  observer_.Seed(jobs);
  QueueSettings s;
  s.max_attempts = 7;
  ASSERT_OK_AND_ASSIGN(size_t loaded, engine().RestoreFrom([&](RecoverySink& sink) {
    // Jobs before the settings: RUNNING jobs are settled after the read.
    for (Job& job : jobs) {
      absl::Status status = sink.OnJob(job);
      if (!status.ok()) return status;
    }
    sink.OnQueue("q", s);
    sink.OnMaxJobId(JobId{50});
    return absl::OkStatus();
  }));
  EXPECT_EQ(loaded, 2u);
  ExpectReplayMatchesEngine();
  EXPECT_EQ(StateOf(JobId{2}), JobState::kQueued);
  EXPECT_EQ(Get(JobId{4}).payload, "p4");
  ASSERT_OK_AND_ASSIGN(QueueStats q, engine().GetQueue("q"));
  EXPECT_EQ(q.settings.max_attempts, 7);
  EXPECT_EQ(q.queued, 2);
  EXPECT_GT(SubmitOne(Spec()), JobId{50});
}

TEST_F(RestoreTest, StreamedRestoreFailsOnTheReadersErrorOrATwiceRecoveredJob) {
  EXPECT_STATUS(engine().RestoreFrom([](RecoverySink&) {
    return absl::DataLossError("bad row");
  }),
                absl::StatusCode::kDataLoss, "bad row");
  Engine other(&clock_, &random_, nullptr, EngineOptions());
  Job a = MakeJob(3, JobState::kQueued);
  Job b = MakeJob(3, JobState::kQueued);
  EXPECT_STATUS(other.RestoreFrom([&](RecoverySink& sink) {
    absl::Status status = sink.OnJob(a);
    return status.ok() ? sink.OnJob(b) : status;
  }),
                absl::StatusCode::kDataLoss, "job 3 recovered twice");
}

TEST_F(RestoreTest, EmptyRestoreAcceptsJobs) {
  ASSERT_OK(engine().Restore(RecoveredState{}));
  EXPECT_GT(SubmitOne(Spec()), JobId{});
}

}  // namespace
}  // namespace conveyor::testing
