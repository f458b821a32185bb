#include "worker/worker_stream.h"

#include <algorithm>
#include <utility>

namespace conveyor {

using conveyor::v1::WorkerMessage;

namespace {

// About the bytes `m` adds to a batch: its strings, plus a bit.
size_t ApproxBytes(const WorkerMessage& m) {
  constexpr size_t kOverhead = 48;
  switch (m.kind_case()) {
    case WorkerMessage::kComplete:
      return kOverhead + m.complete().result().size();
    case WorkerMessage::kFail:
      return kOverhead + m.fail().error().size();
    case WorkerMessage::kProgress:
      return kOverhead + m.progress().progress().message().size();
    default:
      return kOverhead;
  }
}

}  // namespace

WorkerStream* WorkerStream::Create(conveyor::v1::WorkerService::Stub* stub, StreamPoller* poller,
                                   Listener* listener, int max_batch) {
  auto* stream = new WorkerStream(poller, listener, max_batch);  // deleted by React
  stream->call_ = stub->PrepareAsyncConnect(&stream->context_, poller->cq());
  return stream;
}

WorkerStream::WorkerStream(StreamPoller* poller, Listener* listener, int max_batch)
    : poller_(poller), listener_(listener), max_batch_(max_batch) {
  for (int i = 0; i < kOps; ++i) {
    tags_[i].stream_ = this;
    tags_[i].op_ = static_cast<Op>(i);
  }
}

void WorkerStream::StartWithHello(const conveyor::v1::Hello& hello) {
  WorkerMessage first;
  *first.mutable_hello() = hello;
  void* tag = nullptr;
  {
    absl::MutexLock lock(&mu_);
    queue_.push_back(std::move(first));  // written once the call started
    tag = StartingLocked(Op::kStart);
  }
  call_->StartCall(tag);
}

void* WorkerStream::StartingLocked(Op op) {
  ++in_flight_;
  return static_cast<StreamPoller::Tag*>(&tags_[static_cast<int>(op)]);
}

void WorkerStream::React(Op op, bool ok) {
  switch (op) {
    case Op::kStart:
      OnStarted();
      break;
    case Op::kRead:
      OnReadDone(ok);
      break;
    case Op::kWrite:
      OnWriteDone(ok);
      break;
    case Op::kFinish: {
      absl::MutexLock lock(&mu_);
      finished_ = true;
      break;
    }
    case Op::kWritesDone:
    case Op::kEnd:
      break;
  }
  bool end = false;
  {
    absl::MutexLock lock(&mu_);
    --in_flight_;
    end = TakeEndLocked();
  }
  if (!end) return;
  Listener* const listener = listener_;
  const grpc::Status status = status_;
  delete this;
  listener->OnStreamDone(status);
}

bool WorkerStream::TakeEndLocked() {
  if (ended_ || !finished_ || in_flight_ > 0 || holds_ > 0) return false;
  ended_ = true;
  return true;
}

void WorkerStream::OnStarted() {
  // Whether or not the call started: if it did not, the read fails and
  // reports the break.
  grpc::WriteOptions options;
  void* read_tag = nullptr;
  void* write_tag = nullptr;
  void* close_tag = nullptr;
  {
    absl::MutexLock lock(&mu_);
    started_ = true;
    read_tag = StartingLocked(Op::kRead);
    if (TakeNextWrite(&options)) {
      write_tag = StartingLocked(Op::kWrite);
    } else if (TakeWritesDoneLocked()) {
      close_tag = StartingLocked(Op::kWritesDone);
    }
  }
  call_->Read(&read_buffer_, read_tag);
  if (write_tag != nullptr) call_->Write(write_buffer_, options, write_tag);
  if (close_tag != nullptr) call_->WritesDone(close_tag);
}

void WorkerStream::OnReadDone(bool ok) {
  if (!ok) {
    void* tag = nullptr;
    {
      absl::MutexLock lock(&mu_);
      writes_failed_ = true;
      queue_.clear();
      tag = StartingLocked(Op::kFinish);
    }
    listener_->OnStreamBroken(this);
    call_->Finish(&status_, tag);
    return;
  }
  if (read_buffer_.has_welcome()) {
    absl::MutexLock lock(&mu_);
    batch_limit_ = std::min(max_batch_, read_buffer_.welcome().max_worker_batch());
  }
  listener_->OnStreamMessage(this, read_buffer_);
  void* tag = nullptr;
  {
    absl::MutexLock lock(&mu_);
    tag = StartingLocked(Op::kRead);
  }
  call_->Read(&read_buffer_, tag);
}

void WorkerStream::OnWriteDone(bool ok) {
  grpc::WriteOptions options;
  void* write_tag = nullptr;
  void* close_tag = nullptr;
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok) {
      writes_failed_ = true;  // the read fails too and reports the break
      queue_.clear();
      return;
    }
    if (TakeNextWrite(&options)) {
      write_tag = StartingLocked(Op::kWrite);
    } else if (TakeWritesDoneLocked()) {
      close_tag = StartingLocked(Op::kWritesDone);
    }
  }
  if (write_tag != nullptr) call_->Write(write_buffer_, options, write_tag);
  if (close_tag != nullptr) call_->WritesDone(close_tag);
}

template <typename Fill>
void WorkerStream::Enqueue(Fill fill) {
  grpc::WriteOptions options;
  void* tag = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (writes_failed_ || close_requested_) return;
    fill();
    if (!TakeNextWrite(&options)) return;
    tag = StartingLocked(Op::kWrite);
  }
  call_->Write(write_buffer_, options, tag);
}

void WorkerStream::Send(WorkerMessage message) {
  Enqueue([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { EnqueueLocked(std::move(message)); });
}

void WorkerStream::Send(std::vector<WorkerMessage> messages) {
  Enqueue([&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    for (auto& m : messages) EnqueueLocked(std::move(m));
  });
}

void WorkerStream::EnqueueLocked(WorkerMessage message) {
  // Coalesce what only matters once: a heartbeat already waiting covers
  // this one; a newer progress report replaces a waiting one for the job.
  if (message.has_heartbeat()) {
    for (const auto& queued : queue_) {
      if (queued.has_heartbeat()) return;
    }
  }
  if (message.has_progress()) {
    for (auto& queued : queue_) {
      if (queued.has_progress() && queued.progress().job_id() == message.progress().job_id()) {
        queued = std::move(message);
        return;
      }
    }
  }
  queue_.push_back(std::move(message));
}

bool WorkerStream::TakeNextWrite(grpc::WriteOptions* options) {
  if (!started_ || write_in_flight_ || writes_failed_ || queue_.empty()) return false;
  write_in_flight_ = true;
  if (batch_limit_ < 2 || queue_.size() == 1 || queue_.front().has_hello()) {
    write_buffer_ = std::move(queue_.front());
    queue_.pop_front();
  } else {
    write_buffer_.Clear();
    auto* messages = write_buffer_.mutable_batch()->mutable_messages();
    size_t bytes = 0;
    while (!queue_.empty() && messages->size() < batch_limit_) {
      const size_t size = ApproxBytes(queue_.front());
      if (!messages->empty() && bytes + size > kMaxBatchBytes) break;
      bytes += size;
      *messages->Add() = std::move(queue_.front());
      queue_.pop_front();
    }
    if (messages->size() == 1) {
      WorkerMessage single = std::move(*messages->Mutable(0));
      write_buffer_ = std::move(single);
    }
  }
  // More is waiting: let gRPC batch this write with the next ones.
  if (!queue_.empty()) options->set_buffer_hint();
  return true;
}

bool WorkerStream::TakeWritesDoneLocked() {
  if (!close_requested_ || writes_done_started_ || writes_failed_ || !started_ ||
      write_in_flight_ || !queue_.empty()) {
    return false;
  }
  writes_done_started_ = true;
  return true;
}

void WorkerStream::CloseWrites() {
  void* tag = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (close_requested_ || writes_failed_) return;
    close_requested_ = true;
    if (TakeWritesDoneLocked()) tag = StartingLocked(Op::kWritesDone);
  }
  if (tag != nullptr) call_->WritesDone(tag);
}

void WorkerStream::AddHold() {
  absl::MutexLock lock(&mu_);
  ++holds_;
}

void WorkerStream::RemoveHold() {
  void* tag = nullptr;
  {
    absl::MutexLock lock(&mu_);
    if (--holds_ > 0 || !finished_ || ended_ || in_flight_ > 0) return;
    // The call is over and this was the last hold: the stream ends on the
    // poller's thread, never under a caller.
    tag = StartingLocked(Op::kEnd);
  }
  end_alarm_.Set(poller_->cq(), gpr_now(GPR_CLOCK_MONOTONIC), tag);
}

void WorkerStream::ReleaseOwnerHold() {
  if (!owner_hold_released_.exchange(true)) RemoveHold();
}

}  // namespace conveyor
