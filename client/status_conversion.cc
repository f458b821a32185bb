#include "client/status_conversion.h"

#include <string>

#include "absl/strings/str_cat.h"

namespace conveyor {

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  const int code = static_cast<int>(status.error_code());
  // grpc::StatusCode and absl::StatusCode share the canonical numbering 0..16.
  if (code < 1 || code > static_cast<int>(absl::StatusCode::kUnauthenticated)) {
    return absl::UnknownError(absl::StrCat("grpc status ", code, ": ", status.error_message()));
  }
  if (status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED &&
      status.error_message().find("larger than max") != std::string::npos) {
    // gRPC's own size check: say which knobs move it.
    return absl::ResourceExhaustedError(absl::StrCat(
        status.error_message(), "; requests are capped by conveyord --max-message-bytes, "
        "replies by the client's max_receive_message_bytes"));
  }
  return absl::Status(static_cast<absl::StatusCode>(code), status.error_message());
}

}  // namespace conveyor
