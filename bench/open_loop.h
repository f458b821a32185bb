#ifndef CONVEYOR_BENCH_OPEN_LOOP_H_
#define CONVEYOR_BENCH_OPEN_LOOP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/completion_queue.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "bench/histogram.h"
#include "conveyor/v1/job_service.grpc.pb.h"

namespace conveyor::bench {

// What an OpenLoop's calls saw, once every call has ended.
struct OpenLoopResults {
  // Every job accepted, in the order the acks came.
  std::vector<uint64_t> ids;
  // When each recorded job's Submit was sent.
  absl::flat_hash_map<uint64_t, absl::Time> sent_at;
  // Recorded jobs: send to the Submit's reply (durable), and send to the
  // WaitJob reply (one job in `wait_every`).
  LogHistogram to_ack;
  LogHistogram to_done;
  int64_t errors = 0;
  std::string first_error;
};

// The latency scenario's producer: one job per Submit at a fixed rate, open
// loop (a send never waits for an earlier reply), and for one job in
// `wait_every` a WaitJob once the Submit is acked.
//
// It runs on gRPC's completion-queue API, as gRPC's own benchmark clients
// do: the thread calling Run paces and sends, and one thread of its own
// takes every reply, so a reply costs one wake-up. (The callback API wakes
// two of gRPC's threads per reply.) The load generator shares the machine
// with the coordinator and workers it measures; the CPU it spends is theirs.
//
// Run, sent and AwaitQuiet from one thread at a time.
class OpenLoop {
 public:
  // `stubs` (round robin, one connection each) must outlive this.
  OpenLoop(std::vector<v1::JobService::Stub*> stubs, v1::SubmitRequest request, int wait_every);
  // Waits for the calls still open (each has a deadline).
  ~OpenLoop();
  OpenLoop(const OpenLoop&) = delete;
  OpenLoop& operator=(const OpenLoop&) = delete;

  // Sends `rate` jobs/s for `duration` from the calling thread; timings of
  // these jobs go into the results when `record`. Returns how far the
  // sends fell behind schedule at worst.
  absl::Duration Run(double rate, absl::Duration duration, bool record);
  // Jobs sent so far.
  int64_t sent() const { return sent_; }
  // Waits until every call has ended (true) or `deadline` passed (false).
  bool AwaitQuiet(absl::Time deadline);
  // The results. REQUIRES: AwaitQuiet returned true.
  OpenLoopResults& results() ABSL_NO_THREAD_SAFETY_ANALYSIS { return results_; }

 private:
  struct Call;
  void Reap();
  void OnSubmitted(Call* call, absl::Time now);
  void OnEnded(Call* call, absl::Time now);
  void Fail(const grpc::Status& status) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<v1::JobService::Stub*> stubs_;
  const v1::SubmitRequest request_;
  const int wait_every_;
  int64_t sent_ = 0;  // Touched only by Run's thread.
  grpc::CompletionQueue cq_;
  std::thread reaper_;

  absl::Mutex mu_;
  int64_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  OpenLoopResults results_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conveyor::bench

#endif  // CONVEYOR_BENCH_OPEN_LOOP_H_
