// The operators' HTTP port of a real conveyord: /metrics moves with real
// work; /healthz and /readyz answer.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include "absl/strings/numbers.h"
#include "conveyor/v1/job_service.grpc.pb.h"
#include "tests/testing/test_worker.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"

namespace conveyor::testing {
namespace {

// The value of the sample `series` (name with labels, exactly as exposed).
std::optional<double> Sample(const std::string& text, const std::string& series) {
  size_t at = 0;
  while ((at = text.find(series + " ", at)) != std::string::npos) {
    if (at == 0 || text[at - 1] == '\n') {
      const size_t start = at + series.size() + 1;
      const size_t end = text.find('\n', start);
      double value;
      if (absl::SimpleAtod(text.substr(start, end - start), &value)) return value;
    }
    at += series.size();
  }
  return std::nullopt;
}

TEST(MetricsTest, MetricsMoveWithRealWorkAndProbesAnswer) {
  TempDir dir;
  const std::string metrics_port_file = dir.path() + "/metrics-port";
  auto c = StartCoordinator(CONVEYORD_PATH, dir.path() + "/data",
                            {"--metrics-listen=127.0.0.1:0",
                             "--metrics-port-file=" + metrics_port_file});
  ASSERT_TRUE(c.ok()) << c.status();
  auto metrics_port = ReadPortFile(metrics_port_file);
  ASSERT_TRUE(metrics_port.ok());
  httplib::Client http("127.0.0.1", *metrics_port);
  auto scrape = [&]() -> std::string {
    auto res = http.Get("/metrics");
    return res && res->status == 200 ? res->body : "";
  };

  auto healthz = http.Get("/healthz");
  ASSERT_TRUE(healthz);
  EXPECT_EQ(healthz->status, 200);
  auto readyz = http.Get("/readyz");
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 200);

  auto channel = grpc::CreateChannel(c->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::JobService::NewStub(channel);
  v1::SubmitRequest req;
  for (int i = 0; i < 3; ++i) {
    req.add_jobs()->set_queue("mq");
    req.mutable_jobs(i)->set_type("t");
  }
  v1::SubmitResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->Submit(&ctx, req, &resp).ok());
  std::string text = scrape();
  EXPECT_EQ(Sample(text, R"(conveyor_jobs_submitted_total{queue="mq"})"), 3) << text;
  EXPECT_EQ(Sample(text, R"(conveyor_jobs{queue="mq",state="queued"})"), 3);
  EXPECT_EQ(Sample(text, "conveyor_workers_connected"), 0);
  // Jobs wait and nobody runs them: an autoscaler should start a worker.
  EXPECT_EQ(Sample(text, R"(conveyor_queue_desired_workers{queue="mq"})"), 1);

  TestWorker worker(channel);
  ASSERT_NE(worker.Hello("w", "mq", 2), 0u);
  int failed = 0;
  int completed = 0;
  while (completed < 3) {  // The first attempt fails and is retried.
    auto m = worker.NextOf(v1::CoordinatorMessage::kAssignment);
    ASSERT_TRUE(m);
    if (failed++ == 0) {
      worker.Fail(m->assignment().job().id(), m->assignment().fencing_token(), "flaky");
    } else {
      worker.Complete(m->assignment().job().id(), m->assignment().fencing_token(), "ok");
      ++completed;
    }
  }
  ASSERT_TRUE(WaitFor([&] {
    return Sample(scrape(), R"(conveyor_jobs_succeeded_total{queue="mq"})") == 3;
  }));
  text = scrape();
  EXPECT_EQ(Sample(text, R"(conveyor_job_attempts_failed_total{queue="mq"})"), 1) << text;
  EXPECT_EQ(Sample(text, "conveyor_workers_connected"), 1);
  EXPECT_EQ(Sample(text, "conveyor_worker_slots"), 2);
  EXPECT_GE(*Sample(text, R"(conveyor_job_run_seconds_count{queue="mq"})"), 3);
  EXPECT_GE(*Sample(text, "conveyor_store_commits_total"), 1);
  EXPECT_EQ(Sample(text, R"(conveyor_queue_desired_workers{queue="mq"})"), 0);  // All done.

  // Draining: readiness goes away while a running job finishes.
  grpc::ClientContext last_ctx;
  req.mutable_jobs()->DeleteSubrange(1, 2);
  ASSERT_TRUE(stub->Submit(&last_ctx, req, &resp).ok());
  auto running = worker.NextOf(v1::CoordinatorMessage::kAssignment);
  ASSERT_TRUE(running);
  c->process->Signal(SIGTERM);
  ASSERT_TRUE(WaitFor([&] {
    auto r = http.Get("/readyz");
    return r && r->status == 503;
  }));
  worker.Complete(running->assignment().job().id(), running->assignment().fencing_token(), "");
  auto exited = c->process->Wait(absl::Seconds(20));
  ASSERT_TRUE(exited.ok());
  EXPECT_EQ(*exited, 0);
}

}  // namespace
}  // namespace conveyor::testing

namespace conveyor::testing {
namespace {

TEST(MetricsTest, WorkerProcessExposesItsOwnMetrics) {
  TempDir dir;
  auto c = StartCoordinator(CONVEYORD_PATH, dir.path() + "/data", {"--metrics-listen", ""});
  ASSERT_TRUE(c.ok()) << c.status();
  const std::string port_file = dir.path() + "/worker-metrics-port";
  auto worker = ChildProcess::Start(
      CONVEYOR_WORKER_PATH,
      {"--coordinator=" + c->address(), "--queues=wq", "--concurrency=3",
       "--metrics-listen=127.0.0.1:0", "--metrics-port-file=" + port_file},
      dir.path() + "/worker.log");
  ASSERT_TRUE(worker.ok());
  auto port = ReadPortFile(port_file);
  ASSERT_TRUE(port.ok()) << port.status();
  httplib::Client http("127.0.0.1", *port);
  ASSERT_TRUE(WaitFor([&] {
    auto r = http.Get("/readyz");
    return r && r->status == 200;
  }));

  auto stub = v1::JobService::NewStub(
      grpc::CreateChannel(c->address(), grpc::InsecureChannelCredentials()));
  v1::SubmitRequest req;
  for (const char* type : {"echo", "echo", "fail-permanent"}) {
    v1::JobSpec* spec = req.add_jobs();
    spec->set_queue("wq");
    spec->set_type(type);
  }
  v1::SubmitResponse resp;
  grpc::ClientContext ctx;
  ASSERT_TRUE(stub->Submit(&ctx, req, &resp).ok());
  std::string text;
  ASSERT_TRUE(WaitFor([&] {
    auto r = http.Get("/metrics");
    text = r ? r->body : "";
    return Sample(text, R"(conveyor_worker_jobs_total{outcome="succeeded"})") == 2 &&
           Sample(text, "conveyor_worker_handler_errors_total") == 1;
  })) << text;
  EXPECT_EQ(Sample(text, "conveyor_worker_slots"), 3);
  EXPECT_EQ(Sample(text, "conveyor_worker_slots_busy"), 0);
  EXPECT_EQ(Sample(text, "conveyor_worker_connected"), 1);
}

}  // namespace
}  // namespace conveyor::testing
