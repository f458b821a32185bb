#ifndef CONVEYOR_SERVER_ENGINE_HISTOGRAM_H_
#define CONVEYOR_SERVER_ENGINE_HISTOGRAM_H_

#include <array>
#include <cstdint>

#include "absl/time/time.h"

namespace conveyor {

// Counts durations in fixed buckets (Prometheus-style upper bounds, in
// seconds, from 1ms to 5m, then +Inf), with their sum. Not thread-safe:
// the owner guards it.
class Histogram {
 public:
  static constexpr std::array<double, 16> kBounds = {
      0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300};

  void Observe(absl::Duration d) {
    const double seconds = absl::ToDoubleSeconds(d);
    size_t i = 0;
    while (i < kBounds.size() && seconds > kBounds[i]) ++i;
    ++counts_[i];
    ++count_;
    sum_ += seconds;
  }
  // Observations in bucket i (not cumulative); i == kBounds.size() is +Inf.
  uint64_t bucket(size_t i) const { return counts_[i]; }
  uint64_t count() const { return count_; }
  double sum() const { return sum_; }

 private:
  std::array<uint64_t, kBounds.size() + 1> counts_{};
  uint64_t count_ = 0;
  double sum_ = 0;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_HISTOGRAM_H_
