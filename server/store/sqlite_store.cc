#include "server/store/sqlite_store.h"

#include "absl/time/clock.h"

#include <pthread.h>

#include <algorithm>
#include <utility>
#include <vector>

#include "server/store/sqlite_database.h"

namespace conveyor {
namespace {

using Callback = std::function<void(absl::Status)>;

// Moves the waiters with seq <= `seq` (all when `seq` is UINT64_MAX) out of
// `waiters`, in order.
std::vector<Callback> TakeWaiters(std::multimap<uint64_t, Callback>& waiters, uint64_t seq) {
  std::vector<Callback> taken;
  auto end = waiters.upper_bound(seq);
  for (auto it = waiters.begin(); it != end; ++it) taken.push_back(std::move(it->second));
  waiters.erase(waiters.begin(), end);
  return taken;
}

}  // namespace

absl::StatusOr<std::unique_ptr<SqliteStore>> SqliteStore::Open(const std::string& path,
                                                               SqliteStoreOptions options) {
  absl::StatusOr<std::unique_ptr<SqliteDatabase>> db = SqliteDatabase::Open(path, options.fsync);
  if (!db.ok()) return db.status();
  if (options.max_batch == 0) options.max_batch = 1;
  return std::unique_ptr<SqliteStore>(new SqliteStore(*std::move(db), options));
}

SqliteStore::SqliteStore(std::unique_ptr<SqliteDatabase> db, SqliteStoreOptions options)
    : options_(options), db_(std::move(db)) {
  absl::MutexLock lock(&close_mu_);
  writer_ = std::thread([this] { WriterLoop(); });
}

SqliteStore::~SqliteStore() { Close(); }

absl::Status SqliteStore::RecoverTo(RecoverySink& sink) {
  absl::MutexLock lock(&db_mu_);
  if (db_ == nullptr) return absl::FailedPreconditionError("store is closed");
  return db_->Read(sink);
}

WriteBatch* SqliteStore::OpenBatch() {
  if (stopping_ || !error_.ok()) return nullptr;
  const bool may_split = !in_operation_ || operation_start_;
  operation_start_ = false;
  if (pending_.empty() || (may_split && pending_.back().changes() >= options_.max_batch)) {
    pending_.emplace_back();
  }
  return &pending_.back();
}

void SqliteStore::OnOperationBegin() {
  absl::MutexLock lock(&mu_);
  in_operation_ = true;
  operation_start_ = true;
}

void SqliteStore::OnOperationEnd() {
  absl::MutexLock lock(&mu_);
  in_operation_ = false;
  operation_start_ = false;
}

void SqliteStore::OnJobCreated(uint64_t seq, const Job& job) {
  absl::MutexLock lock(&mu_);
  observed_seq_ = seq;
  if (WriteBatch* batch = OpenBatch()) batch->Create(seq, job);
}

void SqliteStore::OnJobUpdated(uint64_t seq, const Job& job) {
  absl::MutexLock lock(&mu_);
  observed_seq_ = seq;
  if (WriteBatch* batch = OpenBatch()) batch->Update(seq, job);
}

void SqliteStore::OnJobDeleted(uint64_t seq, JobId id) {
  absl::MutexLock lock(&mu_);
  observed_seq_ = seq;
  if (WriteBatch* batch = OpenBatch()) batch->Delete(seq, id);
}

void SqliteStore::OnQueueSettingsChanged(uint64_t seq, const std::string& queue,
                                         const QueueSettings& settings) {
  absl::MutexLock lock(&mu_);
  observed_seq_ = seq;
  if (WriteBatch* batch = OpenBatch()) batch->SetQueueSettings(seq, queue, settings);
}

void SqliteStore::WhenDurable(uint64_t seq, Callback done) {
  AddWaiter(seq, std::move(done), /*prompt=*/true);
}

void SqliteStore::WhenDurableLazily(uint64_t seq, Callback done) {
  AddWaiter(seq, std::move(done), /*prompt=*/false);
}

void SqliteStore::AddWaiter(uint64_t seq, Callback done, bool prompt) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (seq <= durable_seq_) {
      // Durable already: OK below.
    } else if (!error_.ok()) {
      status = error_;
    } else if (stopped_) {
      status = absl::FailedPreconditionError("store is closed");
    } else {
      if (prompt) prompt_seq_ = std::max(prompt_seq_, seq);
      waiters_.emplace(seq, std::move(done));
      return;
    }
  }
  done(std::move(status));
}

void SqliteStore::Expedite(uint64_t seq) {
  absl::MutexLock lock(&mu_);
  prompt_seq_ = std::max(prompt_seq_, seq);
}

uint64_t SqliteStore::DurableSeq() const {
  absl::MutexLock lock(&mu_);
  return durable_seq_;
}

absl::Status SqliteStore::Flush() {
  absl::MutexLock lock(&mu_);
  const uint64_t target = observed_seq_;
  prompt_seq_ = std::max(prompt_seq_, target);
  auto settled = [this, target]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return durable_seq_ >= target || !error_.ok() || stopped_;
  };
  mu_.Await(absl::Condition(&settled));
  if (durable_seq_ >= target) return absl::OkStatus();
  if (!error_.ok()) return error_;
  return absl::FailedPreconditionError("store is closed");
}

void SqliteStore::Close() {
  absl::MutexLock close_lock(&close_mu_);
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (writer_.joinable()) writer_.join();
  absl::MutexLock db_lock(&db_mu_);
  db_.reset();
}

StoreStats SqliteStore::stats() const {
  StoreStats out;
  {
    absl::MutexLock lock(&mu_);
    out = stats_;
    out.error = error_;
  }
  if (db_mu_.TryLock()) {
    if (db_ != nullptr) checkpoints_ = db_->checkpoints();
    db_mu_.Unlock();
  }
  out.checkpoints = checkpoints_;
  return out;
}

void SqliteStore::WriterLoop() {
  pthread_setname_np(pthread_self(), "conveyor-store");
  while (true) {
    WriteBatch batch;
    bool broken;
    {
      absl::MutexLock lock(&mu_);
      // The last batch waits while an operation in it is still open.
      auto has_work = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return pending_.size() > 1 || (!pending_.empty() && !in_operation_) || stopping_;
      };
      mu_.Await(absl::Condition(&has_work));
      // Changes nobody is in a hurry for wait (up to commit_linger) for one
      // somebody is, or for a full batch.
      auto due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return prompt_seq_ > durable_seq_ || pending_.size() > 1 || stopping_;
      };
      if (options_.commit_linger > absl::ZeroDuration() && !due()) {
        mu_.AwaitWithTimeout(absl::Condition(&due), options_.commit_linger);
        mu_.Await(absl::Condition(&has_work));  // An operation may have opened meanwhile.
      }
      if (pending_.empty()) break;  // Stopping, and everything is written.
      batch = std::move(pending_.front());
      pending_.pop_front();
      broken = !error_.ok();
    }

    // A batch after a failed one must not be written: the file would then
    // hold changes whose predecessors are lost.
    absl::Status status;
    const absl::Time commit_start = absl::Now();
    if (!broken) {
      absl::MutexLock db_lock(&db_mu_);
      status = db_->Write(batch);
    }
    const absl::Duration commit_time = absl::Now() - commit_start;

    std::vector<Callback> ready;
    {
      absl::MutexLock lock(&mu_);
      if (!error_.ok()) {
        status = error_;
        ready = TakeWaiters(waiters_, UINT64_MAX);
      } else if (status.ok()) {
        durable_seq_ = batch.last_seq();
        ++stats_.commits;
        stats_.changes += batch.changes();
        stats_.commit_latency.Observe(commit_time);
        ready = TakeWaiters(waiters_, durable_seq_);
      } else {
        error_ = status;
        ready = TakeWaiters(waiters_, UINT64_MAX);
      }
    }
    for (Callback& done : ready) done(status);
  }

  std::vector<Callback> abandoned;
  {
    absl::MutexLock lock(&mu_);
    stopped_ = true;
    abandoned = TakeWaiters(waiters_, UINT64_MAX);
  }
  for (Callback& done : abandoned) {
    done(absl::FailedPreconditionError("store closed before the change was durable"));
  }
}

}  // namespace conveyor
