#ifndef CONVEYOR_SERVER_STORE_SQLITE_DATABASE_H_
#define CONVEYOR_SERVER_STORE_SQLITE_DATABASE_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/engine/engine.h"
#include "server/store/write_batch.h"

struct sqlite3;

namespace conveyor {

// One SQLite file holding a store's state, and the SQL that reads and writes
// it. Schema (version 1, kept in PRAGMA user_version):
//   jobs(id INTEGER PRIMARY KEY, queue, type, state, payload BLOB, scalar
//        fields one column each, times and durations as nanoseconds (see
//        job_codec.h), labels/backoff/history as job_codec blobs)
//   queues(name TEXT PRIMARY KEY, settings BLOB)
//   meta(key TEXT PRIMARY KEY, value INTEGER), key 'max_job_id'
// Not thread-safe: SqliteStore calls it from one thread at a time.
class SqliteDatabase {
 public:
  // Opens or creates the file at `path` in WAL mode with synchronous=NORMAL
  // (a commit survives a process crash) or, with `fsync`, synchronous=FULL
  // (it survives power loss too). The connection holds an exclusive lock on
  // the file until destroyed: FAILED_PRECONDITION if another connection
  // (this process or another) has it open. FAILED_PRECONDITION too for a
  // schema version newer than this code; UNAVAILABLE or INTERNAL with
  // SQLite's message for other failures.
  static absl::StatusOr<std::unique_ptr<SqliteDatabase>> Open(const std::string& path, bool fsync);
  ~SqliteDatabase();
  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;

  // Writes `batch` in one transaction; on failure nothing of it is written.
  // An update or delete of a job not in the file, or an insert of one that
  // is, is INTERNAL (the caller's bug); I/O failures are UNAVAILABLE.
  absl::Status Write(const WriteBatch& batch);

  // Reads every queue's settings (by name), the greatest job id ever
  // written, then every job (by increasing id) into `sink`, one row at a
  // time. DATA_LOSS for undecodable rows; the sink's first error.
  absl::Status Read(RecoverySink& sink);

 private:
  struct Statements;
  SqliteDatabase(sqlite3* db, std::unique_ptr<Statements> statements);

  sqlite3* db_;
  std::unique_ptr<Statements> statements_;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_STORE_SQLITE_DATABASE_H_
