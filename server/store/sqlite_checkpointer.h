#ifndef CONVEYOR_SERVER_STORE_SQLITE_CHECKPOINTER_H_
#define CONVEYOR_SERVER_STORE_SQLITE_CHECKPOINTER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

struct sqlite3;

namespace conveyor {

// Checkpoints a WAL-mode SQLite file on its own thread and connection: copies
// the pages committed to the WAL into the database file. SQLite's automatic
// checkpoint runs inside the COMMIT that crosses its threshold and holds that
// commit (and every commit queued behind it) for the whole copy and its
// fsyncs; here commits do not wait for that. A PASSIVE checkpoint takes no
// lock a writer needs.
//
// The writer reports the WAL's size after each commit (OnCommit); the thread
// checkpoints whenever `threshold_frames` more have been written since its
// last start. The WAL starts over only when a writer finds every frame
// copied, which a checkpoint racing busy commits rarely leaves behind: past
// `restart_frames` the writer copies the rest itself
// (SqliteDatabase::OnWalCommit), and that commit waits for the WAL's and the
// database's fsync of whatever the checkpointer has not copied. So past
// `restart_frames` the thread checkpoints again as soon as anything was
// added, keeping that remainder (Backfilled() behind the WAL's end) small.
// A failed checkpoint (SQLITE_BUSY: another connection held a lock that
// moment) loses nothing, the pages stay in the WAL, and is retried after
// kRetryPause, commits or none.
//
// Between checkpoints the thread also starts the kernel's writeback of each
// `writeback_frames` new WAL frames (sync_file_range, not waiting for it), as
// RocksDB's wal_bytes_per_sync does: a checkpoint's fsync of the WAL then
// finds little left to write, instead of all the WAL gained since the last
// one (tens of MB), during which the writer's own WAL writes stall for
// milliseconds.
// Thread-safe.
class SqliteCheckpointer {
 public:
  // Opens a second connection to `path` (synchronous=FULL with `fsync`,
  // NORMAL otherwise, like the writer's) and starts the thread.
  static absl::StatusOr<std::unique_ptr<SqliteCheckpointer>> Start(const std::string& path,
                                                                    bool fsync,
                                                                    int threshold_frames,
                                                                    int restart_frames,
                                                                    int writeback_frames);
  // Stops the thread (after the checkpoint in progress) and closes the
  // connection.
  ~SqliteCheckpointer();
  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

  // The WAL holds `frames` pages after a commit; returns Backfilled(). Cheap;
  // never blocks on a checkpoint.
  int OnCommit(int frames) ABSL_LOCKS_EXCLUDED(mu_);

  // Checkpoints that completed, and attempts that failed.
  uint64_t completed() const ABSL_LOCKS_EXCLUDED(mu_);
  uint64_t failed() const ABSL_LOCKS_EXCLUDED(mu_);

  static constexpr absl::Duration kRetryPause = absl::Milliseconds(10);
  // Frames of the current WAL already copied into the database (0 after the
  // WAL started over).
  int Backfilled() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  SqliteCheckpointer(sqlite3* db, int wal_fd, int threshold_frames, int restart_frames,
                     int writeback_frames);
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);

  sqlite3* const db_;  // Used only by the thread (and the destructor after it).
  const int wal_fd_;   // The WAL, read-only, for sync_file_range; -1: none.
  const int threshold_frames_;
  const int restart_frames_;
  const int writeback_frames_;
  mutable absl::Mutex mu_;
  int frames_ ABSL_GUARDED_BY(mu_) = 0;        // In the WAL after the last commit.
  int start_frames_ ABSL_GUARDED_BY(mu_) = 0;  // In it when the last checkpoint began.
  int written_back_ ABSL_GUARDED_BY(mu_) = 0;  // In it when writeback last started.
  int backfilled_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t completed_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failed_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_STORE_SQLITE_CHECKPOINTER_H_
