#ifndef CONVEYOR_CLIENT_CHANNEL_H_
#define CONVEYOR_CLIENT_CHANNEL_H_

#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace conveyor {

// How to reach a coordinator that uses TLS and/or access tokens. The
// defaults (all empty) give a plaintext channel without a token.
struct ConnectionOptions {
  // Sent as `authorization: Bearer <token>` metadata on every call.
  std::string token;
  // Use TLS. Implied by any of the files below.
  bool tls = false;
  // PEM roots that the coordinator's certificate must chain to; empty:
  // gRPC's default roots.
  std::string tls_ca_file;
  // PEM client certificate chain and key, for a coordinator that requires
  // client certificates (mutual TLS); both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
};

// A channel to `target` per `options`, with `args`. Reads the PEM files now:
// FAILED_PRECONDITION naming the file that cannot be read; INVALID_ARGUMENT
// for a half-given certificate/key pair or a token with characters not
// allowed in metadata. Errors name the matching CLI flags (--tls-ca,
// --tls-cert, --tls-key, --token). Connects lazily.
absl::StatusOr<std::shared_ptr<grpc::Channel>> CreateCoordinatorChannel(
    const std::string& target, const ConnectionOptions& options,
    const grpc::ChannelArguments& args = grpc::ChannelArguments());

}  // namespace conveyor

#endif  // CONVEYOR_CLIENT_CHANNEL_H_
