#include "server/rpc/worker_service.h"

#include "server/rpc/worker_session.h"

namespace conveyor::rpc {

grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>* WorkerService::Connect(
    grpc::CallbackServerContext* context) {
  return WorkerSession::Start(
      std::make_shared<WorkerSession>(engine_, store_, clock_, context->peer()));
}

}  // namespace conveyor::rpc
