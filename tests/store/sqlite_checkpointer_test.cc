// SqliteCheckpointer on a real WAL file, written by the test's own
// connection: when it checkpoints, and how much it reports copied.

#include "server/store/sqlite_checkpointer.h"

#include <sqlite3.h>

#include <memory>
#include <string>

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
                                /*restart_frames=*/50);
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

}  // namespace
}  // namespace conveyor
