// Failed attempts: backoff with full jitter, the dead-letter queue, lease
// expiry, heartbeats and attempt timeouts.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

class RetryTest : public EngineTest {
 protected:
  // Runs the job's current attempt on `w` and fails it.
  absl::StatusOr<Mutation<JobTransition>> FailCurrent(const TestWorker& w, JobId id, const std::string& error,
                                            bool permanent = false) {
    std::optional<Assignment> a = w.channel->Find(id);
    if (!a) return absl::InternalError("test: job not assigned to this worker");
    return engine().Fail(w.id, id, a->token, error, permanent);
  }
};

TEST_F(RetryTest, FailSchedulesRetryWithExactBackoffThenDead) {
  // Constant jitter 0.5: delays are half the cap, the cap doubling from 1s
  // and stopping at 3s.
  random_.set_value(0.5);
  TestWorker w = Connect();
  JobSpec spec = Spec();
  spec.max_attempts = 4;
  spec.backoff = Backoff{absl::Seconds(1), absl::Seconds(3), 2.0};
  JobId id = SubmitOne(spec);

  const absl::Duration expected_delay[] = {absl::Milliseconds(500), absl::Seconds(1),
                                           absl::Milliseconds(1500)};
  for (int attempt = 1; attempt <= 3; ++attempt) {
    SCOPED_TRACE(absl::StrCat("attempt ", attempt));
    ASSERT_EQ(w.channel->assignments.size(), static_cast<size_t>(attempt));
    EXPECT_EQ(w.channel->assignments.back().attempt, attempt);
    const absl::Time failed_at = Now();
    ASSERT_OK_AND_ASSIGN(Mutation<JobTransition> m, FailCurrent(w, id, absl::StrCat("boom ", attempt)));
    EXPECT_EQ(m.value.state, JobState::kScheduled);
    Job j = Get(id);
    EXPECT_EQ(j.state, JobState::kScheduled);
    EXPECT_EQ(j.attempts, attempt);
    EXPECT_EQ(j.error, absl::StrCat("boom ", attempt));
    EXPECT_EQ(j.run_at, failed_at + expected_delay[attempt - 1]);
    EXPECT_EQ(engine().NextWakeup(), failed_at + expected_delay[attempt - 1]);

    AdvanceAndTick(expected_delay[attempt - 1] - absl::Milliseconds(1));
    EXPECT_EQ(StateOf(id), JobState::kScheduled);
    AdvanceAndTick(absl::Milliseconds(1));
    EXPECT_EQ(StateOf(id), JobState::kRunning) << "queued after the backoff, then dispatched";
  }
  ASSERT_EQ(w.channel->assignments.size(), 4u);
  EXPECT_EQ(w.channel->assignments.back().attempt, 4);
  ASSERT_OK_AND_ASSIGN(Mutation<JobTransition> last, FailCurrent(w, id, "boom 4"));
  EXPECT_EQ(last.value.state, JobState::kDead);

  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kDead);
  EXPECT_EQ(j.dead_reason, DeadReason::kAttemptsExhausted);
  EXPECT_EQ(j.attempts, 4);
  EXPECT_EQ(j.error, "boom 4");
  EXPECT_EQ(j.finished_at, Now());
  ASSERT_EQ(j.history.size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ(j.history[i].number, i + 1);
    EXPECT_EQ(j.history[i].worker, w.id);
    EXPECT_EQ(j.history[i].outcome, AttemptOutcome::kFailed);
    EXPECT_EQ(j.history[i].error, absl::StrCat("boom ", i + 1));
    EXPECT_NE(j.history[i].ended_at, absl::InfinitePast());
  }
  EXPECT_EQ(StatsOf("q").dead, 1);
  EXPECT_EQ(engine().ListDead("q", JobId{}, 10).size(), 1u);
}

TEST_F(RetryTest, BackoffNeverExceedsTheCap) {
  // Jitter just under 1: delays just under min(max, initial * mult^(n-1)).
  random_.set_value(0.999);
  TestWorker w = Connect();
  JobSpec spec = Spec();
  spec.max_attempts = 8;
  spec.backoff = Backoff{absl::Seconds(2), absl::Seconds(10), 3.0};
  JobId id = SubmitOne(spec);
  const absl::Duration caps[] = {absl::Seconds(2), absl::Seconds(6), absl::Seconds(10),
                                 absl::Seconds(10), absl::Seconds(10)};
  for (int n = 1; n <= 5; ++n) {
    SCOPED_TRACE(absl::StrCat("attempt ", n));
    const absl::Time failed_at = Now();
    ASSERT_OK(FailCurrent(w, id, "x"));
    const absl::Duration delay = Get(id).run_at - failed_at;
    EXPECT_LE(delay, caps[n - 1]);
    EXPECT_GE(delay, caps[n - 1] * 0.99);
    AdvanceAndTick(delay);
    ASSERT_EQ(StateOf(id), JobState::kRunning);
  }
}

TEST_F(RetryTest, ZeroJitterRetriesAtOnce) {
  random_.set_value(0.0);
  TestWorker w = Connect();
  JobId id = SubmitOne(Spec());
  ASSERT_OK(FailCurrent(w, id, "x"));
  engine().Tick();  // Same instant: a zero delay is due now.
  EXPECT_EQ(StateOf(id), JobState::kRunning);
  EXPECT_EQ(w.channel->assignments.size(), 2u);
  EXPECT_EQ(w.channel->assignments.back().attempt, 2);
}

TEST_F(RetryTest, QueueDefaultBackoffAndAttemptsApply) {
  QueueSettingsUpdate u;
  u.max_attempts = 2;
  u.backoff = Backoff{absl::Seconds(4), absl::Seconds(100), 2.0};
  Configure("q", u);
  TestWorker w = Connect();
  JobId id = SubmitOne(Spec());
  Job j = Get(id);
  EXPECT_EQ(j.max_attempts, 2);
  EXPECT_EQ(j.backoff, (Backoff{absl::Seconds(4), absl::Seconds(100), 2.0}));
  const absl::Time t = Now();
  ASSERT_OK(FailCurrent(w, id, "x"));
  EXPECT_EQ(Get(id).run_at, t + absl::Seconds(2));
  AdvanceAndTick(absl::Seconds(2));
  ASSERT_OK(FailCurrent(w, id, "y"));
  EXPECT_EQ(Get(id).state, JobState::kDead);
  EXPECT_EQ(Get(id).dead_reason, DeadReason::kAttemptsExhausted);
}

TEST_F(RetryTest, PermanentFailureIsDeadAtOnce) {
  TestWorker w = Connect();
  JobSpec spec = Spec();
  spec.max_attempts = 5;
  JobId id = SubmitOne(spec);
  ASSERT_OK_AND_ASSIGN(Mutation<JobTransition> m, FailCurrent(w, id, "bad input", /*permanent=*/true));
  EXPECT_EQ(m.value.state, JobState::kDead);
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kDead);
  EXPECT_EQ(j.dead_reason, DeadReason::kPermanentFailure);
  EXPECT_EQ(j.error, "bad input");
  EXPECT_EQ(j.attempts, 1);
  ASSERT_EQ(j.history.size(), 1u);
  EXPECT_EQ(j.history[0].outcome, AttemptOutcome::kFailed);
  EXPECT_EQ(j.history[0].error, "bad input");
  EXPECT_EQ(engine().NextWakeup(), j.expires_at) << "only the retention end is left";
}

TEST_F(RetryTest, LeaseExpiryCountsAsLostAttemptAndRetriesOnAnotherWorker) {
  random_.set_value(0.5);
  TestWorker w1 = Connect("w1");
  const absl::Time t0 = Now();
  JobId id = SubmitOne(Spec());
  ASSERT_EQ(w1.channel->assignments.size(), 1u);
  const FencingToken first = w1.channel->assignments[0].token;
  EXPECT_EQ(engine().NextWakeup(), t0 + kLease);
  // Worker 1 hangs (takes nothing more); worker 2 is idle.
  ASSERT_OK(engine().SetConcurrency(w1.id, 0));
  TestWorker w2 = Connect("w2");
  EXPECT_TRUE(w2.channel->assignments.empty());

  AdvanceAndTick(kLease - absl::Milliseconds(1));
  EXPECT_EQ(StateOf(id), JobState::kRunning);

  AdvanceAndTick(absl::Milliseconds(1));  // Tick at exactly NextWakeup().
  // The lost attempt counts, and the job is queued again at once (no
  // backoff) and given to the idle worker.
  ASSERT_EQ(w2.channel->assignments.size(), 1u);
  const Assignment& a2 = w2.channel->assignments[0];
  EXPECT_EQ(a2.job.id, id);
  EXPECT_EQ(a2.attempt, 2);
  EXPECT_GT(a2.token, first);
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kRunning);
  EXPECT_EQ(j.attempts, 2);
  ASSERT_EQ(j.history.size(), 2u);
  EXPECT_EQ(j.history[0].outcome, AttemptOutcome::kLeaseLost);
  EXPECT_EQ(j.history[0].worker, w1.id);
  EXPECT_EQ(j.history[0].ended_at, t0 + kLease);
  EXPECT_FALSE(j.history[0].error.empty());
  EXPECT_EQ(j.history[1].worker, w2.id);
  EXPECT_EQ(LeasesOf(w1.id), 0u);

  // The first worker's late result is refused.
  EXPECT_STATUS(engine().Complete(w1.id, id, first, "late"), absl::StatusCode::kAborted, "");
  EXPECT_EQ(StateOf(id), JobState::kRunning);
}

TEST_F(RetryTest, LeaseLostOnLastAttemptIsDeadLeaseLost) {
  TestWorker w = Connect();
  JobSpec spec = Spec();
  spec.max_attempts = 1;
  JobId id = SubmitOne(spec);
  AdvanceAndTick(kLease);
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kDead);
  EXPECT_EQ(j.dead_reason, DeadReason::kLeaseLost);
  EXPECT_EQ(j.attempts, 1);
  ASSERT_EQ(j.history.size(), 1u);
  EXPECT_EQ(j.history[0].outcome, AttemptOutcome::kLeaseLost);
}

TEST_F(RetryTest, PoisonJobEndsDeadAfterMaxAttempts) {
  random_.set_value(0.0);
  JobSpec spec = Spec();
  spec.max_attempts = 3;
  JobId id = SubmitOne(spec);
  for (int i = 1; i <= 3; ++i) {
    SCOPED_TRACE(absl::StrCat("crash ", i));
    TestWorker w = Connect(absl::StrCat("w", i));
    ASSERT_EQ(w.channel->assignments.size(), 1u);
    EXPECT_EQ(w.channel->assignments[0].attempt, i);
    engine().DisconnectWorker(w.id);  // The worker crashed.
    engine().Tick();
  }
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kDead);
  EXPECT_EQ(j.dead_reason, DeadReason::kLeaseLost);
  EXPECT_EQ(j.attempts, 3);
  ASSERT_EQ(j.history.size(), 3u);
  for (const Attempt& a : j.history) EXPECT_EQ(a.outcome, AttemptOutcome::kLeaseLost);
}

TEST_F(RetryTest, HeartbeatKeepsTheLeaseAlive) {
  TestWorker w = Connect();
  const absl::Time t0 = Now();
  JobId id = SubmitOne(Spec());
  for (int i = 1; i <= 5; ++i) {
    AdvanceAndTick(absl::Seconds(20));
    ASSERT_EQ(StateOf(id), JobState::kRunning) << "after " << 20 * i << "s";
    ASSERT_OK(engine().Heartbeat(w.id));
    std::vector<WorkerStats> workers = engine().ListWorkers();
    ASSERT_EQ(workers.size(), 1u);
    ASSERT_EQ(workers[0].leases.size(), 1u);
    EXPECT_EQ(workers[0].leases[0].expires_at, t0 + absl::Seconds(20 * i) + kLease);
    EXPECT_EQ(workers[0].last_heartbeat, t0 + absl::Seconds(20 * i));
  }
  EXPECT_EQ(Get(id).attempts, 1);
  EXPECT_EQ(engine().NextWakeup(), Now() + kLease);
  ASSERT_OK(engine().SetConcurrency(w.id, 0));  // So the retry stays visible.
  AdvanceAndTick(kLease);
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kQueued) << "no heartbeat: the lease expires";
  EXPECT_EQ(j.attempts, 1);
  ASSERT_EQ(j.history.size(), 1u);
  EXPECT_EQ(j.history[0].outcome, AttemptOutcome::kLeaseLost);
}

TEST_F(RetryTest, HeartbeatOfUnknownWorkerIsNotFound) {
  EXPECT_STATUS(engine().Heartbeat(WorkerId{99}), absl::StatusCode::kNotFound, "99");
}

TEST_F(RetryTest, AttemptTimeoutEndsTheAttemptAndCancelsOnTheWorker) {
  random_.set_value(0.5);
  TestWorker w = Connect();
  const absl::Time t0 = Now();
  JobSpec spec = Spec();
  spec.attempt_timeout = absl::Seconds(45);
  JobId id = SubmitOne(spec);
  ASSERT_EQ(w.channel->assignments.size(), 1u);
  const Assignment a = w.channel->assignments[0];
  EXPECT_EQ(a.deadline, t0 + absl::Seconds(45));
  EXPECT_EQ(a.lease_expires_at, t0 + kLease);

  // Heartbeats keep the lease, but never past the attempt timeout.
  AdvanceAndTick(absl::Seconds(25));
  ASSERT_OK(engine().Heartbeat(w.id));
  std::vector<WorkerStats> workers = engine().ListWorkers();
  ASSERT_EQ(workers.at(0).leases.size(), 1u);
  EXPECT_EQ(workers[0].leases[0].expires_at, t0 + absl::Seconds(45));
  EXPECT_EQ(engine().NextWakeup(), t0 + absl::Seconds(45));

  AdvanceAndTick(absl::Seconds(20) - absl::Milliseconds(1));
  EXPECT_EQ(StateOf(id), JobState::kRunning);
  EXPECT_TRUE(w.channel->cancels.empty());
  ASSERT_OK(engine().SetConcurrency(w.id, 0));  // So the retry stays visible.
  AdvanceAndTick(absl::Milliseconds(1));

  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kQueued) << "retried at once, like a lost lease";
  EXPECT_EQ(j.attempts, 1);
  ASSERT_EQ(j.history.size(), 1u);
  EXPECT_EQ(j.history[0].outcome, AttemptOutcome::kTimedOut);
  ASSERT_EQ(w.channel->cancels.size(), 1u);
  EXPECT_EQ(w.channel->cancels[0].job, id);
  EXPECT_EQ(w.channel->cancels[0].token, a.token);
  EXPECT_STATUS(engine().Complete(w.id, id, a.token, "late"), absl::StatusCode::kAborted, "");
}

TEST_F(RetryTest, AttemptTimeoutOnLastAttemptIsDead) {
  TestWorker w = Connect();
  JobSpec spec = Spec();
  spec.attempt_timeout = absl::Seconds(5);
  spec.max_attempts = 1;
  JobId id = SubmitOne(spec);
  AdvanceAndTick(absl::Seconds(5));
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kDead);
  EXPECT_NE(j.dead_reason, DeadReason::kNone);
  EXPECT_NE(j.dead_reason, DeadReason::kPermanentFailure);
  EXPECT_EQ(w.channel->cancels.size(), 1u);
}

}  // namespace
}  // namespace conveyor::testing
