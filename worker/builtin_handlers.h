#ifndef CONVEYOR_WORKER_BUILTIN_HANDLERS_H_
#define CONVEYOR_WORKER_BUILTIN_HANDLERS_H_

#include "absl/status/status.h"
#include "worker/worker.h"

namespace conveyor {

// Handlers for demos and tests, all thread-safe:
//   echo            result = payload
//   sleep           payload is a duration ("200ms", "2s"); reports progress
//                   0% "sleeping <d>" on start; returns "slept <d>",
//                   or a failure "cancelled: <reason>" if cancelled first
//   fail            always fails, retryably: "fail: <payload>"
//   fail-permanent  always fails permanently: "fail-permanent: <payload>"
//   crash           abort()s the whole process, like a crashing worker
//   started-at      result = the wall-clock time its handler began, in Unix
//                   nanoseconds (decimal): what conveyor-bench measures
//                   submit->handler-start with
absl::StatusOr<std::string> EchoHandler(JobContext& job);
absl::StatusOr<std::string> SleepHandler(JobContext& job);
absl::StatusOr<std::string> FailHandler(JobContext& job);
absl::StatusOr<std::string> FailPermanentHandler(JobContext& job);
absl::StatusOr<std::string> CrashHandler(JobContext& job);
absl::StatusOr<std::string> StartedAtHandler(JobContext& job);

// Registers all of the above on `worker` under their names.
absl::Status RegisterBuiltinHandlers(Worker& worker);

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_BUILTIN_HANDLERS_H_
