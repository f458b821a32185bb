#include "server/store/sqlite_checkpointer.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace conveyor {

absl::StatusOr<std::unique_ptr<SqliteCheckpointer>> SqliteCheckpointer::Start(
    const std::string& path, bool fsync, int threshold_frames, int restart_frames,
    int writeback_frames) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc == SQLITE_OK) {
    rc = sqlite3_exec(db, fsync ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
                      nullptr, nullptr, nullptr);
  }
  if (rc != SQLITE_OK) {
    absl::Status status = absl::UnavailableError(absl::StrCat(
        "sqlite: open checkpoint connection to ", path, ": ",
        db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc)));
    sqlite3_close_v2(db);
    return status;
  }
  // The writer's connection created the WAL when it entered WAL mode. Without
  // it, checkpoints still work; only the early writeback is lost.
  const std::string wal = path + "-wal";
  const int wal_fd = open(wal.c_str(), O_RDONLY | O_CLOEXEC);
  if (wal_fd < 0) {
    spdlog::warn("sqlite WAL {} not opened for early writeback: {}", wal, strerror(errno));
  }
  return std::unique_ptr<SqliteCheckpointer>(
      new SqliteCheckpointer(db, wal_fd, threshold_frames, restart_frames, writeback_frames));
}

SqliteCheckpointer::SqliteCheckpointer(sqlite3* db, int wal_fd, int threshold_frames,
                                       int restart_frames, int writeback_frames)
    : db_(db),
      wal_fd_(wal_fd),
      threshold_frames_(threshold_frames),
      restart_frames_(restart_frames),
      writeback_frames_(writeback_frames) {
  thread_ = std::thread([this] { Loop(); });
}

SqliteCheckpointer::~SqliteCheckpointer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  sqlite3_close_v2(db_);
  if (wal_fd_ >= 0) close(wal_fd_);
}

int SqliteCheckpointer::OnCommit(int frames) {
  absl::MutexLock lock(&mu_);
  if (frames < frames_) {  // The WAL started over.
    start_frames_ = 0;
    backfilled_ = 0;
    written_back_ = 0;
  }
  frames_ = frames;
  return backfilled_;
}

int SqliteCheckpointer::Backfilled() const {
  absl::MutexLock lock(&mu_);
  return backfilled_;
}

uint64_t SqliteCheckpointer::completed() const {
  absl::MutexLock lock(&mu_);
  return completed_;
}

uint64_t SqliteCheckpointer::failed() const {
  absl::MutexLock lock(&mu_);
  return failed_;
}

void SqliteCheckpointer::Loop() {
  pthread_setname_np(pthread_self(), "conveyor-ckpt");
  while (true) {
    bool checkpoint;
    int previous_start = 0;
    {
      absl::MutexLock lock(&mu_);
      auto checkpoint_due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return frames_ - start_frames_ >= threshold_frames_ ||
               (frames_ >= restart_frames_ && frames_ > start_frames_);
      };
      auto due = [this, &checkpoint_due]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || checkpoint_due() ||
               (wal_fd_ >= 0 && frames_ - written_back_ >= writeback_frames_);
      };
      mu_.Await(absl::Condition(&due));
      if (stopping_) return;
      written_back_ = frames_;  // A checkpoint's fsync writes it all back too.
      checkpoint = checkpoint_due();
      if (checkpoint) {
        previous_start = start_frames_;
        start_frames_ = frames_;
      }
    }
    if (!checkpoint) {
      // Starts writeback of the WAL's dirty pages and returns; pages already
      // clean cost nothing. A failure only loses the smoothing.
      sync_file_range(wal_fd_, 0, 0, SYNC_FILE_RANGE_WRITE);
      continue;
    }
    int wal_frames = 0;
    int copied = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames, &copied);
    absl::MutexLock lock(&mu_);
    if (rc == SQLITE_OK) {
      ++completed_;
      // Of the WAL this pass saw; if it started over meanwhile, OnCommit
      // already said so and the next pass tells.
      if (wal_frames <= frames_) backfilled_ = copied;
    } else {
      if (failed_++ == 0 || failed_ % 100 == 0) {
        spdlog::warn("sqlite checkpoint failed (the WAL keeps the pages; retried shortly) "
                     "failures={} error=\"{}\"", failed_, sqlite3_errmsg(db_));
      }
      // Still due (unless the WAL started over meanwhile), after a pause:
      // SQLITE_BUSY mostly means another connection held a lock a moment.
      start_frames_ = std::min(start_frames_, previous_start);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), kRetryPause);
    }
  }
}

}  // namespace conveyor
