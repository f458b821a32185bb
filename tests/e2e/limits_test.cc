// The --max-* limits of the real conveyord: set by flag or environment, each
// refusal a RESOURCE_EXHAUSTED that names its flag, bad combinations stop
// start-up.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "conveyor/v1/job_service.grpc.pb.h"
#include "tests/testing/test_worker.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"

namespace conveyor::testing {
namespace {

grpc::Status Submit(v1::JobService::Stub& stub, const std::string& queue, int count) {
  v1::SubmitRequest req;
  for (int i = 0; i < count; ++i) {
    v1::JobSpec* spec = req.add_jobs();
    spec->set_queue(queue);
    spec->set_type("echo");
  }
  v1::SubmitResponse resp;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return stub.Submit(&ctx, req, &resp);
}

bool Mentions(const grpc::Status& s, const std::string& text) {
  return s.error_message().find(text) != std::string::npos;
}

TEST(ConveyordLimitsTest, FlagsSetTheLimits) {
  TempDir dir;
  auto c = StartCoordinator(CONVEYORD_PATH, dir.path(),
                            {"--metrics-listen", "", "--max-queues=1", "--max-queue-depth=2",
                             "--max-worker-concurrency=3", "--max-worker-send-queue=64"});
  ASSERT_TRUE(c.ok()) << c.status();
  auto channel = grpc::CreateChannel(c->address(), grpc::InsecureChannelCredentials());
  auto stub = v1::JobService::NewStub(channel);
  ASSERT_TRUE(Submit(*stub, "q", 2).ok());
  grpc::Status deep = Submit(*stub, "q", 1);
  EXPECT_EQ(deep.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Mentions(deep, "--max-queue-depth")) << deep.error_message();
  grpc::Status wide = Submit(*stub, "other", 1);
  EXPECT_EQ(wide.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Mentions(wide, "--max-queues")) << wide.error_message();

  TestWorker worker(channel);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_name("greedy");
  hello.mutable_hello()->add_queues("q");
  hello.mutable_hello()->set_concurrency(100000);
  ASSERT_TRUE(worker.Send(hello));
  auto welcome = worker.NextOf(v1::CoordinatorMessage::kWelcome);
  ASSERT_TRUE(welcome);
  EXPECT_EQ(welcome->welcome().concurrency(), 3);
}

TEST(ConveyordLimitsTest, EnvironmentSetsTheLimits) {
  TempDir dir;
  const std::string port_file = dir.path() + "/port";
  auto process = ChildProcess::Start(
      CONVEYORD_PATH,
      {"--listen=127.0.0.1:0", "--metrics-listen", "", "--port-file=" + port_file,
       "--data-dir=" + dir.path()},
      dir.path() + "/conveyord.log", {"CONVEYOR_MAX_STREAMS_PER_PEER=1", "CONVEYOR_MAX_BATCH=2"});
  ASSERT_TRUE(process.ok()) << process.status();
  auto port = ReadPortFile(port_file);
  ASSERT_TRUE(port.ok()) << port.status();
  auto channel = grpc::CreateChannel("127.0.0.1:" + std::to_string(*port),
                                     grpc::InsecureChannelCredentials());
  auto stub = v1::JobService::NewStub(channel);
  EXPECT_EQ(Submit(*stub, "q", 3).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ASSERT_TRUE(Submit(*stub, "q", 2).ok());

  TestWorker first(channel);
  ASSERT_NE(first.Hello("first", "q", 1), 0u);
  TestWorker second(channel);
  auto closed = second.WaitClosed();
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(Mentions(*closed, "--max-streams-per-peer")) << closed->error_message();
}

TEST(ConveyordLimitsTest, MessageLimitBelowPayloadLimitStopsStartUp) {
  TempDir dir;
  const std::string log = dir.path() + "/conveyord.log";
  auto process = ChildProcess::Start(
      CONVEYORD_PATH,
      {"--listen=127.0.0.1:0", "--metrics-listen", "", "--data-dir=" + dir.path(),
       "--max-payload-bytes=2097152", "--max-message-bytes=1048576"},
      log);
  ASSERT_TRUE(process.ok()) << process.status();
  auto status = (*process)->Wait(absl::Seconds(20));
  ASSERT_TRUE(status.ok()) << status.status();
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 2);
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_NE(text.str().find("--max-message-bytes"), std::string::npos) << text.str();
}

}  // namespace
}  // namespace conveyor::testing
