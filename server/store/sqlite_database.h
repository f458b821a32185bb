#ifndef CONVEYOR_SERVER_STORE_SQLITE_DATABASE_H_
#define CONVEYOR_SERVER_STORE_SQLITE_DATABASE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "server/engine/engine.h"
#include "server/store/sqlite_checkpointer.h"
#include "server/store/write_batch.h"

struct sqlite3;

namespace conveyor {

// One SQLite file holding a store's state, and the SQL that reads and writes
// it. Schema (version 1, kept in PRAGMA user_version):
//   jobs(id INTEGER PRIMARY KEY, queue, type, state, payload BLOB, scalar
//        fields one column each, times and durations as nanoseconds (see
//        job_codec.h), labels/backoff/history as job_codec blobs)
//   queues(name TEXT PRIMARY KEY, settings BLOB)
//   meta(key TEXT PRIMARY KEY, value INTEGER), key 'max_job_id': at least
//        the greatest id of any job no longer in the jobs table
// Not thread-safe: SqliteStore calls it from one thread at a time.
class SqliteDatabase {
 public:
  // Opens or creates the file at `path` in WAL mode with synchronous=NORMAL
  // (a commit survives a process crash) or, with `fsync`, synchronous=FULL
  // (it survives power loss too). Holds an exclusive lock on `path`.lock
  // until destroyed: FAILED_PRECONDITION if another SqliteDatabase (this
  // process or another) has the file open. FAILED_PRECONDITION too for a
  // schema version newer than this code; UNAVAILABLE or INTERNAL with
  // SQLite's message for other failures. Checkpoints run on their own
  // thread (SqliteCheckpointer); Write runs one only at the cap below.
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

  // Background checkpoints completed so far.
  uint64_t checkpoints() const;

  // New WAL pages (4 KiB frames) that start a background checkpoint: ten
  // times SQLite's automatic threshold, since no commit waits for it.
  static constexpr int kCheckpointFrames = 10000;
  // New WAL pages after which the checkpointer starts their writeback
  // (about 1 MB).
  static constexpr int kWritebackFrames = 256;
  // The WAL size at which a commit checkpoints inline after all, so that the
  // WAL starts over (see OnWalCommit): about 256 MB of 4 KiB pages.
  static constexpr int kInlineCheckpointFrames = 64 * 1000;
  // ... once the checkpointer left at most this many frames uncopied (about
  // 4 MB to sync in that commit), or at twice the size regardless.
  static constexpr int kInlineRemainderFrames = 1000;
  // SQLite's journal_size_limit: the most the WAL is cut back to when it
  // starts over. Above the largest WAL (twice the restart size, in frames of
  // a 4 KiB page and a 24-byte header), so it is never cut: a cut frees the
  // file's blocks inside the commit that starts the WAL over.
  static constexpr int64_t kWalSizeLimitBytes =
      int64_t{2} * kInlineCheckpointFrames * (4096 + 24) + 32;

 private:
  struct Statements;
  // Closes a file descriptor.
  class UniqueFd {
   public:
    explicit UniqueFd(int fd = -1) : fd_(fd) {}
    UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    UniqueFd& operator=(UniqueFd&&) = delete;
    ~UniqueFd();
    int get() const { return fd_; }

   private:
    int fd_;
  };
  SqliteDatabase(sqlite3* db, std::unique_ptr<Statements> statements, UniqueFd lock,
                 std::unique_ptr<SqliteCheckpointer> checkpointer);
  // sqlite3_wal_hook callback: `frames` pages are in the WAL after a commit.
  static int OnWalCommit(void* self, sqlite3* db, const char* schema, int frames);

  sqlite3* db_;
  std::unique_ptr<Statements> statements_;
  UniqueFd lock_;
  std::unique_ptr<SqliteCheckpointer> checkpointer_;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_STORE_SQLITE_DATABASE_H_
