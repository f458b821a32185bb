#ifndef CONVEYOR_WORKER_HANDLER_H_
#define CONVEYOR_WORKER_HANDLER_H_

#include <functional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "worker/job_context.h"

namespace conveyor {

// Runs one attempt of a job. Returns the job's result on success. An error
// status fails the attempt with the status message as the job's error; the
// coordinator retries it unless the status is a PermanentError. A handler
// that throws fails the attempt with what() (the worker catches it).
//
// Handlers run on the worker's pool, several at once (one per slot), so a
// handler shared by many jobs must be thread-safe. A handler should return
// soon after `context.cancelled()` becomes true.
using Handler = std::function<absl::StatusOr<std::string>(JobContext& context)>;

// A failure that retrying will not fix: the job goes to the dead-letter queue
// at once. The code is FAILED_PRECONDITION, marked with a payload that
// IsPermanent() recognises.
absl::Status PermanentError(std::string_view message);

// Marks `status` (which must not be OK) as permanent, keeping its code.
absl::Status MakePermanent(absl::Status status);

// True if `status` came from PermanentError() or MakePermanent().
bool IsPermanent(const absl::Status& status);

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_HANDLER_H_
