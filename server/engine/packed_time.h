#ifndef CONVEYOR_SERVER_ENGINE_PACKED_TIME_H_
#define CONVEYOR_SERVER_ENGINE_PACKED_TIME_H_

#include <cstdint>

#include "absl/time/time.h"

namespace conveyor {

// An absl::Time in 8 bytes: nanoseconds since the Unix epoch, INT64_MIN and
// INT64_MAX standing for InfinitePast and InfiniteFuture (the store's
// encoding, job_codec.h: finite times beyond year 2262 saturate the same
// way). Converts implicitly to and from absl::Time.
class PackedTime {
 public:
  PackedTime() = default;
  PackedTime(absl::Time t);  // NOLINT: implicit by design.
  operator absl::Time() const;  // NOLINT
  absl::Time time() const { return *this; }
  // Ordered as the times are.
  int64_t nanos() const { return nanos_; }

 private:
  int64_t nanos_ = INT64_MIN;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_PACKED_TIME_H_
