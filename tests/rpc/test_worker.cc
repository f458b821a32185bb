#include "tests/rpc/test_worker.h"

namespace conveyor::testing {

TestWorker::TestWorker(std::shared_ptr<grpc::Channel> channel)
    : stub_(v1::WorkerService::NewStub(channel)) {
  stream_ = stub_->Connect(&context_);
  reader_ = std::thread([this] { ReadLoop(); });
}

TestWorker::~TestWorker() {
  context_.TryCancel();
  reader_.join();
}

void TestWorker::ReadLoop() {
  v1::CoordinatorMessage m;
  while (stream_->Read(&m)) {
    absl::MutexLock lock(&mu_);
    inbox_.push_back(m);
  }
  {
    absl::MutexLock lock(&mu_);
    read_done_ = true;
  }
  grpc::Status status = stream_->Finish();
  absl::MutexLock lock(&mu_);
  final_ = status;
}

bool TestWorker::Send(const v1::WorkerMessage& message) {
  absl::MutexLock lock(&write_mu_);
  if (writes_done_) return false;
  return stream_->Write(message);
}

uint64_t TestWorker::Hello(const std::string& name, const std::string& queue, int concurrency,
                           int max_batch) {
  v1::WorkerMessage m;
  m.mutable_hello()->set_name(name);
  m.mutable_hello()->add_queues(queue);
  m.mutable_hello()->set_concurrency(concurrency);
  m.mutable_hello()->set_max_batch(max_batch);
  if (!Send(m)) return 0;
  auto welcome = Next();
  if (!welcome || !welcome->has_welcome()) return 0;
  welcome_ = welcome->welcome();
  return welcome_.worker_id();
}

std::optional<v1::CoordinatorMessage> TestWorker::Next(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !inbox_.empty() || read_done_; };
  mu_.AwaitWithTimeout(absl::Condition(&ready), timeout);
  if (inbox_.empty()) return std::nullopt;
  auto m = std::move(inbox_.front());
  inbox_.pop_front();
  return m;
}

std::optional<v1::CoordinatorMessage> TestWorker::NextOf(v1::CoordinatorMessage::KindCase kind,
                                                         absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    auto m = Next(deadline - absl::Now());
    if (!m) return std::nullopt;
    if (m->kind_case() == kind) return m;
  }
  return std::nullopt;
}

bool TestWorker::Complete(uint64_t job, uint64_t token, const std::string& result) {
  v1::WorkerMessage m;
  m.mutable_complete()->set_job_id(job);
  m.mutable_complete()->set_fencing_token(token);
  m.mutable_complete()->set_result(result);
  return Send(m);
}

bool TestWorker::Fail(uint64_t job, uint64_t token, const std::string& error, bool permanent) {
  v1::WorkerMessage m;
  m.mutable_fail()->set_job_id(job);
  m.mutable_fail()->set_fencing_token(token);
  m.mutable_fail()->set_error(error);
  m.mutable_fail()->set_permanent(permanent);
  return Send(m);
}

grpc::Status TestWorker::Finish() {
  {
    absl::MutexLock lock(&write_mu_);
    if (!writes_done_) stream_->WritesDone();
    writes_done_ = true;
  }
  auto status = WaitClosed();
  return status ? *status : grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "not closed");
}

std::optional<grpc::Status> TestWorker::WaitClosed(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  auto done = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return final_.has_value(); };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  return final_;
}

}  // namespace conveyor::testing
