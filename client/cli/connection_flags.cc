#include "client/cli/connection_flags.h"

namespace conveyor::cli {

void AddConnectionFlags(CLI::App& app, ConnectionOptions& connection) {
  app.add_option("--token", connection.token,
                 "Access token, sent as 'authorization: Bearer TOKEN' (prefer the environment)")
      ->envname("CONVEYOR_TOKEN");
  app.add_flag("--tls", connection.tls, "Connect with TLS (implied by the --tls-* files)")
      ->envname("CONVEYOR_TLS");
  app.add_option("--tls-ca", connection.tls_ca_file,
                 "PEM CA that verifies the coordinator (default: gRPC's roots)")
      ->envname("CONVEYOR_TLS_CA");
  app.add_option("--tls-cert", connection.tls_cert_file,
                 "PEM client certificate, for a coordinator that requires one")
      ->envname("CONVEYOR_TLS_CERT");
  app.add_option("--tls-key", connection.tls_key_file, "PEM private key of --tls-cert")
      ->envname("CONVEYOR_TLS_KEY");
}

}  // namespace conveyor::cli
