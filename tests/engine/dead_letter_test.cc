// The dead-letter queue (list, redrive, purge) and retention of ended jobs.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

using ::testing::ElementsAre;

class DeadLetterTest : public EngineTest {
 protected:
  // Submits a job to `queue` and kills it with a permanent failure.
  JobId MakeDead(const std::string& queue) {
    TestWorker w = Connect("killer", {queue}, 1);
    JobId id = SubmitOne(Spec(queue));
    std::optional<Assignment> a = w.channel->Find(id);
    if (!a) {
      ADD_FAILURE() << "job " << id << " was not dispatched";
      return id;
    }
    auto r = engine().Fail(w.id, id, a->token, "poison", true);
    if (!r.ok()) ADD_FAILURE() << r.status();
    engine().DisconnectWorker(w.id);
    return id;
  }
  static std::vector<JobId> Ids(const std::vector<Job>& jobs) {
    std::vector<JobId> ids;
    for (const Job& j : jobs) ids.push_back(j.id);
    return ids;
  }
};

TEST_F(DeadLetterTest, ListDeadByQueueAndId) {
  JobId a1 = MakeDead("a");
  JobId b1 = MakeDead("b");
  JobId a2 = MakeDead("a");
  EXPECT_THAT(Ids(engine().ListDead("a", JobId{}, 10)), ElementsAre(a1, a2));
  EXPECT_THAT(Ids(engine().ListDead("", JobId{}, 10)), ElementsAre(a1, b1, a2));
  EXPECT_THAT(Ids(engine().ListDead("", a1, 1)), ElementsAre(b1));
}

TEST_F(DeadLetterTest, RedriveOneJob) {
  JobId id = MakeDead("q");
  JobId other = MakeDead("q");
  ASSERT_OK_AND_ASSIGN(Mutation<int64_t> m, engine().Redrive("q", {id}));
  EXPECT_EQ(m.value, 1);
  EXPECT_EQ(m.seq, observer_.last_seq());
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kQueued);
  EXPECT_EQ(j.attempts, 0);
  EXPECT_EQ(StateOf(other), JobState::kDead);

  TestWorker w = Connect();
  ASSERT_EQ(w.channel->assignments.size(), 1u);
  EXPECT_EQ(w.channel->assignments[0].job.id, id);
  EXPECT_EQ(w.channel->assignments[0].attempt, 1);
  EXPECT_GT(w.channel->assignments[0].token, j.last_token) << "a new lease, a new token";
  ASSERT_OK(engine().Complete(w.id, id, w.channel->assignments[0].token, "fixed"));
  EXPECT_EQ(StateOf(id), JobState::kSucceeded);
}

TEST_F(DeadLetterTest, RedriveWholeQueue) {
  JobId a1 = MakeDead("a");
  JobId a2 = MakeDead("a");
  JobId b1 = MakeDead("b");
  ASSERT_OK_AND_ASSIGN(Mutation<int64_t> m, engine().Redrive("a", {}));
  EXPECT_EQ(m.value, 2);
  EXPECT_EQ(StateOf(a1), JobState::kQueued);
  EXPECT_EQ(StateOf(a2), JobState::kQueued);
  EXPECT_EQ(StateOf(b1), JobState::kDead);
  EXPECT_EQ(StatsOf("a").dead, 0);
  EXPECT_EQ(StatsOf("a").queued, 2);
  ASSERT_OK_AND_ASSIGN(Mutation<int64_t> none, engine().Redrive("a", {}));
  EXPECT_EQ(none.value, 0);
}

TEST_F(DeadLetterTest, RedriveOfANonDeadJobChangesNothing) {
  JobId dead = MakeDead("q");
  JobId queued = SubmitOne(Spec());
  const uint64_t seq = observer_.last_seq();
  EXPECT_STATUS(engine().Redrive("q", {dead, queued}), absl::StatusCode::kFailedPrecondition,
                std::to_string(queued.value));
  EXPECT_EQ(StateOf(dead), JobState::kDead) << "all or nothing";
  EXPECT_EQ(observer_.last_seq(), seq);
  EXPECT_STATUS(engine().Redrive("other", {dead}), absl::StatusCode::kFailedPrecondition, "");
  EXPECT_STATUS(engine().Redrive("q", {JobId{31337}}), absl::StatusCode::kNotFound, "31337");
  EXPECT_EQ(StateOf(dead), JobState::kDead);
}

TEST_F(DeadLetterTest, PurgeDeletesDeadJobs) {
  JobId a1 = MakeDead("a");
  JobId a2 = MakeDead("a");
  JobId b1 = MakeDead("b");
  JobId live = SubmitOne(Spec("a"));
  EXPECT_STATUS(engine().PurgeDead("a", {live}), absl::StatusCode::kFailedPrecondition, "");

  ASSERT_OK_AND_ASSIGN(Mutation<int64_t> one, engine().PurgeDead("a", {a1}));
  EXPECT_EQ(one.value, 1);
  EXPECT_STATUS(engine().GetJob(a1), absl::StatusCode::kNotFound, "");
  EXPECT_EQ(observer_.CountFor(RecordingObserver::Kind::kDeleted, a1), 1);

  ASSERT_OK_AND_ASSIGN(Mutation<int64_t> all, engine().PurgeDead("a", {}));
  EXPECT_EQ(all.value, 1);
  EXPECT_STATUS(engine().GetJob(a2), absl::StatusCode::kNotFound, "");
  EXPECT_EQ(StateOf(b1), JobState::kDead);
  EXPECT_EQ(StateOf(live), JobState::kQueued);
  EXPECT_EQ(StatsOf("a").dead, 0);
  EXPECT_STATUS(engine().PurgeDead("a", {a1}), absl::StatusCode::kNotFound, "");
}

TEST_F(EngineTest, RetentionRemovesEndedJobsAndFreesTheKey) {
  QueueSettingsUpdate u;
  u.retention = absl::Hours(1);
  Configure("q", u);
  TestWorker w = Connect();
  JobSpec spec = Spec();
  spec.idempotency_key = "once";
  JobId id = SubmitOne(spec);
  clock_.Advance(absl::Seconds(3));
  const absl::Time done = Now();
  ASSERT_OK(engine().Complete(w.id, id, w.channel->assignments.at(0).token, "r"));
  EXPECT_EQ(Get(id).expires_at, done + absl::Hours(1));
  EXPECT_EQ(engine().NextWakeup(), done + absl::Hours(1));

  AdvanceAndTick(absl::Hours(1) - absl::Milliseconds(1));
  EXPECT_EQ(StateOf(id), JobState::kSucceeded);
  ASSERT_OK_AND_ASSIGN(auto dup, engine().Submit({spec}));
  EXPECT_TRUE(dup.value[0].duplicate);

  AdvanceAndTick(absl::Milliseconds(1));
  EXPECT_STATUS(engine().GetJob(id), absl::StatusCode::kNotFound, "");
  EXPECT_EQ(observer_.CountFor(RecordingObserver::Kind::kDeleted, id), 1);
  EXPECT_EQ(StatsOf("q").succeeded, 0);
  EXPECT_EQ(engine().NextWakeup(), absl::InfiniteFuture());

  ASSERT_OK_AND_ASSIGN(auto fresh, engine().Submit({spec}));
  EXPECT_FALSE(fresh.value[0].duplicate) << "the key is free once the job is gone";
  EXPECT_GT(fresh.value[0].id, id);
}

TEST_F(EngineTest, RetentionAppliesToDeadAndCancelledJobs) {
  QueueSettingsUpdate u;
  u.retention = absl::Minutes(10);
  Configure("q", u);
  JobId cancelled = SubmitOne(Spec());
  ASSERT_OK(engine().Cancel(cancelled, "x"));
  TestWorker w = Connect();
  JobId dead = SubmitOne(Spec());
  ASSERT_OK(engine().Fail(w.id, dead, w.channel->assignments.at(0).token, "e", true));
  EXPECT_EQ(engine().ListDead("q", JobId{}, 10).size(), 1u);
  AdvanceAndTick(absl::Minutes(10));
  EXPECT_STATUS(engine().GetJob(cancelled), absl::StatusCode::kNotFound, "");
  EXPECT_STATUS(engine().GetJob(dead), absl::StatusCode::kNotFound, "");
  EXPECT_TRUE(engine().ListDead("q", JobId{}, 10).empty());
}

TEST_F(EngineTest, UnendedJobsAreNeverRemovedByRetention) {
  QueueSettingsUpdate u;
  u.retention = absl::Seconds(1);
  Configure("q", u);
  JobId id = SubmitOne(Spec());
  AdvanceAndTick(absl::Hours(48));
  EXPECT_EQ(StateOf(id), JobState::kQueued);
}

}  // namespace
}  // namespace conveyor::testing
