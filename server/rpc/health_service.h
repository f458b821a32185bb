#ifndef CONVEYOR_SERVER_RPC_HEALTH_SERVICE_H_
#define CONVEYOR_SERVER_RPC_HEALTH_SERVICE_H_

#include <set>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/rpc/reactors.h"
#include "server/rpc/server_loop.h"

namespace conveyor::rpc {

// grpc.health.v1.Health on a ServerLoop, as gRPC's built-in one answers:
// the server as a whole ("") is SERVING until SetServing(false), and so is
// each service named at construction. Check: NOT_FOUND for another name;
// Watch: SERVICE_UNKNOWN, then every change. Needs no access token.
// Thread-safe.
class HealthService final : public LoopService {
 public:
  explicit HealthService(std::set<std::string> services);

  // Watchers hear of the change.
  void SetServing(bool serving) ABSL_LOCKS_EXCLUDED(mu_);

  grpc::Service* grpc_service() override { return &async_; }
  void Serve(ServerLoop& loop) override;

  UnaryReactor* Check(CallContext* context, const grpc::health::v1::HealthCheckRequest* request,
                      grpc::health::v1::HealthCheckResponse* response);
  WriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      CallContext* context, const grpc::health::v1::HealthCheckRequest* request);

 private:
  class Watcher;
  using Status = grpc::health::v1::HealthCheckResponse::ServingStatus;
  Status StatusOfLocked(const std::string& service) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Forget(Watcher* watcher) ABSL_LOCKS_EXCLUDED(mu_);

  grpc::health::v1::Health::AsyncService async_;
  const std::set<std::string> services_;
  absl::Mutex mu_;
  bool serving_ ABSL_GUARDED_BY(mu_) = true;
  std::set<Watcher*> watchers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_HEALTH_SERVICE_H_
