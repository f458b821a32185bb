#ifndef CONVEYOR_CLIENT_CLIENT_H_
#define CONVEYOR_CLIENT_CLIENT_H_

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>
#include <grpcpp/support/status.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "client/cancellation.h"
#include "client/channel.h"
#include "client/retry_policy.h"
#include "conveyor/v1/admin_service.grpc.pb.h"
#include "conveyor/v1/job_service.grpc.pb.h"

namespace conveyor {

// Default largest message a client or worker accepts from the coordinator:
// above conveyord's default --max-message-bytes (16 MiB) and any reply a
// default-sized page of jobs makes.
inline constexpr int kMaxReceiveMessageBytes = 256 << 20;

struct ClientOptions {
  // The coordinator, as a gRPC target ("127.0.0.1:7070", "dns:///host:port").
  std::string target = "127.0.0.1:7070";
  // TLS and access token; the default is plaintext without a token.
  ConnectionOptions connection;
  // Deadline of each short call (all but WaitJob, WatchJob and RunJob), its
  // retries included.
  absl::Duration timeout = absl::Seconds(10);
  // Applied to calls safe to repeat; see each method.
  RetryPolicy retry;
  // Seeds the retry jitter; 0 seeds from std::random_device.
  uint64_t jitter_seed = 0;
  // Largest reply accepted (a page of jobs with payloads can be large);
  // larger ones fail with RESOURCE_EXHAUSTED. Requests are capped by the
  // coordinator's --max-message-bytes. Ignored with an existing channel.
  int max_receive_message_bytes = kMaxReceiveMessageBytes;
};

// Per-call settings for the calls that may block long (WaitJob, WatchJob,
// RunJob); short calls accept them too, and then the earlier of `deadline`
// and ClientOptions::timeout applies.
struct CallOptions {
  // The call fails with DEADLINE_EXCEEDED when it passes. The coordinator
  // sees it as the gRPC deadline.
  absl::Time deadline = absl::InfiniteFuture();
  // Optional, not owned: Cancel() on it ends the call with CANCELLED.
  Cancellation* cancellation = nullptr;
};

// Convenience: CallOptions with a deadline `timeout` from now.
CallOptions WithTimeout(absl::Duration timeout);

// A client of one coordinator's JobService and AdminService. Errors are the
// coordinator's status codes (see the .proto comments), plus UNAVAILABLE
// when it cannot be reached, DEADLINE_EXCEEDED and CANCELLED.
//
// "Retried" below: UNAVAILABLE is retried per ClientOptions::retry with
// capped, jittered exponential backoff within the call's deadline; other
// codes are returned at once. Thread-safe: share one Client between threads.
class Client {
 public:
  // Connects lazily (the first call dials). INVALID_ARGUMENT for bad options,
  // FAILED_PRECONDITION for unreadable TLS files (see channel.h).
  static absl::StatusOr<std::unique_ptr<Client>> Create(const ClientOptions& options);
  // Uses an existing channel; `options.target` and `options.connection` are
  // ignored.
  static absl::StatusOr<std::unique_ptr<Client>> Create(std::shared_ptr<grpc::Channel> channel,
                                                        const ClientOptions& options);

  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // --- JobService ---

  // Submits one job; returns its id (or, for a matching idempotency key, the
  // kept job's id with `duplicate` set). Retried iff the spec has an
  // idempotency_key.
  absl::StatusOr<v1::SubmitResult> Submit(const v1::JobSpec& spec, const CallOptions& call = {});
  // Submits `specs` atomically (all or none); results are in spec order.
  // Retried iff every spec has an idempotency_key. The coordinator caps the
  // batch size (--max-batch, default 1000): larger batches fail with
  // RESOURCE_EXHAUSTED. INVALID_ARGUMENT for an empty batch.
  absl::StatusOr<v1::SubmitResponse> SubmitBatch(absl::Span<const v1::JobSpec> specs,
                                                 const CallOptions& call = {});
  // Retried.
  absl::StatusOr<v1::Job> GetJob(uint64_t id, const CallOptions& call = {});
  // One page; pass `next_page_token` back for the next. Retried.
  absl::StatusOr<v1::ListJobsResponse> ListJobs(const v1::ListJobsRequest& request,
                                                const CallOptions& call = {});
  // FAILED_PRECONDITION if the job already ended. Not retried. An empty
  // `reason` lets the coordinator record "cancelled by client".
  absl::StatusOr<v1::Job> CancelJob(uint64_t id, const std::string& reason = "",
                                    const CallOptions& call = {});
  // Blocks until the job reaches a terminal state and returns it (a DEAD or
  // CANCELLED job is a value, not an error). DEADLINE_EXCEEDED if
  // `call.deadline` passes first; the job is untouched. No deadline by
  // default. Retried.
  absl::StatusOr<v1::Job> WaitJob(uint64_t id, const CallOptions& call = {});
  // Calls `on_update` with the job's current state, then once per state
  // change or progress report, on the calling thread. Returns OK after the
  // terminal state, or as soon as `on_update` returns false (the stream is
  // cancelled). A stream broken with UNAVAILABLE is reopened (retried), which
  // repeats the current state. No deadline by default.
  absl::Status WatchJob(uint64_t id, const std::function<bool(const v1::Job&)>& on_update,
                        const CallOptions& call = {});
  // Submits `spec` and waits for it to end. The call's deadline becomes the
  // job's deadline, and cancelling the call (or the deadline passing)
  // cancels the job; then it fails with CANCELLED or DEADLINE_EXCEEDED.
  // Otherwise returns the terminal job. Not retried.
  absl::StatusOr<v1::Job> RunJob(const v1::JobSpec& spec, const CallOptions& call = {});

  // --- AdminService ---

  // Retried.
  absl::StatusOr<v1::ListQueuesResponse> ListQueues(const CallOptions& call = {});
  // NOT_FOUND for a queue with neither jobs nor settings. Retried.
  absl::StatusOr<v1::QueueInfo> GetQueue(const std::string& name, const CallOptions& call = {});
  // Sets the settings present in `settings`, keeps the rest; returns the
  // queue. Retried (setting the same values twice is harmless).
  absl::StatusOr<v1::QueueInfo> UpdateQueue(const std::string& name,
                                            const v1::QueueSettings& settings,
                                            const CallOptions& call = {});
  // Retried.
  absl::StatusOr<v1::ListWorkersResponse> ListWorkers(const CallOptions& call = {});
  // One page of dead jobs, oldest first; empty `queue`: every queue. Retried.
  absl::StatusOr<v1::ListDeadJobsResponse> ListDeadJobs(const v1::ListDeadJobsRequest& request,
                                                        const CallOptions& call = {});
  // Empty `job_ids`: every dead job of the queue. Returns how many were
  // redriven. FAILED_PRECONDITION if a named job is not dead. Not retried.
  absl::StatusOr<int64_t> RedriveJobs(const std::string& queue, absl::Span<const uint64_t> job_ids,
                                      const CallOptions& call = {});
  // Empty `job_ids`: every dead job of the queue. Returns how many were
  // deleted. Not retried.
  absl::StatusOr<int64_t> PurgeDeadJobs(const std::string& queue,
                                        absl::Span<const uint64_t> job_ids,
                                        const CallOptions& call = {});

 private:
  // How long a call may run: bounded by ClientOptions::timeout, or not.
  enum class CallLength { kShort, kLong };

  Client(std::shared_ptr<grpc::Channel> channel, const ClientOptions& options);

  // Runs `rpc` (one attempt on a fresh context) until it succeeds, fails
  // with a code other than UNAVAILABLE, `retryable` is false, the attempts
  // run out, the deadline passes or the call is cancelled.
  absl::Status Call(CallLength length, bool retryable, const CallOptions& call,
                    const std::function<grpc::Status(grpc::ClientContext&)>& rpc);
  absl::Time Deadline(CallLength length, const CallOptions& call) const;
  // Sleeps the jittered backoff before retry `retry`. False when the wait
  // would pass `deadline` or the call was cancelled meanwhile.
  bool Backoff(int retry, absl::Time deadline, Cancellation* cancellation) ABSL_LOCKS_EXCLUDED(mu_);

  const ClientOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  absl::Mutex mu_;
  std::mt19937_64 jitter_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conveyor

#endif  // CONVEYOR_CLIENT_CLIENT_H_
