#ifndef CONVEYOR_SERVER_STORE_MEMORY_STORE_H_
#define CONVEYOR_SERVER_STORE_MEMORY_STORE_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/store/store.h"

namespace conveyor {

// A Store that keeps the replayed state in memory: every change is "durable"
// as soon as it is observed, so WhenDurable runs `done` at once on the
// calling thread. Survives nothing but lets tests restart an engine:
// construct a new MemoryStore from the old one's Recover(). Thread-safe.
class MemoryStore final : public Store {
 public:
  MemoryStore() = default;
  // Starts holding `initial`, as if its changes had been observed.
  explicit MemoryStore(RecoveredState initial);
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // Returns the state held now: jobs by increasing id, queues by name. May
  // be called any number of times, also after Close().
  absl::Status RecoverTo(RecoverySink& sink) override ABSL_LOCKS_EXCLUDED(mu_);

  // An update keeps only the job's lifecycle fields (job_lifecycle.h), like
  // SqliteStore. An update or delete of an unknown job, or a second create
  // of one, is an engine bug: the store then keeps an INTERNAL error that every later
  // WhenDurable and Flush reports, and drops later changes.
  void OnJobCreated(uint64_t seq, const Job& job) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnJobUpdated(uint64_t seq, const Job& job) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnJobDeleted(uint64_t seq, JobId id) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnQueueSettingsChanged(uint64_t seq, const std::string& queue,
                              const QueueSettings& settings) override ABSL_LOCKS_EXCLUDED(mu_);

  // Runs `done` at once: OK when `seq` was recorded, else the store's error,
  // or FAILED_PRECONDITION after Close(). REQUIRES: `seq` was observed (or
  // is 0).
  void WhenDurable(uint64_t seq, std::function<void(absl::Status)> done) override
      ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t DurableSeq() const override ABSL_LOCKS_EXCLUDED(mu_);
  absl::Status Flush() override ABSL_LOCKS_EXCLUDED(mu_);
  // Counts each change as one commit.
  StoreStats stats() const override ABSL_LOCKS_EXCLUDED(mu_);
  void Close() override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  // False (and the store broken) when `ok` is false.
  // Also records `seq` when `ok`.
  bool Check(bool ok, uint64_t seq, const std::string& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool Accepting() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return !closed_ && error_.ok(); }

  mutable absl::Mutex mu_;
  absl::btree_map<uint64_t, Job> jobs_ ABSL_GUARDED_BY(mu_);
  absl::btree_map<std::string, QueueSettings> queues_ ABSL_GUARDED_BY(mu_);
  JobId max_job_id_ ABSL_GUARDED_BY(mu_);
  uint64_t recorded_seq_ ABSL_GUARDED_BY(mu_) = 0;  // Of the last change kept.
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_STORE_MEMORY_STORE_H_
