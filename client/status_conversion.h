#ifndef CONVEYOR_CLIENT_STATUS_CONVERSION_H_
#define CONVEYOR_CLIENT_STATUS_CONVERSION_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace conveyor {

// Maps a gRPC status to the absl::Status with the same code and message.
// Codes outside absl's range become UNKNOWN; gRPC's message-size errors get
// a hint naming the limits. The one place client/ converts.
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace conveyor

#endif  // CONVEYOR_CLIENT_STATUS_CONVERSION_H_
