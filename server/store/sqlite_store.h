#ifndef CONVEYOR_SERVER_STORE_SQLITE_STORE_H_
#define CONVEYOR_SERVER_STORE_SQLITE_STORE_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/store.h"
#include "server/store/write_batch.h"

namespace conveyor {

class SqliteDatabase;

struct SqliteStoreOptions {
  // false: a commit survives a crash of the process (synchronous=NORMAL).
  // true: it survives power loss too; each commit waits for fsync
  // (synchronous=FULL).
  bool fsync = false;
  // Most observer calls coalesced into one transaction.
  size_t max_batch = 10000;
  // How long changes that only lazy waiters (WhenDurableLazily) or nobody
  // wait for may stay pending, to share the commit of a change someone
  // waits for. Zero commits every change at once.
  absl::Duration commit_linger = absl::Milliseconds(5);
};

// A Store in one SQLite file (WAL mode), for one coordinator: the file stays
// locked while the store is open. Observer calls append to a pending batch;
// one writer thread ("conveyor-store") commits whole batches, each in one
// transaction (group commit: under load, many RPCs share a commit), and then
// runs the WhenDurable callbacks the commit satisfied, in order of seq. It
// commits as soon as a change someone waits for (WhenDurable, Expedite,
// Flush, Close) is pending or a batch is full; changes only lazy waiters or
// nobody wait for (a worker's result, whose ack nothing blocks on) wait up to
// `commit_linger` for such company, which saves a commit per job when jobs
// arrive one at a time.
// After a failed commit the store is broken: the callbacks waiting and every
// later one get the error (UNAVAILABLE for I/O failures, INTERNAL otherwise,
// with SQLite's message) and later changes are dropped. Thread-safe.
class SqliteStore final : public Store {
 public:
  // Opens or creates the file at `path` (see SqliteDatabase::Open for the
  // errors, e.g. FAILED_PRECONDITION when another store has it open) and
  // starts the writer thread.
  static absl::StatusOr<std::unique_ptr<SqliteStore>> Open(const std::string& path,
                                                           SqliteStoreOptions options = {});
  // Close()s.
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // Jobs by increasing id, queues by name. FAILED_PRECONDITION after Close().
  absl::Status RecoverTo(RecoverySink& sink) override ABSL_LOCKS_EXCLUDED(mu_, db_mu_);

  // Memory only: record the change in the pending batch. REQUIRES: seqs
  // increase from call to call (the engine's lock orders them).
  void OnJobCreated(uint64_t seq, const Job& job) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnJobUpdated(uint64_t seq, const Job& job) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnJobDeleted(uint64_t seq, JobId id) override ABSL_LOCKS_EXCLUDED(mu_);
  void OnQueueSettingsChanged(uint64_t seq, const std::string& queue,
                              const QueueSettings& settings) override ABSL_LOCKS_EXCLUDED(mu_);
  // A transaction never ends inside a bracketed operation, so a crash keeps
  // all of its changes or none (a batch may exceed max_batch to do so).
  void OnOperationBegin() override ABSL_LOCKS_EXCLUDED(mu_);
  void OnOperationEnd() override ABSL_LOCKS_EXCLUDED(mu_);

  // A `seq` not observed yet waits for it. After Close(), a `seq` that is
  // durable gets OK, any other FAILED_PRECONDITION.
  void WhenDurable(uint64_t seq, std::function<void(absl::Status)> done) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void WhenDurableLazily(uint64_t seq, std::function<void(absl::Status)> done) override
      ABSL_LOCKS_EXCLUDED(mu_);
  void Expedite(uint64_t seq) override ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t DurableSeq() const override ABSL_LOCKS_EXCLUDED(mu_);
  // After Close(), FAILED_PRECONDITION if changes were dropped. REQUIRES: not
  // called from a WhenDurable callback (it runs on the writer thread).
  absl::Status Flush() override ABSL_LOCKS_EXCLUDED(mu_);
  // Commits what is pending, fails the callbacks still waiting with
  // FAILED_PRECONDITION, joins the writer thread, closes the file.
  // Idempotent.
  void Close() override ABSL_LOCKS_EXCLUDED(mu_, db_mu_, close_mu_);

  StoreStats stats() const override ABSL_LOCKS_EXCLUDED(mu_);

 private:
  SqliteStore(std::unique_ptr<SqliteDatabase> db, SqliteStoreOptions options);
  void WriterLoop() ABSL_LOCKS_EXCLUDED(mu_, db_mu_);
  // The batch the next change goes to, or null when changes are dropped.
  WriteBatch* OpenBatch() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Adds a waiter; `prompt` also asks for a commit without delay.
  void AddWaiter(uint64_t seq, std::function<void(absl::Status)> done, bool prompt)
      ABSL_LOCKS_EXCLUDED(mu_);

  const SqliteStoreOptions options_;

  // Held by the writer around Write and by Recover/Close; never with mu_.
  mutable absl::Mutex db_mu_ ABSL_ACQUIRED_AFTER(mu_);
  std::unique_ptr<SqliteDatabase> db_ ABSL_GUARDED_BY(db_mu_);
  // db_->checkpoints() when stats() last found db_mu_ free (it never waits
  // for a commit or the recovery read).
  mutable std::atomic<uint64_t> checkpoints_{0};

  mutable absl::Mutex mu_;
  // Batches waiting for the writer, oldest first; each holds consecutive
  // seqs and whole operations, and at most max_batch changes unless one
  // operation has more. Only the last may hold an operation still open.
  std::deque<WriteBatch> pending_ ABSL_GUARDED_BY(mu_);
  // Between OnOperationBegin and OnOperationEnd.
  bool in_operation_ ABSL_GUARDED_BY(mu_) = false;
  // The next change is an operation's first: it may start a new batch.
  bool operation_start_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t observed_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t durable_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // The highest seq someone wants committed without delay.
  uint64_t prompt_seq_ ABSL_GUARDED_BY(mu_) = 0;
  std::multimap<uint64_t, std::function<void(absl::Status)>> waiters_ ABSL_GUARDED_BY(mu_);
  absl::Status error_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;  // Close() called: drop new changes.
  bool stopped_ ABSL_GUARDED_BY(mu_) = false;   // Writer done: nothing becomes durable.
  StoreStats stats_ ABSL_GUARDED_BY(mu_);

  absl::Mutex close_mu_;  // Serializes Close() calls.
  std::thread writer_ ABSL_GUARDED_BY(close_mu_);
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_STORE_SQLITE_STORE_H_
