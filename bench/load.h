#ifndef CONVEYOR_BENCH_LOAD_H_
#define CONVEYOR_BENCH_LOAD_H_

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conveyor/v1/admin_service.grpc.pb.h"
#include "conveyor/v1/job_service.grpc.pb.h"

namespace conveyor::bench {

// The benchmark's job: type "echo" on `queue` with a `payload_bytes` payload.
v1::JobSpec MakeSpec(const std::string& queue, int payload_bytes);

// What a submit phase did.
struct SubmitOutcome {
  // Ids of the accepted jobs, ascending.
  std::vector<uint64_t> ids;
  absl::Time started;
  absl::Duration elapsed;
  double rate() const { return ids.size() / absl::ToDoubleSeconds(elapsed); }
};

// Submits `count` copies of `spec` with callback-API Submit calls of `batch`
// jobs each, keeping `inflight` calls outstanding, spread round robin over
// `stubs` (one connection each). `batch` 1 with `inflight` 64 is "64
// concurrent callers, one job per call". Fails on the first failed call.
absl::StatusOr<SubmitOutcome> SubmitJobs(const std::vector<v1::JobService::Stub*>& stubs,
                                         const v1::JobSpec& spec, int64_t count, int batch,
                                         int inflight);

// Polls the queue's counters until `before_terminal` + `count` of its jobs
// ended (succeeded, dead or cancelled); returns when that was seen. Fails if
// nothing ends for `stall_timeout`.
absl::StatusOr<absl::Time> WaitForEnded(v1::AdminService::Stub& admin, const std::string& queue,
                                        int64_t before_terminal, int64_t count,
                                        absl::Duration stall_timeout = absl::Seconds(60));
// succeeded + dead + cancelled.
int64_t Terminal(const v1::QueueInfo& info);

// How the jobs of one phase ended.
struct Verification {
  int64_t expected = 0;
  int64_t succeeded = 0;
  // Succeeded after more than one attempt (no crash happened in a run, so
  // each is a job run twice).
  int64_t duplicates = 0;
  // Expected but not succeeded.
  int64_t lost = 0;
  // Succeeded jobs per worker name (of the successful attempt).
  std::map<std::string, int64_t> per_worker;
};

// Lists the queue's SUCCEEDED jobs (paging from the smallest of `ids`) and
// checks each of `ids` (ascending) is there exactly once with one attempt.
// `visit`, when set, sees each of those jobs once, with its result.
absl::StatusOr<Verification> VerifyJobs(
    v1::JobService::Stub& jobs, const std::string& queue, const std::vector<uint64_t>& ids,
    const std::function<void(const v1::Job&)>& visit = nullptr);

// Max/min of the per-worker counts, over `workers` workers (those absent
// count 0, giving infinity).
double Fairness(const Verification& v, int workers);

absl::Time FromProto(const google::protobuf::Timestamp& t);

}  // namespace conveyor::bench

#endif  // CONVEYOR_BENCH_LOAD_H_
