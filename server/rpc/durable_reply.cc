#include "server/rpc/durable_reply.h"

#include "absl/strings/str_cat.h"
#include "server/rpc/status_conversion.h"

namespace conveyor::rpc {

absl::Status StoreFailed(const absl::Status& cause) {
  return absl::UnavailableError(
      absl::StrCat("the coordinator could not persist the change: ", cause.message()));
}

UnaryReactor* FinishNow(CallContext* context, const absl::Status& status) {
  auto* reactor = context->DefaultReactor();
  reactor->Finish(ToGrpcStatus(status));
  return reactor;
}

void FinishWhenDurable(Store* store, uint64_t seq, UnaryReactor* reactor,
                       std::function<void()> fill) {
  store->WhenDurable(seq, [reactor, fill = std::move(fill)](absl::Status s) {
    if (!s.ok()) {
      reactor->Finish(ToGrpcStatus(StoreFailed(s)));
      return;
    }
    if (fill) fill();
    reactor->Finish(grpc::Status::OK);
  });
}

}  // namespace conveyor::rpc
