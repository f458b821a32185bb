#include "tests/client/test_worker.h"

#include "absl/strings/str_cat.h"
#include "client/status_conversion.h"

namespace conveyor::testing {

absl::StatusOr<std::unique_ptr<TestWorker>> TestWorker::Connect(const std::string& address,
                                                                const std::string& queue) {
  std::unique_ptr<TestWorker> w(new TestWorker());
  w->stub_ =
      v1::WorkerService::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
  w->context_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  w->stream_ = w->stub_->Connect(&w->context_);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_name("client-test-worker");
  hello.mutable_hello()->add_queues(queue);
  hello.mutable_hello()->set_concurrency(1);
  if (!w->stream_->Write(hello)) return w->StreamStatus();
  v1::CoordinatorMessage welcome;
  if (!w->stream_->Read(&welcome)) return w->StreamStatus();
  if (!welcome.has_welcome()) {
    return absl::InternalError(absl::StrCat("expected Welcome, got ", welcome.DebugString()));
  }
  return w;
}

TestWorker::~TestWorker() {
  if (stream_ != nullptr) {
    context_.TryCancel();
    v1::CoordinatorMessage ignored;
    while (stream_->Read(&ignored)) {
    }
    stream_->Finish().IgnoreError();
  }
}

absl::Status TestWorker::StreamStatus() {
  stream_->WritesDone();
  absl::Status s = FromGrpcStatus(stream_->Finish());
  stream_.reset();
  return s.ok() ? absl::InternalError("worker stream ended") : s;
}

absl::StatusOr<v1::Assignment> TestWorker::NextAssignment() {
  v1::CoordinatorMessage message;
  while (stream_->Read(&message)) {
    if (message.has_assignment()) return message.assignment();
  }
  return StreamStatus();
}

absl::Status TestWorker::Answer(const v1::WorkerMessage& message, uint64_t job_id) {
  if (!stream_->Write(message)) return StreamStatus();
  v1::CoordinatorMessage reply;
  while (stream_->Read(&reply)) {
    if (reply.has_ack() && reply.ack().job_id() == job_id) {
      if (reply.ack().accepted()) return absl::OkStatus();
      return absl::AbortedError(absl::StrCat("result rejected: ", reply.ack().reason()));
    }
  }
  return StreamStatus();
}

absl::Status TestWorker::Complete(const v1::Assignment& a, const std::string& result) {
  v1::WorkerMessage m;
  m.mutable_complete()->set_job_id(a.job().id());
  m.mutable_complete()->set_fencing_token(a.fencing_token());
  m.mutable_complete()->set_result(result);
  return Answer(m, a.job().id());
}

absl::Status TestWorker::Fail(const v1::Assignment& a, const std::string& error, bool permanent) {
  v1::WorkerMessage m;
  m.mutable_fail()->set_job_id(a.job().id());
  m.mutable_fail()->set_fencing_token(a.fencing_token());
  m.mutable_fail()->set_error(error);
  m.mutable_fail()->set_permanent(permanent);
  return Answer(m, a.job().id());
}

absl::Status TestWorker::Progress(const v1::Assignment& a, int percent,
                                  const std::string& message) {
  v1::WorkerMessage m;
  m.mutable_progress()->set_job_id(a.job().id());
  m.mutable_progress()->set_fencing_token(a.fencing_token());
  m.mutable_progress()->mutable_progress()->set_percent(percent);
  m.mutable_progress()->mutable_progress()->set_message(message);
  if (!stream_->Write(m)) return StreamStatus();
  return absl::OkStatus();
}

}  // namespace conveyor::testing
