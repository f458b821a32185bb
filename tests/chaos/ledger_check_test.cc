// The chaos run's verdict: what counts as lost, stuck or an unexplained
// duplicate, on hand-made end states.
#include "tests/chaos/ledger_check.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace conveyor::chaos {
namespace {

using v1::Attempt;
using v1::Job;

Job MakeJob(uint64_t id, v1::JobState state, std::vector<Attempt::Outcome> history) {
  Job job;
  job.set_id(id);
  job.set_state(state);
  job.set_attempts(static_cast<int>(history.size()));
  for (size_t i = 0; i < history.size(); ++i) {
    Attempt* a = job.add_history();
    a->set_number(static_cast<int>(i) + 1);
    a->set_outcome(history[i]);
  }
  return job;
}

bool Mentions(const Verdict& v, const std::string& text) {
  for (const std::string& f : v.failures) {
    if (f.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(LedgerCheckTest, ParsesRecordsAndKeepsMalformedLines) {
  Records r = ParseRecords("1 1 100\n2 3 101\n3 1\n");
  ASSERT_EQ(r.records.size(), 2u);
  EXPECT_EQ(r.records[1].job_id, 2u);
  EXPECT_EQ(r.records[1].attempt, 3);
  EXPECT_EQ(r.records[1].pid, 101);
  EXPECT_EQ(r.bad_lines, std::vector<std::string>{"3 1"});
}

TEST(LedgerCheckTest, CleanRunWithAnExplainedDuplicatePasses) {
  std::vector<Job> jobs = {
      MakeJob(1, v1::JOB_STATE_SUCCEEDED, {Attempt::OUTCOME_SUCCEEDED}),
      MakeJob(2, v1::JOB_STATE_SUCCEEDED,
              {Attempt::OUTCOME_LEASE_LOST, Attempt::OUTCOME_SUCCEEDED}),
      MakeJob(3, v1::JOB_STATE_DEAD, {Attempt::OUTCOME_FAILED}),
  };
  jobs[2].set_dead_reason(v1::DEAD_REASON_PERMANENT_FAILURE);
  jobs[2].set_error("fail-permanent: poison");
  Verdict v = CheckLedger({{1, Expect::kSucceeded}, {2, Expect::kSucceeded}, {3, Expect::kDead}},
                          jobs, ParseRecords("1 1 9\n2 1 9\n2 2 10\n"));
  EXPECT_TRUE(v.failures.empty()) << v.failures.front();
  EXPECT_EQ(v.succeeded, 2);
  EXPECT_EQ(v.dead, 1);
  EXPECT_EQ(v.records, 3);
  EXPECT_EQ(v.duplicated_jobs, 1);
  EXPECT_EQ(v.duplicate_records, 1);
  EXPECT_EQ(v.retried_jobs, 1);
}

TEST(LedgerCheckTest, MissingJobAndMissingRecordAreLosses) {
  std::vector<Job> jobs = {MakeJob(1, v1::JOB_STATE_SUCCEEDED, {Attempt::OUTCOME_SUCCEEDED})};
  Verdict v = CheckLedger({{1, Expect::kSucceeded}, {2, Expect::kSucceeded}}, jobs, Records{});
  EXPECT_TRUE(Mentions(v, "job 2 LOST")) << v.failures.size();
  EXPECT_TRUE(Mentions(v, "job 1 SUCCEEDED on attempt 1 with no record"));
}

TEST(LedgerCheckTest, StuckJobsAndWrongEndsFail) {
  std::vector<Job> jobs = {
      MakeJob(1, v1::JOB_STATE_RUNNING, {Attempt::OUTCOME_RUNNING}),
      MakeJob(2, v1::JOB_STATE_DEAD, {Attempt::OUTCOME_LEASE_LOST}),
      MakeJob(3, v1::JOB_STATE_DEAD, {Attempt::OUTCOME_FAILED}),
      MakeJob(4, v1::JOB_STATE_QUEUED, {}),
  };
  Verdict v = CheckLedger({{1, Expect::kSucceeded}, {2, Expect::kSucceeded}, {3, Expect::kDead}},
                          jobs, Records{});
  EXPECT_TRUE(Mentions(v, "job 1 stuck JOB_STATE_RUNNING"));
  EXPECT_TRUE(Mentions(v, "job 4 stuck JOB_STATE_QUEUED"));
  EXPECT_TRUE(Mentions(v, "job 2 ended JOB_STATE_DEAD, want SUCCEEDED"));
  EXPECT_TRUE(Mentions(v, "poisoned job 3 DEAD without a reason"));
  EXPECT_EQ(v.unacknowledged_jobs, 1);
}

TEST(LedgerCheckTest, UnexplainedDuplicatesFail) {
  std::vector<Job> jobs = {
      MakeJob(1, v1::JOB_STATE_SUCCEEDED, {Attempt::OUTCOME_SUCCEEDED}),
      MakeJob(2, v1::JOB_STATE_SUCCEEDED,
              {Attempt::OUTCOME_FAILED, Attempt::OUTCOME_SUCCEEDED}),
  };
  Verdict v = CheckLedger({{1, Expect::kSucceeded}, {2, Expect::kSucceeded}}, jobs,
                          ParseRecords("1 1 9\n2 1 9\n2 2 9\n3 1 9\n"));
  EXPECT_TRUE(Mentions(v, "job 2 recorded on attempt 1 which ended OUTCOME_FAILED"));
  EXPECT_TRUE(Mentions(v, "records of job 3, which is not in the queue"));
}

TEST(LedgerCheckTest, SameAttemptRecordedTwiceFails) {
  std::vector<Job> jobs = {MakeJob(1, v1::JOB_STATE_SUCCEEDED, {Attempt::OUTCOME_SUCCEEDED}),
                           MakeJob(2, v1::JOB_STATE_SUCCEEDED, {Attempt::OUTCOME_SUCCEEDED})};
  Verdict v = CheckLedger({{1, Expect::kSucceeded}, {2, Expect::kSucceeded}}, jobs,
                          ParseRecords("1 1 9\n1 1 10\n2 1 9\n2 1 9\n"));
  EXPECT_EQ(v.failures, (std::vector<std::string>{
                            "job 1 attempt 1 recorded by pids 9 and 10: one attempt granted twice",
                            "job 2 attempt 1 recorded by pids 9 and 9: one attempt granted twice"}));
  EXPECT_EQ(v.duplicate_records, 2);
}

}  // namespace
}  // namespace conveyor::chaos
