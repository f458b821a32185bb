#include "server/store/sqlite_checkpointer.h"

#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace conveyor {

absl::StatusOr<std::unique_ptr<SqliteCheckpointer>> SqliteCheckpointer::Start(
    const std::string& path, bool fsync, int threshold_frames, int restart_frames) {
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
  return std::unique_ptr<SqliteCheckpointer>(
      new SqliteCheckpointer(db, threshold_frames, restart_frames));
}

SqliteCheckpointer::SqliteCheckpointer(sqlite3* db, int threshold_frames, int restart_frames)
    : db_(db), threshold_frames_(threshold_frames), restart_frames_(restart_frames) {
  thread_ = std::thread([this] { Loop(); });
}

SqliteCheckpointer::~SqliteCheckpointer() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
  sqlite3_close_v2(db_);
}

int SqliteCheckpointer::OnCommit(int frames) {
  absl::MutexLock lock(&mu_);
  if (frames < frames_) {  // The WAL started over.
    start_frames_ = 0;
    backfilled_ = 0;
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

void SqliteCheckpointer::Loop() {
  pthread_setname_np(pthread_self(), "conveyor-ckpt");
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto due = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
        return stopping_ || frames_ - start_frames_ >= threshold_frames_ ||
               (frames_ >= restart_frames_ && frames_ > start_frames_);
      };
      mu_.Await(absl::Condition(&due));
      if (stopping_) return;
      start_frames_ = frames_;
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
        spdlog::warn("sqlite checkpoint failed (the WAL keeps the pages; retried later) "
                     "failures={} error=\"{}\"", failed_, sqlite3_errmsg(db_));
      }
    }
  }
}

}  // namespace conveyor
