#include "client/proto_time.h"

#include <algorithm>
#include <cstdint>

namespace conveyor {
namespace {

// The protobuf limits: Duration within +-315,576,000,000s, Timestamp within
// years 0001..9999.
constexpr int64_t kMaxDurationSeconds = 315'576'000'000;
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;

}  // namespace

google::protobuf::Duration ToProtoDuration(absl::Duration d) {
  google::protobuf::Duration out;
  if (d >= absl::Seconds(kMaxDurationSeconds)) {
    out.set_seconds(kMaxDurationSeconds);
    return out;
  }
  if (d <= absl::Seconds(-kMaxDurationSeconds)) {
    out.set_seconds(-kMaxDurationSeconds);
    return out;
  }
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out.set_seconds(seconds);
  out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
  return out;
}

absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

google::protobuf::Timestamp ToProtoTimestamp(absl::Time t) {
  google::protobuf::Timestamp out;
  const int64_t seconds =
      std::clamp(absl::ToUnixSeconds(t), kMinTimestampSeconds, kMaxTimestampSeconds);
  out.set_seconds(seconds);
  const absl::Duration rest = t - absl::FromUnixSeconds(seconds);
  if (rest > absl::ZeroDuration() && rest < absl::Seconds(1)) {
    out.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rest)));
  }
  return out;
}

absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace conveyor
