#ifndef CONVEYOR_SERVER_RPC_TOKEN_TABLE_H_
#define CONVEYOR_SERVER_RPC_TOKEN_TABLE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "server/rpc/access_policy.h"

namespace conveyor::rpc {

// Access tokens and their roles, as read from a --tokens-file. Holds only
// SHA-256 digests of the tokens. Immutable, so thread-safe.
class TokenTable {
 public:
  // Parses a tokens file's `text`: one `TOKEN ROLE` per line (whitespace
  // between), ROLE one of producer, worker, admin; blank lines and lines
  // starting with '#' are skipped. A token is 16 to 4096 printable ASCII
  // characters and appears once. INVALID_ARGUMENT names `source` and the line
  // number, and never quotes the line (it may hold a token).
  static absl::StatusOr<TokenTable> Parse(absl::string_view text, absl::string_view source);
  // Reads and parses the file at `path`; NOT_FOUND / PERMISSION_DENIED-like
  // failures to read it come back as FAILED_PRECONDITION naming the path.
  static absl::StatusOr<TokenTable> Load(const std::string& path);

  // The role of `token`, or nullopt. Takes the same time whichever entry
  // (if any) matches, and however much of a token matches.
  std::optional<Role> Find(absl::string_view token) const;
  size_t size() const { return entries_.size(); }

 private:
  using Digest = std::array<uint8_t, 32>;
  struct Entry {
    Digest digest;
    Role role;
  };
  static Digest Hash(absl::string_view token);

  std::vector<Entry> entries_;
};

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_TOKEN_TABLE_H_
