// The Worker against an in-process fake coordinator: the stream protocol,
// the pool, cancellation, drain and reconnects, with no conveyord needed.
#include <unistd.h>

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"
#include "tests/worker/fake_coordinator.h"
#include "worker/builtin_handlers.h"
#include "worker/worker.h"

namespace conveyor {
namespace {

using conveyor::testing::FakeCoordinator;
using conveyor::testing::WaitFor;
using conveyor::v1::WorkerMessage;

class WorkerSdkTest : public ::testing::Test {
 protected:
  WorkerOptions Options(int concurrency = 2) {
    WorkerOptions options;
    options.coordinator = coordinator_.address();
    options.name = "test-worker";
    options.concurrency = concurrency;
    options.reconnect_initial = absl::Milliseconds(20);
    options.reconnect_max = absl::Milliseconds(200);
    options.jitter_seed = 1;
    options.cancel_grace = absl::Milliseconds(300);
    return options;
  }
  std::unique_ptr<Worker> StartWorker(WorkerOptions options,
                                      std::function<void(Worker&)> setup = nullptr) {
    auto worker = Worker::Create(std::move(options));
    EXPECT_TRUE(worker.ok()) << worker.status();
    EXPECT_TRUE(RegisterBuiltinHandlers(**worker).ok());
    if (setup) setup(**worker);
    EXPECT_TRUE((*worker)->Start().ok());
    EXPECT_TRUE(WaitFor([&] { return coordinator_.connected(); }));
    return std::move(*worker);
  }
  std::optional<WorkerMessage> WaitResult(uint64_t id) {
    WaitFor([&] { return coordinator_.ResultFor(id).has_value(); });
    return coordinator_.ResultFor(id);
  }

  FakeCoordinator coordinator_;
};

TEST_F(WorkerSdkTest, HelloAnnouncesQueuesTypesAndConcurrency) {
  WorkerOptions options = Options(3);
  options.queues = {"a", "b"};
  options.labels = {{"zone", "eu"}};
  auto worker = StartWorker(options);
  const auto hello = coordinator_.last_hello();
  EXPECT_EQ(hello.name(), "test-worker");
  EXPECT_EQ(hello.queues_size(), 2);
  EXPECT_EQ(hello.concurrency(), 3);
  EXPECT_EQ(hello.labels().at("zone"), "eu");
  EXPECT_EQ(hello.types_size(), 6);  // the built-in handlers
  EXPECT_TRUE(WaitFor([&] { return worker->state() == StreamState::kConnected; }));
}

TEST_F(WorkerSdkTest, EchoCompletesWithPayload) {
  auto worker = StartWorker(Options());
  const uint64_t token = coordinator_.Assign(1, "echo", "hi there");
  auto result = WaitResult(1);
  ASSERT_TRUE(result.has_value());
  ASSERT_TRUE(result->has_complete()) << result->DebugString();
  EXPECT_EQ(result->complete().result(), "hi there");
  EXPECT_EQ(result->complete().fencing_token(), token);
}

TEST_F(WorkerSdkTest, StartedAtReturnsWhenItsHandlerBegan) {
  auto worker = StartWorker(Options());
  const int64_t before = absl::GetCurrentTimeNanos();
  coordinator_.Assign(1, "started-at", "");
  auto result = WaitResult(1);
  const int64_t after = absl::GetCurrentTimeNanos();
  ASSERT_TRUE(result.has_value() && result->has_complete()) << result->DebugString();
  int64_t started = 0;
  ASSERT_TRUE(absl::SimpleAtoi(result->complete().result(), &started))
      << result->complete().result();
  EXPECT_GE(started, before);
  EXPECT_LE(started, after);
}

TEST_F(WorkerSdkTest, ThrowingHandlerFailsTheAttemptAndWorkerKeepsServing) {
  auto worker = StartWorker(Options(), [](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("throws", [](JobContext&) -> absl::StatusOr<std::string> {
                   throw std::runtime_error("boom in handler");
                 }).ok());
  });
  coordinator_.Assign(1, "throws", "");
  auto result = WaitResult(1);
  ASSERT_TRUE(result.has_value() && result->has_fail());
  EXPECT_NE(result->fail().error().find("boom in handler"), std::string::npos);
  EXPECT_FALSE(result->fail().permanent());
  coordinator_.Assign(2, "echo", "still alive");
  result = WaitResult(2);
  ASSERT_TRUE(result.has_value() && result->has_complete());
}

TEST_F(WorkerSdkTest, PermanentAndUnknownTypes) {
  auto worker = StartWorker(Options());
  coordinator_.Assign(1, "fail-permanent", "x");
  coordinator_.Assign(2, "fail", "y");
  coordinator_.Assign(3, "no-such-type", "");
  auto r1 = WaitResult(1), r2 = WaitResult(2), r3 = WaitResult(3);
  ASSERT_TRUE(r1 && r1->has_fail() && r2 && r2->has_fail() && r3 && r3->has_fail());
  EXPECT_TRUE(r1->fail().permanent());
  EXPECT_EQ(r1->fail().error(), "fail-permanent: x");
  EXPECT_FALSE(r2->fail().permanent());
  EXPECT_TRUE(r3->fail().permanent());
}

TEST_F(WorkerSdkTest, CancelReachesHandlerWithin100ms) {
  absl::Notification started;
  std::atomic<int64_t> cancelled_after_ns{-1};
  std::atomic<int64_t> cancel_sent_ns{0};
  auto worker = StartWorker(Options(), [&](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("wait", [&](JobContext& job) -> absl::StatusOr<std::string> {
                   started.Notify();
                   if (!job.WaitForCancel(absl::Seconds(20))) return "not cancelled";
                   cancelled_after_ns = absl::GetCurrentTimeNanos() - cancel_sent_ns.load();
                   return absl::CancelledError(job.cancel_reason());
                 }).ok());
  });
  const uint64_t token = coordinator_.Assign(1, "wait", "");
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  cancel_sent_ns = absl::GetCurrentTimeNanos();
  coordinator_.Cancel(1, token, "client cancel");
  ASSERT_TRUE(WaitFor([&] { return cancelled_after_ns.load() >= 0; }));
  EXPECT_LT(cancelled_after_ns.load(), absl::ToInt64Nanoseconds(absl::Milliseconds(100)));
  // No answer is sent for a job the coordinator cancelled.
  EXPECT_TRUE(WaitFor([&] { return worker->running() == 0; }));
  EXPECT_FALSE(coordinator_.ResultFor(1).has_value());
}

TEST_F(WorkerSdkTest, DeadlinePropagatesIntoClientContextAndCancels) {
  std::atomic<int64_t> remaining_ms{-1};
  std::atomic<bool> cancelled{false};
  auto worker = StartWorker(Options(), [&](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("call", [&](JobContext& job) -> absl::StatusOr<std::string> {
                   auto client = job.MakeClientContext();
                   remaining_ms = absl::ToInt64Milliseconds(absl::FromChrono(client->deadline()) -
                                                            absl::Now());
                   cancelled = job.WaitForCancel(absl::Seconds(20));
                   return absl::DeadlineExceededError(job.cancel_reason());
                 }).ok());
  });
  coordinator_.Assign(1, "call", "", absl::Milliseconds(800));
  auto result = WaitResult(1);
  EXPECT_GT(remaining_ms.load(), 0);
  EXPECT_LE(remaining_ms.load(), 800);
  EXPECT_TRUE(cancelled.load());
  ASSERT_TRUE(result && result->has_fail());
  EXPECT_EQ(result->fail().error(), "deadline exceeded");
}

TEST_F(WorkerSdkTest, ConcurrencyIsNeverExceeded) {
  std::atomic<int> now_running{0}, most{0};
  auto worker = StartWorker(Options(2), [&](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("busy", [&](JobContext& job) -> absl::StatusOr<std::string> {
                   int n = ++now_running;
                   int seen = most.load();
                   while (n > seen && !most.compare_exchange_weak(seen, n)) {}
                   job.WaitForCancel(absl::Milliseconds(30));
                   --now_running;
                   return "ok";
                 }).ok());
  });
  // The fake sends more than the concurrency; the pool must still hold to 2.
  for (uint64_t id = 1; id <= 8; ++id) coordinator_.Assign(id, "busy", "");
  for (uint64_t id = 1; id <= 8; ++id) ASSERT_TRUE(WaitResult(id).has_value()) << id;
  EXPECT_EQ(most.load(), 2);
}

TEST_F(WorkerSdkTest, HeartbeatsFlowAtTheWelcomeInterval) {
  coordinator_.set_heartbeat_interval(absl::Milliseconds(50));
  auto worker = StartWorker(Options());
  EXPECT_TRUE(WaitFor([&] { return coordinator_.CountOf(WorkerMessage::kHeartbeat) >= 3; }));
}

TEST_F(WorkerSdkTest, DrainReleasesUnstartedAndFinishesRunning) {
  absl::Notification started;
  auto worker = StartWorker(Options(1), [&](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("slow", [&](JobContext& job) -> absl::StatusOr<std::string> {
                   started.Notify();
                   job.WaitForCancel(absl::Milliseconds(300));
                   return "finished";
                 }).ok());
  });
  coordinator_.Assign(1, "slow", "");
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  coordinator_.Assign(2, "slow", "");  // waits for the only slot
  ASSERT_TRUE(WaitFor([&] { return worker->held() == 2; }));
  worker->Drain();
  ASSERT_TRUE(worker->Wait().ok());
  auto r1 = coordinator_.ResultFor(1), r2 = coordinator_.ResultFor(2);
  ASSERT_TRUE(r1 && r1->has_complete());
  ASSERT_TRUE(r2.has_value());
  EXPECT_TRUE(r2->has_release()) << r2->DebugString();
  EXPECT_GE(coordinator_.CountOf(WorkerMessage::kSetConcurrency), 1);
  EXPECT_EQ(worker->state(), StreamState::kClosed);
}

TEST_F(WorkerSdkTest, AssignmentsInACoordinatorBatchAllRun) {
  auto worker = StartWorker(Options(4));
  EXPECT_EQ(coordinator_.last_hello().max_batch(), 1000);  // opted in by default
  const auto tokens = coordinator_.AssignBatch({{1, "echo"}, {2, "echo"}, {3, "fail"}});
  ASSERT_EQ(tokens.size(), 3u);
  auto r1 = WaitResult(1), r2 = WaitResult(2), r3 = WaitResult(3);
  ASSERT_TRUE(r1 && r1->has_complete());
  EXPECT_EQ(r1->complete().fencing_token(), tokens[0]);
  ASSERT_TRUE(r2 && r2->has_complete());
  ASSERT_TRUE(r3 && r3->has_fail());
}

// Drain queues SetConcurrency 0 and the releases together: with a
// coordinator that accepts batches they share one WorkerBatch; with one that
// predates batching (Welcome.max_worker_batch 0) each goes on its own.
class WorkerBatchSdkTest : public WorkerSdkTest, public ::testing::WithParamInterface<int> {};

TEST_P(WorkerBatchSdkTest, DrainReleasesGoInOneBatchOnlyIfAccepted) {
  const int max_worker_batch = GetParam();
  coordinator_.set_max_worker_batch(max_worker_batch);
  absl::Notification started, finish;
  auto worker = StartWorker(Options(1), [&](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("hold", [&](JobContext&) -> absl::StatusOr<std::string> {
                   started.Notify();
                   finish.WaitForNotificationWithTimeout(absl::Seconds(20));
                   return "held";
                 }).ok());
  });
  ASSERT_EQ(coordinator_.AssignBatch({{1, "hold"}, {2, "hold"}, {3, "hold"}, {4, "hold"}}).size(),
            4u);
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(WaitFor([&] { return worker->held() == 4; }));
  worker->Drain();
  for (uint64_t id = 2; id <= 4; ++id) {
    auto r = WaitResult(id);
    ASSERT_TRUE(r && r->has_release()) << id;
  }
  if (max_worker_batch > 1) {
    EXPECT_GE(coordinator_.batches_received(), 1);
  } else {
    EXPECT_EQ(coordinator_.batches_received(), 0);
  }
  finish.Notify();
  ASSERT_TRUE(worker->Wait().ok());
  auto r1 = coordinator_.ResultFor(1);
  ASSERT_TRUE(r1 && r1->has_complete());
}

INSTANTIATE_TEST_SUITE_P(MaxWorkerBatch, WorkerBatchSdkTest, ::testing::Values(0, 100));

TEST_F(WorkerSdkTest, DrainCancelsHandlersPastTheTimeout) {
  WorkerOptions options = Options(1);
  options.drain_timeout = absl::Milliseconds(100);
  absl::Notification started;
  auto worker = StartWorker(options, [&](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("forever", [&](JobContext& job) -> absl::StatusOr<std::string> {
                   started.Notify();
                   job.WaitForCancel(absl::Seconds(30));
                   return absl::CancelledError(job.cancel_reason());
                 }).ok());
  });
  coordinator_.Assign(1, "forever", "");
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  const absl::Time t0 = absl::Now();
  worker->Drain();
  ASSERT_TRUE(worker->Wait().ok());
  EXPECT_LT(absl::Now() - t0, absl::Seconds(5));
  auto r1 = coordinator_.ResultFor(1);
  ASSERT_TRUE(r1 && r1->has_fail());
  EXPECT_EQ(r1->fail().error(), "drain timeout");
}

TEST_F(WorkerSdkTest, CoordinatorDrainEndsTheWorker) {
  auto worker = StartWorker(Options());
  coordinator_.Drain(absl::Seconds(5));
  EXPECT_TRUE(WaitFor([&] { return worker->state() == StreamState::kClosed; }));
  EXPECT_TRUE(worker->Wait().ok());
}

TEST_F(WorkerSdkTest, ReconnectsAndSendsResultsFinishedWhileDisconnected) {
  absl::Notification started, proceed;
  auto worker = StartWorker(Options(), [&](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("gated", [&](JobContext&) -> absl::StatusOr<std::string> {
                   started.Notify();
                   proceed.WaitForNotificationWithTimeout(absl::Seconds(20));
                   return "late";
                 }).ok());
  });
  coordinator_.Assign(1, "gated", "");
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  coordinator_.set_reject_results(true);  // the lease was lost with the stream
  coordinator_.Disconnect();
  ASSERT_TRUE(WaitFor([&] { return worker->state() != StreamState::kConnected; }));
  proceed.Notify();
  ASSERT_TRUE(WaitFor([&] { return coordinator_.streams_opened() >= 2; }));
  auto result = WaitResult(1);
  ASSERT_TRUE(result && result->has_complete());
  EXPECT_EQ(result->complete().result(), "late");
  EXPECT_TRUE(WaitFor([&] { return worker->state() == StreamState::kConnected; }));
}

TEST_F(WorkerSdkTest, ProgressReachesTheCoordinator) {
  auto worker = StartWorker(Options(), [&](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("progress", [&](JobContext& job) -> absl::StatusOr<std::string> {
                   job.ReportProgress(50, "half");
                   return "done";
                 }).ok());
  });
  coordinator_.Assign(1, "progress", "");
  ASSERT_TRUE(WaitResult(1).has_value());
  EXPECT_TRUE(WaitFor([&] { return coordinator_.CountOf(WorkerMessage::kProgress) >= 1; }));
}

TEST_F(WorkerSdkTest, StopEndsPromptly) {
  auto worker = StartWorker(Options());
  coordinator_.Assign(1, "sleep", "30s");
  ASSERT_TRUE(WaitFor([&] { return worker->running() == 1; }));
  const absl::Time t0 = absl::Now();
  worker->Stop();
  ASSERT_TRUE(worker->Wait().ok());
  worker.reset();
  EXPECT_LT(absl::Now() - t0, absl::Seconds(3));
}

// Threads of this process named `name`.
int ThreadsNamed(const std::string& name) { return testing::ThreadsNamed(getpid(), name); }

TEST_F(WorkerSdkTest, AWorkerRunsEveryStreamOnOnePollerThread) {
  auto worker = StartWorker(Options());
  EXPECT_EQ(ThreadsNamed("conveyor-poll"), 1);
  for (int i = 1; i <= 3; ++i) {
    coordinator_.Disconnect();
    ASSERT_TRUE(WaitFor([&] {
      return coordinator_.streams_opened() >= i + 1 && worker->state() == StreamState::kConnected;
    }));
    EXPECT_EQ(ThreadsNamed("conveyor-poll"), 1) << "after reconnect " << i;
  }
  coordinator_.Assign(1, "echo", "still served");
  auto result = WaitResult(1);
  ASSERT_TRUE(result && result->has_complete());
  worker->Stop();
  ASSERT_TRUE(worker->Wait().ok());
  worker.reset();
  EXPECT_EQ(ThreadsNamed("conveyor-poll"), 0);
}

TEST_F(WorkerSdkTest, AWorkerGivenAPollerStartsNone) {
  std::shared_ptr<StreamPoller> poller = StreamPoller::Start();
  WorkerOptions options = Options();
  options.poller = poller;
  auto worker = StartWorker(std::move(options));
  EXPECT_EQ(ThreadsNamed("conveyor-poll"), 1);
  coordinator_.Assign(1, "echo", "served");
  auto result = WaitResult(1);
  ASSERT_TRUE(result && result->has_complete());
  worker->Stop();
  ASSERT_TRUE(worker->Wait().ok());
  worker.reset();
  EXPECT_EQ(ThreadsNamed("conveyor-poll"), 1) << "the shared poller outlives its workers";
  poller.reset();
  EXPECT_EQ(ThreadsNamed("conveyor-poll"), 0);
}

TEST(WorkerCreateTest, RejectsBadOptions) {
  WorkerOptions options;
  options.concurrency = 0;
  EXPECT_EQ(Worker::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.concurrency = 1;
  options.prefetch = -1;
  EXPECT_EQ(Worker::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.prefetch = 0;
  options.queues.clear();
  EXPECT_EQ(Worker::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace conveyor
