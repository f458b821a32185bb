#include "server/rpc/access_policy.h"

namespace conveyor::rpc {
namespace {

struct MethodRole {
  absl::string_view method;
  Role role;
};

// One line per RPC of every Conveyor service. access_test checks that this
// lists exactly the methods of the .proto services, and calls each one to
// check its handler enforces it.
constexpr MethodRole kMethodRoles[] = {
    {"/conveyor.v1.JobService/Submit", Role::kProducer},
    {"/conveyor.v1.JobService/GetJob", Role::kProducer},
    {"/conveyor.v1.JobService/ListJobs", Role::kProducer},
    {"/conveyor.v1.JobService/CancelJob", Role::kProducer},
    {"/conveyor.v1.JobService/WaitJob", Role::kProducer},
    {"/conveyor.v1.JobService/WatchJob", Role::kProducer},
    {"/conveyor.v1.JobService/RunJob", Role::kProducer},
    {"/conveyor.v1.WorkerService/Connect", Role::kWorker},
    {"/conveyor.v1.AdminService/ListQueues", Role::kAdmin},
    {"/conveyor.v1.AdminService/GetQueue", Role::kAdmin},
    {"/conveyor.v1.AdminService/UpdateQueue", Role::kAdmin},
    {"/conveyor.v1.AdminService/ListWorkers", Role::kAdmin},
    {"/conveyor.v1.AdminService/ListDeadJobs", Role::kAdmin},
    {"/conveyor.v1.AdminService/RedriveJobs", Role::kAdmin},
    {"/conveyor.v1.AdminService/PurgeDeadJobs", Role::kAdmin},
};

}  // namespace

absl::string_view RoleName(Role role) {
  switch (role) {
    case Role::kProducer:
      return "producer";
    case Role::kWorker:
      return "worker";
    case Role::kAdmin:
      return "admin";
  }
  return "unknown";
}

std::optional<Role> ParseRole(absl::string_view name) {
  for (Role role : {Role::kProducer, Role::kWorker, Role::kAdmin}) {
    if (name == RoleName(role)) return role;
  }
  return std::nullopt;
}

std::optional<Role> RequiredRole(absl::string_view method) {
  for (const MethodRole& entry : kMethodRoles) {
    if (entry.method == method) return entry.role;
  }
  return std::nullopt;
}

std::vector<absl::string_view> MethodsWithRoles() {
  std::vector<absl::string_view> methods;
  for (const MethodRole& entry : kMethodRoles) methods.push_back(entry.method);
  return methods;
}

bool Grants(Role held, Role required) { return held == Role::kAdmin || held == required; }

}  // namespace conveyor::rpc
