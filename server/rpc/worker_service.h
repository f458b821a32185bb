#ifndef CONVEYOR_SERVER_RPC_WORKER_SERVICE_H_
#define CONVEYOR_SERVER_RPC_WORKER_SERVICE_H_

#include "conveyor/v1/worker_service.grpc.pb.h"
#include "server/engine/clock.h"
#include "server/engine/engine.h"
#include "server/rpc/authorizer.h"
#include "server/rpc/call_limits.h"
#include "server/rpc/reactors.h"
#include "server/rpc/server_loop.h"
#include "server/rpc/worker_session.h"
#include "server/store/store.h"

namespace conveyor::rpc {

// conveyor.v1.WorkerService: each Connect stream is one WorkerSession
// reactor (worker_session.h); no thread per stream. Every call is first
// checked by `authorizer` (nullptr: none). A stream `limits` does not admit
// ends at once with RESOURCE_EXHAUSTED; one whose worker lets more than
// `stream_limits.max_send_queue` messages wait unread is ended too (see
// WorkerSession). Thread-safe; the pointers must outlive it.
class WorkerService final : public LoopService {
 public:
  WorkerService(Engine* engine, Store* store, const Clock* clock, CallLimits* limits,
                WorkerStreamLimits stream_limits, const Authorizer* authorizer = nullptr)
      : engine_(engine),
        store_(store),
        clock_(clock),
        authorizer_(authorizer),
        limits_(limits),
        stream_limits_(stream_limits) {}

  grpc::Service* grpc_service() override { return &async_; }
  void Serve(ServerLoop& loop) override;

  BidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>* Connect(CallContext* context);

 private:
  v1::WorkerService::AsyncService async_;
  ServerLoop* loop_ = nullptr;  // Set by Serve.
  Engine* const engine_;
  Store* const store_;
  const Clock* const clock_;
  const Authorizer* const authorizer_;
  CallLimits* const limits_;
  const WorkerStreamLimits stream_limits_;
};

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_WORKER_SERVICE_H_
