#include "fuzz/worker_stream.h"

#include <cstdio>
#include <cstdlib>

#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace conveyor::fuzz {

WorkerStream::WorkerStream(v1::WorkerService::Stub& stub) {
  stream_ = stub.Connect(&context_);
  reader_ = std::thread([this] { ReadAll(); });
}

WorkerStream::~WorkerStream() { Close(/*cancel=*/false); }

bool WorkerStream::Write(const v1::WorkerMessage& message) {
  if (closed_) return false;
  if (message.has_hello()) hello_sent_ = true;
  return stream_->Write(message);
}

bool WorkerStream::ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

void WorkerStream::Sync() {
  if (closed_ || !hello_sent_) return;  // Before Hello a report ends the stream.
  const uint64_t token = next_sync_token_++;
  v1::WorkerMessage m;
  m.mutable_complete()->set_job_id(0);
  m.mutable_complete()->set_fencing_token(token);
  if (!stream_->Write(m)) {
    // Broken: the reader sees the end.
  }
  absl::MutexLock lock(&mu_);
  auto answered = [this, token]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    return ended_ || synced_ >= token;
  };
  if (!mu_.AwaitWithTimeout(absl::Condition(&answered), absl::Minutes(1))) {
    std::fprintf(stderr, "worker stream: no answer to a report within a minute\n");
    std::abort();
  }
}

bool WorkerStream::PickLease(uint64_t pick, Lease* lease) const {
  absl::MutexLock lock(&mu_);
  if (leases_.empty()) return false;
  *lease = leases_[pick % leases_.size()];
  return true;
}

void WorkerStream::Close(bool cancel) {
  if (closed_) return;
  closed_ = true;
  if (cancel) {
    context_.TryCancel();
  } else {
    stream_->WritesDone();
  }
  reader_.join();
  (void)stream_->Finish();
}

void WorkerStream::ReadAll() {
  v1::CoordinatorMessage m;
  while (stream_->Read(&m)) {
    absl::MutexLock lock(&mu_);
    if (m.has_assignment()) {
      leases_.push_back({m.assignment().job().id(), m.assignment().fencing_token()});
    } else if (m.has_ack() && m.ack().job_id() == 0 &&
               m.ack().fencing_token() >= (uint64_t{1} << 62)) {
      synced_ = std::max(synced_, m.ack().fencing_token());
    }
  }
  absl::MutexLock lock(&mu_);
  ended_ = true;
}

}  // namespace conveyor::fuzz
