// Failure modes with real processes: conveyord and several conveyor-worker
// processes run as children (paths from CMake), and the test freezes, kills,
// signals and restarts them. Jobs are driven with the generated stubs.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "conveyor/v1/admin_service.grpc.pb.h"
#include "conveyor/v1/job_service.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "gtest/gtest.h"
#include "tests/testing/coordinator_process_test.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"

namespace conveyor {
namespace {

using conveyor::testing::ChildProcess;
using conveyor::testing::WaitFor;
using conveyor::v1::Attempt;
using conveyor::v1::Job;
using conveyor::v1::JobSpec;
using conveyor::v1::JobState;

class WorkerProcessTest : public testing::CoordinatorProcessTest {
 protected:
  WorkerProcessTest() : CoordinatorProcessTest(CONVEYORD_PATH, CONVEYOR_WORKER_PATH) {}

  // Jobs of the default queue in `state` (UNSPECIFIED: all), first 1000.
  std::vector<Job> List(JobState state) {
    conveyor::v1::ListJobsRequest request;
    request.set_queue("default");
    request.set_state(state);
    request.set_page_size(1000);
    request.set_omit_payloads(true);
    conveyor::v1::ListJobsResponse response;
    grpc::ClientContext context;
    grpc::Status status = jobs_->ListJobs(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.jobs().begin(), response.jobs().end()};
  }
  // Names of the workers connected to the coordinator.
  std::set<std::string> ConnectedWorkers() {
    conveyor::v1::ListWorkersRequest request;
    conveyor::v1::ListWorkersResponse response;
    grpc::ClientContext context;
    grpc::Status status = admin_->ListWorkers(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    std::set<std::string> names;
    for (const auto& w : response.workers()) names.insert(w.name());
    return names;
  }
  bool WaitConnected(const std::set<std::string>& names) {
    return WaitFor(
        [&] {
          std::set<std::string> connected = ConnectedWorkers();
          for (const auto& name : names) {
            if (!connected.count(name)) return false;
          }
          return true;
        },
        absl::Seconds(20));
  }
  // The handler has started (its progress report), not just been leased.
  bool WaitStarted(uint64_t id) {
    return WaitFor([&] { return !Get(id).progress().message().empty(); }, absl::Seconds(20));
  }
  // A conveyor-worker named `name`, logging to `<name>.log`.
  std::unique_ptr<ChildProcess> StartNamedWorker(const std::string& name,
                                                 std::vector<std::string> args) {
    args.push_back("--name=" + name);
    return StartWorkerProcess(std::move(args), name + ".log");
  }
};

// A worker that stops heartbeating (frozen, not disconnected) loses its
// lease, gets no new jobs until it heartbeats again, and the job runs on a
// healthy worker.
TEST_F(WorkerProcessTest, FrozenWorkerLosesTheLeaseAndTheJobRunsAgain) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator({"--lease-duration=1s"}));
  auto hung = StartNamedWorker("hung", {"--concurrency=1"});
  JobSpec spec = Spec("sleep", "2s");
  spec.set_max_attempts(3);
  const uint64_t id = Submit(spec);
  ASSERT_TRUE(WaitStarted(id));
  // Frozen: no heartbeats, the connection stays open.
  hung->Signal(SIGSTOP);
  auto healthy = StartNamedWorker("healthy", {"--concurrency=1"});
  const Job job = WaitEnd(id);
  EXPECT_EQ(job.state(), conveyor::v1::JOB_STATE_SUCCEEDED) << job.DebugString();
  EXPECT_EQ(job.result(), "slept 2s");
  ASSERT_EQ(job.history_size(), 2) << job.DebugString();
  EXPECT_EQ(job.history(0).worker_name(), "hung");
  EXPECT_EQ(job.history(0).outcome(), Attempt::OUTCOME_LEASE_LOST);
  EXPECT_EQ(job.history(1).worker_name(), "healthy");
  EXPECT_EQ(job.history(1).outcome(), Attempt::OUTCOME_SUCCEEDED);

  // Thawed, the hung worker's late result (its 2 s have passed) is fenced
  // off, and it goes on taking jobs: with the healthy one gone, it runs the next.
  healthy->Signal(SIGKILL);
  ASSERT_TRUE(healthy->Wait(absl::Seconds(10)).ok());
  hung->Signal(SIGCONT);
  const Job next = WaitEnd(Submit(Spec("echo", "after thaw")), absl::Seconds(20));
  EXPECT_EQ(next.state(), conveyor::v1::JOB_STATE_SUCCEEDED) << next.DebugString();
  ASSERT_GE(next.history_size(), 1);
  EXPECT_EQ(next.history(next.history_size() - 1).worker_name(), "hung");
  const Job after = Get(id);
  EXPECT_EQ(after.state(), conveyor::v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(after.history_size(), 2) << after.DebugString();
  EXPECT_EQ(after.result(), "slept 2s");
}

TEST_F(WorkerProcessTest, PoisonJobThatCrashesEveryWorkerIsDeadLettered) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator({"--lease-duration=1s"}));
  int started = 1;
  auto worker = StartNamedWorker("poisoned-1", {"--concurrency=1"});
  JobSpec spec = Spec("crash", "");
  spec.set_max_attempts(3);
  const uint64_t id = Submit(spec);
  // Restart the worker each time the job kills it, until the job is dead.
  ASSERT_TRUE(WaitFor(
      [&] {
        if (!worker->Running()) {
          ++started;
          worker = StartNamedWorker(absl::StrCat("poisoned-", started), {"--concurrency=1"});
        }
        return Get(id).state() == conveyor::v1::JOB_STATE_DEAD;
      },
      absl::Seconds(40)));
  const Job job = Get(id);
  EXPECT_TRUE(job.dead_reason() == conveyor::v1::DEAD_REASON_LEASE_LOST ||
              job.dead_reason() == conveyor::v1::DEAD_REASON_ATTEMPTS_EXHAUSTED)
      << job.DebugString();
  EXPECT_EQ(job.attempts(), 3) << job.DebugString();
  ASSERT_EQ(job.history_size(), 3) << job.DebugString();
  std::set<std::string> crashed;
  for (const Attempt& attempt : job.history()) {
    EXPECT_EQ(attempt.outcome(), Attempt::OUTCOME_LEASE_LOST) << job.DebugString();
    crashed.insert(attempt.worker_name());
  }
  EXPECT_EQ(crashed.size(), 3u) << "each attempt should crash a different process";
  EXPECT_GE(started, 3);
  // In the dead-letter list too.
  std::vector<Job> dead = List(conveyor::v1::JOB_STATE_DEAD);
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].id(), id);
}

TEST_F(WorkerProcessTest, CancellationKillsTheExecChild) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  const std::string pid_file = dir_.path() + "/child.pid";
  auto worker = StartNamedWorker(
      "exec", {"--concurrency=1", "--exec=echo $$ > " + pid_file + ".tmp && mv " + pid_file +
                                      ".tmp " + pid_file + " && exec sleep 30"});
  const uint64_t id = Submit(Spec("anything", ""));
  pid_t child = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        std::ifstream in(pid_file);
        std::string line;
        int pid = 0;
        if (!std::getline(in, line) || !absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &pid)) {
          return false;
        }
        child = pid;
        return true;
      },
      absl::Seconds(20)));
  ASSERT_GT(child, 0);
  ASSERT_EQ(kill(child, 0), 0) << "the job's child should be running";
  ASSERT_TRUE(Cancel(id));
  const bool gone =
      WaitFor([&] { return kill(child, 0) == -1 && errno == ESRCH; }, absl::Seconds(5));
  if (!gone) kill(child, SIGKILL);  // not in the worker's process group: don't leave it behind
  EXPECT_TRUE(gone) << "pid " << child << " outlived the cancellation";
  const Job job = WaitEnd(id, absl::Seconds(10));
  EXPECT_EQ(job.state(), conveyor::v1::JOB_STATE_CANCELLED) << job.DebugString();
  EXPECT_EQ(job.cancel_reason(), "test cancel");
}

TEST_F(WorkerProcessTest, RunJobDeadlineCancelsTheRunningHandler) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  auto worker = StartNamedWorker("single", {"--concurrency=1"});
  ASSERT_TRUE(WaitConnected({"single"}));
  conveyor::v1::RunJobRequest request;
  *request.mutable_job() = Spec("sleep", "10s");
  Job reply;
  grpc::ClientContext context;
  const absl::Time start = absl::Now();
  context.set_deadline(absl::ToChronoTime(start + absl::Seconds(1)));
  grpc::Status status = jobs_->RunJob(&context, request, &reply);
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED) << status.error_message();
  EXPECT_LT(took, absl::Milliseconds(1500)) << absl::FormatDuration(took);

  std::vector<Job> jobs = List(conveyor::v1::JOB_STATE_UNSPECIFIED);
  ASSERT_EQ(jobs.size(), 1u);
  const Job job = WaitEnd(jobs[0].id(), absl::Seconds(10));
  EXPECT_EQ(job.state(), conveyor::v1::JOB_STATE_CANCELLED) << job.DebugString();
  ASSERT_GE(job.history_size(), 1) << "the sleep should have started: " << job.DebugString();
  EXPECT_EQ(job.history(job.history_size() - 1).outcome(), Attempt::OUTCOME_CANCELLED)
      << job.DebugString();

  // The only slot is free again long before the 10 s sleep would have ended,
  // so the handler really stopped.
  const Job echo = WaitEnd(Submit(Spec("echo", "next")), absl::Seconds(10));
  EXPECT_EQ(echo.state(), conveyor::v1::JOB_STATE_SUCCEEDED) << echo.DebugString();
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
}

TEST_F(WorkerProcessTest, SigtermDuringLoadLosesNoJob) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  auto stopping = StartNamedWorker("stopping", {"--concurrency=4", "--drain-timeout=10s"});
  auto staying = StartNamedWorker("staying", {"--concurrency=4"});
  ASSERT_TRUE(WaitConnected({"stopping", "staying"}));
  std::vector<JobSpec> specs(200, Spec("sleep", "50ms"));
  const std::vector<uint64_t> ids = SubmitAll(specs);
  ASSERT_EQ(ids.size(), 200u);
  size_t done_at_sigterm = 0;
  ASSERT_TRUE(WaitFor(
      [&] {
        done_at_sigterm = List(conveyor::v1::JOB_STATE_SUCCEEDED).size();
        return done_at_sigterm >= 40;
      },
      absl::Seconds(20)));
  stopping->Signal(SIGTERM);
  auto exit_status = stopping->Wait(absl::Seconds(20));
  ASSERT_TRUE(exit_status.ok()) << exit_status.status();
  ASSERT_TRUE(WIFEXITED(*exit_status));
  EXPECT_EQ(WEXITSTATUS(*exit_status), 0);
  EXPECT_LT(done_at_sigterm, 200u) << "SIGTERM came too late to be during load";

  std::map<std::string, int> ran_by;
  for (uint64_t id : ids) {
    const Job job = WaitEnd(id);
    EXPECT_EQ(job.state(), conveyor::v1::JOB_STATE_SUCCEEDED) << job.DebugString();
    for (const Attempt& attempt : job.history()) {
      EXPECT_TRUE(attempt.outcome() == Attempt::OUTCOME_SUCCEEDED ||
                  attempt.outcome() == Attempt::OUTCOME_RELEASED)
          << job.DebugString();
      if (attempt.outcome() == Attempt::OUTCOME_SUCCEEDED) ++ran_by[attempt.worker_name()];
    }
  }
  EXPECT_GT(ran_by["stopping"], 0);
  EXPECT_GT(ran_by["staying"], 0);
  EXPECT_EQ(ran_by["stopping"] + ran_by["staying"], 200);
  EXPECT_TRUE(List(conveyor::v1::JOB_STATE_RUNNING).empty());
  EXPECT_TRUE(List(conveyor::v1::JOB_STATE_QUEUED).empty());
}

class SharedQueueTest : public WorkerProcessTest, public ::testing::WithParamInterface<int> {};

TEST_P(SharedQueueTest, EveryWorkerProcessGetsAShare) {
  ASSERT_NO_FATAL_FAILURE(StartCoordinator());
  const int workers = GetParam();
  std::vector<std::unique_ptr<ChildProcess>> processes;
  std::set<std::string> names;
  for (int i = 0; i < workers; ++i) {
    const std::string name = absl::StrCat("shared-", i);
    names.insert(name);
    processes.push_back(StartNamedWorker(name, {"--concurrency=1"}));
  }
  ASSERT_TRUE(WaitConnected(names));
  // Short sleeps, so no one worker can take every job before the others ask.
  std::vector<JobSpec> specs(100, Spec("sleep", "20ms"));
  const std::vector<uint64_t> ids = SubmitAll(specs);
  std::map<std::string, int> ran_by;
  for (uint64_t id : ids) {
    const Job job = WaitEnd(id);
    ASSERT_EQ(job.state(), conveyor::v1::JOB_STATE_SUCCEEDED) << job.DebugString();
    ASSERT_EQ(job.history_size(), 1) << job.DebugString();
    ++ran_by[job.history(0).worker_name()];
  }
  std::string shares;
  for (const auto& [name, count] : ran_by) absl::StrAppend(&shares, name, "=", count, " ");
  EXPECT_EQ(ran_by.size(), names.size()) << shares;
  for (const auto& name : names) EXPECT_GT(ran_by[name], 0) << name << ": " << shares;
}

INSTANTIATE_TEST_SUITE_P(WorkerProcesses, SharedQueueTest, ::testing::Values(2, 4));

}  // namespace
}  // namespace conveyor
