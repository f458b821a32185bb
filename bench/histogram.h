#ifndef CONVEYOR_BENCH_HISTOGRAM_H_
#define CONVEYOR_BENCH_HISTOGRAM_H_

#include <cstdint>
#include <vector>

namespace conveyor::bench {

// LogHistogram counts non-negative values (here: nanoseconds) in HDR-style
// log-linear buckets: values below 2^kSubBits are exact, and each power-of-two
// range above is split into 2^(kSubBits-1) equal sub-buckets, so a reported
// percentile is within 1/2^(kSubBits-1) (0.8%) above the recorded value, up to
// 2^63, in a fixed array of about 7,400 counters.
// Negative values are clamped to 0. Not thread-safe: one writer, or merge
// per-thread histograms with Add().
class LogHistogram {
 public:
  static constexpr int kSubBits = 8;

  LogHistogram();

  void Record(int64_t value);
  // Adds every count of `other`.
  void Add(const LogHistogram& other);

  int64_t count() const { return count_; }
  int64_t min() const { return count_ == 0 ? 0 : min_; }
  int64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0.0 : static_cast<double>(sum_) / count_; }
  // The smallest bucket upper bound at or below which `percentile` (0 to 100)
  // percent of the values lie, capped at max(). 0 when empty.
  int64_t Percentile(double percentile) const;

 private:
  static int BucketOf(int64_t value);
  // The largest value that falls into `bucket`.
  static int64_t UpperBoundOf(int bucket);

  std::vector<int64_t> counts_;
  int64_t count_ = 0;
  int64_t min_ = INT64_MAX;
  int64_t max_ = 0;
  // Sums of nanoseconds fit 2^63 for about 292 years of latency.
  int64_t sum_ = 0;
};

}  // namespace conveyor::bench

#endif  // CONVEYOR_BENCH_HISTOGRAM_H_
