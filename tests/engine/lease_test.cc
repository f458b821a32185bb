// Fencing tokens: a worker's answer counts only with the current lease.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

class LeaseTest : public EngineTest {
 protected:
  void SetUp() override { random_.set_value(0.0); }  // Retries are due at once.
};

TEST_F(LeaseTest, TokensGrowWithEveryLease) {
  TestWorker w = Connect();
  JobSpec spec = Spec();
  spec.max_attempts = 10;
  JobId id = SubmitOne(spec);
  FencingToken prev;
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(w.channel->assignments.size(), static_cast<size_t>(i + 1));
    const Assignment a = w.channel->assignments.back();
    EXPECT_GT(a.token, prev) << "lease " << i + 1;
    EXPECT_EQ(Get(id).last_token, a.token);
    prev = a.token;
    if (i % 2 == 0) {
      ASSERT_OK(engine().Fail(w.id, id, a.token, "x", false));
      engine().Tick();
    } else {
      ASSERT_OK(engine().Release(w.id, id, a.token));
    }
  }
}

TEST_F(LeaseTest, StaleTokenIsAbortedAndChangesNothing) {
  TestWorker w1 = Connect("w1");
  JobId id = SubmitOne(Spec());
  const Assignment old = w1.channel->assignments.at(0);
  ASSERT_OK(engine().Fail(w1.id, id, old.token, "x", false));
  engine().Tick();
  ASSERT_EQ(w1.channel->assignments.size(), 2u);
  const Assignment cur = w1.channel->assignments[1];
  ASSERT_GT(cur.token, old.token);

  const Job before = Get(id);
  const uint64_t seq_before = observer_.last_seq();
  EXPECT_STATUS(engine().Complete(w1.id, id, old.token, "r"), absl::StatusCode::kAborted,
                std::to_string(id.value));
  EXPECT_STATUS(engine().Fail(w1.id, id, old.token, "e", true), absl::StatusCode::kAborted, "");
  EXPECT_STATUS(engine().Release(w1.id, id, old.token), absl::StatusCode::kAborted, "");
  Progress p;
  p.percent = 50;
  EXPECT_STATUS(engine().ReportProgress(w1.id, id, old.token, p), absl::StatusCode::kAborted, "");
  EXPECT_EQ(Describe(Get(id)), Describe(before));
  EXPECT_EQ(observer_.last_seq(), seq_before) << "a refused answer writes nothing";

  ASSERT_OK(engine().Complete(w1.id, id, cur.token, "ok"));
  EXPECT_EQ(Get(id).result, "ok");
}

TEST_F(LeaseTest, TokenOfAFinishedLeaseIsAborted) {
  TestWorker w = Connect();
  JobId id = SubmitOne(Spec());
  const Assignment a = w.channel->assignments.at(0);
  ASSERT_OK(engine().Complete(w.id, id, a.token, "first"));
  EXPECT_STATUS(engine().Complete(w.id, id, a.token, "second"), absl::StatusCode::kAborted, "");
  EXPECT_EQ(Get(id).result, "first");
  EXPECT_STATUS(engine().Fail(w.id, id, a.token, "e", false), absl::StatusCode::kAborted, "");
  EXPECT_EQ(Get(id).state, JobState::kSucceeded);
}

TEST_F(LeaseTest, ExpiredLeaseAfterRetryToAnotherWorker) {
  TestWorker w1 = Connect("w1");
  JobId id = SubmitOne(Spec());
  const Assignment a1 = w1.channel->assignments.at(0);
  ASSERT_OK(engine().SetConcurrency(w1.id, 0));
  AdvanceAndTick(kLease);  // Lost; zero backoff.
  engine().Tick();
  TestWorker w2 = Connect("w2");
  ASSERT_EQ(w2.channel->assignments.size(), 1u);
  const Assignment a2 = w2.channel->assignments[0];

  // Worker 1 with its own old token: ABORTED.
  EXPECT_STATUS(engine().Complete(w1.id, id, a1.token, "stale"), absl::StatusCode::kAborted, "");
  // Worker 1 with worker 2's current token: PERMISSION_DENIED.
  EXPECT_STATUS(engine().Complete(w1.id, id, a2.token, "thief"),
                absl::StatusCode::kPermissionDenied, "");
  EXPECT_STATUS(engine().Fail(w1.id, id, a2.token, "thief", true),
                absl::StatusCode::kPermissionDenied, "");
  EXPECT_STATUS(engine().Release(w1.id, id, a2.token), absl::StatusCode::kPermissionDenied, "");
  EXPECT_STATUS(engine().ReportProgress(w1.id, id, a2.token, Progress{}),
                absl::StatusCode::kPermissionDenied, "");
  EXPECT_EQ(StateOf(id), JobState::kRunning);
  EXPECT_EQ(LeasesOf(w2.id), 1u);

  ASSERT_OK(engine().Complete(w2.id, id, a2.token, "good"));
  EXPECT_EQ(Get(id).result, "good");
}

TEST_F(LeaseTest, UnknownJobIsNotFound) {
  TestWorker w = Connect();
  EXPECT_STATUS(engine().Complete(w.id, JobId{777}, FencingToken{1}, ""),
                absl::StatusCode::kNotFound, "777");
  EXPECT_STATUS(engine().Fail(w.id, JobId{777}, FencingToken{1}, "", false),
                absl::StatusCode::kNotFound, "777");
  EXPECT_STATUS(engine().Release(w.id, JobId{777}, FencingToken{1}), absl::StatusCode::kNotFound,
                "777");
  EXPECT_STATUS(engine().ReportProgress(w.id, JobId{777}, FencingToken{1}, Progress{}),
                absl::StatusCode::kNotFound, "777");
}

TEST_F(LeaseTest, AnswerForAQueuedJobIsAborted) {
  JobId id = SubmitOne(Spec());  // Never leased.
  TestWorker w = Connect("w", {"other"});
  EXPECT_STATUS(engine().Complete(w.id, id, FencingToken{1}, ""), absl::StatusCode::kAborted, "");
  EXPECT_EQ(StateOf(id), JobState::kQueued);
}

TEST_F(LeaseTest, ResultOverPayloadLimitIsInvalidAndKeepsTheLease) {
  options_.max_payload_bytes = 16;
  TestWorker w = Connect();
  JobId id = SubmitOne(Spec());
  const Assignment a = w.channel->assignments.at(0);
  EXPECT_STATUS(engine().Complete(w.id, id, a.token, std::string(17, 'x')),
                absl::StatusCode::kInvalidArgument, "result");
  EXPECT_EQ(StateOf(id), JobState::kRunning);
  ASSERT_OK(engine().Complete(w.id, id, a.token, std::string(16, 'x')));
}

TEST_F(LeaseTest, ReleaseQueuesAgainWithoutCountingTheAttempt) {
  TestWorker w = Connect("w", {"q"}, 1);
  JobSpec spec = Spec();
  spec.max_attempts = 1;
  JobId id = SubmitOne(spec);
  ASSERT_OK(engine().SetConcurrency(w.id, 0));  // Keep it from coming straight back.
  const Assignment a = w.channel->assignments.at(0);
  ASSERT_OK_AND_ASSIGN(Mutation<JobTransition> m, engine().Release(w.id, id, a.token));
  EXPECT_EQ(m.value.state, JobState::kQueued);
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kQueued);
  EXPECT_EQ(j.attempts, 0);
  ASSERT_EQ(j.history.size(), 1u);
  EXPECT_EQ(j.history[0].outcome, AttemptOutcome::kReleased);
  EXPECT_EQ(LeasesOf(w.id), 0u);

  // Released many times, a job with max_attempts 1 is still not dead.
  TestWorker w2 = Connect("w2");
  for (int i = 0; i < 5; ++i) {
    ASSERT_EQ(w2.channel->assignments.size(), static_cast<size_t>(i + 1));
    const Assignment b = w2.channel->assignments.back();
    EXPECT_EQ(b.attempt, 1) << "a released attempt is not counted";
    EXPECT_GT(b.token, a.token);
    ASSERT_OK(engine().Release(w2.id, id, b.token));  // Comes straight back to w2.
  }
  const Assignment last = w2.channel->assignments.back();
  ASSERT_OK(engine().Complete(w2.id, id, last.token, "done"));
  EXPECT_EQ(Get(id).state, JobState::kSucceeded);
  EXPECT_EQ(Get(id).attempts, 1);
}

TEST_F(LeaseTest, ReleasedJobKeepsItsPlaceAheadOfLowerPriority) {
  TestWorker w = Connect("w", {"q"}, 1);
  JobId hi = SubmitWithPriority(5);
  JobId lo = SubmitWithPriority(1);
  ASSERT_EQ(w.channel->assignments.size(), 1u);
  ASSERT_EQ(w.channel->assignments[0].job.id, hi);
  ASSERT_OK(engine().Release(w.id, hi, w.channel->assignments[0].token));
  ASSERT_EQ(w.channel->assignments.size(), 2u);
  EXPECT_EQ(w.channel->assignments[1].job.id, hi);
  EXPECT_EQ(StateOf(lo), JobState::kQueued);
}

}  // namespace
}  // namespace conveyor::testing
