#ifndef CONVEYOR_SERVER_RPC_AUTHORIZER_H_
#define CONVEYOR_SERVER_RPC_AUTHORIZER_H_

#include <grpcpp/server_context.h>

#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "server/rpc/reactors.h"
#include "server/rpc/token_table.h"

namespace conveyor::rpc {

// Decides whether a call may run: its `authorization: Bearer <token>`
// metadata must name a token (from the tokens file) whose role grants the
// method's role (access_policy.h). Every handler of JobService,
// WorkerService and AdminService asks it first, before touching any state.
// Thread-safe.
class Authorizer {
 public:
  // No tokens file: every call to a method in the access table is allowed.
  Authorizer() = default;
  // Loads `tokens_file`; its errors name the file and line.
  static absl::StatusOr<std::unique_ptr<Authorizer>> FromFile(const std::string& tokens_file);

  // OK, or UNAUTHENTICATED (no token, malformed metadata, unknown token), or
  // PERMISSION_DENIED (the token's role may not call `method`), or INTERNAL
  // for a method missing from the access table (refused even without
  // tokens). `method` is the full name, "/conveyor.v1.JobService/Submit".
  absl::Status Check(const grpc::ServerContextBase& context, absl::string_view method) const
      ABSL_LOCKS_EXCLUDED(mu_);

  // Reads the tokens file again and, if it parses, uses it for later calls
  // (calls in flight keep their decision). On error the current tokens stay.
  // FAILED_PRECONDITION without a tokens file. Returns the tokens now held.
  absl::StatusOr<size_t> Reload() ABSL_LOCKS_EXCLUDED(mu_);

  bool enabled() const { return !tokens_file_.empty(); }

 private:
  explicit Authorizer(std::string tokens_file, TokenTable tokens);
  std::shared_ptr<const TokenTable> tokens() const ABSL_LOCKS_EXCLUDED(mu_);

  const std::string tokens_file_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const TokenTable> tokens_ ABSL_GUARDED_BY(mu_);
};

// Checks a unary call with `authorizer` (nullptr: allow). Returns the
// call's default reactor, finished with the refusal, or nullptr when the
// call may go on.
UnaryReactor* RefuseUnary(const Authorizer* authorizer, CallContext* context,
                          absl::string_view method);

// What a handler of a streaming method returns for a refused call: a
// reactor that finishes at once with `status` and deletes itself.
template <class Reactor>
class RefusedStream final : public Reactor {
 public:
  explicit RefusedStream(const grpc::Status& status) { this->Finish(status); }
  void OnDone() override { delete this; }
};

// The refusal status of a streaming call (OK: go on), for RefusedStream.
grpc::Status CheckCall(const Authorizer* authorizer, const grpc::ServerContextBase& context,
                       absl::string_view method);

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_AUTHORIZER_H_
