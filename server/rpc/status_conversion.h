#ifndef CONVEYOR_SERVER_RPC_STATUS_CONVERSION_H_
#define CONVEYOR_SERVER_RPC_STATUS_CONVERSION_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace conveyor::rpc {

// The one place an absl::Status becomes a grpc::Status: same code, same
// message.
grpc::Status ToGrpcStatus(const absl::Status& status);

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_STATUS_CONVERSION_H_
