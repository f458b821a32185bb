#ifndef CONVEYOR_SERVER_RPC_LOGGING_H_
#define CONVEYOR_SERVER_RPC_LOGGING_H_

#include <string>

#include "absl/status/status.h"

namespace conveyor::rpc {

// Sets up spdlog's default logger `name` on stderr: `level` one of trace,
// debug, info, warn, error; `format` "text" (human, colour on a terminal) or
// "json" (one JSON object per line, message escaped). INVALID_ARGUMENT for
// unknown values.
absl::Status ConfigureLogging(const std::string& name, const std::string& level,
                              const std::string& format);

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_LOGGING_H_
