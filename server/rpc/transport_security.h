#ifndef CONVEYOR_SERVER_RPC_TRANSPORT_SECURITY_H_
#define CONVEYOR_SERVER_RPC_TRANSPORT_SECURITY_H_

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace conveyor::rpc {

// PEM files for the gRPC port. All empty: plaintext.
struct TlsFiles {
  // The server's certificate chain and private key; both or neither.
  std::string cert;
  std::string key;
  // CA that client certificates must chain to; set: mutual TLS (a client
  // without a valid certificate is refused during the handshake).
  std::string client_ca;
};

// Insecure credentials for empty `files`, else TLS ones from the files read
// now. INVALID_ARGUMENT for a half-given pair or a client CA without TLS;
// FAILED_PRECONDITION naming the file that cannot be read.
absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentialsFor(
    const TlsFiles& files);

// Whether `listen` ("127.0.0.1:7070", "[::1]:0", "localhost:7070",
// "unix:/path") can only be reached from this machine.
bool IsLoopbackAddress(absl::string_view listen);

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_TRANSPORT_SECURITY_H_
