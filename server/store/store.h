#ifndef CONVEYOR_SERVER_STORE_STORE_H_
#define CONVEYOR_SERVER_STORE_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/engine/engine.h"
#include "server/engine/histogram.h"
#include "server/engine/job_observer.h"

namespace conveyor {

// What a store has done since it opened, for metrics.
struct StoreStats {
  uint64_t commits = 0;       // Transactions (group commits).
  uint64_t changes = 0;       // Observer calls they made durable.
  Histogram commit_latency;   // Time of each commit.
  uint64_t checkpoints = 0;   // Background WAL checkpoints (SQLite; 0 for others).
  absl::Status error;         // Why the store is broken; OK while healthy.
};

// Where the engine's state survives a restart. The engine reports each
// change through the JobObserver calls (in memory, under the engine's lock);
// the store makes batches of them durable on its own writer thread, many
// changes per transaction (group commit), and then runs the callbacks of
// everyone who waits for them. A change someone waits for (WhenDurable,
// Flush) is committed at once; one nobody waits for may be held back a few
// milliseconds to share a later change's commit.
//
// A store for several coordinators sharing one database (PostgreSQL) keeps
// this shape: Recover() loads what this coordinator owns, the observer calls
// become its writes, WhenDurable its commit acknowledgements.
//
// Thread-safe.
class Store : public JobObserver {
 public:
  // Reads everything persisted into `sink`: queue settings and the max job
  // id first, then the jobs by increasing id, each handed over as it is read.
  // Returns the sink's first error, or the store's. REQUIRES: called once,
  // before any observer call.
  virtual absl::Status RecoverTo(RecoverySink& sink) = 0;
  // RecoverTo() collected into one RecoveredState (tests; small stores).
  absl::StatusOr<RecoveredState> Recover();

  // Runs `done` once every change with sequence number <= `seq` is durable
  // (OK), or when the store failed to make it durable (the error). Runs it
  // on the store's writer thread, or at once on the calling thread when
  // that already happened. `done` must not block.
  virtual void WhenDurable(uint64_t seq, std::function<void(absl::Status)> done) = 0;

  // WhenDurable for a waiter in no hurry (an acknowledgement nobody blocks
  // on): the store may hold the commit back for a few milliseconds, so that
  // the change shares a transaction with later ones, as it does with changes
  // nobody waits for. Expedite(seq) ends that wait. Stores that never hold
  // commits back treat it as WhenDurable.
  virtual void WhenDurableLazily(uint64_t seq, std::function<void(absl::Status)> done) {
    WhenDurable(seq, std::move(done));
  }
  // Commits every change up to `seq` without holding it back, as if a
  // WhenDurable waited for it (a lazy waiter's turned urgent).
  virtual void Expedite(uint64_t seq) { (void)seq; }

  // Every change with a sequence number up to this one is durable (0: none
  // yet). Cheap; a WhenDurable callback may call it to learn how far the
  // commit that woke it went.
  virtual uint64_t DurableSeq() const = 0;

  // Blocks until every change observed so far is durable. Returns the
  // writer's error, if any.
  virtual absl::Status Flush() = 0;

  virtual StoreStats stats() const = 0;

  // Flushes and stops the writer thread. Later observer calls are dropped
  // and later WhenDurable callbacks get FAILED_PRECONDITION.
  virtual void Close() = 0;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_STORE_STORE_H_
