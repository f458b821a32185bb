// SqliteStore beyond the Store contract: group commit, batching limits, the
// file lock, the schema, and a kill -9 in the middle of acknowledged writes.

#include "server/store/sqlite_store.h"

#include <signal.h>
#include <sqlite3.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/store/sqlite_database.h"
#include "tests/testing/test_jobs.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"

namespace conveyor {
namespace {

using testing::MakeNewJob;

std::unique_ptr<SqliteStore> OpenOrDie(const std::string& path, SqliteStoreOptions options = {}) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path, options);
  EXPECT_TRUE(store.ok()) << store.status();
  return store.ok() ? *std::move(store) : nullptr;
}

// Runs `sql` on the file at `path` with a connection of the test's own.
void ExecSql(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  char* error = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error), SQLITE_OK)
      << (error != nullptr ? error : "");
  sqlite3_free(error);
  sqlite3_close(db);
}

TEST(SqliteStoreTest, ConcurrentCreatorsShareTransactions) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenOrDie(dir.path() + "/db");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Recover().ok());

  // Each thread acts like a stream of RPCs: up to kWindow submits waiting
  // for durability at once, the next one sent as an earlier one completes.
  constexpr int kThreads = 16, kPerThread = 500, kWindow = 32;
  constexpr int kJobs = kThreads * kPerThread;
  absl::Mutex engine_mu;  // Orders seqs as Engine::mu_ does.
  uint64_t seq = 0;
  std::atomic<int> acked{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      absl::Mutex window_mu;
      int in_flight = 0;
      for (int i = 0; i < kPerThread; ++i) {
        {
          absl::MutexLock lock(&window_mu);
          window_mu.Await(absl::Condition(
              +[](int* n) { return *n < kWindow; }, &in_flight));
          ++in_flight;
        }
        uint64_t my_seq;
        {
          absl::MutexLock lock(&engine_mu);
          my_seq = ++seq;
          store->OnJobCreated(my_seq, MakeNewJob(my_seq));
        }
        store->WhenDurable(my_seq, [&](absl::Status s) {
          if (!s.ok()) ++failed;
          ++acked;
          absl::MutexLock lock(&window_mu);
          --in_flight;
        });
      }
      absl::MutexLock lock(&window_mu);
      window_mu.Await(absl::Condition(
          +[](int* n) { return *n == 0; }, &in_flight));
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(acked.load(), kJobs);
  EXPECT_EQ(failed.load(), 0);

  StoreStats stats = store->stats();
  std::cout << "group commit: " << kJobs << " jobs in " << stats.commits << " commits\n";
  ::testing::Test::RecordProperty("commits", static_cast<int>(stats.commits));
  EXPECT_EQ(stats.changes, uint64_t{kJobs});
  EXPECT_LE(stats.commits * 10, uint64_t{kJobs}) << "too few jobs per transaction";

  store->Close();
  store = OpenOrDie(dir.path() + "/db");
  absl::StatusOr<RecoveredState> state = store->Recover();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->jobs.size(), size_t{kJobs});
  EXPECT_EQ(state->max_job_id, JobId{kJobs});
}

TEST(SqliteStoreTest, MaxBatchBoundsChangesPerTransaction) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenOrDie(dir.path() + "/db", {.max_batch = 1});
  ASSERT_NE(store, nullptr);
  for (uint64_t id = 1; id <= 20; ++id) store->OnJobCreated(id, MakeNewJob(id));
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(store->stats().commits, 20u);
  EXPECT_EQ(store->stats().changes, 20u);
}

TEST(SqliteStoreTest, OneOperationIsOneTransactionWhateverItsSize) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenOrDie(dir.path() + "/db", {.max_batch = 2});
  ASSERT_NE(store, nullptr);
  // Like a Submit of 7 jobs: the writer may not commit any of them (nor
  // split them at max_batch) until the operation ends, so a crash keeps
  // all or none.
  store->OnOperationBegin();
  for (uint64_t id = 1; id <= 7; ++id) store->OnJobCreated(id, MakeNewJob(id));
  store->OnOperationEnd();
  // A second operation may start a new transaction.
  store->OnOperationBegin();
  for (uint64_t id = 8; id <= 10; ++id) store->OnJobCreated(id, MakeNewJob(id));
  store->OnOperationEnd();
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(store->stats().changes, 10u);
  EXPECT_EQ(store->stats().commits, 2u);
}

// A linger longer than any test waits: a change committed here was
// committed because someone asked for it, not because its linger ran out.
constexpr SqliteStoreOptions kEndlessLinger = {.commit_linger = absl::Hours(1)};

// A WhenDurable callback that expects OK and notifies `done`.
std::function<void(absl::Status)> NotifyWhenOk(absl::Notification& done) {
  return [&done](absl::Status s) {
    EXPECT_TRUE(s.ok()) << s;
    done.Notify();
  };
}

TEST(SqliteStoreTest, ALazyWaiterWaitsForAPromptOne) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenOrDie(dir.path() + "/db", kEndlessLinger);
  ASSERT_NE(store, nullptr);
  absl::Notification lazy_done, prompt_done;
  store->OnJobCreated(1, MakeNewJob(1));
  store->WhenDurableLazily(1, NotifyWhenOk(lazy_done));
  EXPECT_FALSE(lazy_done.WaitForNotificationWithTimeout(absl::Milliseconds(200)))
      << "a change only a lazy waiter wanted was committed before its linger ran out";
  EXPECT_EQ(store->DurableSeq(), 0u);
  // A change someone waits for is committed at once, with the held one.
  store->OnJobCreated(2, MakeNewJob(2));
  store->WhenDurable(2, NotifyWhenOk(prompt_done));
  ASSERT_TRUE(prompt_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(lazy_done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_EQ(store->stats().commits, 1u);
  EXPECT_EQ(store->stats().changes, 2u);
}

TEST(SqliteStoreTest, ExpediteAndFlushEndTheLinger) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenOrDie(dir.path() + "/db", kEndlessLinger);
  ASSERT_NE(store, nullptr);
  absl::Notification done;
  store->OnJobCreated(1, MakeNewJob(1));
  store->WhenDurableLazily(1, NotifyWhenOk(done));
  store->Expedite(1);
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  // A change nobody waits for lingers too; Flush does not wait for that.
  store->OnJobCreated(2, MakeNewJob(2));
  ASSERT_TRUE(store->Flush().ok());
  EXPECT_EQ(store->DurableSeq(), 2u);
}

TEST(SqliteStoreTest, ChangesNobodyHurriesAreCommittedWhenTheLingerEnds) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store =
      OpenOrDie(dir.path() + "/db", {.commit_linger = absl::Milliseconds(20)});
  ASSERT_NE(store, nullptr);
  absl::Notification done;
  store->OnJobCreated(1, MakeNewJob(1));
  store->WhenDurableLazily(1, NotifyWhenOk(done));
  store->OnJobCreated(2, MakeNewJob(2));  // Nobody waits for this one.
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(testing::WaitFor([&] { return store->DurableSeq() == 2; }));
}

TEST(SqliteStoreTest, UpdateLeavesThePayloadColumnAlone) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  std::unique_ptr<SqliteStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  store->OnJobCreated(1, MakeNewJob(1, "original payload"));
  ASSERT_TRUE(store->Flush().ok());
  Job updated = MakeNewJob(1, "not written");
  updated.state = JobState::kSucceeded;
  store->OnJobUpdated(2, updated);
  store->Close();

  store = OpenOrDie(path);
  absl::StatusOr<RecoveredState> state = store->Recover();
  ASSERT_TRUE(state.ok()) << state.status();
  ASSERT_EQ(state->jobs.size(), 1u);
  EXPECT_EQ(state->jobs[0].payload, "original payload");
  EXPECT_EQ(state->jobs[0].state, JobState::kSucceeded);
}

TEST(SqliteStoreTest, FsyncOptionWorks) {
  testing::TempDir dir;
  std::unique_ptr<SqliteStore> store = OpenOrDie(dir.path() + "/db", {.fsync = true});
  ASSERT_NE(store, nullptr);
  store->OnJobCreated(1, MakeNewJob(1));
  EXPECT_TRUE(store->Flush().ok());
  store->Close();
  store = OpenOrDie(dir.path() + "/db");
  EXPECT_EQ(store->Recover()->jobs.size(), 1u);
}

// Checkpoints run on the checkpointer's connection (counted, unlike SQLite's
// automatic ones inside a commit) while the store is open, so the database
// file itself (not just its WAL) fills up, and nothing is lost.
TEST(SqliteStoreTest, CheckpointsRunBesideTheCommitsAndLoseNothing) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  std::unique_ptr<SqliteStore> store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Recover().ok());
  // Each commit: a row and two 4 KiB overflow pages, past the threshold.
  const int jobs = SqliteDatabase::kCheckpointFrames / 3 + 500;
  const std::string payload(8000, 'p');
  for (int id = 1; id <= jobs; ++id) {
    store->OnJobCreated(id, MakeNewJob(id, payload));
    ASSERT_TRUE(store->Flush().ok());
  }
  auto file_bytes = [&] {
    std::ifstream f(path, std::ios::binary | std::ios::ate);
    return static_cast<int64_t>(f.tellg());
  };
  EXPECT_TRUE(testing::WaitFor([&] {
    return store->stats().checkpoints >= 1 && file_bytes() > int64_t{8000} * jobs / 2;
  })) << "checkpoints=" << store->stats().checkpoints << " file bytes=" << file_bytes();
  store->Close();
  store = OpenOrDie(path);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<RecoveredState> state = store->Recover();
  ASSERT_TRUE(state.ok()) << state.status();
  EXPECT_EQ(state->jobs.size(), static_cast<size_t>(jobs));
}

TEST(SqliteStoreTest, SecondOpenOfTheSameFileIsRefused) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  std::unique_ptr<SqliteStore> first = OpenOrDie(path);
  ASSERT_NE(first, nullptr);
  absl::StatusOr<std::unique_ptr<SqliteStore>> second = SqliteStore::Open(path);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos) << second.status();
  first->Close();
  EXPECT_NE(OpenOrDie(path), nullptr);
}

TEST(SqliteStoreTest, NewerSchemaVersionIsRefused) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  OpenOrDie(path).reset();
  ExecSql(path, "PRAGMA user_version=99");
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(path);
  EXPECT_EQ(store.status().code(), absl::StatusCode::kFailedPrecondition) << store.status();
  EXPECT_NE(store.status().message().find("schema version 99"), std::string::npos);
}

TEST(SqliteStoreTest, CorruptBlobIsDataLossNamingTheJob) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/db";
  {
    std::unique_ptr<SqliteStore> store = OpenOrDie(path);
    store->OnJobCreated(1, MakeNewJob(1));
  }  // The destructor closes, which flushes.
  ExecSql(path, "UPDATE jobs SET history = x'01ff' WHERE id = 1");
  std::unique_ptr<SqliteStore> store = OpenOrDie(path);
  absl::StatusOr<RecoveredState> state = store->Recover();
  EXPECT_EQ(state.status().code(), absl::StatusCode::kDataLoss) << state.status();
  EXPECT_NE(state.status().message().find("job 1"), std::string::npos) << state.status();
}

TEST(SqliteStoreTest, OpenFailsCleanlyOnAnUnwritablePath) {
  absl::StatusOr<std::unique_ptr<SqliteStore>> store =
      SqliteStore::Open("/nonexistent-dir/conveyor/db");
  EXPECT_FALSE(store.ok());
  EXPECT_NE(store.status().message().find("/nonexistent-dir/conveyor/db"), std::string::npos)
      << store.status();
}

// Complete lines of the child's ack file.
std::vector<std::string> ReadAcks(const std::string& path) {
  std::ifstream in(path);
  std::stringstream all;
  all << in.rdbuf();
  std::string text = all.str();
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    lines.push_back(text.substr(start, nl - start));
  }
  return lines;
}

TEST(SqliteStoreCrashTest, EveryAcknowledgedChangeSurvivesSigkill) {
  testing::TempDir dir;
  const std::string db = dir.path() + "/db", acks = dir.path() + "/acks";
  absl::StatusOr<std::unique_ptr<testing::ChildProcess>> child = testing::ChildProcess::Start(
      STORE_CRASH_CHILD_PATH, {db, acks, "4"}, dir.path() + "/child.log");
  ASSERT_TRUE(child.ok()) << child.status();

  constexpr size_t kEnough = 2000;
  auto created_count = [&] {
    size_t n = 0;
    for (const std::string& line : ReadAcks(acks)) n += line[0] == 'c';
    return n;
  };
  ASSERT_TRUE(testing::WaitFor([&] { return created_count() >= kEnough || !(*child)->Running(); },
                               absl::Seconds(60)));
  ASSERT_TRUE((*child)->Running()) << "child exited early; see " << dir.path() << "/child.log";
  (*child)->Signal(SIGKILL);
  absl::StatusOr<int> wait_status = (*child)->Wait(absl::Seconds(10));
  ASSERT_TRUE(wait_status.ok()) << wait_status.status();
  ASSERT_TRUE(WIFSIGNALED(*wait_status) && WTERMSIG(*wait_status) == SIGKILL);

  std::set<uint64_t> created, updated;
  for (const std::string& line : ReadAcks(acks)) {
    uint64_t id = 0;
    ASSERT_TRUE(line.size() > 2 && absl::SimpleAtoi(line.substr(2), &id)) << line;
    (line[0] == 'c' ? created : updated).insert(id);
  }
  ASSERT_GE(created.size(), kEnough);

  std::unique_ptr<SqliteStore> store = OpenOrDie(db);
  ASSERT_NE(store, nullptr);
  absl::StatusOr<RecoveredState> state = store->Recover();
  ASSERT_TRUE(state.ok()) << state.status();
  absl::flat_hash_map<uint64_t, const Job*> by_id;
  for (const Job& job : state->jobs) by_id[job.id.value] = &job;
  size_t missing = 0, stale = 0, bad_payload = 0;
  for (uint64_t id : created) {
    auto it = by_id.find(id);
    if (it == by_id.end()) {
      ++missing;
      continue;
    }
    if (it->second->payload != absl::StrCat("crash-payload-", id, std::string(100, 'x'))) {
      ++bad_payload;
    }
    if (updated.contains(id) &&
        (it->second->state != JobState::kRunning || it->second->attempts != 1 ||
         it->second->history.size() != 1 ||
         it->second->history[0].worker_name != absl::StrCat("w-", id))) {
      ++stale;
    }
  }
  EXPECT_EQ(missing, 0u) << "of " << created.size() << " acknowledged jobs";
  EXPECT_EQ(bad_payload, 0u);
  EXPECT_EQ(stale, 0u) << "of " << updated.size() << " acknowledged updates";
  EXPECT_GE(state->max_job_id.value, *created.rbegin());
  std::cout << "crash: " << created.size() << " acknowledged creates, " << updated.size()
            << " updates, " << state->jobs.size() << " jobs recovered\n";
}

}  // namespace
}  // namespace conveyor
