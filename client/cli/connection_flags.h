#ifndef CONVEYOR_CLIENT_CLI_CONNECTION_FLAGS_H_
#define CONVEYOR_CLIENT_CLI_CONNECTION_FLAGS_H_

#include <CLI/CLI.hpp>

#include "client/channel.h"

namespace conveyor::cli {

// Adds --token (env CONVEYOR_TOKEN), --tls (CONVEYOR_TLS), --tls-ca
// (CONVEYOR_TLS_CA), --tls-cert (CONVEYOR_TLS_CERT) and --tls-key
// (CONVEYOR_TLS_KEY) to `app`, filling `connection`, which must outlive
// parsing. Shared by `conveyor` and `conveyor-worker`.
void AddConnectionFlags(CLI::App& app, ConnectionOptions& connection);

}  // namespace conveyor::cli

#endif  // CONVEYOR_CLIENT_CLI_CONNECTION_FLAGS_H_
