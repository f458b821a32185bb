#ifndef CONVEYOR_CLIENT_CANCELLATION_H_
#define CONVEYOR_CLIENT_CANCELLATION_H_

#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace grpc {
class ClientContext;
}

namespace conveyor {

// A way to cancel Client calls from another thread: pass it in CallOptions,
// then Cancel() ends every call using it with CANCELLED (the coordinator
// sees the cancellation: RunJob cancels its job), interrupts retry backoff,
// and makes later calls fail at once. Thread-safe. It must outlive the calls
// that use it.
class Cancellation {
 public:
  Cancellation() = default;
  Cancellation(const Cancellation&) = delete;
  Cancellation& operator=(const Cancellation&) = delete;

  // Idempotent.
  void Cancel() ABSL_LOCKS_EXCLUDED(mu_);
  bool cancelled() const ABSL_LOCKS_EXCLUDED(mu_);

  // For Client: while registered, Cancel() calls `context->TryCancel()`.
  // Returns false (and registers nothing) if already cancelled.
  bool Register(grpc::ClientContext* context) ABSL_LOCKS_EXCLUDED(mu_);
  void Unregister(grpc::ClientContext* context) ABSL_LOCKS_EXCLUDED(mu_);
  // Blocks until `deadline` or Cancel(), whichever is first; returns false
  // when cancelled.
  bool SleepUntil(absl::Time deadline) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  mutable absl::Mutex mu_;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
  absl::flat_hash_set<grpc::ClientContext*> contexts_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conveyor

#endif  // CONVEYOR_CLIENT_CANCELLATION_H_
