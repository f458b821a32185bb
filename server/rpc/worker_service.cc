#include "server/rpc/worker_service.h"

#include "server/rpc/status_conversion.h"
#include "server/rpc/worker_session.h"

namespace conveyor::rpc {

grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>* WorkerService::Connect(
    grpc::CallbackServerContext* context) {
  using Reactor = grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>;
  grpc::Status refused = CheckCall(authorizer_, *context, "/conveyor.v1.WorkerService/Connect");
  if (!refused.ok()) return new RefusedStream<Reactor>(refused);
  auto ticket = limits_->Admit(context->peer(), /*wait=*/false);
  if (!ticket.ok()) return new RefusedStream<Reactor>(ToGrpcStatus(ticket.status()));
  return WorkerSession::Start(std::make_shared<WorkerSession>(
      engine_, store_, clock_, context, *std::move(ticket), stream_limits_));
}

}  // namespace conveyor::rpc
