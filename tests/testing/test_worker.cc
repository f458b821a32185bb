#include "tests/testing/test_worker.h"

#include "absl/strings/str_cat.h"
#include "client/status_conversion.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace conveyor::testing {

TestWorker::TestWorker(std::shared_ptr<grpc::Channel> channel)
    : stub_(v1::WorkerService::NewStub(channel)) {
  stream_ = stub_->Connect(&context_);
  reader_ = std::thread([this] { ReadLoop(); });
}

absl::StatusOr<std::unique_ptr<TestWorker>> TestWorker::Connect(const std::string& address,
                                                                const std::string& queue) {
  auto worker = std::make_unique<TestWorker>(
      grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  if (worker->Hello("test-worker", queue, 1) == 0) return worker->NothingReceived();
  return worker;
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
                           int max_batch, int prefetch) {
  v1::WorkerMessage m;
  m.mutable_hello()->set_name(name);
  m.mutable_hello()->add_queues(queue);
  m.mutable_hello()->set_concurrency(concurrency);
  m.mutable_hello()->set_max_batch(max_batch);
  m.mutable_hello()->set_prefetch(prefetch);
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

absl::Status TestWorker::NothingReceived() {
  absl::MutexLock lock(&mu_);
  if (!final_.has_value()) return absl::DeadlineExceededError("no message from the coordinator");
  absl::Status s = FromGrpcStatus(*final_);
  return s.ok() ? absl::InternalError("worker stream ended") : s;
}

absl::StatusOr<v1::Assignment> TestWorker::NextAssignment(absl::Duration timeout) {
  auto m = NextOf(v1::CoordinatorMessage::kAssignment, timeout);
  if (!m) return NothingReceived();
  return m->assignment();
}

absl::Status TestWorker::AwaitAck(uint64_t job_id) {
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (auto m = NextOf(v1::CoordinatorMessage::kAck, deadline - absl::Now())) {
    if (m->ack().job_id() != job_id) continue;
    if (m->ack().accepted()) return absl::OkStatus();
    return absl::AbortedError(absl::StrCat("result rejected: ", m->ack().reason()));
  }
  return NothingReceived();
}

absl::Status TestWorker::CompleteAcked(const v1::Assignment& a, const std::string& result) {
  if (!Complete(a.job().id(), a.fencing_token(), result)) return NothingReceived();
  return AwaitAck(a.job().id());
}

absl::Status TestWorker::FailAcked(const v1::Assignment& a, const std::string& error,
                                   bool permanent) {
  if (!Fail(a.job().id(), a.fencing_token(), error, permanent)) return NothingReceived();
  return AwaitAck(a.job().id());
}

absl::Status TestWorker::Progress(const v1::Assignment& a, int percent,
                                  const std::string& message) {
  v1::WorkerMessage m;
  m.mutable_progress()->set_job_id(a.job().id());
  m.mutable_progress()->set_fencing_token(a.fencing_token());
  m.mutable_progress()->mutable_progress()->set_percent(percent);
  m.mutable_progress()->mutable_progress()->set_message(message);
  if (!Send(m)) return NothingReceived();
  return absl::OkStatus();
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
