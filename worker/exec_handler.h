#ifndef CONVEYOR_WORKER_EXEC_HANDLER_H_
#define CONVEYOR_WORKER_EXEC_HANDLER_H_

#include <cstddef>
#include <string>

#include "absl/time/time.h"
#include "worker/handler.h"

namespace conveyor {

// Exit code of a command that failed in a way worth retrying (EX_TEMPFAIL).
inline constexpr int kExecRetryableExitCode = 75;

struct ExecOptions {
  // Run as `/bin/sh -c command`.
  std::string command;
  // After cancellation (or deadline) the child's process group gets SIGTERM,
  // then SIGKILL if it still runs this much later.
  absl::Duration kill_grace = absl::Seconds(5);
  // Stdout beyond this is dropped (the result would be rejected anyway).
  size_t max_result_bytes = size_t{1} << 20;
  // How much of the end of stderr becomes the error text.
  size_t stderr_tail_bytes = 4096;
};

// A handler that runs `options.command` for every job, in its own process
// group, with the payload on stdin and these environment variables (added
// to the worker's own):
//   CONVEYOR_JOB_ID, CONVEYOR_JOB_TYPE, CONVEYOR_QUEUE, CONVEYOR_ATTEMPT,
//   CONVEYOR_DEADLINE (RFC 3339, UTC; empty without a deadline),
//   CONVEYOR_LABEL_<KEY> per label (KEY upper-cased, other than [A-Z0-9]
//   turned into '_').
// Outcome: exit 0 succeeds with stdout as the result; exit 75 fails
// retryably; any other exit or a signal fails permanently. Failures carry
// stderr's tail. On cancellation the child's group is terminated (see
// kill_grace) and the attempt fails with CANCELLED.
//
// Thread-safe: each job runs its own child. Ignores SIGPIPE process-wide (a
// child that doesn't read its stdin must not kill the worker).
Handler MakeExecHandler(ExecOptions options);

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_EXEC_HANDLER_H_
