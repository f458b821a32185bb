#ifndef CONVEYOR_WORKER_WORKER_STREAM_H_
#define CONVEYOR_WORKER_WORKER_STREAM_H_

#include <atomic>
#include <deque>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "conveyor/v1/worker_service.grpc.pb.h"
#include "grpcpp/alarm.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/async_stream.h"
#include "grpcpp/support/status.h"
#include "worker/stream_poller.h"

namespace conveyor {

// One WorkerService.Connect stream, on gRPC's async API: its operations
// complete on a StreamPoller, whose thread runs its reactions. It keeps one
// read and at most one write in flight; outgoing messages wait in a queue
// (heartbeats and progress reports coalesce while they wait). A message is
// written at once when no write is in flight; when a write completes, what
// queued meanwhile goes out as one WorkerBatch if the coordinator's Welcome
// accepts batches (max_worker_batch), capped by `max_batch`, else one
// message per write. Internal to the worker SDK.
//
// Lifetime: Create() takes one hold on behalf of its owner. Once reading has
// failed (the call is over), the call's status has arrived, no operation is
// in flight and every hold is released, the poller's thread deletes the
// stream and then calls Listener::OnStreamDone. Thread-safe.
class WorkerStream {
 public:
  // Called on the poller's thread, one at a time; implementations must be
  // short and never block.
  class Listener {
   public:
    virtual ~Listener() = default;
    // A message arrived. Messages arrive in order, one at a time.
    virtual void OnStreamMessage(WorkerStream* stream,
                                 const conveyor::v1::CoordinatorMessage& message) = 0;
    // Reading failed: the stream is over. The owner should let go of the
    // stream and call ReleaseOwnerHold().
    virtual void OnStreamBroken(WorkerStream* stream) = 0;
    // The last call, once the stream is deleted: the call's final status.
    virtual void OnStreamDone(const grpc::Status& status) = 0;
  };

  // Prepares a stream on `stub`, with the owner's hold taken; no reaction
  // runs before StartWithHello(). `stub`, `poller` and `listener` must
  // outlive the stream (until OnStreamDone). `max_batch` caps the messages
  // in one WorkerBatch (below 2: no batches).
  static WorkerStream* Create(conveyor::v1::WorkerService::Stub* stub, StreamPoller* poller,
                              Listener* listener, int max_batch);
  // Starts the call, sending `hello` first. Call once.
  void StartWithHello(const conveyor::v1::Hello& hello) ABSL_LOCKS_EXCLUDED(mu_);

  // Queues `message`. REQUIRES: the caller is in a reaction of this stream or
  // holds a hold on it (AddHold). Dropped once the stream failed.
  void Send(conveyor::v1::WorkerMessage message) ABSL_LOCKS_EXCLUDED(mu_);
  // Queues `messages` together (so they can share one write). As for Send.
  void Send(std::vector<conveyor::v1::WorkerMessage> messages) ABSL_LOCKS_EXCLUDED(mu_);
  // Half-closes the stream once the queued messages are written.
  // REQUIRES: as for Send.
  void CloseWrites() ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels the call. REQUIRES: as for Send.
  void Cancel() { context_.TryCancel(); }
  // Keeps the stream alive until the matching RemoveHold(). REQUIRES: as for
  // Send.
  void AddHold() ABSL_LOCKS_EXCLUDED(mu_);
  void RemoveHold() ABSL_LOCKS_EXCLUDED(mu_);
  // Releases the owner's hold (idempotent). REQUIRES: as for Send.
  void ReleaseOwnerHold();

 private:
  // The operations; at most one of each kind in flight.
  enum class Op { kStart, kRead, kWrite, kWritesDone, kFinish, kEnd };
  static constexpr int kOps = static_cast<int>(Op::kEnd) + 1;
  class OpTag final : public StreamPoller::Tag {
   public:
    void OnComplete(bool ok) override { stream_->React(op_, ok); }
    WorkerStream* stream_ = nullptr;
    Op op_ = Op::kStart;
  };
  // A WorkerBatch stops growing at about this many bytes of results.
  static constexpr size_t kMaxBatchBytes = 1 << 20;

  WorkerStream(StreamPoller* poller, Listener* listener, int max_batch);
  ~WorkerStream() = default;

  // The tag for `op`, counted as in flight. REQUIRES: it is about to start.
  void* StartingLocked(Op op) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // An operation completed, on the poller's thread.
  void React(Op op, bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  void OnStarted() ABSL_LOCKS_EXCLUDED(mu_);
  void OnReadDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  void OnWriteDone(bool ok) ABSL_LOCKS_EXCLUDED(mu_);
  // Queues with `fill` and, when no write is in flight, starts one.
  template <typename Fill>
  void Enqueue(Fill fill) ABSL_LOCKS_EXCLUDED(mu_);
  // Queues one message, coalescing heartbeats and progress reports.
  void EnqueueLocked(conveyor::v1::WorkerMessage message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Moves the next queued message (or a batch of them) into write_buffer_
  // and marks a write in flight; false if none may start now.
  bool TakeNextWrite(grpc::WriteOptions* options) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a write ended or was not started: whether to half-close now.
  bool TakeWritesDoneLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the stream may be deleted now (see Lifetime); true once.
  bool TakeEndLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  StreamPoller* const poller_;
  Listener* const listener_;
  const int max_batch_;
  OpTag tags_[kOps];
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientAsyncReaderWriter<conveyor::v1::WorkerMessage,
                                                conveyor::v1::CoordinatorMessage>>
      call_;
  // Posts kEnd to the poller when the last hold goes after the call ended.
  grpc::Alarm end_alarm_;
  // Touched only by reactions (read_buffer_ while the read is in flight
  // belongs to gRPC; status_ until the Finish completes).
  conveyor::v1::CoordinatorMessage read_buffer_;
  grpc::Status status_;
  std::atomic<bool> owner_hold_released_{false};

  absl::Mutex mu_;
  int holds_ ABSL_GUARDED_BY(mu_) = 1;  // the owner's
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;  // operations started, not completed
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;  // the Finish completed
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool write_in_flight_ ABSL_GUARDED_BY(mu_) = false;
  // A write or the read failed: nothing more is written.
  bool writes_failed_ ABSL_GUARDED_BY(mu_) = false;
  bool close_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool writes_done_started_ ABSL_GUARDED_BY(mu_) = false;
  std::deque<conveyor::v1::WorkerMessage> queue_ ABSL_GUARDED_BY(mu_);
  // Welcome.max_worker_batch capped by max_batch_; 0 until Welcome.
  int batch_limit_ ABSL_GUARDED_BY(mu_) = 0;
  // Owned by the write in flight (written only while write_in_flight_ is
  // false, read by gRPC while it is true).
  conveyor::v1::WorkerMessage write_buffer_;
};

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_WORKER_STREAM_H_
