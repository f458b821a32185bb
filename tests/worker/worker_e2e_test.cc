// The worker against the real coordinator: conveyord and conveyor-worker run
// as child processes (paths from CMake); jobs are driven with the generated
// JobService stub.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "conveyor/v1/job_service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "client/proto_time.h"
#include "gtest/gtest.h"
#include "tests/testing/coordinator_process_test.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"
#include "worker/builtin_handlers.h"
#include "worker/worker.h"

namespace conveyor {
namespace {

using conveyor::testing::ChildProcess;
using conveyor::testing::WaitFor;
using conveyor::v1::Job;
using conveyor::v1::JobSpec;
using conveyor::v1::JobState;

class WorkerE2eTest : public testing::CoordinatorProcessTest {
 protected:
  WorkerE2eTest() : CoordinatorProcessTest(CONVEYORD_PATH, CONVEYOR_WORKER_PATH) {}

  void SetUp() override { StartCoordinator(); }

  std::unique_ptr<Worker> StartWorker(int concurrency, std::function<void(Worker&)> setup,
                                      int prefetch = 0) {
    WorkerOptions options;
    options.coordinator = coordinator_.address();
    options.concurrency = concurrency;
    options.prefetch = prefetch;
    options.name = "in-process";
    options.cancel_grace = absl::Seconds(1);
    auto worker = Worker::Create(options);
    EXPECT_TRUE(worker.ok()) << worker.status();
    setup(**worker);
    EXPECT_TRUE((*worker)->Start().ok());
    EXPECT_TRUE(WaitFor([&] { return (*worker)->state() == StreamState::kConnected; }));
    return std::move(*worker);
  }

  // Registers "busy": holds its slot for `hold`, and keeps in `most` the most
  // handlers that ever ran at once.
  static void RegisterBusy(Worker& w, std::atomic<int>& now_running, std::atomic<int>& most,
                           absl::Duration hold) {
    ASSERT_TRUE(w.RegisterHandler("busy", [&now_running, &most, hold](JobContext& job)
                                              -> absl::StatusOr<std::string> {
                   int n = ++now_running;
                   int seen = most.load();
                   while (n > seen && !most.compare_exchange_weak(seen, n)) {}
                   job.WaitForCancel(hold);
                   --now_running;
                   return "ok";
                 }).ok());
  }

  // SIGTERMs `worker`: it exits 0 once `running` has succeeded, and every
  // job of `waiting` (leased but not started, or never leased) is queued
  // again with no attempt counted.
  void ExpectDrainGivesBack(ChildProcess& worker, uint64_t running,
                            const std::vector<uint64_t>& waiting) {
    worker.Signal(SIGTERM);
    auto status = worker.Wait(absl::Seconds(20));
    ASSERT_TRUE(status.ok()) << status.status();
    ASSERT_TRUE(WIFEXITED(*status));
    EXPECT_EQ(WEXITSTATUS(*status), 0);
    EXPECT_EQ(Get(running).state(), conveyor::v1::JOB_STATE_SUCCEEDED);
    for (uint64_t id : waiting) {
      const Job job = Get(id);
      EXPECT_EQ(job.state(), conveyor::v1::JOB_STATE_QUEUED) << job.DebugString();
      EXPECT_EQ(job.attempts(), 0) << job.DebugString();
    }
  }
};

TEST_F(WorkerE2eTest, EchoJobCompletesWithResult) {
  auto worker = StartWorkerProcess({"--concurrency=2"}, "worker.log");
  const uint64_t id = Submit(Spec("echo", "hello conveyor"));
  Job job = WaitEnd(id);
  EXPECT_EQ(job.state(), conveyor::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.result(), "hello conveyor");
}

TEST_F(WorkerE2eTest, HandlerExceptionFailsTheAttemptAndIsRetried) {
  std::atomic<int> calls{0};
  auto worker = StartWorker(1, [&](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("flaky", [&](JobContext& job) -> absl::StatusOr<std::string> {
                   ++calls;
                   if (job.attempt() == 1) throw std::runtime_error("first attempt explodes");
                   return "second attempt ok";
                 }).ok());
  });
  JobSpec spec = Spec("flaky", "");
  spec.set_max_attempts(3);
  Job job = WaitEnd(Submit(spec));
  EXPECT_EQ(job.state(), conveyor::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.result(), "second attempt ok");
  ASSERT_GE(job.history_size(), 2);
  EXPECT_EQ(job.history(0).outcome(), conveyor::v1::Attempt::OUTCOME_FAILED);
  EXPECT_NE(job.history(0).error().find("first attempt explodes"), std::string::npos);
  EXPECT_EQ(calls.load(), 2);
}

TEST_F(WorkerE2eTest, CancellationReachesTheHandlerWithin100ms) {
  absl::Notification started;
  std::atomic<int64_t> cancelled_at_ns{0};
  auto worker = StartWorker(1, [&](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("wait", [&](JobContext& job) -> absl::StatusOr<std::string> {
                   started.Notify();
                   if (job.WaitForCancel(absl::Seconds(30))) {
                     cancelled_at_ns = absl::GetCurrentTimeNanos();
                   }
                   return absl::CancelledError(job.cancel_reason());
                 }).ok());
  });
  const uint64_t id = Submit(Spec("wait", ""));
  ASSERT_TRUE(started.WaitForNotificationWithTimeout(absl::Seconds(20)));
  const int64_t sent_ns = absl::GetCurrentTimeNanos();
  conveyor::v1::CancelJobRequest request;
  request.set_id(id);
  request.set_reason("test cancel");
  Job reply;
  grpc::ClientContext context;
  ASSERT_TRUE(jobs_->CancelJob(&context, request, &reply).ok());
  ASSERT_TRUE(WaitFor([&] { return cancelled_at_ns.load() != 0; }));
  const absl::Duration took = absl::Nanoseconds(cancelled_at_ns.load() - sent_ns);
  EXPECT_LT(took, absl::Milliseconds(100)) << absl::FormatDuration(took);
  EXPECT_EQ(WaitEnd(id).state(), conveyor::v1::JOB_STATE_CANCELLED);
}

TEST_F(WorkerE2eTest, DeadlinePropagatesIntoClientContext) {
  std::atomic<int64_t> remaining_ms{-1};
  auto worker = StartWorker(1, [&](Worker& w) {
    ASSERT_TRUE(w.RegisterHandler("call", [&](JobContext& job) -> absl::StatusOr<std::string> {
                   auto client = job.MakeClientContext();
                   remaining_ms = absl::ToInt64Milliseconds(absl::FromChrono(client->deadline()) -
                                                            absl::Now());
                   return "ok";
                 }).ok());
  });
  JobSpec spec = Spec("call", "");
  *spec.mutable_timeout() = ToProtoDuration(absl::Seconds(5));
  EXPECT_EQ(WaitEnd(Submit(spec)).state(), conveyor::v1::JOB_STATE_SUCCEEDED);
  EXPECT_GT(remaining_ms.load(), 0);
  EXPECT_LE(remaining_ms.load(), 5000);
}

TEST_F(WorkerE2eTest, ConcurrencyIsNeverExceeded) {
  std::atomic<int> now_running{0}, most{0};
  auto worker = StartWorker(
      3, [&](Worker& w) { RegisterBusy(w, now_running, most, absl::Milliseconds(50)); });
  std::vector<uint64_t> ids;
  for (int i = 0; i < 12; ++i) ids.push_back(Submit(Spec("busy", "")));
  for (uint64_t id : ids) EXPECT_EQ(WaitEnd(id).state(), conveyor::v1::JOB_STATE_SUCCEEDED);
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 2);
}

TEST_F(WorkerE2eTest, SigtermDrainExitsZeroAndReleasesUnstartedJobs) {
  auto worker = StartWorkerProcess({"--concurrency=1", "--drain-timeout=10s"}, "worker.log");
  const uint64_t running = Submit(Spec("sleep", "700ms"));
  // Started by the handler (its progress report), not just leased.
  ASSERT_TRUE(WaitFor([&] { return !Get(running).progress().message().empty(); }));
  std::vector<uint64_t> waiting;
  for (int i = 0; i < 3; ++i) waiting.push_back(Submit(Spec("sleep", "700ms")));
  ExpectDrainGivesBack(*worker, running, waiting);
}

TEST_F(WorkerE2eTest, PrefetchedJobsWaitForASlotAndADrainGivesThemBack) {
  auto worker = StartWorkerProcess(
      {"--concurrency=1", "--prefetch=2", "--drain-timeout=10s", "--name=prefetcher"},
      "worker.log");
  const uint64_t running = Submit(Spec("sleep", "700ms"));
  ASSERT_TRUE(WaitFor([&] { return !Get(running).progress().message().empty(); }));
  std::vector<uint64_t> waiting;
  for (int i = 0; i < 3; ++i) waiting.push_back(Submit(Spec("sleep", "700ms")));
  // The worker holds its one running job and two prefetched ones (leased,
  // not started); the third waits in the coordinator.
  auto held = [&]() -> int {
    conveyor::v1::ListWorkersRequest request;
    conveyor::v1::ListWorkersResponse response;
    grpc::ClientContext context;
    if (!admin_->ListWorkers(&context, request, &response).ok()) return -1;
    if (response.workers_size() != 1) return -1;
    EXPECT_EQ(response.workers(0).prefetch(), 2);
    return response.workers(0).leases_size();
  };
  ASSERT_TRUE(WaitFor([&] { return held() == 3; }));
  EXPECT_EQ(Get(waiting[0]).state(), conveyor::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Get(waiting[1]).state(), conveyor::v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Get(waiting[2]).state(), conveyor::v1::JOB_STATE_QUEUED);
  EXPECT_TRUE(Get(waiting[0]).progress().message().empty()) << "prefetched: not started";

  ExpectDrainGivesBack(*worker, running, waiting);
}

TEST_F(WorkerE2eTest, PrefetchingWorkerRunsEveryJobOnceWithinItsConcurrency) {
  std::atomic<int> now_running{0}, most{0};
  auto worker = StartWorker(
      2, [&](Worker& w) { RegisterBusy(w, now_running, most, absl::Milliseconds(20)); },
      /*prefetch=*/4);
  std::vector<uint64_t> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(Submit(Spec("busy", "")));
  for (uint64_t id : ids) {
    const Job job = WaitEnd(id);
    EXPECT_EQ(job.state(), conveyor::v1::JOB_STATE_SUCCEEDED);
    EXPECT_EQ(job.attempts(), 1);
  }
  EXPECT_EQ(most.load(), 2) << "both slots ran, and prefetch never ran more than the concurrency";
}

TEST_F(WorkerE2eTest, KilledWorkerMidJobRunsAgainOnAnotherWorker) {
  auto first = StartWorkerProcess({"--name=first", "--concurrency=1"}, "first.log");
  JobSpec spec = Spec("sleep", "500ms");
  spec.set_max_attempts(3);
  const uint64_t id = Submit(spec);
  ASSERT_TRUE(WaitState(id, conveyor::v1::JOB_STATE_RUNNING));
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->Wait(absl::Seconds(10)).ok());
  auto second = StartWorkerProcess({"--name=second", "--concurrency=1"}, "second.log");
  const Job job = WaitEnd(id);
  EXPECT_EQ(job.state(), conveyor::v1::JOB_STATE_SUCCEEDED);
  ASSERT_GE(job.history_size(), 2);
  EXPECT_EQ(job.history(0).worker_name(), "first");
  EXPECT_EQ(job.history(0).outcome(), conveyor::v1::Attempt::OUTCOME_LEASE_LOST);
  EXPECT_EQ(job.history(job.history_size() - 1).worker_name(), "second");
}

TEST_F(WorkerE2eTest, KilledWorkersPrefetchedJobsRunElsewhere) {
  auto first = StartWorkerProcess({"--name=first", "--concurrency=1", "--prefetch=2"},
                                  "first.log");
  const uint64_t running = Submit(Spec("sleep", "5s"));
  ASSERT_TRUE(WaitFor([&] { return !Get(running).progress().message().empty(); }));
  const std::vector<uint64_t> waiting = {Submit(Spec("echo", "a")), Submit(Spec("echo", "b"))};
  for (uint64_t id : waiting) ASSERT_TRUE(WaitState(id, conveyor::v1::JOB_STATE_RUNNING));
  first->Signal(SIGKILL);
  ASSERT_TRUE(first->Wait(absl::Seconds(10)).ok());
  // Three slots: the echoes run beside the sleep's retry.
  auto second = StartWorkerProcess({"--name=second", "--concurrency=3"}, "second.log");
  for (uint64_t id : waiting) {
    const Job job = WaitEnd(id);
    EXPECT_EQ(job.state(), conveyor::v1::JOB_STATE_SUCCEEDED);
    ASSERT_EQ(job.history_size(), 2);
    EXPECT_EQ(job.history(0).worker_name(), "first");
    EXPECT_EQ(job.history(0).outcome(), conveyor::v1::Attempt::OUTCOME_LEASE_LOST);
    EXPECT_EQ(job.history(1).worker_name(), "second");
  }
}

TEST_F(WorkerE2eTest, ExecExitCodesMapToOutcomes) {
  auto worker = StartWorkerProcess(
      {"--concurrency=2",
       "--exec=read p; case \"$p\" in ok) echo \"fine $CONVEYOR_JOB_TYPE\";; "
       "temp) echo 'try later' >&2; exit 75;; *) echo 'bad input' >&2; exit 1;; esac"},
      "worker.log");
  JobSpec ok = Spec("anything", "ok\n");
  JobSpec temp = Spec("anything", "temp\n");
  temp.set_max_attempts(2);
  JobSpec bad = Spec("anything", "bad\n");
  bad.set_max_attempts(3);
  const Job ok_job = WaitEnd(Submit(ok));
  EXPECT_EQ(ok_job.state(), conveyor::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(ok_job.result(), "fine anything\n");
  const Job temp_job = WaitEnd(Submit(temp));
  EXPECT_EQ(temp_job.state(), conveyor::v1::JOB_STATE_DEAD);
  EXPECT_EQ(temp_job.dead_reason(), conveyor::v1::DEAD_REASON_ATTEMPTS_EXHAUSTED);
  EXPECT_EQ(temp_job.attempts(), 2);
  EXPECT_EQ(temp_job.error(), "exit 75: try later");
  const Job bad_job = WaitEnd(Submit(bad));
  EXPECT_EQ(bad_job.state(), conveyor::v1::JOB_STATE_DEAD);
  EXPECT_EQ(bad_job.dead_reason(), conveyor::v1::DEAD_REASON_PERMANENT_FAILURE);
  EXPECT_EQ(bad_job.attempts(), 1);
  EXPECT_EQ(bad_job.error(), "exit 1: bad input");
}

}  // namespace
}  // namespace conveyor
