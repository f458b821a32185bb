#ifndef CONVEYOR_SERVER_RPC_ACCESS_POLICY_H_
#define CONVEYOR_SERVER_RPC_ACCESS_POLICY_H_

#include <optional>
#include <vector>

#include "absl/strings/string_view.h"

namespace conveyor::rpc {

// What an access token may do: `producer` calls JobService, `worker` calls
// WorkerService, `admin` calls everything (AdminService included).
enum class Role { kProducer, kWorker, kAdmin };

absl::string_view RoleName(Role role);
// "producer", "worker" or "admin"; nullopt otherwise.
std::optional<Role> ParseRole(absl::string_view name);

// The role a call to `method` ("/conveyor.v1.JobService/Submit") needs;
// nullopt for a method missing from the table (callers refuse it). Health
// and reflection are not in the table: they are open to everyone.
std::optional<Role> RequiredRole(absl::string_view method);

// Every method in the table, for the test that it lists each method of
// each Conveyor service.
std::vector<absl::string_view> MethodsWithRoles();

// Whether a token of role `held` may call a method that needs `required`.
bool Grants(Role held, Role required);

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_ACCESS_POLICY_H_
