#ifndef CONVEYOR_WORKER_RECORD_HANDLER_H_
#define CONVEYOR_WORKER_RECORD_HANDLER_H_

#include <string>

#include "absl/status/statusor.h"
#include "worker/handler.h"

namespace conveyor {

// A handler that proves a job ran (tests/chaos relies on it): it waits for
// the duration in the payload ("20ms"; empty: none), then appends one line
// "<job id> <attempt> <pid>\n" to `path` with a single O_APPEND write(2), and
// returns "recorded". Once write returns, the line survives a SIGKILL of the
// worker (it is in the kernel's page cache), so a kill after the record and
// before the result reaches the coordinator shows up as a second line with a
// later attempt, never as a lost one. No fsync: a crash of the machine is
// out of scope.
//
// A bad payload fails permanently; cancellation while waiting fails the
// attempt (retryably) and records nothing. INTERNAL, naming the path, if
// the file cannot be opened for appending (it is created if missing).
// Thread-safe: lines from concurrent jobs never interleave.
absl::StatusOr<Handler> MakeRecordHandler(const std::string& path);

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_RECORD_HANDLER_H_
