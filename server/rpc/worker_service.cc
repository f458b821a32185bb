#include "server/rpc/worker_service.h"

#include "server/rpc/calls.h"
#include "server/rpc/status_conversion.h"
#include "server/rpc/worker_session.h"

namespace conveyor::rpc {

void WorkerService::Serve(ServerLoop& loop) {
  loop_ = &loop;
  ServeBidi(loop, &async_, &v1::WorkerService::AsyncService::RequestConnect, this,
            &WorkerService::Connect);
}

BidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>* WorkerService::Connect(
    CallContext* context) {
  using Reactor = BidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>;
  grpc::Status refused = CheckCall(authorizer_, *context, "/conveyor.v1.WorkerService/Connect");
  if (!refused.ok()) return new RefusedStream<Reactor>(refused);
  auto ticket = limits_->Admit(context->peer(), /*wait=*/false);
  if (!ticket.ok()) return new RefusedStream<Reactor>(ToGrpcStatus(ticket.status()));
  return WorkerSession::Start(std::make_shared<WorkerSession>(
      engine_, store_, clock_, loop_, context, *std::move(ticket), stream_limits_));
}

}  // namespace conveyor::rpc
