#include "server/rpc/token_table.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace conveyor::rpc {
namespace {

constexpr size_t kMinTokenLength = 16;
constexpr size_t kMaxTokenLength = 4096;

bool IsTokenChar(char c) { return c > ' ' && c < 0x7f; }

}  // namespace

TokenTable::Digest TokenTable::Hash(absl::string_view token) {
  Digest digest;
  SHA256(reinterpret_cast<const unsigned char*>(token.data()), token.size(), digest.data());
  return digest;
}

absl::StatusOr<TokenTable> TokenTable::Parse(absl::string_view text, absl::string_view source) {
  TokenTable table;
  std::vector<size_t> lines;  // Line of each entry, for duplicate errors.
  size_t line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    const absl::string_view stripped = absl::StripAsciiWhitespace(line);
    if (stripped.empty() || stripped.front() == '#') continue;
    const auto where = [&] { return absl::StrCat(std::string(source), " line ", line_number); };
    std::vector<absl::string_view> fields =
        absl::StrSplit(stripped, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() != 2) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), ": expected \"TOKEN ROLE\" (2 fields), found ", fields.size()));
    }
    const absl::string_view token = fields[0];
    std::optional<Role> role = ParseRole(fields[1]);
    if (!role) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), ": the role (2nd field) must be producer, worker or admin"));
    }
    if (token.size() < kMinTokenLength || token.size() > kMaxTokenLength) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), ": a token has ", kMinTokenLength, " to ", kMaxTokenLength,
                       " characters (found ", token.size(), "); e.g. `openssl rand -hex 24`"));
    }
    for (char c : token) {
      if (!IsTokenChar(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), ": a token is printable ASCII without spaces"));
      }
    }
    const Digest digest = Hash(token);
    for (size_t i = 0; i < table.entries_.size(); ++i) {
      if (table.entries_[i].digest == digest) {
        return absl::InvalidArgumentError(
            absl::StrCat(where(), ": the same token as line ", lines[i]));
      }
    }
    table.entries_.push_back({digest, *role});
    lines.push_back(line_number);
  }
  return table;
}

absl::StatusOr<TokenTable> TokenTable::Load(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::FailedPreconditionError(
        absl::StrCat("tokens file ", path, ": cannot open it for reading"));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    return absl::FailedPreconditionError(absl::StrCat("tokens file ", path, ": read failed"));
  }
  return Parse(text.str(), absl::StrCat("tokens file ", path));
}

std::optional<Role> TokenTable::Find(absl::string_view token) const {
  const Digest digest = Hash(token);
  // Every entry is compared in full, with no early exit.
  int found = -1;
  for (size_t i = 0; i < entries_.size(); ++i) {
    const int equal = CRYPTO_memcmp(digest.data(), entries_[i].digest.data(), digest.size()) == 0;
    found = equal ? static_cast<int>(i) : found;
  }
  if (found < 0) return std::nullopt;
  return entries_[found].role;
}

}  // namespace conveyor::rpc
