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

WorkerStream* WorkerStream::Create(conveyor::v1::WorkerService::Stub* stub, Listener* listener,
                                   int max_batch) {
  auto* stream = new WorkerStream(listener, max_batch);  // deleted in OnDone
  stub->async()->Connect(&stream->context_, stream);
  stream->AddHold();  // the owner's, released by ReleaseOwnerHold()
  return stream;
}

void WorkerStream::StartWithHello(const conveyor::v1::Hello& hello) {
  WorkerMessage first;
  *first.mutable_hello() = hello;
  Send(std::move(first));
  StartRead(&read_buffer_);
  StartCall();
}

void WorkerStream::Send(WorkerMessage message) {
  grpc::WriteOptions options;
  {
    absl::MutexLock lock(&mu_);
    if (writes_failed_ || close_requested_) return;
    EnqueueLocked(std::move(message));
    if (write_in_flight_ || !TakeNextWrite(&options)) return;
  }
  StartWrite(&write_buffer_, options);
}

void WorkerStream::Send(std::vector<WorkerMessage> messages) {
  grpc::WriteOptions options;
  {
    absl::MutexLock lock(&mu_);
    if (writes_failed_ || close_requested_) return;
    for (auto& m : messages) EnqueueLocked(std::move(m));
    if (write_in_flight_ || !TakeNextWrite(&options)) return;
  }
  StartWrite(&write_buffer_, options);
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
  if (queue_.empty()) return false;
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

void WorkerStream::CloseWrites() {
  {
    absl::MutexLock lock(&mu_);
    if (close_requested_ || writes_failed_) return;
    close_requested_ = true;
    if (write_in_flight_ || !queue_.empty()) return;  // OnWriteDone closes
    writes_done_started_ = true;
  }
  StartWritesDone();
}

void WorkerStream::ReleaseOwnerHold() {
  if (!owner_hold_released_.exchange(true)) RemoveHold();
}

void WorkerStream::OnReadDone(bool ok) {
  if (!ok) {
    listener_->OnStreamBroken(this);
    return;
  }
  if (read_buffer_.has_welcome()) {
    absl::MutexLock lock(&mu_);
    batch_limit_ = std::min(max_batch_, read_buffer_.welcome().max_worker_batch());
  }
  listener_->OnStreamMessage(this, read_buffer_);
  StartRead(&read_buffer_);
}

void WorkerStream::OnWriteDone(bool ok) {
  grpc::WriteOptions options;
  bool write_next = false;
  bool close = false;
  {
    absl::MutexLock lock(&mu_);
    write_in_flight_ = false;
    if (!ok) {
      writes_failed_ = true;  // the read fails too and reports the break
      queue_.clear();
      return;
    }
    write_next = TakeNextWrite(&options);
    if (!write_next && close_requested_ && !writes_done_started_) {
      writes_done_started_ = true;
      close = true;
    }
  }
  if (write_next) StartWrite(&write_buffer_, options);
  if (close) StartWritesDone();
}

void WorkerStream::OnWritesDoneDone(bool /*ok*/) {}

void WorkerStream::OnDone(const grpc::Status& status) {
  listener_->OnStreamDone(this, status);
  delete this;
}

}  // namespace conveyor
