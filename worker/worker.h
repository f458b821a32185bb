#ifndef CONVEYOR_WORKER_WORKER_H_
#define CONVEYOR_WORKER_WORKER_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "client/channel.h"
#include "conveyor/v1/worker_service.grpc.pb.h"
#include "grpcpp/channel.h"
#include "worker/backoff.h"
#include "worker/handler.h"
#include "worker/job_context.h"
#include "worker/slot_pool.h"
#include "worker/stream_poller.h"
#include "worker/worker_stream.h"

namespace conveyor {

// Where the worker's connection to the coordinator is. Logged on change.
//   kConnecting --Welcome--> kConnected --Drain()/DrainCommand--> kDraining
//   kConnecting/kConnected/kDraining --stream ends--> kBackoff --> kConnecting
//   any --drained or Stop()--> kClosed
enum class StreamState { kConnecting, kConnected, kDraining, kBackoff, kClosed };
std::string_view StreamStateName(StreamState state);

struct WorkerOptions {
  // host:port of conveyord. Ignored when `channel` is set.
  std::string coordinator = "127.0.0.1:7070";
  // TLS and access token for `coordinator` (default: plaintext, no token).
  ConnectionOptions connection;
  // A channel to use instead of one to `coordinator` per `connection`.
  std::shared_ptr<grpc::Channel> channel;
  // Largest message taken from the coordinator (an assignment carries its
  // payload; conveyord reads up to --max-message-bytes, 16 MiB by default).
  // Ignored with `channel`.
  int max_receive_message_bytes = 256 << 20;
  // Shown in admin listings; empty: hostname-pid.
  std::string name;
  // Queues to take jobs from; at least one.
  std::vector<std::string> queues = {"default"};
  // Job types announced to the coordinator. Empty: the registered types, or
  // every type when a default handler is set.
  std::vector<std::string> types;
  // Jobs run at once: the pool's slot count. At least 1.
  int concurrency = 4;
  // Jobs the coordinator may lease beyond `concurrency`; they wait here until
  // a slot frees, so that a slot starts its next job without waiting a round
  // trip to the coordinator (Hello.prefetch). The coordinator fills a
  // worker's prefetch only when no worker has a free slot. Their leases,
  // attempt timeouts and deadlines run while they wait: for short jobs.
  // 0 (the default): none.
  int prefetch = 0;
  std::map<std::string, std::string> labels;
  // How long Drain() lets running handlers finish before cancelling them.
  absl::Duration drain_timeout = absl::Seconds(30);
  // How long a cancelled handler may take to return before it is logged as
  // ignoring cancellation (and, in a drain, before the worker stops waiting).
  absl::Duration cancel_grace = absl::Seconds(5);
  // Reconnect delays: capped exponential backoff with jitter.
  absl::Duration reconnect_initial = absl::Milliseconds(100);
  absl::Duration reconnect_max = absl::Seconds(10);
  // Seed of the jitter; 0 picks a random one.
  uint64_t jitter_seed = 0;
  // On the coordinator's DrainCommand: true drains and then ends the worker
  // (Wait() returns), as on Drain(); false drains the running jobs and then
  // reconnects, to serve the coordinator that replaces it.
  bool exit_on_coordinator_drain = true;
  // Most messages in one stream message, either way: the coordinator may put
  // up to this many assignments/acks/cancels in one CoordinatorBatch
  // (Hello.max_batch), and results go out in WorkerBatches of up to this
  // many when the coordinator accepts them. Batches hold only what piled up
  // while the previous write was in flight, so they add no delay. 1: every
  // message on its own.
  int max_batch = 1000;
  // The thread that runs the stream's gRPC reactions (see StreamPoller).
  // Several Workers in one process may share one; empty: this Worker starts
  // its own.
  std::shared_ptr<StreamPoller> poller;
};

// A Conveyor worker: holds one WorkerService.Connect stream to the
// coordinator (reconnecting when it breaks), runs the jobs assigned to it on
// a pool of `concurrency` threads with the handler registered for each job's
// type, heartbeats its leases, reports results, and drains on request.
// Handlers never run on gRPC threads.
//
// Thread-safe, except that handlers must be registered before Start().
//
//   auto worker = conveyor::Worker::Create(options);
//   (*worker)->RegisterHandler("resize", [](conveyor::JobContext& job)
//       -> absl::StatusOr<std::string> { return Resize(job.payload()); });
//   (*worker)->Run();  // until Drain() or Stop() from another thread
class Worker : private WorkerStream::Listener {
 public:
  // INVALID_ARGUMENT if the options are unusable (no queue, concurrency < 1).
  static absl::StatusOr<std::unique_ptr<Worker>> Create(WorkerOptions options);
  // Stops the worker if it runs and waits for it, handlers included: blocks
  // while a handler ignores cancellation.
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Runs `handler` for jobs of `type`. ALREADY_EXISTS for a second handler of
  // one type; FAILED_PRECONDITION after Start().
  absl::Status RegisterHandler(std::string type, Handler handler) ABSL_LOCKS_EXCLUDED(mu_);
  // Runs `handler` for jobs of types without their own handler. Without one,
  // such jobs fail permanently. FAILED_PRECONDITION after Start().
  absl::Status SetDefaultHandler(Handler handler) ABSL_LOCKS_EXCLUDED(mu_);

  // Starts connecting and serving in the background. FAILED_PRECONDITION if
  // called twice.
  absl::Status Start() ABSL_LOCKS_EXCLUDED(mu_);
  // Graceful drain: asks for no new jobs (SetConcurrency 0), releases the
  // jobs not started, lets running ones finish for up to drain_timeout, then
  // cancels them, reports their results, and ends. Idempotent; callable from
  // any thread (not from a signal handler).
  void Drain() ABSL_LOCKS_EXCLUDED(mu_);
  // Ends at once: cancels every handler and closes the stream. Results not
  // yet sent are dropped (the coordinator retries those jobs).
  void Stop() ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until the worker ended (drained or stopped) and its stream closed.
  // Handlers that ignored cancellation may still run (see running()).
  absl::Status Wait() ABSL_LOCKS_EXCLUDED(mu_);
  // Start() then Wait().
  absl::Status Run();

  StreamState state() const ABSL_LOCKS_EXCLUDED(mu_);
  // Handlers running now.
  int running() const ABSL_LOCKS_EXCLUDED(mu_);
  // Jobs assigned and not yet finished: running or waiting for a slot.
  int held() const ABSL_LOCKS_EXCLUDED(mu_);
  // Handler runs that returned a result / an error (thrown ones included).
  uint64_t jobs_succeeded() const { return jobs_succeeded_.load(); }
  uint64_t handler_errors() const { return handler_errors_.load(); }
  // The id of the last Welcome; 0 before the first.
  uint64_t worker_id() const ABSL_LOCKS_EXCLUDED(mu_);
  const WorkerOptions& options() const { return options_; }

 private:
  std::atomic<uint64_t> jobs_succeeded_{0};
  std::atomic<uint64_t> handler_errors_{0};
  // (job id, fencing token): one attempt.
  using AttemptKey = std::pair<uint64_t, uint64_t>;
  struct ActiveJob {
    std::shared_ptr<JobContext> context;
    bool started = false;
    // The stream that assigned it; jobs of older streams lost their lease.
    uint64_t generation = 0;
    bool cancelled_by_coordinator = false;
    absl::Time cancelled_at = absl::InfiniteFuture();
    bool grace_logged = false;
  };
  // Work to do once mu_ is released: logging, writes, handler wake-ups.
  class Deferred;

  explicit Worker(WorkerOptions options);

  // WorkerStream::Listener, on the poller's thread.
  void OnStreamMessage(WorkerStream* stream, const conveyor::v1::CoordinatorMessage& message)
      override ABSL_LOCKS_EXCLUDED(mu_);
  void OnStreamBroken(WorkerStream* stream) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnStreamDone(const grpc::Status& status) override ABSL_LOCKS_EXCLUDED(mu_);

  // One message of the coordinator's (a CoordinatorBatch's one at a time).
  void HandleMessageLocked(const conveyor::v1::CoordinatorMessage& message, Deferred* after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleWelcome(const conveyor::v1::Welcome& welcome, Deferred* after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleAssignment(const conveyor::v1::Assignment& assignment, Deferred* after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleAck(const conveyor::v1::ResultAck& ack, Deferred* after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void HandleCancel(const conveyor::v1::CancelJobCommand& cancel, Deferred* after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Pool side: runs one attempt, then reports it.
  void RunJob(AttemptKey key) ABSL_LOCKS_EXCLUDED(mu_);
  void FinishJob(AttemptKey key, absl::StatusOr<std::string> result)
      ABSL_LOCKS_EXCLUDED(mu_);
  void SendProgress(AttemptKey key, int percent, const std::string& message)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Timer thread: heartbeats, reconnects, deadlines, grace and drain limits.
  void TimerLoop() ABSL_LOCKS_EXCLUDED(mu_);
  absl::Time TickLocked(absl::Time now, Deferred* after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Connect() ABSL_LOCKS_EXCLUDED(mu_);

  void StartDrainLocked(absl::Duration timeout, std::string_view why, Deferred* after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the worker once a drain has nothing left to do.
  void MaybeFinishDrainLocked(Deferred* after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(Deferred* after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetStateLocked(StreamState state, Deferred* after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Writes `messages` on the current stream (after unlocking); dropped when
  // there is none.
  void SendLocked(std::vector<conveyor::v1::WorkerMessage> messages, Deferred* after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SendLocked(conveyor::v1::WorkerMessage message, Deferred* after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records a result until the coordinator acks it, and sends it if welcomed.
  void SendResultLocked(AttemptKey key, conveyor::v1::WorkerMessage message, Deferred* after)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The concurrency to ask for: 0 while draining, less the slots still busy
  // with jobs of an earlier stream.
  int WantedConcurrencyLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateConcurrencyLocked(Deferred* after) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  conveyor::v1::Hello MakeHelloLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const Handler* FindHandler(const std::string& type) const;
  void KickTimerLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    timer_kick_ = true;
    timer_wake_.Signal();
  }
  bool EndedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return done_ && streams_alive_ == 0;
  }

  const WorkerOptions options_;
  // Written before Start(), read-only after.
  std::map<std::string, Handler> handlers_;
  Handler default_handler_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<conveyor::v1::WorkerService::Stub> stub_;
  std::unique_ptr<SlotPool> pool_;
  std::thread timer_;

  mutable absl::Mutex mu_;
  absl::CondVar timer_wake_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  StreamState state_ ABSL_GUARDED_BY(mu_) = StreamState::kClosed;
  // The live stream; the owner hold on it is ours while this points to it.
  WorkerStream* stream_ ABSL_GUARDED_BY(mu_) = nullptr;
  // A stream half-closed at the end of a drain, cancelled at closing_deadline_.
  WorkerStream* closing_ ABSL_GUARDED_BY(mu_) = nullptr;
  absl::Time closing_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  int streams_alive_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool welcomed_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t worker_id_ ABSL_GUARDED_BY(mu_) = 0;
  int sent_concurrency_ ABSL_GUARDED_BY(mu_) = 0;
  // Welcome.concurrency: the most the coordinator lets us run.
  int granted_concurrency_ ABSL_GUARDED_BY(mu_) = 0;
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_) = absl::Seconds(5);
  absl::Time next_heartbeat_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  Backoff backoff_ ABSL_GUARDED_BY(mu_);
  absl::Time reconnect_at_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::map<AttemptKey, ActiveJob> jobs_ ABSL_GUARDED_BY(mu_);
  // Complete/Fail/Release messages the coordinator has not acked yet.
  std::map<AttemptKey, conveyor::v1::WorkerMessage> unacked_ ABSL_GUARDED_BY(mu_);
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time drain_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  bool drain_cancelled_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;
  bool timer_exit_ ABSL_GUARDED_BY(mu_) = false;
  // When the timer thread wakes next unless kicked.
  absl::Time timer_next_wake_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // Set with every wake-up of the timer so that none is lost between waits.
  bool timer_kick_ ABSL_GUARDED_BY(mu_) = false;
  // Outlives every stream: Wait() waits for the last OnStreamDone. Last, so
  // that a poller of our own is joined before anything its thread touched
  // (mu_ in OnStreamDone) is destroyed.
  std::shared_ptr<StreamPoller> poller_;
};

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_WORKER_H_
