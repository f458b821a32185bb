#ifndef CONVEYOR_BENCH_STORE_METRICS_H_
#define CONVEYOR_BENCH_STORE_METRICS_H_

#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace conveyor::bench {

// The coordinator's group commits, from its conveyor_store_commit_seconds
// histogram (Prometheus text of /metrics).
struct StoreCommits {
  double count = 0;
  // Upper bound in seconds -> commits that took at most that long.
  std::map<double, double> at_most;

  // Commits that took longer than `seconds` (a bucket bound of the
  // histogram; 0 if it is not one).
  double Over(double seconds) const;
  // What happened between `before` and this scrape.
  StoreCommits Since(const StoreCommits& before) const;
};

// INVALID_ARGUMENT when `metrics_text` has no such histogram.
absl::StatusOr<StoreCommits> ParseStoreCommits(const std::string& metrics_text);

}  // namespace conveyor::bench

#endif  // CONVEYOR_BENCH_STORE_METRICS_H_
