#ifndef CONVEYOR_TESTS_CHAOS_LEDGER_CHECK_H_
#define CONVEYOR_TESTS_CHAOS_LEDGER_CHECK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "conveyor/v1/job.pb.h"

namespace conveyor::chaos {

// How an acknowledged job must end.
enum class Expect { kSucceeded, kDead };

// One line of the `record` handler's file: the job ran to its end on attempt
// `attempt` (in process `pid`).
struct Record {
  uint64_t job_id = 0;
  int attempt = 0;
  int64_t pid = 0;
};

// Parses "<job id> <attempt> <pid>" lines. A malformed line (say a torn
// write) is returned in `bad_lines`, never skipped silently.
struct Records {
  std::vector<Record> records;
  std::vector<std::string> bad_lines;
};
Records ParseRecords(const std::string& text);

// What the final check found. `failures` lists every problem with its job
// id; the run passed iff it is empty.
struct Verdict {
  int64_t acknowledged = 0;
  int64_t succeeded = 0;
  int64_t dead = 0;
  int64_t records = 0;
  // Jobs recorded more than once, and their extra records, all explained by
  // an earlier attempt whose lease was lost (a kill mid-job).
  int64_t duplicated_jobs = 0;
  int64_t duplicate_records = 0;
  // Jobs that ran more than one attempt.
  int64_t retried_jobs = 0;
  // Jobs in the queue whose submit was never acknowledged (allowed).
  int64_t unacknowledged_jobs = 0;
  std::vector<std::string> failures;
};

// Checks the end state: every acknowledged job is in `jobs` and ended as
// expected (SUCCEEDED; or DEAD with a dead_reason and an error); no job at
// all is SCHEDULED, QUEUED or RUNNING; every success has a record of its
// succeeding attempt; and each other record is of a distinct earlier attempt
// that lost its lease (one attempt recorded twice is a failure: the
// coordinator granted it twice). `jobs` must carry their history.
Verdict CheckLedger(const std::map<uint64_t, Expect>& acknowledged,
                    const std::vector<v1::Job>& jobs, const Records& records);

}  // namespace conveyor::chaos

#endif  // CONVEYOR_TESTS_CHAOS_LEDGER_CHECK_H_
