#include "tests/chaos/ledger_check.h"

#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace conveyor::chaos {
namespace {

using v1::Attempt;
using v1::Job;
using v1::JobState;

const Attempt* FindAttempt(const Job& job, int number) {
  for (const Attempt& a : job.history()) {
    if (a.number() == number) return &a;
  }
  return nullptr;
}

}  // namespace

Records ParseRecords(const std::string& text) {
  Records out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> fields = absl::StrSplit(line, ' ');
    Record r;
    if (fields.size() != 3 || !absl::SimpleAtoi(fields[0], &r.job_id) ||
        !absl::SimpleAtoi(fields[1], &r.attempt) || !absl::SimpleAtoi(fields[2], &r.pid)) {
      out.bad_lines.emplace_back(line);
      continue;
    }
    out.records.push_back(r);
  }
  return out;
}

Verdict CheckLedger(const std::map<uint64_t, Expect>& acknowledged,
                    const std::vector<Job>& jobs, const Records& records) {
  Verdict v;
  v.acknowledged = static_cast<int64_t>(acknowledged.size());
  v.records = static_cast<int64_t>(records.records.size());
  for (const std::string& line : records.bad_lines) {
    v.failures.push_back(absl::StrCat("malformed record line \"", line, "\""));
  }
  std::map<uint64_t, const Job*> by_id;
  for (const Job& job : jobs) {
    by_id[job.id()] = &job;
    if (job.state() == v1::JOB_STATE_SCHEDULED || job.state() == v1::JOB_STATE_QUEUED ||
        job.state() == v1::JOB_STATE_RUNNING) {
      v.failures.push_back(absl::StrCat("job ", job.id(), " stuck ", JobState_Name(job.state()),
                                        " after ", job.attempts(), " attempts"));
    }
    if (!acknowledged.count(job.id())) ++v.unacknowledged_jobs;
    if (job.attempts() > 1) ++v.retried_jobs;
  }
  std::map<uint64_t, std::vector<const Record*>> attempts_recorded;
  for (const Record& r : records.records) attempts_recorded[r.job_id].push_back(&r);

  for (const auto& [id, expect] : acknowledged) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      v.failures.push_back(absl::StrCat("job ", id, " LOST: acknowledged, not in the queue"));
      continue;
    }
    const Job& job = *it->second;
    const std::vector<const Record*>& recorded = attempts_recorded[id];
    if (expect == Expect::kDead) {
      if (job.state() != v1::JOB_STATE_DEAD) {
        v.failures.push_back(absl::StrCat("poisoned job ", id, " ended ",
                                          JobState_Name(job.state()), ", want DEAD"));
      } else if (job.dead_reason() == v1::DEAD_REASON_UNSPECIFIED || job.error().empty()) {
        v.failures.push_back(absl::StrCat("poisoned job ", id, " DEAD without a reason (",
                                          v1::DeadReason_Name(job.dead_reason()), ", error \"",
                                          job.error(), "\")"));
      } else {
        ++v.dead;
      }
      if (!recorded.empty()) {
        v.failures.push_back(absl::StrCat("poisoned job ", id, " has ", recorded.size(),
                                          " records; it never runs the record handler"));
      }
      continue;
    }
    if (job.state() != v1::JOB_STATE_SUCCEEDED) {
      v.failures.push_back(absl::StrCat("job ", id, " ended ", JobState_Name(job.state()),
                                        ", want SUCCEEDED (attempts ", job.attempts(),
                                        ", error \"", job.error(), "\")"));
      continue;
    }
    ++v.succeeded;
    int succeeded_attempt = 0;
    for (const Attempt& a : job.history()) {
      if (a.outcome() != Attempt::OUTCOME_SUCCEEDED) continue;
      if (succeeded_attempt != 0) {
        v.failures.push_back(absl::StrCat("job ", id, " has two succeeded attempts"));
      }
      succeeded_attempt = a.number();
    }
    std::map<int, int64_t> seen;  // attempt -> pid of its first record
    bool recorded_success = false;
    for (const Record* r : recorded) {
      const int attempt = r->attempt;
      if (auto [it, fresh] = seen.emplace(attempt, r->pid); !fresh) {
        v.failures.push_back(absl::StrCat("job ", id, " attempt ", attempt, " recorded by pids ",
                                          it->second, " and ", r->pid,
                                          ": one attempt granted twice"));
        continue;
      }
      if (attempt == succeeded_attempt) {
        recorded_success = true;
        continue;
      }
      const Attempt* a = FindAttempt(job, attempt);
      if (a == nullptr || a->outcome() != Attempt::OUTCOME_LEASE_LOST) {
        v.failures.push_back(absl::StrCat(
            "job ", id, " recorded on attempt ", attempt, " which ",
            a == nullptr ? "is not in its history"
                         : absl::StrCat("ended ", Attempt::Outcome_Name(a->outcome()),
                                        ", not LEASE_LOST (unexplained duplicate)")));
      }
    }
    if (!recorded_success) {
      v.failures.push_back(absl::StrCat("job ", id, " SUCCEEDED on attempt ", succeeded_attempt,
                                        " with no record of it (LOST run)"));
    }
    if (recorded.size() > 1) {
      ++v.duplicated_jobs;
      v.duplicate_records += static_cast<int64_t>(recorded.size()) - 1;
    }
  }
  for (const auto& [id, recorded] : attempts_recorded) {
    if (!by_id.count(id)) {
      v.failures.push_back(absl::StrCat("records of job ", id, ", which is not in the queue"));
    }
  }
  return v;
}

}  // namespace conveyor::chaos
