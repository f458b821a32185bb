#include "server/engine/packed_time.h"

namespace conveyor {

PackedTime::PackedTime(absl::Time t) {
  if (t == absl::InfinitePast()) {
    nanos_ = INT64_MIN;
  } else if (t == absl::InfiniteFuture()) {
    nanos_ = INT64_MAX;
  } else {
    nanos_ = absl::ToUnixNanos(t);
  }
}

PackedTime::operator absl::Time() const {
  if (nanos_ == INT64_MIN) return absl::InfinitePast();
  if (nanos_ == INT64_MAX) return absl::InfiniteFuture();
  return absl::FromUnixNanos(nanos_);
}

}  // namespace conveyor
