#include "tests/worker/fake_coordinator.h"

#include <deque>
#include <utility>

#include "grpcpp/security/server_credentials.h"
#include "grpcpp/server_builder.h"
#include "grpcpp/support/server_callback.h"
#include "tests/testing/wait_for.h"

namespace conveyor::testing {

using conveyor::v1::CoordinatorMessage;
using conveyor::v1::WorkerMessage;

namespace {
void SetDuration(absl::Duration d, google::protobuf::Duration* out) {
  out->set_seconds(absl::ToInt64Seconds(d));
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d - absl::Seconds(out->seconds()))));
}
}  // namespace

// One Connect stream. Writes are queued, one in flight.
class FakeCoordinator::Session
    : public grpc::ServerBidiReactor<WorkerMessage, CoordinatorMessage> {
 public:
  explicit Session(FakeCoordinator* owner) : owner_(owner) { StartRead(&in_); }

  void Write(CoordinatorMessage m) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      queue_.push_back(std::move(m));
      if (writing_) return;
      writing_ = true;
      out_ = std::move(queue_.front());
      queue_.pop_front();
    }
    StartWrite(&out_);
  }
  void End(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (finished_) return;
      finished_ = true;
    }
    Finish(status);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      owner_->Detach(this);
      End(grpc::Status::OK);
      return;
    }
    owner_->OnMessage(this, in_);
    StartRead(&in_);
  }
  void OnWriteDone(bool ok) override ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (!ok || queue_.empty()) {
        writing_ = false;
        return;
      }
      out_ = std::move(queue_.front());
      queue_.pop_front();
    }
    StartWrite(&out_);
  }
  void OnDone() override {
    owner_->Detach(this);
    {
      absl::MutexLock lock(&owner_->mu_);
      --owner_->sessions_alive_;
    }
    delete this;
  }

 private:
  FakeCoordinator* const owner_;
  WorkerMessage in_;
  CoordinatorMessage out_;
  absl::Mutex mu_;
  std::deque<CoordinatorMessage> queue_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool finished_ ABSL_GUARDED_BY(mu_) = false;
};

class FakeCoordinator::Service : public conveyor::v1::WorkerService::CallbackService {
 public:
  explicit Service(FakeCoordinator* owner) : owner_(owner) {}
  grpc::ServerBidiReactor<WorkerMessage, CoordinatorMessage>* Connect(
      grpc::CallbackServerContext* /*context*/) override {
    auto* session = new Session(owner_);
    absl::MutexLock lock(&owner_->mu_);
    ++owner_->streams_opened_;
    ++owner_->sessions_alive_;
    owner_->session_ = session;
    owner_->welcomed_ = false;
    return session;
  }

 private:
  FakeCoordinator* const owner_;
};

FakeCoordinator::FakeCoordinator() : service_(std::make_unique<Service>(this)) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
  builder.RegisterService(service_.get());
  server_ = builder.BuildAndStart();
}

FakeCoordinator::~FakeCoordinator() {
  Disconnect();
  server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  WaitFor([this] {
    absl::MutexLock lock(&mu_);
    return sessions_alive_ == 0;
  });
}

void FakeCoordinator::Detach(Session* session) {
  absl::MutexLock lock(&mu_);
  if (session_ == session) {
    session_ = nullptr;
    welcomed_ = false;
  }
}

void FakeCoordinator::OnMessage(Session* session, const WorkerMessage& message) {
  std::vector<CoordinatorMessage> replies;
  {
    absl::MutexLock lock(&mu_);
    if (message.has_batch()) {
      ++batches_received_;
      for (const auto& inner : message.batch().messages()) {
        if (auto reply = HandleLocked(inner)) replies.push_back(*std::move(reply));
      }
    } else if (auto reply = HandleLocked(message)) {
      replies.push_back(*std::move(reply));
    }
  }
  for (auto& reply : replies) session->Write(std::move(reply));
}

std::optional<CoordinatorMessage> FakeCoordinator::HandleLocked(const WorkerMessage& message) {
  received_.push_back(message);
  CoordinatorMessage reply;
  if (message.has_hello()) {
    last_hello_ = message.hello();
    welcomed_ = true;
    auto* w = reply.mutable_welcome();
    w->set_worker_id(static_cast<uint64_t>(streams_opened_));
    SetDuration(absl::Seconds(30), w->mutable_lease_duration());
    SetDuration(heartbeat_interval_, w->mutable_heartbeat_interval());
    w->set_concurrency(message.hello().concurrency());
    w->set_max_worker_batch(max_worker_batch_);
    return reply;
  }
  if (message.has_complete() || message.has_fail() || message.has_release()) {
    auto* ack = reply.mutable_ack();
    if (message.has_complete()) {
      ack->set_job_id(message.complete().job_id());
      ack->set_fencing_token(message.complete().fencing_token());
    } else if (message.has_fail()) {
      ack->set_job_id(message.fail().job_id());
      ack->set_fencing_token(message.fail().fencing_token());
    } else {
      ack->set_job_id(message.release().job_id());
      ack->set_fencing_token(message.release().fencing_token());
    }
    ack->set_accepted(!reject_results_);
    if (reject_results_) ack->set_reason("lease lost");
    return reply;
  }
  return std::nullopt;
}

void FakeCoordinator::Send(CoordinatorMessage message) {
  absl::MutexLock lock(&mu_);  // keeps session_ alive: Detach needs mu_
  if (session_ != nullptr) session_->Write(std::move(message));
}

void FakeCoordinator::set_heartbeat_interval(absl::Duration d) {
  absl::MutexLock lock(&mu_);
  heartbeat_interval_ = d;
}

void FakeCoordinator::set_max_worker_batch(int n) {
  absl::MutexLock lock(&mu_);
  max_worker_batch_ = n;
}

int FakeCoordinator::batches_received() const {
  absl::MutexLock lock(&mu_);
  return batches_received_;
}

void FakeCoordinator::set_reject_results(bool reject) {
  absl::MutexLock lock(&mu_);
  reject_results_ = reject;
}

bool FakeCoordinator::connected() const {
  absl::MutexLock lock(&mu_);
  return session_ != nullptr && welcomed_;
}

int FakeCoordinator::streams_opened() const {
  absl::MutexLock lock(&mu_);
  return streams_opened_;
}

conveyor::v1::Hello FakeCoordinator::last_hello() const {
  absl::MutexLock lock(&mu_);
  return last_hello_;
}

CoordinatorMessage FakeCoordinator::MakeAssignment(
    uint64_t id, const std::string& type, const std::string& payload,
    std::optional<absl::Duration> deadline_in, const std::map<std::string, std::string>& labels) {
  CoordinatorMessage m;
  auto* a = m.mutable_assignment();
  a->mutable_job()->set_id(id);
  a->mutable_job()->set_queue("default");
  a->mutable_job()->set_type(type);
  a->mutable_job()->set_payload(payload);
  for (const auto& [k, v] : labels) (*a->mutable_job()->mutable_labels())[k] = v;
  a->set_attempt(1);
  SetDuration(absl::Seconds(30), a->mutable_lease_duration());
  if (deadline_in.has_value()) SetDuration(*deadline_in, a->mutable_deadline_in());
  return m;
}

uint64_t FakeCoordinator::Assign(uint64_t id, const std::string& type, const std::string& payload,
                                 std::optional<absl::Duration> deadline_in,
                                 std::map<std::string, std::string> labels) {
  CoordinatorMessage m = MakeAssignment(id, type, payload, deadline_in, labels);
  absl::MutexLock lock(&mu_);
  if (session_ == nullptr || !welcomed_) return 0;
  const uint64_t token = next_token_++;
  m.mutable_assignment()->set_fencing_token(token);
  session_->Write(std::move(m));
  return token;
}

std::vector<uint64_t> FakeCoordinator::AssignBatch(
    const std::vector<std::pair<uint64_t, std::string>>& jobs) {
  CoordinatorMessage m;
  for (const auto& [id, type] : jobs) {
    *m.mutable_batch()->add_messages() = MakeAssignment(id, type, "", std::nullopt, {});
  }
  std::vector<uint64_t> tokens;
  absl::MutexLock lock(&mu_);
  if (session_ == nullptr || !welcomed_) return tokens;
  for (auto& inner : *m.mutable_batch()->mutable_messages()) {
    tokens.push_back(next_token_++);
    inner.mutable_assignment()->set_fencing_token(tokens.back());
  }
  session_->Write(std::move(m));
  return tokens;
}

void FakeCoordinator::Cancel(uint64_t id, uint64_t token, const std::string& reason) {
  CoordinatorMessage m;
  m.mutable_cancel()->set_job_id(id);
  m.mutable_cancel()->set_fencing_token(token);
  m.mutable_cancel()->set_reason(reason);
  Send(std::move(m));
}

void FakeCoordinator::Drain(absl::Duration grace) {
  CoordinatorMessage m;
  SetDuration(grace, m.mutable_drain()->mutable_grace());
  Send(std::move(m));
}

void FakeCoordinator::Disconnect() {
  absl::MutexLock lock(&mu_);
  if (session_ == nullptr) return;
  session_->End(grpc::Status(grpc::StatusCode::UNAVAILABLE, "fake coordinator went away"));
  session_ = nullptr;
  welcomed_ = false;
}

std::vector<WorkerMessage> FakeCoordinator::received() const {
  absl::MutexLock lock(&mu_);
  return received_;
}

std::optional<WorkerMessage> FakeCoordinator::ResultFor(uint64_t id) const {
  absl::MutexLock lock(&mu_);
  for (const auto& m : received_) {
    if ((m.has_complete() && m.complete().job_id() == id) ||
        (m.has_fail() && m.fail().job_id() == id) ||
        (m.has_release() && m.release().job_id() == id)) {
      return m;
    }
  }
  return std::nullopt;
}

int FakeCoordinator::CountOf(WorkerMessage::KindCase kind) const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& m : received_) n += m.kind_case() == kind ? 1 : 0;
  return n;
}

}  // namespace conveyor::testing
