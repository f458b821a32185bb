// Engine::Report: a worker's batch of results, applied as one operation.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

using RK = RecordingObserver::Kind;

WorkerReport MakeReport(WorkerReport::Kind kind, JobId job, FencingToken token,
                        std::string text = "") {
  WorkerReport r;
  r.kind = kind;
  r.job = job;
  r.token = token;
  r.text = std::move(text);
  return r;
}

TEST_F(EngineTest, ReportAnswersEachResultAndRejectsOnlyTheStaleOnes) {
  TestWorker w = Connect("w", {"q"}, 5);
  std::vector<JobId> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(SubmitOne(Spec()));
  ASSERT_EQ(w.channel->assignments.size(), 5u);
  const std::vector<Assignment> a = w.channel->assignments;
  const int operations_before = observer_.operations();
  const size_t events_before = observer_.events().size();

  using K = WorkerReport::Kind;
  std::vector<WorkerReport> reports;
  reports.push_back(MakeReport(K::kComplete, a[0].job.id, a[0].token, "r0"));
  // A stale token: the lease before this one.
  reports.push_back(
      MakeReport(K::kComplete, a[1].job.id, FencingToken{a[1].token.value - 1}, "stale"));
  reports.push_back(MakeReport(K::kFail, a[2].job.id, a[2].token, "oops"));
  reports.push_back(MakeReport(K::kComplete, JobId{9999}, FencingToken{1}, "unknown"));
  // The same job twice: the second report finds its lease gone.
  reports.push_back(MakeReport(K::kComplete, a[0].job.id, a[0].token, "again"));
  WorkerReport progress = MakeReport(K::kProgress, a[3].job.id, a[3].token, "half");
  progress.percent = 50;
  reports.push_back(progress);
  reports.push_back(MakeReport(K::kRelease, a[4].job.id, a[4].token));
  reports.push_back(MakeReport(K::kComplete, a[1].job.id, a[1].token, "r1"));

  Engine::ReportAnswers out = engine().Report(w.id, reports);
  ASSERT_EQ(out.answers.size(), reports.size());
  ASSERT_OK(out.answers[0]);
  EXPECT_EQ(out.answers[0]->state, JobState::kSucceeded);
  EXPECT_STATUS(out.answers[1], absl::StatusCode::kAborted, "no longer current");
  ASSERT_OK(out.answers[2]);
  EXPECT_EQ(out.answers[2]->state, JobState::kScheduled);  // Retried after backoff.
  EXPECT_EQ(out.answers[2]->attempts, 1);
  EXPECT_STATUS(out.answers[3], absl::StatusCode::kNotFound, "9999");
  EXPECT_STATUS(out.answers[4], absl::StatusCode::kAborted, "no longer current");
  ASSERT_OK(out.answers[5]);
  EXPECT_EQ(out.answers[5]->state, JobState::kRunning);
  ASSERT_OK(out.answers[6]);
  EXPECT_EQ(out.answers[6]->state, JobState::kQueued);  // Before it was dispatched again.
  EXPECT_EQ(out.answers[6]->attempts, 0);  // A release does not count.
  ASSERT_OK(out.answers[7]);
  EXPECT_EQ(out.answers[7]->state, JobState::kSucceeded);

  EXPECT_EQ(Get(a[0].job.id).result, "r0");
  EXPECT_EQ(Get(a[1].job.id).result, "r1");
  EXPECT_EQ(Get(a[2].job.id).error, "oops");
  EXPECT_EQ(Get(a[3].job.id).progress.message, "half");
  EXPECT_EQ(Get(a[3].job.id).state, JobState::kRunning);

  // One operation: every change (the results and the dispatches they
  // caused) in one observer bracket, and the seq covers them all.
  EXPECT_EQ(observer_.operations(), operations_before + 1);
  ASSERT_GT(observer_.events().size(), events_before);
  for (size_t i = events_before; i < observer_.events().size(); ++i) {
    EXPECT_EQ(observer_.events()[i].operation, operations_before + 1) << "event " << i;
  }
  EXPECT_EQ(out.seq, observer_.last_seq());
  // The freed slots were refilled: the sixth job and the released one.
  EXPECT_EQ(StateOf(ids[5]), JobState::kRunning);
  EXPECT_EQ(StateOf(a[4].job.id), JobState::kRunning);
  ExpectReplayMatchesEngine();

  // The worker hears an answer to every result but the progress, in order,
  // each before the assignments of the slot it freed: the released job
  // comes back after its answer. A taken result waits for its own change.
  const std::vector<AnswerCall>& answered = w.channel->answers;
  const std::vector<size_t> answered_reports = {0, 1, 2, 3, 4, 6, 7};
  ASSERT_EQ(answered.size(), answered_reports.size());
  uint64_t last_seq = 0;
  for (size_t i = 0; i < answered.size(); ++i) {
    const size_t r = answered_reports[i];
    EXPECT_EQ(answered[i].job, reports[r].job) << "answer " << i;
    EXPECT_EQ(answered[i].token, reports[r].token) << "answer " << i;
    EXPECT_EQ(answered[i].verdict.code(), out.answers[r].status().code()) << "answer " << i;
    if (answered[i].verdict.ok()) {
      EXPECT_GT(answered[i].seq, last_seq) << "answer " << i;
      EXPECT_LE(answered[i].seq, out.seq) << "answer " << i;
      last_seq = answered[i].seq;
    } else {
      EXPECT_EQ(answered[i].seq, 0u) << "answer " << i;
    }
  }
  std::vector<size_t> assigned_before;
  for (const AnswerCall& c : answered) assigned_before.push_back(c.assignments_before);
  EXPECT_EQ(assigned_before, (std::vector<size_t>{5, 6, 6, 6, 6, 6, 7}));
  ASSERT_EQ(w.channel->assignments.size(), 7u);
  EXPECT_EQ(w.channel->assignments[5].job.id, ids[5]);
  EXPECT_EQ(w.channel->assignments[6].job.id, a[4].job.id);
}

TEST_F(EngineTest, ReportStopsAtTheFirstProtocolError) {
  TestWorker w1 = Connect("w1", {"q"}, 2);
  TestWorker w2 = Connect("w2", {"q"}, 1);
  for (int i = 0; i < 3; ++i) SubmitOne(Spec());
  ASSERT_EQ(w1.channel->assignments.size(), 2u);
  ASSERT_EQ(w2.channel->assignments.size(), 1u);
  const Assignment mine0 = w1.channel->assignments[0];
  const Assignment mine1 = w1.channel->assignments[1];
  const Assignment theirs = w2.channel->assignments[0];

  using K = WorkerReport::Kind;
  std::vector<WorkerReport> reports;
  reports.push_back(MakeReport(K::kComplete, mine0.job.id, mine0.token, "ok"));
  reports.push_back(MakeReport(K::kComplete, theirs.job.id, theirs.token, "not mine"));
  reports.push_back(MakeReport(K::kComplete, mine1.job.id, mine1.token, "never applied"));
  Engine::ReportAnswers out = engine().Report(w1.id, reports);
  ASSERT_EQ(out.answers.size(), 2u) << "the report after the protocol error is not applied";
  ASSERT_OK(out.answers[0]);
  EXPECT_STATUS(out.answers[1], absl::StatusCode::kPermissionDenied, "");
  EXPECT_EQ(StateOf(mine0.job.id), JobState::kSucceeded);
  EXPECT_EQ(StateOf(theirs.job.id), JobState::kRunning);
  EXPECT_EQ(StateOf(mine1.job.id), JobState::kRunning);
  // Only the applied result is answered on the channel: the stream of a
  // broken worker ends instead.
  ASSERT_EQ(w1.channel->answers.size(), 1u);
  EXPECT_EQ(w1.channel->answers[0].job, mine0.job.id);

  // A bad percent is a protocol error too.
  std::vector<WorkerReport> bad;
  WorkerReport percent = MakeReport(K::kProgress, mine1.job.id, mine1.token, "x");
  percent.percent = 101;
  bad.push_back(percent);
  out = engine().Report(w1.id, bad);
  ASSERT_EQ(out.answers.size(), 1u);
  EXPECT_STATUS(out.answers[0], absl::StatusCode::kInvalidArgument, "percent");
  ExpectReplayMatchesEngine();
}

TEST_F(EngineTest, ReportOfOnlyStaleResultsChangesNothing) {
  TestWorker w = Connect();
  JobId id = SubmitOne(Spec());
  const Assignment a = w.channel->assignments.at(0);
  const size_t events_before = observer_.events().size();
  const int operations_before = observer_.operations();
  std::vector<WorkerReport> reports;
  reports.push_back(MakeReport(WorkerReport::Kind::kComplete, id, FencingToken{a.token.value + 1}));
  reports.push_back(MakeReport(WorkerReport::Kind::kFail, JobId{4242}, a.token, "x"));
  Engine::ReportAnswers out = engine().Report(w.id, reports);
  ASSERT_EQ(out.answers.size(), 2u);
  EXPECT_STATUS(out.answers[0], absl::StatusCode::kAborted, "");
  EXPECT_STATUS(out.answers[1], absl::StatusCode::kNotFound, "");
  EXPECT_EQ(observer_.events().size(), events_before);
  EXPECT_EQ(observer_.operations(), operations_before) << "no bracket without a change";
  EXPECT_EQ(StateOf(id), JobState::kRunning);
  EXPECT_EQ(observer_.CountFor(RK::kUpdated, id), 1);  // Its dispatch only.
}

}  // namespace
}  // namespace conveyor::testing
