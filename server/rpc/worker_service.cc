#include "server/rpc/worker_service.h"

#include "server/rpc/status_conversion.h"
#include "server/rpc/worker_session.h"

namespace conveyor::rpc {
namespace {

// A Connect stream refused before it started: finishes at once.
class RefusedStream : public grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage> {
 public:
  explicit RefusedStream(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>* WorkerService::Connect(
    grpc::CallbackServerContext* context) {
  auto ticket = limits_->Admit(context->peer(), /*wait=*/false);
  if (!ticket.ok()) return new RefusedStream(ToGrpcStatus(ticket.status()));
  return WorkerSession::Start(std::make_shared<WorkerSession>(
      engine_, store_, clock_, context->peer(), *std::move(ticket), max_send_queue_));
}

}  // namespace conveyor::rpc
