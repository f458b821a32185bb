#include "server/engine/errors.h"

#include "absl/strings/str_cat.h"

namespace conveyor::errors {

absl::Status CheckName(std::string_view field, std::string_view name) {
  bool ok = !name.empty() && name.size() <= 128;
  for (char c : name) {
    ok = ok && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-');
  }
  if (ok) return absl::OkStatus();
  std::string shown(name.substr(0, 40));
  if (name.size() > 40) shown += "...";
  return absl::InvalidArgumentError(absl::StrCat(
      std::string(field), " \"", shown, "\": names use [A-Za-z0-9._-], 1 to 128 characters"));
}

absl::Status JobNotFound(JobId id) {
  return absl::NotFoundError(
      absl::StrCat("job ", id.value, " not found (never submitted, or removed after retention)"));
}

absl::Status WorkerNotFound(WorkerId id) {
  return absl::NotFoundError(absl::StrCat("worker ", id.value, " is not connected"));
}

absl::Status AlreadyEnded(const Job& job) {
  return absl::FailedPreconditionError(
      absl::StrCat("job ", job.id.value, " already ended (", JobStateName(job.state), ")"));
}

absl::Status LeaseLost(JobId id, FencingToken token) {
  return absl::AbortedError(absl::StrCat(
      "lease ", token.value, " of job ", id.value,
      " is no longer current (expired, cancelled or granted again); the result was dropped"));
}

absl::Status NotYourLease(JobId id, FencingToken token) {
  return absl::PermissionDeniedError(absl::StrCat(
      "lease ", token.value, " of job ", id.value, " belongs to another worker"));
}

bool IsStaleResult(const absl::Status& s) {
  return absl::IsAborted(s) || absl::IsNotFound(s);
}

absl::Status Draining() {
  return absl::UnavailableError("coordinator is draining; retry on another coordinator or later");
}

absl::Status QueueFull(std::string_view queue, int64_t holds, int64_t adding, int64_t limit,
                       bool own_setting) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "queue \"", std::string(queue), "\" holds ", holds, " unfinished jobs; ", adding,
      " more would pass its limit of ", limit, "; nothing was submitted: retry later, or raise ",
      own_setting ? "the queue's max_depth (conveyor queue-settings --max-depth)"
                  : "--max-queue-depth on conveyord, or set the queue's own max_depth"));
}

absl::Status TooManyQueues(size_t queues, size_t limit) {
  return absl::ResourceExhaustedError(absl::StrCat(
      "the coordinator already has ", queues, " queues and its limit is ", limit,
      "; nothing was created: reuse existing queue names or raise --max-queues on conveyord"));
}

}  // namespace conveyor::errors
