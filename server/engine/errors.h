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
// A result's answer that only means the job moved on (ABORTED: its lease is
// gone; NOT_FOUND: no such job): the result is dropped, the worker is fine.
// Other errors on a result mean a broken worker.
bool IsStaleResult(const absl::Status& s);
absl::Status Draining();
// RESOURCE_EXHAUSTED: `queue` holds `holds` unfinished jobs, `adding` more
// would pass `limit` (the queue's max_depth when `own_setting`, else
// --max-queue-depth).
absl::Status QueueFull(std::string_view queue, int64_t holds, int64_t adding, int64_t limit,
                       bool own_setting);
// RESOURCE_EXHAUSTED: a new queue beyond --max-queues.
absl::Status TooManyQueues(size_t queues, size_t limit);

}  // namespace conveyor::errors

#endif  // CONVEYOR_SERVER_ENGINE_ERRORS_H_
