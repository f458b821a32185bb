#include "server/store/sqlite_database.h"

#include <sqlite3.h>

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "server/store/job_codec.h"

namespace conveyor {
namespace {

constexpr int kSchemaVersion = 1;

constexpr const char* kSchema = R"sql(
CREATE TABLE jobs (
  id INTEGER PRIMARY KEY,
  queue TEXT NOT NULL,
  type TEXT NOT NULL,
  state INTEGER NOT NULL,
  payload BLOB NOT NULL,
  priority INTEGER NOT NULL,
  labels BLOB NOT NULL,
  idempotency_key TEXT NOT NULL,
  max_attempts INTEGER NOT NULL,
  backoff BLOB NOT NULL,
  attempt_timeout_ns INTEGER NOT NULL,
  deadline_ns INTEGER NOT NULL,
  attempts INTEGER NOT NULL,
  created_at_ns INTEGER NOT NULL,
  run_at_ns INTEGER NOT NULL,
  finished_at_ns INTEGER NOT NULL,
  expires_at_ns INTEGER NOT NULL,
  result BLOB NOT NULL,
  error TEXT NOT NULL,
  dead_reason INTEGER NOT NULL,
  cancel_reason TEXT NOT NULL,
  progress_percent INTEGER NOT NULL,
  progress_message TEXT NOT NULL,
  history BLOB NOT NULL,
  last_token INTEGER NOT NULL
);
CREATE TABLE queues (name TEXT PRIMARY KEY, settings BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
)sql";

// Column order shared by the insert (parameters ?1..?25) and the select
// (columns 0..24).
enum Column : int {
  kId,
  kQueue,
  kType,
  kState,
  kPayload,
  kPriority,
  kLabels,
  kIdempotencyKey,
  kMaxAttempts,
  kBackoff,
  kAttemptTimeout,
  kDeadline,
  kAttempts,
  kCreatedAt,
  kRunAt,
  kFinishedAt,
  kExpiresAt,
  kResult,
  kError,
  kDeadReason,
  kCancelReason,
  kProgressPercent,
  kProgressMessage,
  kHistory,
  kLastToken,
};

constexpr const char* kJobColumns =
    "id, queue, type, state, payload, priority, labels, idempotency_key, max_attempts, backoff, "
    "attempt_timeout_ns, deadline_ns, attempts, created_at_ns, run_at_ns, finished_at_ns, "
    "expires_at_ns, result, error, dead_reason, cancel_reason, progress_percent, "
    "progress_message, history, last_token";

// An update writes only the lifecycle columns (job_lifecycle.h): ?1 is the
// id, the others follow LifecycleColumns below.
constexpr const char* kUpdateJob =
    "UPDATE jobs SET state=?2, attempts=?3, run_at_ns=?4, finished_at_ns=?5, expires_at_ns=?6, "
    "result=?7, error=?8, dead_reason=?9, cancel_reason=?10, progress_percent=?11, "
    "progress_message=?12, history=?13, last_token=?14 WHERE id=?1";

// Where each lifecycle field goes in a statement (0-based parameter index).
struct LifecycleColumns {
  int state, attempts, run_at, finished_at, expires_at, result, error, dead_reason,
      cancel_reason, progress_percent, progress_message, history, last_token;
};
constexpr LifecycleColumns kInsertLifecycle = {
    kState,  kAttempts,   kRunAt,        kFinishedAt,      kExpiresAt,       kResult,   kError,
    kDeadReason, kCancelReason, kProgressPercent, kProgressMessage, kHistory, kLastToken};
constexpr LifecycleColumns kUpdateLifecycle = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13};

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
struct StatementFinalizer {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementFinalizer>;

// The status for SQLite result `rc` while doing `what`, by what the caller
// should do: UNAVAILABLE for I/O trouble (retry later, elsewhere), DATA_LOSS
// for a corrupt file, INTERNAL otherwise.
absl::Status SqliteError(sqlite3* db, int rc, absl::string_view what) {
  std::string message =
      absl::StrCat("sqlite: ", what, ": ", db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return absl::UnavailableError(message);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::DataLossError(message);
    default:
      return absl::InternalError(message);
  }
}

absl::StatusOr<Statement> Prepare(sqlite3* db, absl::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
  if (rc != SQLITE_OK) return SqliteError(db, rc, absl::StrCat("prepare ", sql));
  return Statement(raw);
}

// Makes `s` ready for its next use.
void Reset(sqlite3_stmt* s) {
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
}

// Steps `s` to completion (it must return no rows) and resets it.
absl::Status Run(sqlite3* db, sqlite3_stmt* s, absl::string_view what) {
  int rc = sqlite3_step(s);
  absl::Status status = rc == SQLITE_DONE ? absl::OkStatus() : SqliteError(db, rc, what);
  Reset(s);
  return status;
}

// Run() for a statement about one job; the message is built only on failure.
absl::Status RunForJob(sqlite3* db, sqlite3_stmt* s, const char* what, uint64_t id) {
  int rc = sqlite3_step(s);
  absl::Status status = rc == SQLITE_DONE ? absl::OkStatus()
                                          : SqliteError(db, rc, absl::StrCat(what, " ", id));
  Reset(s);
  return status;
}

absl::Status Exec(sqlite3* db, const char* sql) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  return rc == SQLITE_OK ? absl::OkStatus() : SqliteError(db, rc, sql);
}

absl::StatusOr<std::string> QueryText(sqlite3* db, const char* sql) {
  absl::StatusOr<Statement> s = Prepare(db, sql);
  if (!s.ok()) return s.status();
  int rc = sqlite3_step(s->get());
  if (rc != SQLITE_ROW) return SqliteError(db, rc, sql);
  const unsigned char* text = sqlite3_column_text(s->get(), 0);
  return std::string(text == nullptr ? "" : reinterpret_cast<const char*>(text));
}

void BindText(sqlite3_stmt* s, int column, const std::string& value) {
  sqlite3_bind_text(s, column + 1, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
}
void BindBlob(sqlite3_stmt* s, int column, const std::string& value) {
  sqlite3_bind_blob(s, column + 1, value.data(), static_cast<int>(value.size()), SQLITE_STATIC);
}
void BindOwnedBlob(sqlite3_stmt* s, int column, const std::string& value) {
  sqlite3_bind_blob(s, column + 1, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT);
}
void BindInt(sqlite3_stmt* s, int column, int64_t value) {
  sqlite3_bind_int64(s, column + 1, value);
}

// Binds the lifecycle fields of `x` (a Job or a JobLifecycle) at
// `columns`. The strings of `x` must outlive the statement's step.
template <typename T>
void BindLifecycle(sqlite3_stmt* s, const T& x, const LifecycleColumns& columns) {
  BindInt(s, columns.state, static_cast<int>(x.state));
  BindInt(s, columns.attempts, x.attempts);
  BindInt(s, columns.run_at, TimeToNanos(x.run_at));
  BindInt(s, columns.finished_at, TimeToNanos(x.finished_at));
  BindInt(s, columns.expires_at, TimeToNanos(x.expires_at));
  BindBlob(s, columns.result, x.result);
  BindText(s, columns.error, x.error);
  BindInt(s, columns.dead_reason, static_cast<int>(x.dead_reason));
  BindText(s, columns.cancel_reason, x.cancel_reason);
  BindInt(s, columns.progress_percent, x.progress.percent);
  BindText(s, columns.progress_message, x.progress.message);
  BindOwnedBlob(s, columns.history, EncodeHistory(x.history));
  BindInt(s, columns.last_token, static_cast<int64_t>(x.last_token.value));
}

// Binds every column of `job` for the insert. The strings of `job` must
// outlive the statement's step.
void BindJob(sqlite3_stmt* s, const Job& job) {
  BindInt(s, kId, static_cast<int64_t>(job.id.value));
  BindText(s, kQueue, job.queue);
  BindText(s, kType, job.type);
  BindBlob(s, kPayload, job.payload);
  BindInt(s, kPriority, job.priority);
  BindOwnedBlob(s, kLabels, EncodeLabels(job.labels));
  BindText(s, kIdempotencyKey, job.idempotency_key);
  BindInt(s, kMaxAttempts, job.max_attempts);
  BindOwnedBlob(s, kBackoff, EncodeBackoff(job.backoff));
  BindInt(s, kAttemptTimeout, DurationToNanos(job.attempt_timeout));
  BindInt(s, kDeadline, TimeToNanos(job.deadline));
  BindInt(s, kCreatedAt, TimeToNanos(job.created_at));
  BindLifecycle(s, job, kInsertLifecycle);
}

std::string_view ColumnBytes(sqlite3_stmt* s, int column) {
  const void* data = sqlite3_column_blob(s, column);
  int size = sqlite3_column_bytes(s, column);
  if (data == nullptr) return {};
  return std::string_view(static_cast<const char*>(data), static_cast<size_t>(size));
}
std::string ColumnString(sqlite3_stmt* s, int column) {
  return std::string(ColumnBytes(s, column));
}
int64_t ColumnInt(sqlite3_stmt* s, int column) { return sqlite3_column_int64(s, column); }

// What rows tend to share, decoded once: most jobs have no labels and no
// history and their queue's backoff.
class RowCache {
 public:
  // Decodes `data` unless it is the same as the last call's.
  absl::StatusOr<Backoff> DecodeBackoff(std::string_view data) {
    if (!backoff_bytes_.empty() && data == backoff_bytes_) return backoff_;
    absl::StatusOr<Backoff> backoff = conveyor::DecodeBackoff(data);
    if (backoff.ok()) {
      backoff_bytes_ = std::string(data);
      backoff_ = *backoff;
    }
    return backoff;
  }
  bool IsEmptyList(std::string_view data) const { return data == empty_list_; }

 private:
  const std::string empty_list_ = EncodeLabels(Labels());  // Same bytes as an empty history.
  std::string backoff_bytes_;
  Backoff backoff_;
};

void AssignColumn(sqlite3_stmt* s, int column, std::string& out) {
  const std::string_view bytes = ColumnBytes(s, column);
  out.assign(bytes.data(), bytes.size());
}

// Reads the row at `s` into `job`, overwriting every field and reusing its
// buffers.
absl::Status ReadJob(sqlite3_stmt* s, RowCache& cache, Job& job) {
  job.id.value = static_cast<uint64_t>(ColumnInt(s, kId));
  AssignColumn(s, kQueue, job.queue);
  AssignColumn(s, kType, job.type);
  int64_t state = ColumnInt(s, kState);
  int64_t dead_reason = ColumnInt(s, kDeadReason);
  if (state < static_cast<int>(JobState::kScheduled) ||
      state > static_cast<int>(JobState::kCancelled) ||
      dead_reason < static_cast<int>(DeadReason::kNone) ||
      dead_reason > static_cast<int>(DeadReason::kLeaseLost)) {
    return absl::DataLossError(absl::StrCat("job ", job.id.value, ": state ", state,
                                            " or dead_reason ", dead_reason, " out of range"));
  }
  job.state = static_cast<JobState>(state);
  job.dead_reason = static_cast<DeadReason>(dead_reason);
  AssignColumn(s, kPayload, job.payload);
  job.priority = static_cast<int32_t>(ColumnInt(s, kPriority));
  const std::string_view labels_bytes = ColumnBytes(s, kLabels);
  const std::string_view history_bytes = ColumnBytes(s, kHistory);
  absl::StatusOr<Labels> labels =
      cache.IsEmptyList(labels_bytes) ? Labels() : DecodeLabels(labels_bytes);
  absl::StatusOr<Backoff> backoff = cache.DecodeBackoff(ColumnBytes(s, kBackoff));
  absl::StatusOr<std::vector<Attempt>> history =
      cache.IsEmptyList(history_bytes) ? std::vector<Attempt>() : DecodeHistory(history_bytes);
  for (const absl::Status& status : {labels.status(), backoff.status(), history.status()}) {
    if (!status.ok()) {
      return absl::DataLossError(absl::StrCat("job ", job.id.value, ": ", status.message()));
    }
  }
  job.labels = *std::move(labels);
  job.backoff = *backoff;
  job.history = *std::move(history);
  AssignColumn(s, kIdempotencyKey, job.idempotency_key);
  job.max_attempts = static_cast<int32_t>(ColumnInt(s, kMaxAttempts));
  job.attempt_timeout = NanosToDuration(ColumnInt(s, kAttemptTimeout));
  job.deadline = NanosToTime(ColumnInt(s, kDeadline));
  job.attempts = static_cast<int32_t>(ColumnInt(s, kAttempts));
  job.created_at = NanosToTime(ColumnInt(s, kCreatedAt));
  job.run_at = NanosToTime(ColumnInt(s, kRunAt));
  job.finished_at = NanosToTime(ColumnInt(s, kFinishedAt));
  job.expires_at = NanosToTime(ColumnInt(s, kExpiresAt));
  AssignColumn(s, kResult, job.result);
  AssignColumn(s, kError, job.error);
  AssignColumn(s, kCancelReason, job.cancel_reason);
  job.progress.percent = static_cast<int32_t>(ColumnInt(s, kProgressPercent));
  AssignColumn(s, kProgressMessage, job.progress.message);
  job.last_token.value = static_cast<uint64_t>(ColumnInt(s, kLastToken));
  return absl::OkStatus();
}

// Creates the schema in an empty file or checks the version of an existing
// one. REQUIRES: inside a transaction.
absl::Status EnsureSchema(sqlite3* db, const std::string& path) {
  absl::StatusOr<std::string> version_text = QueryText(db, "PRAGMA user_version");
  if (!version_text.ok()) return version_text.status();
  int version = std::atoi(version_text->c_str());
  if (version == kSchemaVersion) return absl::OkStatus();
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(absl::StrCat("sqlite file ", path, " has schema version ",
                                                      version, ", newer than this conveyord's ",
                                                      kSchemaVersion, "; run a newer build"));
  }
  if (absl::Status s = Exec(db, kSchema); !s.ok()) return s;
  return Exec(db, absl::StrCat("PRAGMA user_version=", kSchemaVersion).c_str());
}

}  // namespace

struct SqliteDatabase::Statements {
  Statement begin, commit, rollback;
  Statement insert_job, update_job, delete_job, upsert_queue, raise_max_job_id;
};

absl::StatusOr<std::unique_ptr<SqliteDatabase>> SqliteDatabase::Open(const std::string& path,
                                                                     bool fsync) {
  sqlite3* raw = nullptr;
  int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, DbCloser> db(raw);
  if (rc != SQLITE_OK) return SqliteError(raw, rc, absl::StrCat("open ", path));
  sqlite3_extended_result_codes(db.get(), 1);

  // The lock file keeps a second coordinator (or a second store in this
  // process) off the file: flock locks belong to the open file, so they
  // conflict within one process too. SQLite's own locks stay shared so that
  // the checkpoint connection can work beside the writer.
  auto in_use = [&](const absl::Status& status) {
    return absl::FailedPreconditionError(absl::StrCat(
        "sqlite file ", path, " is in use by another process or connection: ", status.message()));
  };
  auto busy = [&] { return (sqlite3_errcode(db.get()) & 0xff) == SQLITE_BUSY; };
  const std::string lock_path = path + ".lock";
  UniqueFd lock(open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (lock.get() < 0) {
    return absl::UnavailableError(
        absl::StrCat("open lock file ", lock_path, ": ", std::strerror(errno)));
  }
  if (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return in_use(absl::FailedPreconditionError(absl::StrCat(lock_path, " is locked")));
    }
    return absl::UnavailableError(absl::StrCat("lock ", lock_path, ": ", std::strerror(errno)));
  }
  absl::StatusOr<std::string> mode = QueryText(db.get(), "PRAGMA journal_mode=WAL");
  if (!mode.ok()) return busy() ? in_use(mode.status()) : mode.status();
  if (*mode != "wal") {
    return absl::FailedPreconditionError(
        absl::StrCat("sqlite file ", path, ": cannot use WAL mode (journal_mode is ", *mode, ")"));
  }
  if (absl::Status s =
          Exec(db.get(), fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      !s.ok()) {
    return s;
  }
  if (absl::Status s = Exec(db.get(), "BEGIN EXCLUSIVE"); !s.ok()) {
    return busy() ? in_use(s) : s;
  }
  if (absl::Status s = EnsureSchema(db.get(), path); !s.ok()) {
    Exec(db.get(), "ROLLBACK").IgnoreError();
    return s;
  }
  if (absl::Status s = Exec(db.get(), "COMMIT"); !s.ok()) return s;

  auto statements = std::make_unique<Statements>();
  struct {
    Statement* target;
    std::string sql;
  } prepared[] = {
      {&statements->begin, "BEGIN"},
      {&statements->commit, "COMMIT"},
      {&statements->rollback, "ROLLBACK"},
      {&statements->insert_job,
       absl::StrCat("INSERT INTO jobs(", kJobColumns,
                    ") VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, "
                    "?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25)")},
      {&statements->update_job, kUpdateJob},
      {&statements->delete_job, "DELETE FROM jobs WHERE id=?1"},
      {&statements->upsert_queue,
       "INSERT INTO queues(name, settings) VALUES(?1, ?2) "
       "ON CONFLICT(name) DO UPDATE SET settings=excluded.settings"},
      {&statements->raise_max_job_id,
       "INSERT INTO meta(key, value) VALUES('max_job_id', ?1) "
       "ON CONFLICT(key) DO UPDATE SET value=max(value, excluded.value)"},
  };
  for (auto& [target, sql] : prepared) {
    absl::StatusOr<Statement> s = Prepare(db.get(), sql);
    if (!s.ok()) return s.status();
    *target = *std::move(s);
  }
  // The WAL keeps its size when it starts over: shrinking it frees its blocks
  // inside a commit, which on a disk mounted with `discard` waits for the
  // discards (50-100 ms), and regrowing it allocates them again.
  if (absl::Status s = Exec(db.get(), absl::StrCat("PRAGMA journal_size_limit=",
                                                   kWalSizeLimitBytes).c_str());
      !s.ok()) {
    return s;
  }
  absl::StatusOr<std::unique_ptr<SqliteCheckpointer>> checkpointer =
      SqliteCheckpointer::Start(path, fsync, kCheckpointFrames, kInlineCheckpointFrames,
                                kWritebackFrames);
  if (!checkpointer.ok()) return checkpointer.status();
  std::unique_ptr<SqliteDatabase> out(new SqliteDatabase(
      db.release(), std::move(statements), std::move(lock), *std::move(checkpointer)));
  // Replaces SQLite's automatic checkpoint (itself a WAL hook).
  sqlite3_wal_hook(out->db_, &SqliteDatabase::OnWalCommit, out.get());
  return out;
}

SqliteDatabase::SqliteDatabase(sqlite3* db, std::unique_ptr<Statements> statements,
                               UniqueFd lock, std::unique_ptr<SqliteCheckpointer> checkpointer)
    : db_(db),
      statements_(std::move(statements)),
      lock_(std::move(lock)),
      checkpointer_(std::move(checkpointer)) {}

SqliteDatabase::~SqliteDatabase() {
  // The writer's connection closes last: it checkpoints what is left and
  // removes the WAL. The lock goes after it.
  checkpointer_.reset();
  statements_.reset();  // Finalized before the connection closes.
  sqlite3_close_v2(db_);
}

int SqliteDatabase::OnWalCommit(void* self, sqlite3* db, const char* /*schema*/, int frames) {
  SqliteCheckpointer& checkpointer = *static_cast<SqliteDatabase*>(self)->checkpointer_;
  const int backfilled = checkpointer.OnCommit(frames);
  // Under steady commits the background checkpoints never leave the WAL
  // fully copied, so it never starts over: past the cap, copy the rest here,
  // and the next transaction starts the WAL over. This is the one checkpoint
  // a commit waits for, and it syncs the WAL and the database of all that
  // the checkpointer has not copied: wait until that is little (past the cap
  // the checkpointer runs back to back), unless it cannot keep up.
  const int remainder = frames - backfilled;
  if (frames >= kInlineCheckpointFrames &&
      (remainder <= kInlineRemainderFrames || frames >= 2 * kInlineCheckpointFrames)) {
    sqlite3_wal_checkpoint_v2(db, nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
  return SQLITE_OK;
}

SqliteDatabase::UniqueFd::~UniqueFd() {
  if (fd_ >= 0) close(fd_);
}

uint64_t SqliteDatabase::checkpoints() const { return checkpointer_->completed(); }

namespace {

// The greatest id of a job `batch` takes out of the jobs table (a delete,
// or a job it created and deleted, so never inserts), or 0. Recovery takes
// the greatest id from the table and meta.max_job_id together, so meta
// needs raising only when a job leaves the table: the greatest id ever
// created is then either still in the table or was raised into meta when
// its job left. Most commits delete nothing and so write one page fewer.
uint64_t GreatestIdRemoved(const WriteBatch& batch) {
  uint64_t removed = batch.deletes().empty() ? 0 : *batch.deletes().rbegin();
  const uint64_t created = batch.max_job_id().value;
  const uint64_t inserted = batch.inserts().empty() ? 0 : batch.inserts().rbegin()->first;
  if (created > inserted) removed = std::max(removed, created);
  return removed;
}

}  // namespace

absl::Status SqliteDatabase::Write(const WriteBatch& batch) {
  Statements& st = *statements_;
  if (absl::Status s = Run(db_, st.begin.get(), "BEGIN"); !s.ok()) return s;
  absl::Status status;
  for (uint64_t id : batch.deletes()) {
    BindInt(st.delete_job.get(), 0, static_cast<int64_t>(id));
    status = RunForJob(db_, st.delete_job.get(), "delete job", id);
    if (status.ok() && sqlite3_changes(db_) != 1) {
      status = absl::InternalError(absl::StrCat("sqlite: delete of unknown job ", id));
    }
    if (!status.ok()) break;
  }
  for (auto it = batch.updates().begin(); status.ok() && it != batch.updates().end(); ++it) {
    BindInt(st.update_job.get(), 0, static_cast<int64_t>(it->first));
    BindLifecycle(st.update_job.get(), it->second, kUpdateLifecycle);
    status = RunForJob(db_, st.update_job.get(), "update job", it->first);
    if (status.ok() && sqlite3_changes(db_) != 1) {
      status = absl::InternalError(absl::StrCat("sqlite: update of unknown job ", it->first));
    }
  }
  for (auto it = batch.inserts().begin(); status.ok() && it != batch.inserts().end(); ++it) {
    BindJob(st.insert_job.get(), it->second);
    status = RunForJob(db_, st.insert_job.get(), "insert job", it->first);
  }
  for (auto it = batch.queues().begin(); status.ok() && it != batch.queues().end(); ++it) {
    BindText(st.upsert_queue.get(), 0, it->first);
    BindOwnedBlob(st.upsert_queue.get(), 1, EncodeQueueSettings(it->second));
    status = Run(db_, st.upsert_queue.get(), absl::StrCat("write queue ", it->first));
  }
  if (const uint64_t removed = GreatestIdRemoved(batch); status.ok() && removed != 0) {
    BindInt(st.raise_max_job_id.get(), 0, static_cast<int64_t>(removed));
    status = Run(db_, st.raise_max_job_id.get(), "write max_job_id");
  }
  if (status.ok()) status = Run(db_, st.commit.get(), "COMMIT");
  if (!status.ok() && !sqlite3_get_autocommit(db_)) {
    Run(db_, st.rollback.get(), "ROLLBACK").IgnoreError();
  }
  return status;
}

absl::Status SqliteDatabase::Read(RecoverySink& sink) {
  absl::StatusOr<Statement> queues =
      Prepare(db_, "SELECT name, settings FROM queues ORDER BY name");
  if (!queues.ok()) return queues.status();
  int rc;
  while ((rc = sqlite3_step(queues->get())) == SQLITE_ROW) {
    std::string name = ColumnString(queues->get(), 0);
    absl::StatusOr<QueueSettings> settings = DecodeQueueSettings(ColumnBytes(queues->get(), 1));
    if (!settings.ok()) {
      return absl::DataLossError(absl::StrCat("queue ", name, ": ", settings.status().message()));
    }
    sink.OnQueue(name, *settings);
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, rc, "read queues");

  absl::StatusOr<Statement> meta = Prepare(db_, "SELECT value FROM meta WHERE key='max_job_id'");
  if (!meta.ok()) return meta.status();
  rc = sqlite3_step(meta->get());
  if (rc == SQLITE_ROW) {
    sink.OnMaxJobId(JobId{static_cast<uint64_t>(ColumnInt(meta->get(), 0))});
  } else if (rc != SQLITE_DONE) {
    return SqliteError(db_, rc, "read meta");
  }

  absl::StatusOr<Statement> jobs =
      Prepare(db_, absl::StrCat("SELECT ", kJobColumns, " FROM jobs ORDER BY id"));
  if (!jobs.ok()) return jobs.status();
  RowCache cache;
  Job job;  // One buffer for every row: the sink takes what it keeps.
  while ((rc = sqlite3_step(jobs->get())) == SQLITE_ROW) {
    if (absl::Status s = ReadJob(jobs->get(), cache, job); !s.ok()) return s;
    if (absl::Status s = sink.OnJob(job); !s.ok()) return s;
  }
  if (rc != SQLITE_DONE) return SqliteError(db_, rc, "read jobs");
  return absl::OkStatus();
}

}  // namespace conveyor
