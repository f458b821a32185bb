#ifndef CONVEYOR_SERVER_RPC_ADMIN_SERVICE_H_
#define CONVEYOR_SERVER_RPC_ADMIN_SERVICE_H_

#include "conveyor/v1/admin_service.grpc.pb.h"
#include "server/engine/engine.h"
#include "server/rpc/authorizer.h"
#include "server/rpc/reactors.h"
#include "server/rpc/server_loop.h"
#include "server/store/store.h"

namespace conveyor::rpc {

// conveyor.v1.AdminService: queues, settings, workers, the dead-letter
// queue. Changes reply once durable. Every call is first checked by
// `authorizer` (nullptr: none). Thread-safe.
class AdminService final : public LoopService {
 public:
  AdminService(Engine* engine, Store* store, const Authorizer* authorizer = nullptr)
      : engine_(engine), store_(store), authorizer_(authorizer) {}

  grpc::Service* grpc_service() override { return &async_; }
  void Serve(ServerLoop& loop) override;

  UnaryReactor* ListQueues(CallContext* context, const v1::ListQueuesRequest* request,
                           v1::ListQueuesResponse* response);
  UnaryReactor* GetQueue(CallContext* context, const v1::GetQueueRequest* request,
                         v1::QueueInfo* response);
  UnaryReactor* UpdateQueue(CallContext* context, const v1::UpdateQueueRequest* request,
                            v1::QueueInfo* response);
  UnaryReactor* ListWorkers(CallContext* context, const v1::ListWorkersRequest* request,
                            v1::ListWorkersResponse* response);
  UnaryReactor* ListDeadJobs(CallContext* context, const v1::ListDeadJobsRequest* request,
                             v1::ListDeadJobsResponse* response);
  UnaryReactor* RedriveJobs(CallContext* context, const v1::RedriveJobsRequest* request,
                            v1::RedriveJobsResponse* response);
  UnaryReactor* PurgeDeadJobs(CallContext* context, const v1::PurgeDeadJobsRequest* request,
                              v1::PurgeDeadJobsResponse* response);

 private:
  v1::AdminService::AsyncService async_;
  Engine* const engine_;
  Store* const store_;
  const Authorizer* const authorizer_;
};

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_ADMIN_SERVICE_H_
