#include "bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace conveyor::bench {
namespace {

constexpr int kSubCount = 1 << LogHistogram::kSubBits;
// Values below kSubCount get one bucket each; each further power of two adds
// kSubCount / 2 buckets (its upper half, at the next coarser resolution).
constexpr int kBuckets = kSubCount + (63 - LogHistogram::kSubBits + 1) * (kSubCount / 2);

}  // namespace

LogHistogram::LogHistogram() : counts_(kBuckets, 0) {}

int LogHistogram::BucketOf(int64_t value) {
  if (value < kSubCount) return static_cast<int>(value);
  const int magnitude = std::bit_width(static_cast<uint64_t>(value)) - 1;  // >= kSubBits
  const int shift = magnitude - (kSubBits - 1);
  // The top kSubBits bits: in [kSubCount/2, kSubCount).
  const int top = static_cast<int>(static_cast<uint64_t>(value) >> shift);
  return kSubCount + (shift - 1) * (kSubCount / 2) + (top - kSubCount / 2);
}

int64_t LogHistogram::UpperBoundOf(int bucket) {
  if (bucket < kSubCount) return bucket;
  const int shift = (bucket - kSubCount) / (kSubCount / 2) + 1;
  const int top = (bucket - kSubCount) % (kSubCount / 2) + kSubCount / 2;
  const uint64_t low = static_cast<uint64_t>(top) << shift;
  const uint64_t high = low + ((uint64_t{1} << shift) - 1);
  return high > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX : static_cast<int64_t>(high);
}

void LogHistogram::Record(int64_t value) {
  value = std::max<int64_t>(value, 0);
  ++counts_[BucketOf(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += value;
}

void LogHistogram::Add(const LogHistogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

int64_t LogHistogram::Percentile(double percentile) const {
  if (count_ == 0) return 0;
  const double clamped = std::clamp(percentile, 0.0, 100.0);
  const int64_t rank =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil(clamped / 100.0 * count_)));
  int64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::min(UpperBoundOf(static_cast<int>(i)), max_);
  }
  return max_;
}

}  // namespace conveyor::bench
