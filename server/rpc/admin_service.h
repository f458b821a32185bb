#ifndef CONVEYOR_SERVER_RPC_ADMIN_SERVICE_H_
#define CONVEYOR_SERVER_RPC_ADMIN_SERVICE_H_

#include "conveyor/v1/admin_service.grpc.pb.h"
#include "server/engine/engine.h"
#include "server/rpc/authorizer.h"
#include "server/store/store.h"

namespace conveyor::rpc {

// conveyor.v1.AdminService: queues, settings, workers, the dead-letter
// queue. Changes reply once durable. Every call is first checked by
// `authorizer` (nullptr: none). Thread-safe.
class AdminService final : public v1::AdminService::CallbackService {
 public:
  AdminService(Engine* engine, Store* store, const Authorizer* authorizer = nullptr)
      : engine_(engine), store_(store), authorizer_(authorizer) {}

  grpc::ServerUnaryReactor* ListQueues(grpc::CallbackServerContext* context,
                                       const v1::ListQueuesRequest* request,
                                       v1::ListQueuesResponse* response) override;
  grpc::ServerUnaryReactor* GetQueue(grpc::CallbackServerContext* context,
                                     const v1::GetQueueRequest* request,
                                     v1::QueueInfo* response) override;
  grpc::ServerUnaryReactor* UpdateQueue(grpc::CallbackServerContext* context,
                                        const v1::UpdateQueueRequest* request,
                                        v1::QueueInfo* response) override;
  grpc::ServerUnaryReactor* ListWorkers(grpc::CallbackServerContext* context,
                                        const v1::ListWorkersRequest* request,
                                        v1::ListWorkersResponse* response) override;
  grpc::ServerUnaryReactor* ListDeadJobs(grpc::CallbackServerContext* context,
                                         const v1::ListDeadJobsRequest* request,
                                         v1::ListDeadJobsResponse* response) override;
  grpc::ServerUnaryReactor* RedriveJobs(grpc::CallbackServerContext* context,
                                        const v1::RedriveJobsRequest* request,
                                        v1::RedriveJobsResponse* response) override;
  grpc::ServerUnaryReactor* PurgeDeadJobs(grpc::CallbackServerContext* context,
                                          const v1::PurgeDeadJobsRequest* request,
                                          v1::PurgeDeadJobsResponse* response) override;

 private:
  Engine* const engine_;
  Store* const store_;
  const Authorizer* const authorizer_;
};

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_ADMIN_SERVICE_H_
