#ifndef CONVEYOR_SERVER_RPC_JOB_SERVICE_H_
#define CONVEYOR_SERVER_RPC_JOB_SERVICE_H_

#include "conveyor/v1/job_service.grpc.pb.h"
#include "server/engine/clock.h"
#include "server/engine/engine.h"
#include "server/rpc/authorizer.h"
#include "server/rpc/call_limits.h"
#include "server/rpc/reactors.h"
#include "server/rpc/server_loop.h"
#include "server/store/store.h"

namespace conveyor::rpc {

// conveyor.v1.JobService on a ServerLoop: converts protos, calls the
// engine, and replies once the change is durable in the store. Waiting calls
// (WaitJob, RunJob, WatchJob) hold no thread: they are engine watchers, each
// admitted by `limits` (RESOURCE_EXHAUSTED over a limit; a refused RunJob
// submits nothing). Every call is first checked by `authorizer` (nullptr:
// none). Thread-safe; the pointers must outlive it.
class JobService final : public LoopService {
 public:
  JobService(Engine* engine, Store* store, const Clock* clock, CallLimits* limits,
             const Authorizer* authorizer = nullptr)
      : engine_(engine),
        store_(store),
        clock_(clock),
        authorizer_(authorizer),
        limits_(limits) {}

  grpc::Service* grpc_service() override { return &async_; }
  void Serve(ServerLoop& loop) override;

  UnaryReactor* Submit(CallContext* context, const v1::SubmitRequest* request,
                       v1::SubmitResponse* response);
  UnaryReactor* GetJob(CallContext* context, const v1::GetJobRequest* request, v1::Job* response);
  UnaryReactor* ListJobs(CallContext* context, const v1::ListJobsRequest* request,
                         v1::ListJobsResponse* response);
  UnaryReactor* CancelJob(CallContext* context, const v1::CancelJobRequest* request,
                          v1::Job* response);
  UnaryReactor* WaitJob(CallContext* context, const v1::WaitJobRequest* request, v1::Job* response);
  WriteReactor<v1::JobUpdate>* WatchJob(CallContext* context, const v1::WatchJobRequest* request);
  UnaryReactor* RunJob(CallContext* context, const v1::RunJobRequest* request, v1::Job* response);

 private:
  v1::JobService::AsyncService async_;
  Engine* const engine_;
  Store* const store_;
  const Clock* const clock_;
  const Authorizer* const authorizer_;
  CallLimits* const limits_;
};

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_JOB_SERVICE_H_
