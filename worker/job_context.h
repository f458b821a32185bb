#ifndef CONVEYOR_WORKER_JOB_CONTEXT_H_
#define CONVEYOR_WORKER_JOB_CONTEXT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "grpcpp/client_context.h"

namespace conveyor {

// What a worker knows about one leased attempt of a job.
struct JobInfo {
  uint64_t job_id = 0;
  std::string queue;
  std::string type;
  std::string payload;
  std::map<std::string, std::string> labels;
  // 1 for the first attempt.
  int attempt = 0;
  uint64_t fencing_token = 0;
  // On this worker's clock: receipt time + the Assignment's deadline_in.
  // absl::InfiniteFuture() when the job has no deadline.
  absl::Time deadline = absl::InfiniteFuture();
};

// The handler's view of the attempt it runs: the job, a cancellation signal,
// progress reporting and deadline propagation to outgoing gRPC calls.
// Thread-safe: the worker cancels it from other threads while the handler
// runs; the handler may share it with threads of its own.
class JobContext {
 public:
  // Receives ReportProgress calls; must be thread-safe and must not block.
  using ProgressSink = std::function<void(int percent, const std::string& message)>;

  explicit JobContext(JobInfo info, ProgressSink progress = nullptr);
  JobContext(const JobContext&) = delete;
  JobContext& operator=(const JobContext&) = delete;

  uint64_t job_id() const { return info_.job_id; }
  const std::string& queue() const { return info_.queue; }
  const std::string& type() const { return info_.type; }
  const std::string& payload() const { return info_.payload; }
  const std::map<std::string, std::string>& labels() const { return info_.labels; }
  int attempt() const { return info_.attempt; }
  uint64_t fencing_token() const { return info_.fencing_token; }
  // absl::InfiniteFuture() when the job has no deadline. The context is
  // cancelled (reason "deadline exceeded") when it passes.
  absl::Time deadline() const { return info_.deadline; }
  bool has_deadline() const { return info_.deadline != absl::InfiniteFuture(); }
  const JobInfo& info() const { return info_; }

  // True once the job was cancelled (by a client, its deadline, or a drain
  // that ran out of time). The handler should stop and return soon.
  bool cancelled() const { return cancelled_.HasBeenNotified(); }
  // Blocks up to `timeout` for cancellation; returns cancelled().
  bool WaitForCancel(absl::Duration timeout) const {
    return cancelled_.WaitForNotificationWithTimeout(timeout);
  }
  // Why it was cancelled; empty while it is not.
  std::string cancel_reason() const ABSL_LOCKS_EXCLUDED(mu_);

  // Reports progress to the coordinator (shown in GetJob/WatchJob). `percent`
  // is 0 to 100, or -1 for a message only; out-of-range values are clamped.
  // Reports are coalesced: only the latest unsent one per job goes out.
  void ReportProgress(int percent, std::string_view message);

  // Sets the job's deadline on `context` (which must not have started a call)
  // unless the job has none or `context` already has an earlier one.
  void ConfigureClientContext(grpc::ClientContext* context) const;
  // A fresh ClientContext carrying the job's deadline.
  std::unique_ptr<grpc::ClientContext> MakeClientContext() const;

  // Cancels the context with `reason`. Idempotent: the first reason stays.
  // Called by the worker; handlers have no need to.
  void Cancel(std::string_view reason) ABSL_LOCKS_EXCLUDED(mu_);

 private:
  const JobInfo info_;
  const ProgressSink progress_;
  absl::Notification cancelled_;
  mutable absl::Mutex mu_;
  std::string cancel_reason_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_JOB_CONTEXT_H_
