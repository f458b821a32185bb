#include "worker/builtin_handlers.h"

#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "spdlog/spdlog.h"

namespace conveyor {

absl::StatusOr<std::string> EchoHandler(JobContext& job) { return job.payload(); }

absl::StatusOr<std::string> SleepHandler(JobContext& job) {
  absl::Duration d;
  const std::string text(absl::StripAsciiWhitespace(job.payload()));
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
    return PermanentError(
        absl::StrCat("sleep: payload \"", text, "\" is not a duration like 200ms or 2s"));
  }
  job.ReportProgress(0, absl::StrCat("sleeping ", absl::FormatDuration(d)));
  if (job.WaitForCancel(d)) return absl::CancelledError(absl::StrCat("cancelled: ", job.cancel_reason()));
  return absl::StrCat("slept ", absl::FormatDuration(d));
}

absl::StatusOr<std::string> FailHandler(JobContext& job) {
  return absl::UnavailableError(absl::StrCat("fail: ", job.payload()));
}

absl::StatusOr<std::string> FailPermanentHandler(JobContext& job) {
  return PermanentError(absl::StrCat("fail-permanent: ", job.payload()));
}

absl::StatusOr<std::string> CrashHandler(JobContext& job) {
  spdlog::critical("event=crash job_id={} reason=\"crash handler\"", job.job_id());
  // Flush, not spdlog::shutdown(): other slots may still log until abort,
  // and a dropped default logger would turn this SIGABRT into a SIGSEGV.
  spdlog::default_logger()->flush();
  std::abort();
}

absl::StatusOr<std::string> StartedAtHandler(JobContext&) {
  return absl::StrCat(absl::GetCurrentTimeNanos());
}

absl::Status RegisterBuiltinHandlers(Worker& worker) {
  const std::pair<const char*, Handler> handlers[] = {
      {"echo", EchoHandler},         {"sleep", SleepHandler},
      {"fail", FailHandler},         {"fail-permanent", FailPermanentHandler},
      {"crash", CrashHandler},       {"started-at", StartedAtHandler},
  };
  for (const auto& [type, handler] : handlers) {
    absl::Status s = worker.RegisterHandler(type, handler);
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace conveyor
