#include "bench/store_metrics.h"

#include <cmath>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace conveyor::bench {

double StoreCommits::Over(double seconds) const {
  auto it = at_most.find(seconds);
  return it == at_most.end() ? 0 : count - it->second;
}

StoreCommits StoreCommits::Since(const StoreCommits& before) const {
  StoreCommits out;
  out.count = count - before.count;
  for (const auto& [bound, n] : at_most) {
    auto it = before.at_most.find(bound);
    out.at_most[bound] = n - (it == before.at_most.end() ? 0 : it->second);
  }
  return out;
}

absl::StatusOr<StoreCommits> ParseStoreCommits(const std::string& metrics_text) {
  constexpr absl::string_view kBucket = "conveyor_store_commit_seconds_bucket{le=\"";
  constexpr absl::string_view kCount = "conveyor_store_commit_seconds_count ";
  StoreCommits out;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(metrics_text, '\n')) {
    double value = 0;
    if (absl::ConsumePrefix(&line, kCount)) {
      if (!absl::SimpleAtod(line, &value)) continue;
      out.count = value;
      found = true;
    } else if (absl::ConsumePrefix(&line, kBucket)) {
      const size_t end = line.find("\"} ");
      if (end == absl::string_view::npos) continue;
      double bound = 0;
      const absl::string_view le = line.substr(0, end);
      if (le == "+Inf") {
        bound = INFINITY;
      } else if (!absl::SimpleAtod(le, &bound)) {
        continue;
      }
      if (absl::SimpleAtod(line.substr(end + 3), &value)) out.at_most[bound] = value;
    }
  }
  if (!found) {
    return absl::InvalidArgumentError("no conveyor_store_commit_seconds histogram in /metrics");
  }
  return out;
}

}  // namespace conveyor::bench
