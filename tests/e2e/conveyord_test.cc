// End-to-end tests of the real conveyord binary: its own process, data dir
// and port; kill -9 and restart.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "conveyor/v1/job_service.grpc.pb.h"
#include "tests/testing/test_worker.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"

namespace conveyor::testing {
namespace {

std::unique_ptr<v1::JobService::Stub> JobStub(const Coordinator& c) {
  return v1::JobService::NewStub(
      grpc::CreateChannel(c.address(), grpc::InsecureChannelCredentials()));
}

// Every call runs on the one "conveyor-rpc" thread, which polls as well:
// gRPC's callback threads ("nexting_thread"), which would hand each event
// between two threads, never start, and reflection's threads never poll.
TEST(ConveyordTest, OneThreadServesEveryCall) {
  TempDir dir;
  auto c = StartCoordinator(CONVEYORD_PATH, dir.path());
  ASSERT_TRUE(c.ok()) << c.status();
  auto worker = TestWorker::Connect(c->address(), "q");
  ASSERT_TRUE(worker.ok()) << worker.status();
  auto stub = JobStub(*c);
  for (int i = 0; i < 20; ++i) {
    v1::SubmitRequest req;
    v1::JobSpec* spec = req.add_jobs();
    spec->set_queue("q");
    spec->set_type("echo");
    v1::SubmitResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(stub->Submit(&ctx, req, &resp).ok());
    auto assignment = (*worker)->NextAssignment();
    ASSERT_TRUE(assignment.ok()) << assignment.status();
    ASSERT_TRUE((*worker)->CompleteAcked(*assignment, "done").ok());
    v1::WaitJobRequest wait;
    wait.set_id(resp.results(0).id());
    v1::Job job;
    grpc::ClientContext wait_ctx;
    wait_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    ASSERT_TRUE(stub->WaitJob(&wait_ctx, wait, &job).ok());
  }
  EXPECT_EQ(ThreadsNamed(c->process->pid(), "conveyor-rpc"), 1);
  EXPECT_EQ(ThreadsNamed(c->process->pid(), "nexting_thread"), 0);
}

TEST(ConveyordTest, AcknowledgedSubmitsSurviveKillNine) {
  TempDir dir;
  auto c = StartCoordinator(CONVEYORD_PATH, dir.path());
  ASSERT_TRUE(c.ok()) << c.status();
  // Several producers submit until the kill; every acknowledged id is noted.
  std::mutex mu;
  std::set<uint64_t> acked;
  std::atomic<bool> stop{false};
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&, p] {
      auto stub = JobStub(*c);
      for (int i = 0; !stop; ++i) {
        v1::SubmitRequest req;
        for (int j = 0; j < 5; ++j) {
          v1::JobSpec* spec = req.add_jobs();
          spec->set_queue("q");
          spec->set_type("t");
          spec->set_payload_text("p" + std::to_string(p) + "-" + std::to_string(i));
        }
        v1::SubmitResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
        if (!stub->Submit(&ctx, req, &resp).ok()) return;  // Killed.
        std::lock_guard<std::mutex> lock(mu);
        for (const auto& r : resp.results()) acked.insert(r.id());
      }
    });
  }
  ASSERT_TRUE(WaitFor([&] {
    std::lock_guard<std::mutex> lock(mu);
    return acked.size() >= 2000;
  }, absl::Seconds(60)));
  c->process->Signal(SIGKILL);
  ASSERT_TRUE(c->process->Wait(absl::Seconds(10)).ok());
  stop = true;
  for (auto& t : producers) t.join();

  auto restarted = StartCoordinator(CONVEYORD_PATH, dir.path());
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  auto stub = JobStub(*restarted);
  std::set<uint64_t> ids;
  {
    std::lock_guard<std::mutex> lock(mu);
    ids = acked;
  }
  size_t missing = 0;
  for (uint64_t id : ids) {
    v1::GetJobRequest req;
    req.set_id(id);
    v1::Job job;
    grpc::ClientContext ctx;
    if (!stub->GetJob(&ctx, req, &job).ok() || job.state() != v1::JOB_STATE_QUEUED) ++missing;
  }
  EXPECT_EQ(missing, 0u) << "of " << ids.size() << " acknowledged jobs";
}

TEST(ConveyordTest, RunningJobReturnsToQueueWithAttemptCountedAfterRestart) {
  TempDir dir;
  auto c = StartCoordinator(CONVEYORD_PATH, dir.path());
  ASSERT_TRUE(c.ok()) << c.status();
  auto channel = grpc::CreateChannel(c->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::JobService::NewStub(channel);
  v1::SubmitRequest req;
  req.add_jobs()->set_queue("q");
  req.mutable_jobs(0)->set_type("t");
  v1::SubmitResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->Submit(&ctx, req, &resp).ok());
  const uint64_t id = resp.results(0).id();
  {
    TestWorker worker(channel);
    ASSERT_NE(worker.Hello("w", "q", 1), 0u);
    ASSERT_TRUE(worker.NextOf(v1::CoordinatorMessage::kAssignment));
    // The RUNNING state is persisted shortly after dispatch.
    ASSERT_TRUE(WaitFor([&] {
      v1::GetJobRequest get;
      get.set_id(id);
      v1::Job job;
      grpc::ClientContext get_ctx;
      return stub->GetJob(&get_ctx, get, &job).ok() && job.state() == v1::JOB_STATE_RUNNING;
    }));
    // The store's writer commits within milliseconds; make sure by a probe
    // submit, which is acknowledged only after everything before it.
    v1::SubmitResponse probe;
    grpc::ClientContext probe_ctx;
    ASSERT_TRUE(stub->Submit(&probe_ctx, req, &probe).ok());
    c->process->Signal(SIGKILL);
    ASSERT_TRUE(c->process->Wait(absl::Seconds(10)).ok());
  }
  auto restarted = StartCoordinator(CONVEYORD_PATH, dir.path());
  ASSERT_TRUE(restarted.ok()) << restarted.status();
  auto stub2 = JobStub(*restarted);
  v1::GetJobRequest get;
  get.set_id(id);
  v1::Job job;
  grpc::ClientContext get_ctx;
  ASSERT_TRUE(stub2->GetJob(&get_ctx, get, &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(job.attempts(), 1);
  ASSERT_EQ(job.history_size(), 1);
  EXPECT_EQ(job.history(0).outcome(), v1::Attempt::OUTCOME_LEASE_LOST);
}

TEST(ConveyordTest, SigtermDrainsAndExitsZero) {
  TempDir dir;
  auto c = StartCoordinator(CONVEYORD_PATH, dir.path(), {"--drain-grace=5s"});
  ASSERT_TRUE(c.ok()) << c.status();
  auto channel = grpc::CreateChannel(c->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::JobService::NewStub(channel);
  TestWorker worker(channel);
  ASSERT_NE(worker.Hello("w", "q", 1), 0u);
  v1::SubmitRequest req;
  req.add_jobs()->set_queue("q");
  req.mutable_jobs(0)->set_type("t");
  v1::SubmitResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->Submit(&ctx, req, &resp).ok());
  auto m = worker.NextOf(v1::CoordinatorMessage::kAssignment);
  ASSERT_TRUE(m);
  c->process->Signal(SIGTERM);
  auto drain = worker.NextOf(v1::CoordinatorMessage::kDrain);
  ASSERT_TRUE(drain);
  // The running job may still report; its result is recorded.
  worker.Complete(m->assignment().job().id(), m->assignment().fencing_token(), "done");
  auto ack = worker.NextOf(v1::CoordinatorMessage::kAck);
  ASSERT_TRUE(ack);
  EXPECT_TRUE(ack->ack().accepted());
  auto status = c->process->Wait(absl::Seconds(15));
  ASSERT_TRUE(status.ok());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 0);

  auto restarted = StartCoordinator(CONVEYORD_PATH, dir.path());
  ASSERT_TRUE(restarted.ok());
  auto stub2 = JobStub(*restarted);
  v1::GetJobRequest get;
  get.set_id(m->assignment().job().id());
  v1::Job job;
  grpc::ClientContext get_ctx;
  ASSERT_TRUE(stub2->GetJob(&get_ctx, get, &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
}

}  // namespace
}  // namespace conveyor::testing
