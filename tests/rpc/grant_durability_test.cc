// A lease grant reaches the worker only once the store made it durable: the
// WorkerService over real gRPC on 127.0.0.1:0, with a real SqliteStore whose
// writer thread the test stalls, as a slow disk would.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/notification.h"
#include "server/engine/clock.h"
#include "server/engine/engine.h"
#include "server/rpc/call_limits.h"
#include "server/rpc/server_loop.h"
#include "server/rpc/worker_service.h"
#include "server/store/sqlite_store.h"
#include "tests/testing/test_worker.h"
#include "tests/testing/process_harness.h"

namespace conveyor::testing {
namespace {

class GrantDurabilityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_.path() + "/conveyor.db", StoreOptions());
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
    auto recovered = store_->Recover();
    ASSERT_TRUE(recovered.ok()) << recovered.status();
    engine_ = std::make_unique<Engine>(&clock_, &random_, store_.get(), EngineOptions{});
    ASSERT_TRUE(engine_->Restore(*std::move(recovered)).ok());
    service_ = std::make_unique<rpc::WorkerService>(engine_.get(), store_.get(), &clock_, &limits_,
                                                    StreamLimits());
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    auto server = rpc::ServerLoop::Start(builder, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    ASSERT_NE(port, 0);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(port),
                                   grpc::InsecureChannelCredentials());
  }

  virtual rpc::WorkerStreamLimits StreamLimits() const { return {}; }
  virtual SqliteStoreOptions StoreOptions() const { return {}; }

  void TearDown() override {
    if (!resume_.HasBeenNotified()) resume_.Notify();
    if (server_ != nullptr) server_->Shutdown(absl::Now());
    if (store_ != nullptr) store_->Close();
  }

  // Submits one job straight to the engine; returns its id and seq.
  Mutation<JobId> Submit(const std::string& queue) {
    JobSpec spec;
    spec.queue = queue;
    spec.type = "echo";
    spec.payload = "x";
    std::vector<JobSpec> specs = {spec};
    auto r = engine_->Submit(std::move(specs));
    EXPECT_TRUE(r.ok()) << r.status();
    if (!r.ok()) return {};
    return {r->value.at(0).id, r->seq};
  }

  // Stalls the store's writer thread right after it commits the next
  // change, until resume_: nothing observed after that becomes durable.
  void StallWriter() {
    const uint64_t next = Submit("other").seq + 1;  // Not observed yet: it must wait.
    store_->WhenDurable(next, [this](absl::Status) {
      stalled_.Notify();
      resume_.WaitForNotification();
    });
    Submit("other");  // Observes `next`; its commit runs the callback.
    ASSERT_TRUE(stalled_.WaitForNotificationWithTimeout(absl::Seconds(10)));
  }

  TempDir dir_;
  RealClock clock_;
  SeededRandom random_{1};
  rpc::CallLimits limits_{rpc::CallLimitOptions{}};
  std::unique_ptr<SqliteStore> store_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<rpc::WorkerService> service_;
  std::unique_ptr<rpc::ServerLoop> server_;
  std::shared_ptr<grpc::Channel> channel_;
  absl::Notification stalled_;
  absl::Notification resume_;
};

// The messages in `m`, a CoordinatorBatch unpacked.
std::vector<v1::CoordinatorMessage> Unpack(const v1::CoordinatorMessage& m) {
  if (!m.has_batch()) return {m};
  return {m.batch().messages().begin(), m.batch().messages().end()};
}

TEST_F(GrantDurabilityTest, AssignmentWaitsForItsGrantAndKeepsItsPlace) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w", "q", 10, /*max_batch=*/64), 0u);
  StallWriter();

  // Granted in memory while the writer is stalled, then cancelled, then a
  // second job granted: none of it may reach the worker yet.
  const JobId first = Submit("q").value;
  auto job = engine_->GetJob(first);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state, JobState::kRunning);
  ASSERT_TRUE(engine_->Cancel(first, "changed my mind").ok());
  const JobId second = Submit("q").value;
  // The engine told the session all three synchronously; without the gate
  // they would be on the wire within milliseconds.
  auto early = worker.Next(absl::Milliseconds(500));
  EXPECT_FALSE(early.has_value()) << "sent before its grant was durable: " << early->DebugString();

  // Once the writer commits (both grants in one commit), they go out in the
  // order decided, all in one write.
  resume_.Notify();
  auto m = worker.Next();
  ASSERT_TRUE(m.has_value());
  std::vector<v1::CoordinatorMessage> got = Unpack(*m);
  ASSERT_EQ(got.size(), 3u) << m->DebugString();
  ASSERT_TRUE(got[0].has_assignment()) << got[0].DebugString();
  EXPECT_EQ(got[0].assignment().job().id(), first.value);
  EXPECT_EQ(got[0].assignment().attempt(), 1);
  ASSERT_TRUE(got[1].has_cancel()) << got[1].DebugString();
  EXPECT_EQ(got[1].cancel().job_id(), first.value);
  EXPECT_EQ(got[1].cancel().fencing_token(), got[0].assignment().fencing_token());
  ASSERT_TRUE(got[2].has_assignment()) << got[2].DebugString();
  EXPECT_EQ(got[2].assignment().job().id(), second.value);
}

TEST_F(GrantDurabilityTest, MessagesWithoutAGrantGoAtOnce) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w", "q", 10), 0u);
  StallWriter();
  // A rejected result touches no store: its ack needs no commit.
  ASSERT_TRUE(worker.Complete(12345, 1, "r"));
  auto ack = worker.Next();
  ASSERT_TRUE(ack.has_value());
  ASSERT_TRUE(ack->has_ack()) << ack->DebugString();
  EXPECT_FALSE(ack->ack().accepted());
}

TEST_F(GrantDurabilityTest, ResultAckAndTheGrantOfTheFreedSlotLeaveInOneWrite) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w", "q", 1, /*max_batch=*/64), 0u);
  const JobId first = Submit("q").value;
  const JobId second = Submit("q").value;
  auto a = worker.NextAssignment();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->job().id(), first.value);

  // The result and the grant of the slot it frees are one commit: the ack
  // is not sent before it, and then both go out together.
  StallWriter();
  ASSERT_TRUE(worker.Complete(first.value, a->fencing_token(), "done"));
  auto early = worker.Next(absl::Milliseconds(500));
  EXPECT_FALSE(early.has_value()) << "acked before the result was durable: "
                                  << early->DebugString();
  resume_.Notify();
  auto m = worker.Next();
  ASSERT_TRUE(m.has_value());
  std::vector<v1::CoordinatorMessage> got = Unpack(*m);
  ASSERT_EQ(got.size(), 2u) << m->DebugString();
  int acks = 0, assignments = 0;
  for (const v1::CoordinatorMessage& g : got) {
    if (g.has_ack()) {
      ++acks;
      EXPECT_EQ(g.ack().job_id(), first.value);
      EXPECT_TRUE(g.ack().accepted());
    } else if (g.has_assignment()) {
      ++assignments;
      EXPECT_EQ(g.assignment().job().id(), second.value);
    }
  }
  EXPECT_EQ(acks, 1) << m->DebugString();
  EXPECT_EQ(assignments, 1) << m->DebugString();
}

// Acks with nothing else to go out wait (here up to 1 s) for company.
class AckLingerTest : public GrantDurabilityTest {
 protected:
  rpc::WorkerStreamLimits StreamLimits() const override {
    rpc::WorkerStreamLimits limits;
    limits.ack_linger = absl::Seconds(1);
    return limits;
  }
};

// A store that holds back commits nobody hurries for longer than any test
// waits: what reaches the worker here was committed because something
// needed it.
class EndlessCommitLingerTest : public GrantDurabilityTest {
 protected:
  SqliteStoreOptions StoreOptions() const override {
    return {.commit_linger = absl::Hours(1)};
  }
};

// Lingers longer than any test waits, the ack's and the store's commit's:
// an ack that comes lingered for neither.
class EndlessAckLingerTest : public EndlessCommitLingerTest {
 protected:
  rpc::WorkerStreamLimits StreamLimits() const override {
    rpc::WorkerStreamLimits limits;
    limits.ack_linger = absl::Hours(1);
    return limits;
  }
};

TEST_F(AckLingerTest, AcksAloneWaitForCompanyThenGoTogether) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w", "q", 2, /*max_batch=*/64), 0u);
  const JobId first = Submit("q").value;
  const JobId second = Submit("q").value;
  std::vector<v1::Assignment> assigned;
  while (assigned.size() < 2) {
    auto m = worker.Next();
    ASSERT_TRUE(m.has_value());
    for (const v1::CoordinatorMessage& g : Unpack(*m)) {
      ASSERT_TRUE(g.has_assignment()) << g.DebugString();
      assigned.push_back(g.assignment());
    }
  }
  ASSERT_EQ(std::set<uint64_t>({assigned[0].job().id(), assigned[1].job().id()}),
            std::set<uint64_t>({first.value, second.value}));

  ASSERT_TRUE(worker.Complete(assigned[0].job().id(), assigned[0].fencing_token(), "one"));
  auto early = worker.Next(absl::Milliseconds(100));
  EXPECT_FALSE(early.has_value()) << "an ack alone went at once: " << early->DebugString();
  ASSERT_TRUE(worker.Complete(assigned[1].job().id(), assigned[1].fencing_token(), "two"));
  auto m = worker.Next();
  ASSERT_TRUE(m.has_value());
  std::vector<v1::CoordinatorMessage> got = Unpack(*m);
  ASSERT_EQ(got.size(), 2u) << m->DebugString();
  EXPECT_TRUE(got[0].has_ack() && got[0].ack().accepted()) << got[0].DebugString();
  EXPECT_TRUE(got[1].has_ack() && got[1].ack().accepted()) << got[1].DebugString();
}

TEST_F(AckLingerTest, AnAckAloneStillGoesAfterTheLinger) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w", "q", 1, /*max_batch=*/64), 0u);
  Submit("q");
  auto a = worker.NextAssignment();
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(worker.CompleteAcked(*a, "done").ok());
}

TEST_F(EndlessAckLingerTest, AWorkerThatDoesNotBatchGetsItsAckAtOnce) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w", "q", 1), 0u);
  Submit("q");
  auto a = worker.NextAssignment();
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(worker.Complete(a->job().id(), a->fencing_token(), "done"));
  auto ack = worker.Next();
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->has_ack() && ack->ack().accepted()) << ack->DebugString();
}


TEST_F(EndlessCommitLingerTest, AnAckWaitsForALaterCommitAndAGrantHurriesIt) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w", "q", 1, /*max_batch=*/64), 0u);
  const JobId first = Submit("q").value;
  auto a = worker.NextAssignment();  // A grant is committed at once.
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->job().id(), first.value);

  // The result's commit waits: nothing but the ack needs it.
  ASSERT_TRUE(worker.Complete(first.value, a->fencing_token(), "done"));
  auto early = worker.Next(absl::Milliseconds(300));
  EXPECT_FALSE(early.has_value()) << "the ack's commit did not wait: " << early->DebugString();

  // A job submitted with nobody waiting for it (straight to the engine) is
  // granted to the freed slot: that grant, queued behind the ack, hurries
  // the commit, and both go out.
  const JobId second = Submit("q").value;
  bool acked = false, assigned = false;
  while (!acked || !assigned) {
    auto m = worker.Next();
    ASSERT_TRUE(m.has_value()) << "acked=" << acked << " assigned=" << assigned;
    for (const v1::CoordinatorMessage& g : Unpack(*m)) {
      if (g.has_ack()) {
        EXPECT_EQ(g.ack().job_id(), first.value);
        EXPECT_TRUE(g.ack().accepted());
        acked = true;
      } else {
        ASSERT_TRUE(g.has_assignment()) << g.DebugString();
        EXPECT_EQ(g.assignment().job().id(), second.value);
        EXPECT_TRUE(acked) << "the assignment overtook the ack";
        assigned = true;
      }
    }
  }
}

}  // namespace
}  // namespace conveyor::testing
