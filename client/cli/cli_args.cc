#include "client/cli/cli_args.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace conveyor::cli {

absl::StatusOr<std::pair<std::string, std::string>> ParseLabel(absl::string_view text) {
  const size_t eq = text.find('=');
  if (eq == absl::string_view::npos || eq == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("label \"", text, "\": expected key=value with a non-empty key"));
  }
  return std::make_pair(std::string(text.substr(0, eq)), std::string(text.substr(eq + 1)));
}

absl::StatusOr<std::map<std::string, std::string>> ParseLabels(
    const std::vector<std::string>& texts) {
  std::map<std::string, std::string> labels;
  for (const std::string& text : texts) {
    absl::StatusOr<std::pair<std::string, std::string>> label = ParseLabel(text);
    if (!label.ok()) return label.status();
    labels[label->first] = label->second;
  }
  return labels;
}

absl::StatusOr<v1::JobState> ParseJobState(absl::string_view text) {
  std::string name = absl::AsciiStrToUpper(text);
  if (!absl::StartsWith(name, "JOB_STATE_")) name = absl::StrCat("JOB_STATE_", name);
  v1::JobState state;
  if (name != "JOB_STATE_UNSPECIFIED" && v1::JobState_Parse(name, &state)) return state;
  return absl::InvalidArgumentError(absl::StrCat(
      "state \"", text, "\": expected scheduled, queued, running, succeeded, dead or cancelled"));
}

absl::StatusOr<absl::Duration> ParseNonNegativeDuration(absl::string_view flag,
                                                        absl::string_view text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d == absl::InfiniteDuration() || d < absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text, "\": expected a duration such as 500ms, 10s, 5m or 1h30m"));
  }
  return d;
}

std::vector<std::string> SplitPayloadLines(absl::string_view content) {
  std::vector<std::string> payloads;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    absl::ConsumeSuffix(&line, "\r");
    if (!line.empty()) payloads.emplace_back(line);
  }
  return payloads;
}

std::vector<std::pair<size_t, size_t>> BatchRanges(size_t total, size_t batch_size) {
  std::vector<std::pair<size_t, size_t>> ranges;
  for (size_t begin = 0; begin < total; begin += batch_size) {
    ranges.emplace_back(begin, std::min(total, begin + batch_size));
  }
  return ranges;
}

}  // namespace conveyor::cli
