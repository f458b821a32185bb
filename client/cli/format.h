#ifndef CONVEYOR_CLIENT_CLI_FORMAT_H_
#define CONVEYOR_CLIENT_CLI_FORMAT_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "conveyor/v1/admin_service.pb.h"
#include "conveyor/v1/job.pb.h"

// Human-readable text for the CLI's default (non --json) output.
namespace conveyor::cli {

// "queued", "succeeded", ...; "unspecified" for 0, the number if unknown.
std::string StateName(v1::JobState state);
// "attempts exhausted", "permanent failure", "lease lost"; "" when unset.
std::string DeadReasonName(v1::DeadReason reason);
// "2024-05-01 12:00:03" in `zone`; "-" for an unset (zero) timestamp.
std::string FormatTimestamp(const google::protobuf::Timestamp& t,
                            absl::TimeZone zone = absl::LocalTimeZone());
// A duration rounded to whole seconds below an hour ("1m30s", "45s", "0s"),
// to minutes above ("2h5m").
std::string FormatAge(absl::Duration d);
std::string FormatDuration(const google::protobuf::Duration& d);
// `bytes` with non-printable bytes escaped (\n, \xNN), cut to `max_len`
// characters with "..." when longer. ASCII only, so tables line up.
std::string PrintableBytes(absl::string_view bytes, size_t max_len);

// Whether a worker reported progress: a percent above 0 or a message.
bool HasProgress(const v1::Job& job);

// Multi-line "field: value" description of a job, with its attempt history.
std::string JobDetail(const v1::Job& job);
// One queue with its settings.
std::string QueueDetail(const v1::QueueInfo& queue);

}  // namespace conveyor::cli

#endif  // CONVEYOR_CLIENT_CLI_FORMAT_H_
