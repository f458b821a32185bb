// Workers: concurrency (credit), capping, disconnects.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

TEST_F(EngineTest, WelcomeCarriesIdConcurrencyAndLease) {
  WorkerHello hello;
  hello.name = "w";
  hello.queues = {"q"};
  hello.concurrency = 3;
  ASSERT_OK_AND_ASSIGN(WorkerWelcome w1,
                       engine().ConnectWorker(hello, std::make_shared<RecordingChannel>()));
  ASSERT_OK_AND_ASSIGN(WorkerWelcome w2,
                       engine().ConnectWorker(hello, std::make_shared<RecordingChannel>()));
  EXPECT_NE(w1.id, WorkerId{});
  EXPECT_NE(w1.id, w2.id);
  EXPECT_EQ(w1.concurrency, 3);
  EXPECT_EQ(w1.lease_duration, kLease);
  EXPECT_GT(w1.heartbeat_interval, absl::ZeroDuration());
  EXPECT_LT(w1.heartbeat_interval, w1.lease_duration);
  EXPECT_EQ(engine().ListWorkers().size(), 2u);
}

TEST_F(EngineTest, WorkerNeverHoldsMoreThanItsConcurrency) {
  TestWorker w = Connect("w", {"q"}, 3);
  for (int i = 0; i < 10; ++i) SubmitOne(Spec());
  EXPECT_EQ(w.channel->assignments.size(), 3u);
  EXPECT_EQ(LeasesOf(w.id), 3u);
  EXPECT_EQ(StatsOf("q").queued, 7);

  // Each answer frees one slot, filled at once.
  const Assignment a = w.channel->assignments[0];
  ASSERT_OK(engine().Complete(w.id, a.job.id, a.token, ""));
  EXPECT_EQ(w.channel->assignments.size(), 4u);
  EXPECT_EQ(LeasesOf(w.id), 3u);
}

TEST_F(EngineTest, SetConcurrencyRaisesAndLowersCredit) {
  TestWorker w = Connect("w", {"q"}, 2);
  for (int i = 0; i < 10; ++i) SubmitOne(Spec());
  ASSERT_EQ(w.channel->assignments.size(), 2u);

  ASSERT_OK(engine().SetConcurrency(w.id, 4));
  EXPECT_EQ(w.channel->assignments.size(), 4u) << "raised: filled at once";
  EXPECT_EQ(LeasesOf(w.id), 4u);

  ASSERT_OK(engine().SetConcurrency(w.id, 1));
  EXPECT_EQ(LeasesOf(w.id), 4u) << "lowering does not take leases away";
  // Finish three: none replaced (4 -> 1 leases); the fourth frees the slot.
  for (int i = 0; i < 3; ++i) {
    const Assignment a = w.channel->assignments[i];
    ASSERT_OK(engine().Complete(w.id, a.job.id, a.token, ""));
    EXPECT_EQ(w.channel->assignments.size(), 4u) << "after completing " << i + 1;
  }
  const Assignment a = w.channel->assignments[3];
  ASSERT_OK(engine().Complete(w.id, a.job.id, a.token, ""));
  EXPECT_EQ(w.channel->assignments.size(), 5u);
  EXPECT_EQ(LeasesOf(w.id), 1u);

  ASSERT_OK(engine().SetConcurrency(w.id, 0));  // Paused.
  const Assignment b = w.channel->assignments[4];
  ASSERT_OK(engine().Complete(w.id, b.job.id, b.token, ""));
  EXPECT_EQ(w.channel->assignments.size(), 5u);
  EXPECT_EQ(LeasesOf(w.id), 0u);

  EXPECT_STATUS(engine().SetConcurrency(WorkerId{4242}, 1), absl::StatusCode::kNotFound, "4242");
}

TEST_F(EngineTest, ConcurrencyIsCappedByMaxWorkerConcurrency) {
  options_.max_worker_concurrency = 3;
  WorkerHello hello;
  hello.name = "greedy";
  hello.queues = {"q"};
  hello.concurrency = 50;
  auto channel = std::make_shared<RecordingChannel>();
  ASSERT_OK_AND_ASSIGN(WorkerWelcome welcome, engine().ConnectWorker(hello, channel));
  EXPECT_EQ(welcome.concurrency, 3);
  for (int i = 0; i < 10; ++i) SubmitOne(Spec());
  EXPECT_EQ(channel->assignments.size(), 3u);
  std::vector<WorkerStats> ws = engine().ListWorkers();
  ASSERT_EQ(ws.size(), 1u);
  EXPECT_EQ(ws[0].hello.concurrency, 3) << "the value in force";

  ASSERT_OK(engine().SetConcurrency(welcome.id, 8));
  EXPECT_EQ(channel->assignments.size(), 3u) << "SetConcurrency is capped too";
}

TEST_F(EngineTest, DisconnectReturnsLeasesToAnotherWorker) {
  random_.set_value(0.0);  // The lost attempt's retry is due at once.
  TestWorker w1 = Connect("w1", {"q"}, 2);
  JobId a = SubmitOne(Spec());
  JobId b = SubmitOne(Spec());
  ASSERT_EQ(w1.channel->assignments.size(), 2u);
  TestWorker w2 = Connect("w2", {"q"}, 2);
  EXPECT_TRUE(w2.channel->assignments.empty());

  engine().DisconnectWorker(w1.id);
  EXPECT_EQ(engine().ListWorkers().size(), 1u);
  engine().Tick();
  EXPECT_THAT(w2.channel->AssignedIds(), ::testing::UnorderedElementsAre(a, b));
  for (JobId id : {a, b}) {
    Job j = Get(id);
    EXPECT_EQ(j.state, JobState::kRunning);
    EXPECT_EQ(j.attempts, 2);
    ASSERT_EQ(j.history.size(), 2u);
    EXPECT_EQ(j.history[0].outcome, AttemptOutcome::kLeaseLost);
    EXPECT_EQ(j.history[0].worker, w1.id);
    EXPECT_EQ(j.history[1].worker, w2.id);
  }
  EXPECT_EQ(w1.channel->assignments.size(), 2u) << "nothing more to a gone worker";
  // The gone worker's answer is refused.
  const Assignment old = w1.channel->assignments[0];
  auto late = engine().Complete(w1.id, old.job.id, old.token, "");
  EXPECT_FALSE(late.ok());
  EXPECT_EQ(StateOf(old.job.id), JobState::kRunning);

  engine().DisconnectWorker(WorkerId{999});  // Unknown: ignored.
  engine().DisconnectWorker(w1.id);          // Twice: ignored.
}

TEST_F(EngineTest, ListWorkersShowsLeases) {
  TestWorker w = Connect("lister", {"q"}, 2);
  const absl::Time t = Now();
  JobId id = SubmitOne(Spec());
  std::vector<WorkerStats> ws = engine().ListWorkers();
  ASSERT_EQ(ws.size(), 1u);
  EXPECT_EQ(ws[0].id, w.id);
  EXPECT_EQ(ws[0].hello.name, "lister");
  EXPECT_EQ(ws[0].connected_at, t);
  EXPECT_FALSE(ws[0].draining);
  ASSERT_EQ(ws[0].leases.size(), 1u);
  EXPECT_EQ(ws[0].leases[0].job, id);
  EXPECT_EQ(ws[0].leases[0].token, w.channel->assignments.at(0).token);
  EXPECT_EQ(ws[0].leases[0].attempt, 1);
  EXPECT_EQ(ws[0].leases[0].expires_at, t + kLease);
}

TEST_F(EngineTest, WorkAlternatesBetweenHungryWorkers) {
  TestWorker w1 = Connect("w1", {"q"}, 10);
  TestWorker w2 = Connect("w2", {"q"}, 10);
  for (int i = 0; i < 10; ++i) SubmitOne(Spec());
  // Least recently assigned first: neither worker gets everything.
  EXPECT_EQ(w1.channel->assignments.size(), 5u);
  EXPECT_EQ(w2.channel->assignments.size(), 5u);
}

TEST_F(EngineTest, PrefetchLetsAWorkerHoldMoreThanItsConcurrency) {
  TestWorker w = Connect("w", {"q"}, 2, {}, /*prefetch=*/3);
  for (int i = 0; i < 10; ++i) SubmitOne(Spec());
  EXPECT_EQ(w.channel->assignments.size(), 5u);
  EXPECT_EQ(LeasesOf(w.id), 5u);
  EXPECT_EQ(StatsOf("q").queued, 5);
  EXPECT_EQ(StatsOf("q").worker_slots, 2) << "slots count concurrency only";
  std::vector<WorkerStats> ws = engine().ListWorkers();
  ASSERT_EQ(ws.size(), 1u);
  EXPECT_EQ(ws[0].hello.prefetch, 3);

  // Each answer frees room for one more, filled at once.
  const Assignment a = w.channel->assignments[0];
  ASSERT_OK(engine().Complete(w.id, a.job.id, a.token, ""));
  EXPECT_EQ(w.channel->assignments.size(), 6u);
  EXPECT_EQ(LeasesOf(w.id), 5u);

  // Paused: no prefetch either.
  ASSERT_OK(engine().SetConcurrency(w.id, 0));
  const Assignment b = w.channel->assignments[1];
  ASSERT_OK(engine().Complete(w.id, b.job.id, b.token, ""));
  EXPECT_EQ(w.channel->assignments.size(), 6u);
  EXPECT_EQ(LeasesOf(w.id), 4u);
}

TEST_F(EngineTest, AFreeSlotAnywhereComesBeforeAnyWorkersPrefetch) {
  TestWorker w1 = Connect("w1", {"q"}, 1, {}, /*prefetch=*/4);
  TestWorker w2 = Connect("w2", {"q"}, 3, {}, /*prefetch=*/4);
  // w1 is the least recently assigned, but once its slot is taken the next
  // three go to w2's free slots; only then do the prefetches fill, in turn.
  for (int i = 0; i < 4; ++i) SubmitOne(Spec());
  EXPECT_EQ(w1.channel->assignments.size(), 1u);
  EXPECT_EQ(w2.channel->assignments.size(), 3u);
  for (int i = 0; i < 4; ++i) SubmitOne(Spec());
  EXPECT_EQ(w1.channel->assignments.size(), 3u);
  EXPECT_EQ(w2.channel->assignments.size(), 5u);

  // One job of w2 done: it holds 4 with 3 slots, still no free slot, so the
  // next job goes to the least recently assigned prefetch, w1's.
  const Assignment a = w2.channel->assignments[0];
  ASSERT_OK(engine().Complete(w2.id, a.job.id, a.token, ""));
  EXPECT_EQ(w2.channel->assignments.size(), 5u) << "nothing was queued";
  ASSERT_EQ(LeasesOf(w2.id), 4u);
  SubmitOne(Spec());
  EXPECT_EQ(w1.channel->assignments.size(), 4u);
  // Two more done: w2 has a free slot again and goes first, though it was
  // assigned more recently than w1.
  for (int i = 1; i < 3; ++i) {
    const Assignment b = w2.channel->assignments[i];
    ASSERT_OK(engine().Complete(w2.id, b.job.id, b.token, ""));
  }
  SubmitOne(Spec());
  EXPECT_EQ(w2.channel->assignments.size(), 6u);
  EXPECT_EQ(w1.channel->assignments.size(), 4u);
}

TEST_F(EngineTest, AFinishedJobsPrefetchRoomWaitsForFreeSlotsElsewhere) {
  QueueSettingsUpdate u;
  u.max_running = 2;
  Configure("q", u);
  TestWorker w1 = Connect("w1", {"q"}, 1, {}, /*prefetch=*/3);
  for (int i = 0; i < 3; ++i) SubmitOne(Spec());
  ASSERT_EQ(w1.channel->assignments.size(), 2u) << "its slot and one prefetch; max_running 2";
  TestWorker w2 = Connect("w2", {"q"}, 1);
  ASSERT_TRUE(w2.channel->assignments.empty()) << "max_running";
  // w1's result frees prefetch room only (it still holds its concurrency):
  // the queued job goes to w2's free slot.
  const Assignment a = w1.channel->assignments[0];
  ASSERT_OK(engine().Complete(w1.id, a.job.id, a.token, ""));
  EXPECT_EQ(w2.channel->assignments.size(), 1u);
  EXPECT_EQ(w1.channel->assignments.size(), 2u);
}

TEST_F(EngineTest, ADisconnectedWorkersPrefetchedJobsLoseTheirAttemptToo) {
  random_.set_value(0.0);  // The lost attempts' retries are due at once.
  TestWorker w = Connect("w", {"q"}, 2, {}, /*prefetch=*/3);
  std::vector<JobId> ids;
  for (int i = 0; i < 5; ++i) ids.push_back(SubmitOne(Spec()));
  ASSERT_EQ(w.channel->assignments.size(), 5u);
  // Whether a job had started is the worker's to say (Release): one that
  // could not say is counted as SQS counts a receive.
  engine().DisconnectWorker(w.id);
  TestWorker other = Connect("other", {"q"}, 5);
  engine().Tick();
  EXPECT_EQ(other.channel->assignments.size(), 5u);
  for (JobId id : ids) {
    Job j = Get(id);
    EXPECT_EQ(j.attempts, 2);
    ASSERT_EQ(j.history.size(), 2u);
    EXPECT_EQ(j.history[0].outcome, AttemptOutcome::kLeaseLost);
  }
}

TEST_F(EngineTest, PrefetchIsCappedByMaxWorkerConcurrency) {
  options_.max_worker_concurrency = 3;
  WorkerHello hello;
  hello.name = "greedy";
  hello.queues = {"q"};
  hello.concurrency = 1;
  hello.prefetch = 50;
  auto channel = std::make_shared<RecordingChannel>();
  ASSERT_OK_AND_ASSIGN(WorkerWelcome welcome, engine().ConnectWorker(hello, channel));
  EXPECT_EQ(welcome.concurrency, 1);
  EXPECT_EQ(welcome.prefetch, 3);
  for (int i = 0; i < 10; ++i) SubmitOne(Spec());
  EXPECT_EQ(channel->assignments.size(), 4u);
}

TEST_F(EngineTest, ConnectWorkerRejectsBadHellos) {
  auto channel = std::make_shared<RecordingChannel>();
  WorkerHello hello;
  hello.name = "w";
  hello.queues = {"bad queue"};
  EXPECT_STATUS(engine().ConnectWorker(hello, channel), absl::StatusCode::kInvalidArgument,
                "bad queue");
  hello.queues = {"q"};
  hello.types = {"bad/type"};
  EXPECT_STATUS(engine().ConnectWorker(hello, channel), absl::StatusCode::kInvalidArgument,
                "bad/type");
  hello.types = {};
  hello.concurrency = 0;
  EXPECT_STATUS(engine().ConnectWorker(hello, channel), absl::StatusCode::kInvalidArgument,
                "concurrency");
  hello.concurrency = 1;
  hello.prefetch = -1;
  EXPECT_STATUS(engine().ConnectWorker(hello, channel), absl::StatusCode::kInvalidArgument,
                "hello.prefetch must be 0 or more");
  EXPECT_TRUE(engine().ListWorkers().empty());
}

}  // namespace
}  // namespace conveyor::testing
