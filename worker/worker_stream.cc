#include "worker/worker_stream.h"

#include <utility>

namespace conveyor {

using conveyor::v1::WorkerMessage;

WorkerStream* WorkerStream::Create(conveyor::v1::WorkerService::Stub* stub,
                                   Listener* listener) {
  auto* stream = new WorkerStream(listener);  // deleted in OnDone
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
    // Coalesce what only matters once: a heartbeat already waiting covers
    // this one; a newer progress report replaces a waiting one for the job.
    if (message.has_heartbeat()) {
      for (const auto& queued : queue_) {
        if (queued.has_heartbeat()) return;
      }
    }
    bool replaced = false;
    if (message.has_progress()) {
      for (auto& queued : queue_) {
        if (queued.has_progress() && queued.progress().job_id() == message.progress().job_id()) {
          queued = message;
          replaced = true;
          break;
        }
      }
    }
    if (!replaced) queue_.push_back(std::move(message));
    if (write_in_flight_) return;
    if (!TakeNextWrite(&options)) return;
  }
  StartWrite(&write_buffer_, options);
}

bool WorkerStream::TakeNextWrite(grpc::WriteOptions* options) {
  if (queue_.empty()) return false;
  write_buffer_ = std::move(queue_.front());
  queue_.pop_front();
  write_in_flight_ = true;
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
