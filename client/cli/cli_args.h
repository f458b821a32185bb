#ifndef CONVEYOR_CLIENT_CLI_CLI_ARGS_H_
#define CONVEYOR_CLIENT_CLI_CLI_ARGS_H_

#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "conveyor/v1/job.pb.h"

namespace conveyor::cli {

// Parses "key=value" (the value may be empty or hold '='); INVALID_ARGUMENT
// for a missing '=' or an empty key.
absl::StatusOr<std::pair<std::string, std::string>> ParseLabel(absl::string_view text);
// Parses repeated --label flags; a later key overrides an earlier one.
absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& texts);

// Parses a job state, case-insensitively: "queued", "QUEUED" or
// "JOB_STATE_QUEUED". INVALID_ARGUMENT lists the accepted names.
absl::StatusOr<v1::JobState> ParseJobState(absl::string_view text);

// Parses a duration with absl::ParseDuration ("1s", "500ms", "1h30m").
// INVALID_ARGUMENT, naming `flag`, if malformed, infinite or negative (zero
// is accepted).
absl::StatusOr<absl::Duration> ParseNonNegativeDuration(absl::string_view flag,
                                                        absl::string_view text);

// Splits a --batch-file's content into payloads: one per line, "\r\n" and
// "\n" both end lines, and empty lines are skipped.
std::vector<std::string> SplitPayloadLines(absl::string_view content);

// The [begin, end) index ranges that cut `total` items into consecutive
// batches of at most `batch_size`. REQUIRES: batch_size >= 1.
std::vector<std::pair<size_t, size_t>> BatchRanges(size_t total, size_t batch_size);

}  // namespace conveyor::cli

#endif  // CONVEYOR_CLIENT_CLI_CLI_ARGS_H_
