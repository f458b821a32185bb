// SqliteCheckpointer on a real WAL file, written by the test's own
// connection: when it checkpoints, and how much it reports copied.

#include "server/store/sqlite_checkpointer.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sqlite3.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/synchronization/notification.h"

#include "gtest/gtest.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"

namespace conveyor {
namespace {

// A writer connection in WAL mode with no automatic checkpoint; frames()
// is the WAL's size after its last commit.
class Writer {
 public:
  explicit Writer(const std::string& path) {
    EXPECT_EQ(sqlite3_open(path.c_str(), &db_), SQLITE_OK);
    Exec("PRAGMA journal_mode=WAL");
    Exec("PRAGMA wal_autocheckpoint=0");
    Exec("PRAGMA synchronous=NORMAL");  // As the store: no fsync per commit.
    sqlite3_wal_hook(
        db_,
        [](void* frames, sqlite3*, const char*, int n) {
          *static_cast<int*>(frames) = n;
          return SQLITE_OK;
        },
        &frames_);
    Exec("CREATE TABLE t (x BLOB)");
  }
  ~Writer() { sqlite3_close_v2(db_); }

  // One commit of `rows` rows of about a page each.
  void Insert(int rows) {
    Exec("BEGIN");
    for (int i = 0; i < rows; ++i) Exec("INSERT INTO t VALUES (randomblob(3000))");
    Exec("COMMIT");
  }
  int frames() const { return frames_; }

 private:
  void Exec(const char* sql) {
    char* error = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql, nullptr, nullptr, &error), SQLITE_OK)
        << sql << ": " << (error != nullptr ? error : "");
    sqlite3_free(error);
  }

  sqlite3* db_ = nullptr;
  int frames_ = 0;
};

TEST(SqliteCheckpointerTest, PastTheRestartSizeEveryCommitIsCopiedBelowTheThresholdToo) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  Writer writer(path);
  auto checkpointer =
      SqliteCheckpointer::Start(path, /*fsync=*/false, /*threshold_frames=*/1000,
                                /*restart_frames=*/50, /*writeback_frames=*/256);
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  SqliteCheckpointer& c = **checkpointer;

  // Below both sizes: no checkpoint (completed() below counts one pass).
  writer.Insert(10);
  ASSERT_LT(writer.frames(), 50);
  EXPECT_EQ(c.OnCommit(writer.frames()), 0);

  // Past the restart size (far below the threshold), a commit of 60 rows
  // gets the whole WAL copied; returns its size.
  auto grow_past_restart_size = [&]() -> int {
    writer.Insert(60);
    const int frames = writer.frames();
    EXPECT_GE(frames, 50);
    c.OnCommit(frames);
    EXPECT_TRUE(testing::WaitFor([&] { return c.Backfilled() == frames; }))
        << "backfilled " << c.Backfilled() << " of " << frames;
    return frames;
  };
  const int grown = grow_past_restart_size();
  EXPECT_EQ(c.completed(), 1u);

  // Everything was copied, so the next transaction starts the WAL over:
  // nothing of the new WAL is copied yet.
  writer.Insert(1);
  ASSERT_LT(writer.frames(), grown);
  EXPECT_EQ(c.OnCommit(writer.frames()), 0);

  grow_past_restart_size();
  EXPECT_EQ(c.completed(), 2u);
}

// While another connection holds the WAL's checkpoint lock, the
// checkpointer's pass fails with SQLITE_BUSY; it tries again by itself once
// the lock is free, with no further commit to wake it.
TEST(SqliteCheckpointerTest, ABusyCheckpointIsRetriedWithoutAnotherCommit) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  Writer writer(path);
  writer.Insert(20);

  // A reader on the snapshot of now, then frames past it: a FULL checkpoint
  // on a third connection waits for that reader in its busy handler, with
  // the checkpoint lock held, until `release`.
  sqlite3* reader = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &reader), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM t", nullptr, nullptr, nullptr),
            SQLITE_OK);
  writer.Insert(20);
  struct Holder {
    absl::Notification waiting, release;
  } holder;
  sqlite3* blocker = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &blocker), SQLITE_OK);
  sqlite3_busy_handler(
      blocker,
      [](void* arg, int) {
        auto* h = static_cast<Holder*>(arg);
        if (!h->waiting.HasBeenNotified()) h->waiting.Notify();
        h->release.WaitForNotification();
        return 0;  // Gives up: the FULL checkpoint ends with SQLITE_BUSY.
      },
      &holder);
  // A connection that has read nothing has no WAL open: its checkpoint
  // would do nothing.
  ASSERT_EQ(sqlite3_exec(blocker, "SELECT count(*) FROM t", nullptr, nullptr, nullptr),
            SQLITE_OK);
  int full_rc = -1;
  std::thread full([&] {
    full_rc = sqlite3_wal_checkpoint_v2(blocker, nullptr, SQLITE_CHECKPOINT_FULL, nullptr, nullptr);
  });
  ASSERT_TRUE(holder.waiting.WaitForNotificationWithTimeout(absl::Seconds(10)))
      << "the FULL checkpoint did not wait for the reader: " << (full.join(), full_rc);

  auto checkpointer =
      SqliteCheckpointer::Start(path, /*fsync=*/false, /*threshold_frames=*/10,
                                /*restart_frames=*/1000000, /*writeback_frames=*/1000000);
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  SqliteCheckpointer& c = **checkpointer;
  c.OnCommit(writer.frames());
  EXPECT_TRUE(testing::WaitFor([&] { return c.failed() >= 1; }));
  EXPECT_EQ(c.completed(), 0u);

  holder.release.Notify();
  full.join();
  EXPECT_EQ(sqlite3_exec(reader, "COMMIT", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close_v2(reader);
  sqlite3_close_v2(blocker);
  EXPECT_TRUE(testing::WaitFor([&] { return c.completed() >= 1; }))
      << "failed attempts: " << c.failed();
  EXPECT_TRUE(testing::WaitFor([&] { return c.Backfilled() == writer.frames(); }));
}

// The page cache's view of a file (Linux cachestat(2), 6.5 and later).
struct PageCacheState {
  uint64_t dirty = 0;       // Written, not yet sent to the disk.
  uint64_t writeback = 0;   // Being sent.
};

// Empty when the kernel has no cachestat.
std::optional<PageCacheState> CacheStat(int fd) {
  struct Range {
    uint64_t off, len;
  } range{0, 0};  // len 0: to the end of the file.
  struct Stat {
    uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
  } stat{};
  constexpr long kCachestat = 451;  // Same number on every architecture.
  if (syscall(kCachestat, fd, &range, &stat, 0) != 0) return std::nullopt;
  return PageCacheState{stat.nr_dirty, stat.nr_writeback};
}

TEST(SqliteCheckpointerTest, NewWalFramesAreWrittenBackWithoutWaitingForACheckpoint) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  Writer writer(path);
  struct statfs fs{};
  ASSERT_EQ(statfs(dir.path().c_str(), &fs), 0);
  if (fs.f_type == TMPFS_MAGIC) GTEST_SKIP() << "tmpfs pages are never written back";
  const int wal = open((path + "-wal").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(wal, 0);
  if (!CacheStat(wal).has_value()) {
    close(wal);
    GTEST_SKIP() << "no cachestat(2) in this kernel";
  }
  auto checkpointer =
      SqliteCheckpointer::Start(path, /*fsync=*/false, /*threshold_frames=*/1000000,
                                /*restart_frames=*/1000000, /*writeback_frames=*/64);
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status();
  SqliteCheckpointer& c = **checkpointer;

  // Fewer new frames than writeback_frames: they stay dirty (the kernel's
  // own writeback waits 30 s by default).
  writer.Insert(20);
  ASSERT_LT(writer.frames(), 64);
  c.OnCommit(writer.frames());
  ASSERT_GT(CacheStat(wal)->dirty, 0u);

  // Past writeback_frames the checkpointer sends them all, long before
  // the kernel would, and without a checkpoint.
  writer.Insert(100);
  ASSERT_GE(writer.frames(), 64);
  c.OnCommit(writer.frames());
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        const PageCacheState s = *CacheStat(wal);
        return s.dirty == 0 && s.writeback == 0;
      },
      absl::Seconds(5)))
      << "dirty pages left: " << CacheStat(wal)->dirty;
  EXPECT_EQ(c.completed(), 0u);
  close(wal);
}

}  // namespace
}  // namespace conveyor
