// The `conveyor` binary where no coordinator is needed: help, usage errors,
// an unreachable coordinator, and a Client that cannot connect.
#include <gtest/gtest.h>

#include "absl/time/clock.h"
#include "client/client.h"
#include "tests/client/cli_runner.h"

namespace conveyor::testing {
namespace {

// Nothing listens on port 1 of the loopback interface.
constexpr char kNowhere[] = "127.0.0.1:1";

TEST(CliOfflineTest, HelpOnEveryCommandExitsZero) {
  for (std::vector<std::string> args : {std::vector<std::string>{"--help"},
                                        {"submit", "--help"},
                                        {"get", "--help"},
                                        {"wait", "--help"},
                                        {"watch", "--help"},
                                        {"cancel", "--help"},
                                        {"jobs", "--help"},
                                        {"queues", "--help"},
                                        {"workers", "--help"},
                                        {"dlq", "--help"},
                                        {"dlq", "redrive", "--help"},
                                        {"pause", "--help"},
                                        {"queue-settings", "--help"}}) {
    CliResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 0) << args[0];
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << args[0];
  }
  CliResult r = RunCli({"wait", "--help"});
  EXPECT_NE(r.out.find("2  wait"), std::string::npos) << r.out;  // exit codes documented
}

TEST(CliOfflineTest, UsageErrorsExitOneWithOneLine) {
  for (std::vector<std::string> args : {std::vector<std::string>{},
                                        {"frobnicate"},
                                        {"get"},
                                        {"get", "abc"},
                                        {"submit", "-t", "x", "payload"},
                                        {"submit", "-q", "q", "-t", "t", "--label", "bad"},
                                        {"submit", "-q", "q", "-t", "t", "--delay", "soon"},
                                        {"jobs", "--state", "done"},
                                        {"dlq", "purge", "-q", "q"}}) {
    CliResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 1) << (args.empty() ? "" : args[0]) << ": " << r.err;
    EXPECT_EQ(r.err.rfind("conveyor: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(CliOfflineTest, UnreachableCoordinatorExitsOne) {
  CliResult r = RunCli({"--coordinator", kNowhere, "--rpc-timeout", "1s", "get", "1"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("UNAVAILABLE"), std::string::npos) << r.err;
  r = RunCli({"--rpc-timeout", "1s", "queues"}, "",
             {std::string("CONVEYOR_COORDINATOR=") + kNowhere});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("127.0.0.1:1"), std::string::npos) << r.err;  // the env var was used
}

TEST(ClientOfflineTest, RejectsBadOptions) {
  ClientOptions options;
  options.target = "";
  EXPECT_TRUE(absl::IsInvalidArgument(Client::Create(options).status()));
  options.target = kNowhere;
  options.timeout = absl::ZeroDuration();
  EXPECT_TRUE(absl::IsInvalidArgument(Client::Create(options).status()));
  options.timeout = absl::Seconds(1);
  options.retry.max_attempts = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(Client::Create(options).status()));
}

TEST(ClientOfflineTest, ReadsRetryUnavailableWithinTheDeadline) {
  ClientOptions options;
  options.target = kNowhere;
  options.timeout = absl::Seconds(5);
  options.retry.max_attempts = 4;
  options.retry.initial_backoff = absl::Milliseconds(10);
  options.retry.max_backoff = absl::Milliseconds(20);
  options.jitter_seed = 7;
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(absl::IsUnavailable((*client)->GetJob(1).status()));
  // A deadline shorter than the first backoff ends the retries early.
  const absl::Time start = absl::Now();
  absl::Status s = (*client)->ListQueues(WithTimeout(absl::Milliseconds(300))).status();
  EXPECT_TRUE(absl::IsUnavailable(s) || absl::IsDeadlineExceeded(s)) << s;
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(ClientOfflineTest, CancelledCallsFailAtOnce) {
  ClientOptions options;
  options.target = kNowhere;
  auto client = Client::Create(options);
  ASSERT_TRUE(client.ok());
  Cancellation cancellation;
  cancellation.Cancel();
  CallOptions call;
  call.cancellation = &cancellation;
  EXPECT_TRUE(absl::IsCancelled((*client)->WaitJob(1, call).status()));
  EXPECT_TRUE(absl::IsCancelled((*client)->WatchJob(
      1, [](const v1::Job&) { return true; }, call)));
}

TEST(ClientOfflineTest, EmptyBatchIsInvalid) {
  auto client = Client::Create(ClientOptions{});
  ASSERT_TRUE(client.ok());
  EXPECT_TRUE(absl::IsInvalidArgument((*client)->SubmitBatch({}).status()));
}

}  // namespace
}  // namespace conveyor::testing
