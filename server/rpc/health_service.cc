#include "server/rpc/health_service.h"

#include <optional>
#include <utility>

#include "server/rpc/calls.h"
#include "server/rpc/durable_reply.h"

namespace conveyor::rpc {

using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;

// One Watch call: its current status first, then each change. One write in
// flight; a change that comes during it replaces any not yet sent.
class HealthService::Watcher final : public WriteReactor<HealthCheckResponse> {
 public:
  Watcher(HealthService* health, std::string service)
      : health_(health), service_(std::move(service)) {}

  const std::string& service() const { return service_; }

  // Sends `status` unless it is what the caller last heard.
  void Update(Status status) ABSL_LOCKS_EXCLUDED(mu_) {
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return;
      if (writing_) {
        next_ = status;
        return;
      }
      if (status == sent_) return;
      writing_ = true;
      sent_ = status;
      writing_msg_.set_status(status);
    }
    StartWrite(&writing_msg_);
  }

  void OnWriteDone(bool ok) override {
    bool finish = false;
    std::optional<Status> next;
    {
      absl::MutexLock lock(&mu_);
      writing_ = false;
      if (!ok) closing_ = true;
      if (closing_) {
        if (finish_called_) return;
        finish_called_ = finish = true;
      } else {
        next = std::exchange(next_, std::nullopt);
      }
    }
    if (finish) {
      Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
    } else if (next.has_value()) {
      Update(*next);
    }
  }

  void OnCancel() override {
    {
      absl::MutexLock lock(&mu_);
      closing_ = true;
      if (writing_ || finish_called_) return;  // OnWriteDone finishes.
      finish_called_ = true;
    }
    Finish(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
  }

  void OnDone() override {
    health_->Forget(this);
    delete this;
  }

 private:
  HealthService* const health_;
  const std::string service_;
  absl::Mutex mu_;
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  Status sent_ ABSL_GUARDED_BY(mu_) = HealthCheckResponse::UNKNOWN;
  std::optional<Status> next_ ABSL_GUARDED_BY(mu_);
  HealthCheckResponse writing_msg_;  // The write in flight; touched only by its writer.
};

HealthService::HealthService(std::set<std::string> services) : services_(std::move(services)) {}

void HealthService::Serve(ServerLoop& loop) {
  using Async = grpc::health::v1::Health::AsyncService;
  ServeUnary(loop, &async_, &Async::RequestCheck, this, &HealthService::Check);
  ServeServerStream(loop, &async_, &Async::RequestWatch, this, &HealthService::Watch);
}

void HealthService::SetServing(bool serving) {
  // Under mu_: a watcher leaves (Forget) only under it.
  absl::MutexLock lock(&mu_);
  serving_ = serving;
  for (Watcher* watcher : watchers_) watcher->Update(StatusOfLocked(watcher->service()));
}

HealthService::Status HealthService::StatusOfLocked(const std::string& service) const {
  if (!service.empty() && services_.count(service) == 0)
    return HealthCheckResponse::SERVICE_UNKNOWN;
  return serving_ ? HealthCheckResponse::SERVING : HealthCheckResponse::NOT_SERVING;
}

UnaryReactor* HealthService::Check(CallContext* context, const HealthCheckRequest* request,
                                   HealthCheckResponse* response) {
  Status status;
  {
    absl::MutexLock lock(&mu_);
    status = StatusOfLocked(request->service());
  }
  if (status == HealthCheckResponse::SERVICE_UNKNOWN) {
    return FinishNow(context,
                     absl::NotFoundError("unknown service: ask for \"\" (the server as a whole)"));
  }
  response->set_status(status);
  return FinishNow(context, absl::OkStatus());
}

WriteReactor<HealthCheckResponse>* HealthService::Watch(CallContext* /*context*/,
                                                        const HealthCheckRequest* request) {
  auto* watcher = new Watcher(this, request->service());
  absl::MutexLock lock(&mu_);
  watchers_.insert(watcher);
  watcher->Update(StatusOfLocked(request->service()));
  return watcher;
}

void HealthService::Forget(Watcher* watcher) {
  absl::MutexLock lock(&mu_);
  watchers_.erase(watcher);
}

}  // namespace conveyor::rpc
