#ifndef CONVEYOR_SERVER_ENGINE_ERRORS_H_
#define CONVEYOR_SERVER_ENGINE_ERRORS_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "server/engine/ids.h"
#include "server/engine/job.h"

namespace conveyor::errors {

// The engine's errors, built in one place so codes and wording stay
// consistent. Messages say what to fix.

// OK if `name` is 1 to 128 characters of [A-Za-z0-9._-]; else
// INVALID_ARGUMENT naming `field`.
absl::Status CheckName(std::string_view field, std::string_view name);
absl::Status JobNotFound(JobId id);
absl::Status WorkerNotFound(WorkerId id);
absl::Status AlreadyEnded(const Job& job);
absl::Status LeaseLost(JobId id, FencingToken token);
absl::Status NotYourLease(JobId id, FencingToken token);
absl::Status Draining();

}  // namespace conveyor::errors

#endif  // CONVEYOR_SERVER_ENGINE_ERRORS_H_
