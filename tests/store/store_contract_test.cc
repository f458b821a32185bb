// The contract every Store keeps, run against each implementation.

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"
#include "server/store/job_lifecycle.h"
#include "server/store/memory_store.h"
#include "server/store/sqlite_store.h"
#include "server/store/store.h"
#include "tests/testing/test_jobs.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"

namespace conveyor {
namespace {

using testing::ExpectSameJob;
using testing::MakeFullJob;
using testing::MakeNewJob;

// Opens a store and "restarts" it: a new store over what the old one kept.
class MemoryStoreFactory {
 public:
  static constexpr const char* kName = "Memory";
  std::unique_ptr<Store> Open() { return std::make_unique<MemoryStore>(); }
  std::unique_ptr<Store> Reopen(std::unique_ptr<Store> old) {
    absl::StatusOr<RecoveredState> state = old->Recover();
    EXPECT_TRUE(state.ok()) << state.status();
    old->Close();
    return std::make_unique<MemoryStore>(*std::move(state));
  }
};

class SqliteStoreFactory {
 public:
  static constexpr const char* kName = "Sqlite";
  std::unique_ptr<Store> Open() {
    absl::StatusOr<std::unique_ptr<SqliteStore>> store =
        SqliteStore::Open(dir_.path() + "/conveyor.db");
    EXPECT_TRUE(store.ok()) << store.status();
    return store.ok() ? *std::move(store) : nullptr;
  }
  std::unique_ptr<Store> Reopen(std::unique_ptr<Store> old) {
    old->Close();
    old.reset();
    return Open();
  }

 private:
  testing::TempDir dir_;
};

template <typename Factory>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = factory_.Open();
    ASSERT_NE(store_, nullptr);
    absl::StatusOr<RecoveredState> state = store_->Recover();
    ASSERT_TRUE(state.ok()) << state.status();
    EXPECT_TRUE(state->jobs.empty());
  }

  // Observer calls as the engine makes them: each with the next seq.
  uint64_t Create(const Job& job) {
    store_->OnJobCreated(++seq_, job);
    return seq_;
  }
  uint64_t Update(const Job& job) {
    store_->OnJobUpdated(++seq_, job);
    return seq_;
  }
  uint64_t Delete(uint64_t id) {
    store_->OnJobDeleted(++seq_, JobId{id});
    return seq_;
  }
  uint64_t SetSettings(const std::string& queue, const QueueSettings& settings) {
    store_->OnQueueSettingsChanged(++seq_, queue, settings);
    return seq_;
  }

  // The status WhenDurable(seq) reports.
  absl::Status Durable(uint64_t seq) {
    absl::Notification done;
    absl::Status result;
    store_->WhenDurable(seq, [&](absl::Status s) {
      result = std::move(s);
      done.Notify();
    });
    done.WaitForNotification();
    return result;
  }

  // Restarts the store (Close flushes) and returns what it recovers.
  RecoveredState Restart() {
    store_ = factory_.Reopen(std::move(store_));
    seq_ = 0;
    if (store_ == nullptr) return {};
    absl::StatusOr<RecoveredState> state = store_->Recover();
    EXPECT_TRUE(state.ok()) << state.status();
    return state.ok() ? *std::move(state) : RecoveredState{};
  }

  Factory factory_;
  std::unique_ptr<Store> store_;
  uint64_t seq_ = 0;
};

struct FactoryNames {
  template <typename T>
  static std::string GetName(int) {
    return T::kName;
  }
};
using Factories = ::testing::Types<MemoryStoreFactory, SqliteStoreFactory>;
TYPED_TEST_SUITE(StoreContractTest, Factories, FactoryNames);

TYPED_TEST(StoreContractTest, RecoversTheLastStateOfEachJob) {
  Job a = MakeNewJob(1), b = MakeNewJob(2), c = MakeNewJob(3);
  this->Create(a);
  this->Create(b);
  this->Create(c);
  ASSERT_TRUE(this->store_->Flush().ok());
  b.state = JobState::kRunning;
  b.attempts = 1;
  this->Update(b);
  b.state = JobState::kSucceeded;
  b.result = "done";
  this->Update(b);
  this->Delete(3);
  ASSERT_TRUE(this->Durable(this->seq_).ok());

  RecoveredState state = this->Restart();
  ASSERT_EQ(state.jobs.size(), 2u);
  ExpectSameJob(state.jobs[0], a);
  ExpectSameJob(state.jobs[1], b);
  EXPECT_EQ(state.max_job_id, JobId{3});
}

TYPED_TEST(StoreContractTest, EveryJobFieldRoundTrips) {
  Job full = MakeFullJob(5);
  Job defaults = MakeNewJob(6);  // InfinitePast/InfiniteFuture times, empty history.
  Job extremes = MakeFullJob(7);
  extremes.deadline = absl::InfinitePast();
  extremes.created_at = absl::InfiniteFuture();
  extremes.attempt_timeout = absl::InfiniteDuration();
  extremes.progress = Progress{};
  extremes.labels.clear();
  extremes.payload = std::string(1 << 20, 'p');
  this->Create(full);
  this->Create(defaults);
  this->Create(extremes);
  ASSERT_TRUE(this->store_->Flush().ok());

  RecoveredState state = this->Restart();
  ASSERT_EQ(state.jobs.size(), 3u);
  ExpectSameJob(state.jobs[0], full);
  ExpectSameJob(state.jobs[1], defaults);
  ExpectSameJob(state.jobs[2], extremes);
}

TYPED_TEST(StoreContractTest, PayloadSurvivesUpdates) {
  Job job = MakeFullJob(1);
  this->Create(job);
  ASSERT_TRUE(this->store_->Flush().ok());
  for (int i = 0; i < 3; ++i) {
    job.attempts = i;
    job.progress = Progress{i * 10, "step"};
    this->Update(job);
    ASSERT_TRUE(this->store_->Flush().ok());
  }
  RecoveredState state = this->Restart();
  ASSERT_EQ(state.jobs.size(), 1u);
  ExpectSameJob(state.jobs[0], job);
}

TYPED_TEST(StoreContractTest, UpdatesWriteOnlyTheLifecycle) {
  // The engine never changes a job's spec after creation, so an update may
  // carry anything there: the store keeps the spec (payload included) as
  // created and takes every lifecycle field from the update. Job 1 is
  // updated after its insert was durable, job 2 in the same batch.
  const Job created1 = MakeNewJob(1, "payload one"), created2 = MakeNewJob(2, "payload two");
  this->Create(created1);
  ASSERT_TRUE(this->store_->Flush().ok());
  this->Create(created2);
  std::vector<Job> expected;
  for (const Job& created : {created1, created2}) {
    Job update = MakeFullJob(created.id.value);  // Every lifecycle field set.
    update.payload.clear();
    update.queue = "other";
    update.labels.clear();
    this->Update(update);
    Job want = created;
    CopyLifecycle(update, want);
    expected.push_back(want);
  }
  ASSERT_TRUE(this->store_->Flush().ok());

  RecoveredState state = this->Restart();
  ASSERT_EQ(state.jobs.size(), 2u);
  ExpectSameJob(state.jobs[0], expected[0]);
  ExpectSameJob(state.jobs[1], expected[1]);
  EXPECT_EQ(state.jobs[0].payload, "payload one");
  EXPECT_EQ(state.jobs[0].history.size(), 2u);
}

TYPED_TEST(StoreContractTest, CoalescedChangesRecoverTheirNetEffect) {
  // Without a flush in between, a writer is free to put all of these in one
  // transaction; whichever way it cuts them, the net effect must survive.
  Job job = MakeNewJob(1);
  this->Create(job);
  for (int i = 1; i <= 50; ++i) {
    job.attempts = i;
    this->Update(job);
  }
  this->Create(MakeNewJob(2));
  this->Update(MakeNewJob(2));
  this->Delete(2);
  ASSERT_TRUE(this->Durable(this->seq_).ok());

  RecoveredState state = this->Restart();
  ASSERT_EQ(state.jobs.size(), 1u);
  ExpectSameJob(state.jobs[0], job);
  EXPECT_EQ(state.max_job_id, JobId{2});
}

TYPED_TEST(StoreContractTest, MaxJobIdSurvivesDeletionOfEveryJob) {
  for (uint64_t id = 1; id <= 5; ++id) this->Create(MakeNewJob(id));
  ASSERT_TRUE(this->store_->Flush().ok());
  for (uint64_t id = 1; id <= 5; ++id) this->Delete(id);

  RecoveredState state = this->Restart();
  EXPECT_TRUE(state.jobs.empty());
  EXPECT_EQ(state.max_job_id, JobId{5});

  // And again after a second restart with nothing new.
  state = this->Restart();
  EXPECT_EQ(state.max_job_id, JobId{5});
}

TYPED_TEST(StoreContractTest, MaxJobIdSurvivesAJobCreatedAndDeletedInOneTransaction) {
  this->Create(MakeNewJob(1));
  ASSERT_TRUE(this->store_->Flush().ok());
  // One operation: the store commits it whole, so job 3 is never written.
  this->store_->OnOperationBegin();
  this->Create(MakeNewJob(2));
  this->Create(MakeNewJob(3));
  this->Delete(3);
  this->store_->OnOperationEnd();

  RecoveredState state = this->Restart();
  EXPECT_EQ(state.jobs.size(), 2u);
  EXPECT_EQ(state.max_job_id, JobId{3});
}

TYPED_TEST(StoreContractTest, MaxJobIdIsTheGreatestIdStillStoredWhenNoneWasDeleted) {
  for (uint64_t id = 1; id <= 4; ++id) this->Create(MakeNewJob(id));
  ASSERT_TRUE(this->store_->Flush().ok());
  this->Delete(2);  // Not the greatest: 4 stays the answer.

  RecoveredState state = this->Restart();
  EXPECT_EQ(state.jobs.size(), 3u);
  EXPECT_EQ(state.max_job_id, JobId{4});
}

TYPED_TEST(StoreContractTest, QueueSettingsKeepTheLastChange) {
  QueueSettings first, second, other;
  first.max_attempts = 1;
  second.max_attempts = 2;
  second.paused = true;
  second.rate_limit = 0.5;
  other.retention = absl::Minutes(5);
  this->SetSettings("q", first);
  this->SetSettings("other", other);
  ASSERT_TRUE(this->store_->Flush().ok());
  this->SetSettings("q", second);

  RecoveredState state = this->Restart();
  ASSERT_EQ(state.queues.size(), 2u);
  EXPECT_EQ(state.queues[0].first, "other");
  EXPECT_TRUE(state.queues[0].second == other);
  EXPECT_EQ(state.queues[1].first, "q");
  EXPECT_TRUE(state.queues[1].second == second);
}

// Each callback runs once. Those the writer thread runs come in seq order; a
// callback whose seq was durable already runs at once on its caller, which
// may be before the writer has finished the callbacks of earlier seqs.
TYPED_TEST(StoreContractTest, CallbacksRunOnceEachWriterRunsThemInSeqOrder) {
  constexpr int kJobs = 300;
  const std::thread::id caller = std::this_thread::get_id();
  absl::Mutex mu;
  std::vector<uint64_t> all;
  std::vector<uint64_t> on_writer;
  int failures = 0;
  for (uint64_t id = 1; id <= kJobs; ++id) {
    uint64_t seq = this->Create(MakeNewJob(id));
    this->store_->WhenDurable(seq, [&, seq](absl::Status s) {
      absl::MutexLock lock(&mu);
      all.push_back(seq);
      if (std::this_thread::get_id() != caller) on_writer.push_back(seq);
      if (!s.ok()) ++failures;
    });
  }
  ASSERT_TRUE(this->store_->Flush().ok());
  ASSERT_TRUE(testing::WaitFor([&] {
    absl::MutexLock lock(&mu);
    return all.size() >= kJobs;
  }));
  absl::MutexLock lock(&mu);
  EXPECT_EQ(failures, 0);
  ASSERT_EQ(all.size(), size_t{kJobs});
  std::sort(all.begin(), all.end());
  for (size_t i = 0; i < all.size(); ++i) EXPECT_EQ(all[i], i + 1);
  EXPECT_TRUE(std::is_sorted(on_writer.begin(), on_writer.end()));
}

TYPED_TEST(StoreContractTest, DurableSeqRunsCallbackAtOnceOnCaller) {
  uint64_t seq = this->Create(MakeNewJob(1));
  ASSERT_TRUE(this->store_->Flush().ok());
  std::thread::id ran_on;
  absl::Status status = absl::UnknownError("not run");
  this->store_->WhenDurable(seq, [&](absl::Status s) {
    ran_on = std::this_thread::get_id();
    status = std::move(s);
  });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TYPED_TEST(StoreContractTest, ConcurrentCreatorsAreAllRecovered) {
  constexpr int kThreads = 4, kPerThread = 250;
  absl::Mutex engine_mu;  // Orders seqs as Engine::mu_ does.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kPerThread; ++i) {
        uint64_t seq;
        {
          absl::MutexLock lock(&engine_mu);
          seq = this->Create(MakeNewJob(this->seq_ + 1));
        }
        EXPECT_TRUE(this->Durable(seq).ok());
      }
    });
  }
  for (std::thread& t : threads) t.join();
  RecoveredState state = this->Restart();
  ASSERT_EQ(state.jobs.size(), size_t{kThreads * kPerThread});
  for (size_t i = 0; i < state.jobs.size(); ++i) {
    EXPECT_EQ(state.jobs[i].id, JobId{i + 1});
    EXPECT_EQ(state.jobs[i].payload, absl::StrCat("payload-", i + 1));
  }
}

TYPED_TEST(StoreContractTest, AFailedChangeBreaksTheStore) {
  uint64_t good = this->Create(MakeNewJob(1));
  ASSERT_TRUE(this->store_->Flush().ok());
  uint64_t bad = this->Update(MakeNewJob(99));  // Never created: a caller bug.
  absl::Status status = this->Durable(bad);
  EXPECT_EQ(status.code(), absl::StatusCode::kInternal) << status;
  EXPECT_NE(status.message().find("99"), std::string::npos) << status;

  // Already durable stays OK; everything later fails with the same error.
  EXPECT_TRUE(this->Durable(good).ok());
  uint64_t later = this->Create(MakeNewJob(2));
  EXPECT_EQ(this->Durable(later).code(), absl::StatusCode::kInternal);
  EXPECT_EQ(this->store_->Flush().code(), absl::StatusCode::kInternal);
}

TYPED_TEST(StoreContractTest, CloseDropsLaterChangesAndFailsLaterCallbacks) {
  uint64_t seq = this->Create(MakeNewJob(1));
  this->store_->Close();
  this->store_->Close();                 // Idempotent.
  EXPECT_TRUE(this->Durable(seq).ok());  // Close flushed it.
  uint64_t after = this->Create(MakeNewJob(2));
  EXPECT_EQ(this->Durable(after).code(), absl::StatusCode::kFailedPrecondition);

  RecoveredState state = this->Restart();
  ASSERT_EQ(state.jobs.size(), 1u);
  EXPECT_EQ(state.jobs[0].id, JobId{1});
  EXPECT_EQ(state.max_job_id, JobId{1});
}

}  // namespace
}  // namespace conveyor
