// The observer: replaying its calls onto an empty store rebuilds the engine.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

using RK = RecordingObserver::Kind;

TEST_F(EngineTest, ObserverReplayReproducesEveryJob) {
  random_.set_value(0.5);
  QueueSettingsUpdate u;
  u.retention = absl::Minutes(30);
  Configure("q", u);
  TestWorker w1 = Connect("w1", {"q", "r"}, 2);

  std::vector<JobId> ids;
  for (int i = 0; i < 6; ++i) {
    JobSpec s = Spec(i % 2 == 0 ? "q" : "r");
    s.priority = i;
    s.payload = absl::StrCat("payload-", i);
    s.labels = {{"i", absl::StrCat(i)}};
    if (i == 5) s.delay = absl::Seconds(3);
    ids.push_back(SubmitOne(s));
  }
  ExpectReplayMatchesEngine();

  // Complete one, fail one, progress on another, release, cancel.
  ASSERT_GE(w1.channel->assignments.size(), 2u);
  const Assignment a0 = w1.channel->assignments[0];
  const Assignment a1 = w1.channel->assignments[1];
  Progress p;
  p.percent = 10;
  ASSERT_OK(engine().ReportProgress(w1.id, a0.job.id, a0.token, p));
  ASSERT_OK(engine().Complete(w1.id, a0.job.id, a0.token, "result-0"));
  ASSERT_OK(engine().Fail(w1.id, a1.job.id, a1.token, "oops", false));
  ExpectReplayMatchesEngine();
  const Assignment a2 = w1.channel->assignments.at(2);
  ASSERT_OK(engine().Release(w1.id, a2.job.id, a2.token));
  ASSERT_OK(engine().Cancel(ids[4], "cancelled for the test"));
  ExpectReplayMatchesEngine();

  // Time: delayed job, retry, lease expiry, a second worker.
  AdvanceAndTick(absl::Seconds(3));
  TestWorker w2 = Connect("w2", {"q", "r"}, 3);
  ExpectReplayMatchesEngine();
  AdvanceAndTick(kLease);
  AdvanceAndTick(absl::Seconds(5));
  ExpectReplayMatchesEngine();
  engine().DisconnectWorker(w2.id);
  engine().Tick();
  ExpectReplayMatchesEngine();

  // A dead job, redriven; another purged; retention removes ended ones.
  ASSERT_OK(engine().SetConcurrency(w1.id, 0));
  TestWorker w3 = Connect("w3", {"q", "r"}, 10);
  const std::vector<Assignment> given = w3.channel->assignments;  // Fail may assign more.
  for (const Assignment& a : given) {
    auto st = engine().Fail(w3.id, a.job.id, a.token, "fatal", true);
    ASSERT_TRUE(st.ok()) << st.status();
  }
  ExpectReplayMatchesEngine();
  std::vector<Job> dead = engine().ListDead("", JobId{}, 100);
  ASSERT_GE(dead.size(), 1u);
  ASSERT_OK(engine().Redrive(dead[0].queue, {dead[0].id}));
  ExpectReplayMatchesEngine();
  if (dead.size() >= 2) {
    ASSERT_OK(engine().PurgeDead(dead[1].queue, {dead[1].id}));
    ExpectReplayMatchesEngine();
  }
  AdvanceAndTick(absl::Minutes(31));
  ExpectReplayMatchesEngine();
  AdvanceAndTick(absl::Hours(25));
  ExpectReplayMatchesEngine();
  EXPECT_GT(observer_.Count(RK::kDeleted), 0);
}

TEST_F(EngineTest, MutationSeqIsTheLastObservedChange) {
  TestWorker w = Connect();
  ASSERT_OK_AND_ASSIGN(auto sub, engine().Submit({Spec(), Spec()}));
  EXPECT_EQ(sub.seq, observer_.last_seq());
  const Assignment a = w.channel->assignments.at(0);
  ASSERT_OK_AND_ASSIGN(Mutation<JobTransition> c, engine().Complete(w.id, a.job.id, a.token, ""));
  EXPECT_EQ(c.seq, observer_.last_seq()) << "includes the next job's dispatch";
  ASSERT_OK_AND_ASSIGN(Mutation<Job> x, engine().Cancel(sub.value[1].id, "x"));
  EXPECT_EQ(x.seq, observer_.last_seq());
  clock_.Advance(absl::Hours(25));
  const uint64_t tick_seq = engine().Tick();
  EXPECT_EQ(tick_seq, observer_.last_seq());
  EXPECT_GT(observer_.last_seq(), x.seq) << "retention deletes were written";
}

TEST_F(EngineTest, ObserverSeesTheJobAsGetJobDoes) {
  TestWorker w = Connect();
  JobId id = SubmitOne(Spec());
  ASSERT_FALSE(observer_.events().empty());
  // The last change (the dispatch) carries the running attempt.
  const auto& e = observer_.events().back();
  ASSERT_TRUE(e.job.has_value());
  EXPECT_EQ(e.id, id);
  EXPECT_EQ(e.job->state, JobState::kRunning);
  EXPECT_EQ(e.job->last_token, w.channel->assignments.at(0).token);
  // The assignment names that change: the channel waits for it to be durable.
  EXPECT_EQ(w.channel->assignments.at(0).seq, e.seq);
  ASSERT_EQ(e.job->history.size(), 1u);
  EXPECT_EQ(e.job->history[0].outcome, AttemptOutcome::kRunning);
  EXPECT_EQ(observer_.CountFor(RK::kCreated, id), 1);
}

TEST_F(EngineTest, NoObserverIsFine) {
  Engine e(&clock_, &random_, nullptr, options_);
  JobSpec s = Spec();
  std::vector<JobSpec> specs = {s};
  auto r = e.Submit(specs);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(e.GetJob(r->value[0].id).ok());
}

}  // namespace
}  // namespace conveyor::testing
