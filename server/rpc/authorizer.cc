#include "server/rpc/authorizer.h"

#include <spdlog/spdlog.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "server/rpc/access_policy.h"
#include "server/rpc/status_conversion.h"

namespace conveyor::rpc {
namespace {

constexpr absl::string_view kBearer = "bearer ";

absl::Status Refused(const grpc::ServerContextBase& context, absl::string_view method,
                     absl::Status status) {
  SPDLOG_DEBUG("call refused method={} peer={} code={}", std::string(method), context.peer(),
               absl::StatusCodeToString(status.code()));
  return status;
}

}  // namespace

Authorizer::Authorizer(std::string tokens_file, TokenTable tokens)
    : tokens_file_(std::move(tokens_file)),
      tokens_(std::make_shared<const TokenTable>(std::move(tokens))) {}

absl::StatusOr<std::unique_ptr<Authorizer>> Authorizer::FromFile(const std::string& tokens_file) {
  absl::StatusOr<TokenTable> tokens = TokenTable::Load(tokens_file);
  if (!tokens.ok()) return tokens.status();
  return std::unique_ptr<Authorizer>(new Authorizer(tokens_file, *std::move(tokens)));
}

std::shared_ptr<const TokenTable> Authorizer::tokens() const {
  absl::MutexLock lock(&mu_);
  return tokens_;
}

absl::StatusOr<size_t> Authorizer::Reload() {
  if (!enabled()) return absl::FailedPreconditionError("no --tokens-file to reload");
  absl::StatusOr<TokenTable> loaded = TokenTable::Load(tokens_file_);
  if (!loaded.ok()) return loaded.status();
  auto fresh = std::make_shared<const TokenTable>(*std::move(loaded));
  const size_t count = fresh->size();
  absl::MutexLock lock(&mu_);
  tokens_ = std::move(fresh);
  return count;
}

absl::Status Authorizer::Check(const grpc::ServerContextBase& context,
                               absl::string_view method) const {
  const std::optional<Role> required = RequiredRole(method);
  if (!required) {
    return Refused(context, method,
                   absl::InternalError(
                       absl::StrCat(std::string(method), " has no entry in the access table")));
  }
  if (!enabled()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  auto header = metadata.find("authorization");
  if (header == metadata.end()) {
    return Refused(
        context, method,
        absl::UnauthenticatedError("this coordinator needs an access token: send metadata "
                                   "\"authorization: Bearer <token>\" (conveyor --token, "
                                   "CONVEYOR_TOKEN)"));
  }
  const absl::string_view value(header->second.data(), header->second.size());
  if (value.size() <= kBearer.size() ||
      !absl::EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
    return Refused(
        context, method,
        absl::UnauthenticatedError("authorization metadata: expected \"Bearer <token>\""));
  }
  const std::optional<Role> role = tokens()->Find(value.substr(kBearer.size()));
  if (!role) {
    return Refused(context, method, absl::UnauthenticatedError("unknown access token"));
  }
  if (!Grants(*role, *required)) {
    const std::string needs = *required == Role::kAdmin
                                  ? "an admin token"
                                  : absl::StrCat("a ", std::string(RoleName(*required)),
                                                 " or admin token");
    return Refused(context, method,
                   absl::PermissionDeniedError(absl::StrCat(
                       "a ", std::string(RoleName(*role)), " token may not call ",
                       std::string(method), " (it needs ", needs, ")")));
  }
  return absl::OkStatus();
}

UnaryReactor* RefuseUnary(const Authorizer* authorizer, CallContext* context,
                          absl::string_view method) {
  grpc::Status status = CheckCall(authorizer, *context, method);
  if (status.ok()) return nullptr;
  auto* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::Status CheckCall(const Authorizer* authorizer, const grpc::ServerContextBase& context,
                       absl::string_view method) {
  if (authorizer == nullptr) return grpc::Status::OK;
  return ToGrpcStatus(authorizer->Check(context, method));
}

}  // namespace conveyor::rpc
