#ifndef CONVEYOR_CLIENT_PROTO_TIME_H_
#define CONVEYOR_CLIENT_PROTO_TIME_H_

#include <google/protobuf/duration.pb.h>
#include <google/protobuf/timestamp.pb.h>

#include "absl/time/time.h"

namespace conveyor {

// Conversions between absl time types and the protobuf well-known types.
// Infinite absl values saturate to the protobuf range (about +-10,000 years).
google::protobuf::Duration ToProtoDuration(absl::Duration d);
absl::Duration FromProtoDuration(const google::protobuf::Duration& d);
google::protobuf::Timestamp ToProtoTimestamp(absl::Time t);
absl::Time FromProtoTimestamp(const google::protobuf::Timestamp& t);

}  // namespace conveyor

#endif  // CONVEYOR_CLIENT_PROTO_TIME_H_
