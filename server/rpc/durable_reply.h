#ifndef CONVEYOR_SERVER_RPC_DURABLE_REPLY_H_
#define CONVEYOR_SERVER_RPC_DURABLE_REPLY_H_

#include <grpcpp/server_context.h>

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "server/rpc/reactors.h"
#include "server/store/store.h"

namespace conveyor::rpc {

// Finishes the call's default reactor at once with `status`; returns it.
UnaryReactor* FinishNow(CallContext* context, const absl::Status& status);

// Finishes `reactor` once change `seq` is durable: OK after `fill` has
// written the response, or UNAVAILABLE when the store failed.
void FinishWhenDurable(Store* store, uint64_t seq, UnaryReactor* reactor,
                       std::function<void()> fill = nullptr);

// The status a caller gets when the store could not make its change durable.
absl::Status StoreFailed(const absl::Status& cause);

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_DURABLE_REPLY_H_
