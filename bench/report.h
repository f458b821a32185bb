#ifndef CONVEYOR_BENCH_REPORT_H_
#define CONVEYOR_BENCH_REPORT_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"

namespace conveyor::bench {

// A figure's target from issue 7: the value must be >= or <= `bound`.
struct Target {
  enum class Op { kAtLeast, kAtMost };
  Op op;
  double bound;
  static Target AtLeast(double bound) { return {Op::kAtLeast, bound}; }
  static Target AtMost(double bound) { return {Op::kAtMost, bound}; }
  bool Met(double value) const { return op == Op::kAtLeast ? value >= bound : value <= bound; }
};

// Report collects the run's figures, then prints them as a table and writes
// them as JSON. Thread-safe.
class Report {
 public:
  struct Row {
    std::string scenario;
    std::string metric;
    double value;
    std::string unit;
    std::optional<Target> target;
  };

  void Add(std::string scenario, std::string metric, double value, std::string unit,
           std::optional<Target> target = std::nullopt) ABSL_LOCKS_EXCLUDED(mu_);
  // A free-text line shown under the table and kept in the JSON.
  void Note(std::string text) ABSL_LOCKS_EXCLUDED(mu_);
  // A failure that makes the run fail (a lost job, an error).
  void Fail(std::string text) ABSL_LOCKS_EXCLUDED(mu_);
  bool failed() const ABSL_LOCKS_EXCLUDED(mu_);

  // The table, one row per figure, with the target and whether it is met.
  std::string Table() const ABSL_LOCKS_EXCLUDED(mu_);
  // {"config": config_json, "results": [...], "notes": [...], "failures": [...]}.
  std::string Json(const std::string& config_json) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  std::vector<Row> rows_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> notes_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> failures_ ABSL_GUARDED_BY(mu_);
};

// `text` as a JSON string literal, quotes included.
std::string JsonString(const std::string& text);

}  // namespace conveyor::bench

#endif  // CONVEYOR_BENCH_REPORT_H_
