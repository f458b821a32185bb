// The `conveyor` binary against a real conveyord.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/client.h"
#include "tests/client/cli_runner.h"
#include "tests/client/shared_coordinator.h"
#include "tests/testing/test_worker.h"
#include "tests/testing/wait_for.h"

namespace conveyor::testing {
namespace {

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    coordinator_ = SharedCoordinator();
    ASSERT_NE(coordinator_, nullptr);
    queue_ = UniqueQueue();
    ClientOptions options;
    options.target = coordinator_->address();
    auto client = Client::Create(options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
  }

  // Runs `conveyor --coordinator <address> args...`.
  CliResult Run(std::vector<std::string> args, const std::string& stdin_data = "") {
    args.insert(args.begin(), {"--coordinator", coordinator_->address()});
    return RunCli(args, stdin_data);
  }

  // `conveyor submit` into this test's queue; returns the printed id.
  uint64_t Submit(std::vector<std::string> extra) {
    std::vector<std::string> args = {"submit", "-q", queue_, "-t", "echo"};
    args.insert(args.end(), extra.begin(), extra.end());
    CliResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    uint64_t id = 0;
    EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &id)) << r.out;
    return id;
  }

  // Takes the next job of the queue and completes or permanently fails it.
  void FinishNextJob(bool succeed) {
    auto worker = TestWorker::Connect(coordinator_->address(), queue_);
    ASSERT_TRUE(worker.ok()) << worker.status();
    absl::StatusOr<v1::Assignment> a = (*worker)->NextAssignment();
    ASSERT_TRUE(a.ok()) << a.status();
    if (succeed) {
      EXPECT_TRUE((*worker)->CompleteAcked(*a, "result!").ok());
    } else {
      EXPECT_TRUE((*worker)->FailAcked(*a, "broken", /*permanent=*/true).ok());
    }
  }

  const Coordinator* coordinator_ = nullptr;
  std::string queue_;
  std::unique_ptr<Client> client_;
};

TEST_F(CliTest, SubmitPrintsTheIdAndGetJsonShowsTheJob) {
  const uint64_t id = Submit({"hello world", "--priority", "5", "--label", "team=core", "--label",
                              "env=test", "--max-attempts", "4"});
  ASSERT_NE(id, 0u);
  CliResult r = Run({"get", absl::StrCat(id), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json job = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(job.is_discarded()) << r.out;
  EXPECT_EQ(job["id"], absl::StrCat(id));
  EXPECT_EQ(job["queue"], queue_);
  EXPECT_EQ(job["type"], "echo");
  EXPECT_EQ(job["payload_text"], "hello world");
  EXPECT_EQ(job["priority"], 5);
  EXPECT_EQ(job["max_attempts"], 4);
  EXPECT_EQ(job["labels"]["team"], "core");
  EXPECT_EQ(job["labels"]["env"], "test");
  EXPECT_EQ(job["state"], "JOB_STATE_QUEUED");

  r = Run({"get", absl::StrCat(id)});  // the readable form
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("queued"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hello world"), std::string::npos) << r.out;
}

TEST_F(CliTest, PayloadFromStdinAndFile) {
  CliResult r = Run({"submit", "-q", queue_, "-t", "echo", "-"}, "from stdin\n");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  uint64_t id = 0;
  ASSERT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &id));
  EXPECT_EQ(client_->GetJob(id)->payload(), "from stdin\n");

  TempDir dir;
  const std::string path = dir.path() + "/payload.bin";
  std::ofstream(path, std::ios::binary) << std::string("a\0b", 3);
  id = Submit({"--file", path});
  EXPECT_EQ(client_->GetJob(id)->payload(), std::string("a\0b", 3));
}

TEST_F(CliTest, GetUnknownJobExitsOneWithTheReason) {
  CliResult r = Run({"get", "987654321"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err.rfind("conveyor: NOT_FOUND", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST_F(CliTest, WaitExitCodes) {
  // Succeeded: 0.
  const uint64_t ok_id = Submit({"x"});
  FinishNextJob(/*succeed=*/true);
  CliResult r = Run({"wait", absl::StrCat(ok_id), "--timeout", "10s"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("succeeded"), std::string::npos) << r.out;

  // Dead: 2.
  const uint64_t dead_id = Submit({"y"});
  FinishNextJob(/*succeed=*/false);
  r = Run({"wait", absl::StrCat(dead_id), "--json"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  nlohmann::json job = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(job["state"], "JOB_STATE_DEAD") << r.out;

  // Cancelled: 2; and one cancelled among several: 2.
  const uint64_t cancel_id = Submit({"z"});
  ASSERT_EQ(Run({"cancel", absl::StrCat(cancel_id), "--reason", "test"}).exit_code, 0);
  EXPECT_EQ(Run({"wait", absl::StrCat(cancel_id)}).exit_code, 2);
  EXPECT_EQ(Run({"wait", absl::StrCat(ok_id), absl::StrCat(cancel_id)}).exit_code, 2);

  // Still queued when the timeout passes: 1, and the job is untouched.
  const uint64_t slow_id = Submit({"w"});
  r = Run({"wait", absl::StrCat(slow_id), "--timeout", "200ms"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("DEADLINE_EXCEEDED"), std::string::npos) << r.err;
  EXPECT_EQ(client_->GetJob(slow_id)->state(), v1::JOB_STATE_QUEUED);
}

TEST_F(CliTest, SubmitWaitExitsTwoWhenTheJobDies) {
  std::thread worker([&] { FinishNextJob(/*succeed=*/false); });
  CliResult r = Run({"submit", "-q", queue_, "-t", "echo", "doomed", "--wait", "--timeout", "20s"});
  worker.join();
  EXPECT_EQ(r.exit_code, 2) << r.err;
  EXPECT_NE(r.out.find("dead"), std::string::npos) << r.out;

  std::thread worker2([&] { FinishNextJob(/*succeed=*/true); });
  r = Run({"submit", "-q", queue_, "-t", "echo", "fine", "--wait", "--json"});
  worker2.join();
  EXPECT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json job = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(job["result_text"], "result!") << r.out;
}

TEST_F(CliTest, BatchFileOf2000LinesGoesInBatches) {
  TempDir dir;
  const std::string path = dir.path() + "/jobs.txt";
  {
    std::ofstream out(path);
    for (int i = 1; i <= 2000; ++i) out << "payload " << i << "\n";
  }
  CliResult r = Run({"submit", "-q", queue_, "-t", "echo", "--batch-file", path, "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json summary = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_FALSE(summary.is_discarded()) << r.out;
  EXPECT_EQ(summary["submitted"], 2000);
  EXPECT_EQ(summary["batches"], 4);  // 500 per Submit call
  ASSERT_EQ(summary["ids"].size(), 2000u);
  for (size_t i = 1; i < 2000; ++i) {
    ASSERT_LT(summary["ids"][i - 1].get<uint64_t>(), summary["ids"][i].get<uint64_t>());
  }
  EXPECT_TRUE(r.err.empty()) << r.err;  // no progress line when stderr is not a terminal
  EXPECT_EQ(client_->GetJob(summary["ids"][1999].get<uint64_t>())->payload(), "payload 2000");
  absl::StatusOr<v1::QueueInfo> queue = client_->GetQueue(queue_);
  ASSERT_TRUE(queue.ok()) << queue.status();
  EXPECT_EQ(queue->queued(), 2000);
}

TEST_F(CliTest, BatchFileWithKeysCanBeSubmittedAgain) {
  TempDir dir;
  const std::string path = dir.path() + "/jobs.txt";
  std::ofstream(path) << "a\nb\nc\n";
  std::vector<std::string> args = {
      "submit",       "-q",    queue_,         "-t", "echo",
      "--batch-file", path,    "--batch-size", "2",  "--idempotency-key",
      "import",       "--json"};
  CliResult first = Run(args);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  CliResult second = Run(args);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  nlohmann::json a = nlohmann::json::parse(first.out, nullptr, false);
  nlohmann::json b = nlohmann::json::parse(second.out, nullptr, false);
  EXPECT_EQ(a["batches"], 2);
  EXPECT_EQ(a["duplicates"], 0);
  EXPECT_EQ(b["duplicates"], 3);
  EXPECT_EQ(a["ids"], b["ids"]);
}

TEST_F(CliTest, JobsQueuesAndSettings) {
  Submit({"one"});
  const uint64_t two = Submit({"two"});
  ASSERT_EQ(Run({"cancel", absl::StrCat(two)}).exit_code, 0);

  CliResult r = Run({"jobs", "--queue", queue_, "--state", "cancelled", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json jobs = nlohmann::json::parse(r.out, nullptr, false);
  ASSERT_EQ(jobs.size(), 1u) << r.out;
  EXPECT_EQ(jobs[0]["id"], absl::StrCat(two));

  r = Run({"jobs", "--queue", queue_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("ID", 0), 0u) << r.out;  // a table with a header
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 3) << r.out;

  ASSERT_EQ(Run({"pause", queue_}).exit_code, 0);
  r = Run({"queue-settings", queue_, "--max-attempts", "7", "--lease", "45s", "--rate-limit", "2.5",
           "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json queue = nlohmann::json::parse(r.out, nullptr, false);
  EXPECT_EQ(queue["settings"]["max_attempts"], 7) << r.out;
  EXPECT_EQ(queue["settings"]["lease_duration"], "45s") << r.out;
  EXPECT_EQ(queue["settings"]["rate_limit"], 2.5) << r.out;
  EXPECT_EQ(queue["settings"]["paused"], true) << r.out;

  r = Run({"queues"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find(queue_), std::string::npos) << r.out;
  ASSERT_EQ(Run({"resume", queue_}).exit_code, 0);
  EXPECT_FALSE(client_->GetQueue(queue_)->settings().paused());

  r = Run({"queue-settings", queue_, "--lease", "forever"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--lease"), std::string::npos) << r.err;
}

TEST_F(CliTest, DeadLetterQueue) {
  const uint64_t id = Submit({"x"});
  FinishNextJob(/*succeed=*/false);
  CliResult r = Run({"dlq", "list", "--queue", queue_});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("permanent failure"), std::string::npos) << r.out;
  r = Run({"dlq", "redrive", "--queue", queue_, absl::StrCat(id), "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out, nullptr, false)["redriven"], 1) << r.out;
  EXPECT_EQ(client_->GetJob(id)->state(), v1::JOB_STATE_QUEUED);
  FinishNextJob(/*succeed=*/false);
  r = Run({"dlq", "purge", "--queue", queue_, "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("purged 1"), std::string::npos) << r.out;
}

TEST_F(CliTest, WatchPrintsUpdatesUntilTheEnd) {
  const uint64_t id = Submit({"x"});
  ASSERT_EQ(Run({"cancel", absl::StrCat(id)}).exit_code, 0);
  CliResult r = Run({"watch", absl::StrCat(id), "--json", "--timeout", "10s"});
  EXPECT_EQ(r.exit_code, 2) << r.err;
  nlohmann::json last =
      nlohmann::json::parse(r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1), nullptr, false);
  EXPECT_EQ(last["state"], "JOB_STATE_CANCELLED") << r.out;
}

TEST_F(CliTest, WorkersShowTheirJobs) {
  const uint64_t id = Submit({"x"});
  auto worker = TestWorker::Connect(coordinator_->address(), queue_);
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_TRUE((*worker)->NextAssignment().ok());
  CliResult r = Run({"workers"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("test-worker"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(absl::StrCat(id)), std::string::npos) << r.out;
}

}  // namespace
}  // namespace conveyor::testing
