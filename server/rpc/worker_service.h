#ifndef CONVEYOR_SERVER_RPC_WORKER_SERVICE_H_
#define CONVEYOR_SERVER_RPC_WORKER_SERVICE_H_

#include "conveyor/v1/worker_service.grpc.pb.h"
#include "server/engine/clock.h"
#include "server/engine/engine.h"
#include "server/store/store.h"

namespace conveyor::rpc {

// conveyor.v1.WorkerService: each Connect stream is one WorkerSession
// reactor (worker_session.h); no thread per stream. Thread-safe; `engine`,
// `store` and `clock` must outlive it.
class WorkerService final : public v1::WorkerService::CallbackService {
 public:
  WorkerService(Engine* engine, Store* store, const Clock* clock)
      : engine_(engine), store_(store), clock_(clock) {}

  grpc::ServerBidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>* Connect(
      grpc::CallbackServerContext* context) override;

 private:
  Engine* const engine_;
  Store* const store_;
  const Clock* const clock_;
};

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_WORKER_SERVICE_H_
