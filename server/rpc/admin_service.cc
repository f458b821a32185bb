#include "server/rpc/admin_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "server/rpc/calls.h"
#include "server/rpc/durable_reply.h"
#include "server/rpc/proto_convert.h"
#include "server/rpc/status_conversion.h"

namespace conveyor::rpc {
namespace {

std::vector<JobId> ToIds(const google::protobuf::RepeatedField<uint64_t>& ids) {
  std::vector<JobId> out;
  for (uint64_t id : ids) out.push_back(JobId{id});
  return out;
}

}  // namespace

void AdminService::Serve(ServerLoop& loop) {
  using Async = v1::AdminService::AsyncService;
  ServeUnary(loop, &async_, &Async::RequestListQueues, this, &AdminService::ListQueues);
  ServeUnary(loop, &async_, &Async::RequestGetQueue, this, &AdminService::GetQueue);
  ServeUnary(loop, &async_, &Async::RequestUpdateQueue, this, &AdminService::UpdateQueue);
  ServeUnary(loop, &async_, &Async::RequestListWorkers, this, &AdminService::ListWorkers);
  ServeUnary(loop, &async_, &Async::RequestListDeadJobs, this, &AdminService::ListDeadJobs);
  ServeUnary(loop, &async_, &Async::RequestRedriveJobs, this, &AdminService::RedriveJobs);
  ServeUnary(loop, &async_, &Async::RequestPurgeDeadJobs, this, &AdminService::PurgeDeadJobs);
}

UnaryReactor* AdminService::ListQueues(CallContext* context,
                                       const v1::ListQueuesRequest* /*request*/,
                                       v1::ListQueuesResponse* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.AdminService/ListQueues");
  if (refused != nullptr) return refused;
  for (const QueueStats& q : engine_->ListQueues()) ToProto(q, response->add_queues());
  return FinishNow(context, absl::OkStatus());
}

UnaryReactor* AdminService::GetQueue(CallContext* context, const v1::GetQueueRequest* request,
                                     v1::QueueInfo* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.AdminService/GetQueue");
  if (refused != nullptr) return refused;
  auto q = engine_->GetQueue(request->name());
  if (q.ok()) ToProto(*q, response);
  return FinishNow(context, q.status());
}

UnaryReactor* AdminService::UpdateQueue(CallContext* context, const v1::UpdateQueueRequest* request,
                                        v1::QueueInfo* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.AdminService/UpdateQueue");
  if (refused != nullptr) return refused;
  auto update = FromProto(request->settings());
  if (!update.ok()) return FinishNow(context, update.status());
  auto updated = engine_->UpdateQueue(request->name(), *update);
  if (!updated.ok()) return FinishNow(context, updated.status());
  ToProto(updated->value, response);
  auto* reactor = context->DefaultReactor();
  FinishWhenDurable(store_, updated->seq, reactor);
  return reactor;
}

UnaryReactor* AdminService::ListWorkers(CallContext* context,
                                        const v1::ListWorkersRequest* /*request*/,
                                        v1::ListWorkersResponse* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.AdminService/ListWorkers");
  if (refused != nullptr) return refused;
  for (const WorkerStats& w : engine_->ListWorkers()) ToProto(w, response->add_workers());
  return FinishNow(context, absl::OkStatus());
}

UnaryReactor* AdminService::ListDeadJobs(CallContext* context,
                                         const v1::ListDeadJobsRequest* request,
                                         v1::ListDeadJobsResponse* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.AdminService/ListDeadJobs");
  if (refused != nullptr) return refused;
  if (request->page_size() < 0 || request->page_size() > 1000) {
    return FinishNow(context,
                     absl::InvalidArgumentError("page_size must be 0 (default 100) to 1000"));
  }
  const size_t limit = request->page_size() == 0 ? 100 : request->page_size();
  JobId after;
  if (!request->page_token().empty() && !absl::SimpleAtoi(request->page_token(), &after.value)) {
    return FinishNow(context, absl::InvalidArgumentError(
                                  "page_token: pass next_page_token from the previous page"));
  }
  std::vector<Job> jobs = engine_->ListDead(request->queue(), after, limit);
  for (const Job& job : jobs) ToProto(job, response->add_jobs());
  if (jobs.size() == limit) response->set_next_page_token(absl::StrCat(jobs.back().id.value));
  return FinishNow(context, absl::OkStatus());
}

UnaryReactor* AdminService::RedriveJobs(CallContext* context, const v1::RedriveJobsRequest* request,
                                        v1::RedriveJobsResponse* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.AdminService/RedriveJobs");
  if (refused != nullptr) return refused;
  auto redriven = engine_->Redrive(request->queue(), ToIds(request->job_ids()));
  if (!redriven.ok()) return FinishNow(context, redriven.status());
  response->set_redriven(redriven->value);
  auto* reactor = context->DefaultReactor();
  FinishWhenDurable(store_, redriven->seq, reactor);
  return reactor;
}

UnaryReactor* AdminService::PurgeDeadJobs(CallContext* context,
                                          const v1::PurgeDeadJobsRequest* request,
                                          v1::PurgeDeadJobsResponse* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.AdminService/PurgeDeadJobs");
  if (refused != nullptr) return refused;
  auto purged = engine_->PurgeDead(request->queue(), ToIds(request->job_ids()));
  if (!purged.ok()) return FinishNow(context, purged.status());
  response->set_purged(purged->value);
  auto* reactor = context->DefaultReactor();
  FinishWhenDurable(store_, purged->seq, reactor);
  return reactor;
}

}  // namespace conveyor::rpc
