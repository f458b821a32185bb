#ifndef CONVEYOR_WORKER_WORKER_STREAM_H_
#define CONVEYOR_WORKER_WORKER_STREAM_H_

#include <atomic>
#include <deque>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "conveyor/v1/worker_service.grpc.pb.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "grpcpp/support/status.h"

namespace conveyor {

// One WorkerService.Connect stream: the client reactor that owns it. It keeps
// one read and at most one write in flight; outgoing messages wait in a queue
// (heartbeats and progress reports coalesce while they wait). A message is
// written at once when no write is in flight; when a write completes, what
// queued meanwhile goes out as one WorkerBatch if the coordinator's Welcome
// accepts batches (max_worker_batch), capped by `max_batch`, else one
// message per write. Internal to the worker SDK.
//
// Lifetime: Create() takes one hold on behalf of its owner; the reactor lives
// until that hold is released (ReleaseOwnerHold()) and the call has ended,
// then calls Listener::OnStreamDone and deletes itself. Thread-safe.
class WorkerStream
    : public grpc::ClientBidiReactor<conveyor::v1::WorkerMessage, conveyor::v1::CoordinatorMessage> {
 public:
  // Called on gRPC threads; implementations must be short and never block.
  class Listener {
   public:
    virtual ~Listener() = default;
    // A message arrived. Messages arrive in order, one at a time.
    virtual void OnStreamMessage(WorkerStream* stream,
                                 const conveyor::v1::CoordinatorMessage& message) = 0;
    // Reading failed: the stream is over. The owner should let go of the
    // stream and call ReleaseOwnerHold().
    virtual void OnStreamBroken(WorkerStream* stream) = 0;
    // The last call: the call's final status. `stream` is deleted after it.
    virtual void OnStreamDone(WorkerStream* stream, const grpc::Status& status) = 0;
  };

  // Prepares a stream on `stub`, with the owner's hold taken; no reaction
  // runs before StartWithHello(). `stub` and `listener` must outlive the
  // stream (until OnStreamDone).
  // `max_batch` caps the messages in one WorkerBatch (below 2: no batches).
  static WorkerStream* Create(conveyor::v1::WorkerService::Stub* stub, Listener* listener,
                              int max_batch);
  // Starts the call, sending `hello` first. Call once.
  void StartWithHello(const conveyor::v1::Hello& hello);

  // Queues `message`. REQUIRES: the caller is in a reaction of this stream or
  // holds a hold on it (AddHold). Dropped if the stream already failed.
  void Send(conveyor::v1::WorkerMessage message) ABSL_LOCKS_EXCLUDED(mu_);
  // Queues `messages` together (so they can share one write). As for Send.
  void Send(std::vector<conveyor::v1::WorkerMessage> messages) ABSL_LOCKS_EXCLUDED(mu_);
  // Half-closes the stream once the queued messages are written.
  // REQUIRES: as for Send.
  void CloseWrites() ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels the call. REQUIRES: as for Send.
  void Cancel() { context_.TryCancel(); }
  // Releases the owner's hold (idempotent). REQUIRES: as for Send.
  void ReleaseOwnerHold();

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnWritesDoneDone(bool ok) override;
  void OnDone(const grpc::Status& status) override;

 private:
  // Queues one message, coalescing heartbeats and progress reports.
  void EnqueueLocked(conveyor::v1::WorkerMessage message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A WorkerBatch stops growing at about this many bytes of results.
  static constexpr size_t kMaxBatchBytes = 1 << 20;

  WorkerStream(Listener* listener, int max_batch)
      : listener_(listener), max_batch_(max_batch) {}
  // Moves the next queued message (or a batch of them) into write_buffer_;
  // false if none.
  bool TakeNextWrite(grpc::WriteOptions* options) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  Listener* const listener_;
  const int max_batch_;
  grpc::ClientContext context_;
  conveyor::v1::CoordinatorMessage read_buffer_;
  std::atomic<bool> owner_hold_released_{false};

  absl::Mutex mu_;
  std::deque<conveyor::v1::WorkerMessage> queue_ ABSL_GUARDED_BY(mu_);
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool close_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_done_started_ ABSL_GUARDED_BY(mu_) = false;
  // Welcome.max_worker_batch capped by max_batch_; 0 until Welcome.
  int batch_limit_ ABSL_GUARDED_BY(mu_) = 0;
  // Owned by the write in flight (written only while write_in_flight_ is
  // false, read by gRPC while it is true).
  conveyor::v1::WorkerMessage write_buffer_;
};

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_WORKER_STREAM_H_
