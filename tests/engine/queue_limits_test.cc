// Idempotency keys and per-queue limits: depth, running, rate, pause.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

using RK = RecordingObserver::Kind;

TEST_F(EngineTest, SameIdempotencyKeyReturnsTheSameJob) {
  JobSpec spec = Spec();
  spec.idempotency_key = "order-42";
  ASSERT_OK_AND_ASSIGN(auto first, engine().Submit({spec}));
  ASSERT_EQ(first.value.size(), 1u);
  EXPECT_FALSE(first.value[0].duplicate);
  const int created = observer_.Count(RK::kCreated);

  spec.payload = "different payload";
  ASSERT_OK_AND_ASSIGN(auto again, engine().Submit({spec}));
  ASSERT_EQ(again.value.size(), 1u);
  EXPECT_TRUE(again.value[0].duplicate);
  EXPECT_EQ(again.value[0].id, first.value[0].id);
  EXPECT_EQ(observer_.Count(RK::kCreated), created) << "no second job";
  EXPECT_EQ(Get(first.value[0].id).payload, "payload");
  EXPECT_EQ(StatsOf("q").queued, 1);

  // Another queue, same key: a different job.
  JobSpec other = Spec("q2");
  other.idempotency_key = "order-42";
  ASSERT_OK_AND_ASSIGN(auto in_q2, engine().Submit({other}));
  EXPECT_FALSE(in_q2.value[0].duplicate);
  EXPECT_NE(in_q2.value[0].id, first.value[0].id);
}

TEST_F(EngineTest, IdempotencyKeyHoldsAfterTheJobEnded) {
  TestWorker w = Connect();
  JobSpec spec = Spec();
  spec.idempotency_key = "k";
  JobId id = SubmitOne(spec);
  ASSERT_OK(engine().Complete(w.id, id, w.channel->assignments.at(0).token, "r"));
  ASSERT_OK_AND_ASSIGN(auto again, engine().Submit({spec}));
  EXPECT_TRUE(again.value[0].duplicate);
  EXPECT_EQ(again.value[0].id, id);
  EXPECT_EQ(w.channel->assignments.size(), 1u) << "nothing new to run";
}

TEST_F(EngineTest, IdempotencyKeyWithinOneBatch) {
  JobSpec a = Spec();
  a.idempotency_key = "same";
  JobSpec b = Spec();
  JobSpec c = Spec();
  c.idempotency_key = "same";
  ASSERT_OK_AND_ASSIGN(auto r, engine().Submit({a, b, c}));
  ASSERT_EQ(r.value.size(), 3u);
  EXPECT_FALSE(r.value[0].duplicate);
  EXPECT_FALSE(r.value[1].duplicate);
  EXPECT_TRUE(r.value[2].duplicate);
  EXPECT_EQ(r.value[2].id, r.value[0].id);
  EXPECT_EQ(observer_.Count(RK::kCreated), 2);
  EXPECT_EQ(StatsOf("q").queued, 2);
}

TEST_F(EngineTest, MaxDepthRejectsTheWholeBatch) {
  QueueSettingsUpdate u;
  u.max_depth = 3;
  Configure("q", u);
  SubmitOne(Spec());
  SubmitOne(Spec());
  const uint64_t seq = observer_.last_seq();
  auto r = engine().Submit({Spec(), Spec()});
  EXPECT_STATUS(r, absl::StatusCode::kResourceExhausted, "q");
  EXPECT_EQ(observer_.last_seq(), seq) << "nothing submitted";
  EXPECT_EQ(StatsOf("q").queued, 2);
  JobFilter all;
  EXPECT_EQ(engine().ListJobs(all).size(), 2u);

  // A batch spanning two queues: the full one rejects it all.
  auto mixed = engine().Submit({Spec("other"), Spec(), Spec()});
  EXPECT_STATUS(mixed, absl::StatusCode::kResourceExhausted, "");
  EXPECT_EQ(engine().ListJobs(all).size(), 2u);
  EXPECT_EQ(StatsOf("other").queued, 0);

  SubmitOne(Spec());  // The third fits.
  EXPECT_STATUS(engine().Submit({Spec()}), absl::StatusCode::kResourceExhausted, "");
}

TEST_F(EngineTest, MaxDepthCountsUnendedJobsOnly) {
  QueueSettingsUpdate u;
  u.max_depth = 2;
  Configure("q", u);
  TestWorker w = Connect();
  JobId running = SubmitOne(Spec());  // RUNNING
  JobSpec delayed = Spec();
  delayed.delay = absl::Seconds(100);
  SubmitOne(delayed);  // SCHEDULED
  EXPECT_STATUS(engine().Submit({Spec()}), absl::StatusCode::kResourceExhausted, "");
  ASSERT_OK(engine().Complete(w.id, running, w.channel->assignments.at(0).token, ""));
  EXPECT_OK(engine().Submit({Spec()}));  // A succeeded job no longer counts.
}

TEST_F(EngineTest, MaxQueueDepthIsTheDefaultForQueuesWithoutTheirOwn) {
  options_.max_queue_depth = 2;
  // A new queue: a batch bigger than the limit is refused and creates nothing.
  EXPECT_STATUS(engine().Submit({Spec("fresh"), Spec("fresh"), Spec("fresh")}),
                absl::StatusCode::kResourceExhausted, "--max-queue-depth");
  EXPECT_EQ(observer_.last_seq(), 0u) << "nothing submitted";
  EXPECT_STATUS(engine().GetQueue("fresh"), absl::StatusCode::kNotFound, "");

  SubmitOne(Spec());
  SubmitOne(Spec());
  const uint64_t seq = observer_.last_seq();
  EXPECT_STATUS(engine().Submit({Spec()}), absl::StatusCode::kResourceExhausted,
                "holds 2 unfinished jobs");
  EXPECT_EQ(observer_.last_seq(), seq);
  EXPECT_EQ(StatsOf("q").queued, 2);

  // The queue's own max_depth wins, above the default too.
  QueueSettingsUpdate u;
  u.max_depth = 3;
  Configure("q", u);
  SubmitOne(Spec());
  EXPECT_STATUS(engine().Submit({Spec()}), absl::StatusCode::kResourceExhausted,
                "queue-settings --max-depth");
}

TEST_F(EngineTest, MaxQueuesCountsQueuesMadeByUpdateQueue) {
  options_.max_queues = 1;
  SubmitOne(Spec("q1"));
  QueueSettingsUpdate u;
  u.paused = true;
  EXPECT_STATUS(engine().UpdateQueue("q2", u), absl::StatusCode::kResourceExhausted,
                "--max-queues");
  EXPECT_STATUS(engine().GetQueue("q2"), absl::StatusCode::kNotFound, "");
  EXPECT_OK(engine().UpdateQueue("q1", u));  // An existing queue still takes settings.
}

TEST_F(EngineTest, MaxRunningAcrossWorkers) {
  QueueSettingsUpdate u;
  u.max_running = 2;
  Configure("q", u);
  TestWorker w1 = Connect("w1", {"q"}, 5);
  TestWorker w2 = Connect("w2", {"q"}, 5);
  TestWorker w3 = Connect("w3", {"q"}, 5);
  for (int i = 0; i < 6; ++i) SubmitOne(Spec());
  EXPECT_EQ(engine().RunningCount(), 2u);
  EXPECT_EQ(StatsOf("q").running, 2);
  EXPECT_EQ(StatsOf("q").queued, 4);

  // Finishing one lets exactly one more start.
  TestWorker* holder = nullptr;
  for (TestWorker* w : {&w1, &w2, &w3}) {
    if (!w->channel->assignments.empty()) holder = w;
  }
  ASSERT_NE(holder, nullptr);
  const Assignment a = holder->channel->assignments[0];
  ASSERT_OK(engine().Complete(holder->id, a.job.id, a.token, ""));
  EXPECT_EQ(engine().RunningCount(), 2u);
  EXPECT_EQ(StatsOf("q").queued, 3);

  // Raising the limit dispatches at once.
  u.max_running = 4;
  Configure("q", u);
  EXPECT_EQ(engine().RunningCount(), 4u);
}

TEST_F(EngineTest, MaxRunningIsPerQueue) {
  QueueSettingsUpdate u;
  u.max_running = 1;
  Configure("a", u);
  TestWorker w = Connect("w", {"a", "b"}, 10);
  for (int i = 0; i < 3; ++i) {
    SubmitOne(Spec("a"));
    SubmitOne(Spec("b"));
  }
  EXPECT_EQ(StatsOf("a").running, 1);
  EXPECT_EQ(StatsOf("b").running, 3);
}

TEST_F(EngineTest, RateLimitDispatchesTwoPerSecond) {
  QueueSettingsUpdate u;
  u.rate_limit = 2.0;
  Configure("q", u);
  TestWorker w = Connect("w", {"q"}, 100);
  for (int i = 0; i < 20; ++i) SubmitOne(Spec());
  const absl::Time t0 = Now();
  EXPECT_EQ(w.channel->assignments.size(), 2u) << "a burst of one second's worth";
  EXPECT_GT(engine().NextWakeup(), t0);
  // The next token is due at t0 + 500ms (the engine may round up a little).
  EXPECT_GE(engine().NextWakeup(), t0 + absl::Milliseconds(500));
  EXPECT_LE(engine().NextWakeup(), t0 + absl::Milliseconds(501)) << "wake for the next token";

  for (int quarter = 1; quarter <= 16; ++quarter) {
    AdvanceAndTick(absl::Milliseconds(250));
    if (quarter % 4 == 0) {
      const int seconds = quarter / 4;
      EXPECT_EQ(w.channel->assignments.size(), static_cast<size_t>(2 + 2 * seconds))
          << "after " << seconds << "s";
    }
    EXPECT_LE(w.channel->assignments.size(), static_cast<size_t>(2 + quarter / 2 + 1));
  }
}

TEST_F(EngineTest, RateLimitRefillIsWokenByNextWakeup) {
  QueueSettingsUpdate u;
  u.rate_limit = 1.0;
  Configure("q", u);
  TestWorker w = Connect("w", {"q"}, 100);
  for (int i = 0; i < 5; ++i) SubmitOne(Spec());
  ASSERT_EQ(w.channel->assignments.size(), 1u);
  // A ticker that only wakes at NextWakeup() must still drain the queue.
  for (int i = 0; i < 10 && w.channel->assignments.size() < 5; ++i) {
    const absl::Time next = engine().NextWakeup();
    ASSERT_NE(next, absl::InfiniteFuture()) << "jobs wait for tokens but no wakeup is set";
    ASSERT_GT(next, Now());
    clock_.Advance(next - Now());
    engine().Tick();
  }
  EXPECT_EQ(w.channel->assignments.size(), 5u);
  EXPECT_EQ(Now(), clock_.Now());
}

TEST_F(EngineTest, PausedQueueAcceptsButDoesNotDispatch) {
  QueueSettingsUpdate pause;
  pause.paused = true;
  Configure("q", pause);
  TestWorker w = Connect("w", {"q"}, 5);
  JobId id = SubmitOne(Spec());
  AdvanceAndTick(absl::Seconds(10));
  EXPECT_EQ(StateOf(id), JobState::kQueued);
  EXPECT_TRUE(w.channel->assignments.empty());
  EXPECT_TRUE(StatsOf("q").settings.paused);
  EXPECT_EQ(StatsOf("q").oldest_queued_age, absl::Seconds(10));

  QueueSettingsUpdate resume;
  resume.paused = false;
  Configure("q", resume);
  EXPECT_EQ(StateOf(id), JobState::kRunning) << "resume dispatches at once";
  EXPECT_EQ(w.channel->assignments.size(), 1u);
  EXPECT_EQ(StatsOf("q").oldest_queued_age, absl::ZeroDuration());
}

TEST_F(EngineTest, PausingKeepsRunningJobsRunning) {
  TestWorker w = Connect("w", {"q"}, 1);
  JobId running = SubmitOne(Spec());
  JobId waiting = SubmitOne(Spec());
  QueueSettingsUpdate pause;
  pause.paused = true;
  Configure("q", pause);
  ASSERT_OK(engine().Complete(w.id, running, w.channel->assignments.at(0).token, ""));
  EXPECT_EQ(StateOf(waiting), JobState::kQueued) << "paused: the free slot stays free";
  EXPECT_EQ(w.channel->assignments.size(), 1u);
}

TEST_F(EngineTest, UpdateQueueReportsSettingsAndObserverHearsIt) {
  EXPECT_STATUS(engine().GetQueue("nope"), absl::StatusCode::kNotFound, "nope");
  QueueSettingsUpdate u;
  u.max_attempts = 7;
  u.lease_duration = absl::Seconds(12);
  ASSERT_OK_AND_ASSIGN(Mutation<QueueStats> m, engine().UpdateQueue("cfg", u));
  EXPECT_EQ(m.value.settings.max_attempts, 7);
  EXPECT_EQ(m.value.settings.lease_duration, absl::Seconds(12));
  EXPECT_EQ(m.seq, observer_.last_seq());
  ASSERT_EQ(observer_.queues().count("cfg"), 1u);
  EXPECT_EQ(observer_.queues().at("cfg"), m.value.settings);
  ASSERT_OK_AND_ASSIGN(QueueStats q, engine().GetQueue("cfg"));
  EXPECT_EQ(q.settings, m.value.settings);

  // The queue's lease duration applies to assignments and the welcome.
  TestWorker w = Connect("w", {"cfg"});
  const absl::Time t = Now();
  SubmitOne(Spec("cfg"));
  ASSERT_EQ(w.channel->assignments.size(), 1u);
  EXPECT_EQ(w.channel->assignments[0].lease_expires_at, t + absl::Seconds(12));
  EXPECT_EQ(w.channel->assignments[0].job.max_attempts, 7);

  u = QueueSettingsUpdate{};
  u.max_attempts = 0;
  EXPECT_STATUS(engine().UpdateQueue("cfg", u), absl::StatusCode::kInvalidArgument, "max_attempts");
  EXPECT_STATUS(engine().UpdateQueue("bad name", QueueSettingsUpdate{}),
                absl::StatusCode::kInvalidArgument, "bad name");
}

TEST_F(EngineTest, ListQueuesCountsByState) {
  TestWorker w = Connect("w", {"q"}, 1);
  JobId run = SubmitOne(Spec());
  SubmitOne(Spec());
  JobSpec later = Spec();
  later.delay = absl::Seconds(5);
  SubmitOne(later);
  JobId cancel = SubmitOne(Spec());
  ASSERT_OK(engine().Cancel(cancel, "no"));
  ASSERT_OK(engine().Complete(w.id, run, w.channel->assignments.at(0).token, ""));
  // The second job is now running; fail it permanently.
  const Assignment a = w.channel->assignments.at(1);
  ASSERT_OK(engine().Fail(w.id, a.job.id, a.token, "bad", true));

  QueueStats q = StatsOf("q");
  EXPECT_EQ(q.name, "q");
  EXPECT_EQ(q.scheduled, 1);
  EXPECT_EQ(q.queued, 0);
  EXPECT_EQ(q.running, 0);
  EXPECT_EQ(q.succeeded, 1);
  EXPECT_EQ(q.dead, 1);
  EXPECT_EQ(q.cancelled, 1);
}

}  // namespace
}  // namespace conveyor::testing
