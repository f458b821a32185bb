#include "worker/exec_handler.h"

#include <signal.h>

#include <fstream>
#include <string>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"

namespace conveyor {
namespace {

JobInfo Info() {
  JobInfo info;
  info.job_id = 42;
  info.queue = "emails";
  info.type = "send";
  info.payload = "hello from stdin";
  info.attempt = 2;
  info.labels = {{"tenant-id", "acme"}};
  return info;
}

absl::StatusOr<std::string> Exec(const std::string& command, JobContext& job,
                                 absl::Duration kill_grace = absl::Seconds(5)) {
  ExecOptions options;
  options.command = command;
  options.kill_grace = kill_grace;
  return MakeExecHandler(options)(job);
}

TEST(ExecHandlerTest, ExitZeroReturnsStdout) {
  JobContext job(Info());
  auto result = Exec("cat; printf ' %s' \"$CONVEYOR_JOB_ID\"", job);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "hello from stdin 42");
}

TEST(ExecHandlerTest, EnvironmentDescribesTheJob) {
  JobInfo info = Info();
  info.deadline = absl::FromUnixSeconds(1'700'000'000);
  JobContext job(info);
  auto result = Exec(
      "printf '%s|%s|%s|%s|%s' \"$CONVEYOR_JOB_TYPE\" \"$CONVEYOR_QUEUE\" \"$CONVEYOR_ATTEMPT\" "
      "\"$CONVEYOR_DEADLINE\" \"$CONVEYOR_LABEL_TENANT_ID\"",
      job);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "send|emails|2|2023-11-14T22:13:20+00:00|acme");
}

TEST(ExecHandlerTest, NoDeadlineIsEmpty) {
  JobContext job(Info());
  auto result = Exec("printf '[%s]' \"$CONVEYOR_DEADLINE\"", job);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "[]");
}

TEST(ExecHandlerTest, Exit75IsRetryableWithStderrTail) {
  JobContext job(Info());
  auto result = Exec("echo 'db is down' >&2; exit 75", job);
  ASSERT_FALSE(result.ok());
  EXPECT_FALSE(IsPermanent(result.status()));
  EXPECT_EQ(result.status().message(), "exit 75: db is down");
}

TEST(ExecHandlerTest, OtherExitIsPermanent) {
  JobContext job(Info());
  auto result = Exec("echo 'bad payload' >&2; exit 1", job);
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(IsPermanent(result.status()));
  EXPECT_EQ(result.status().message(), "exit 1: bad payload");
}

TEST(ExecHandlerTest, ChildThatIgnoresStdinDoesNotHurt) {
  JobInfo info = Info();
  info.payload = std::string(1 << 20, 'x');  // more than a pipe holds
  JobContext job(info);
  auto result = Exec("exec 0<&-; echo done", job);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(*result, "done\n");
}

TEST(ExecHandlerTest, CancelTerminatesTheChildGroup) {
  testing::TempDir dir;
  const std::string pid_file = dir.path() + "/pid";
  JobContext job(Info());
  absl::StatusOr<std::string> result;
  std::thread runner([&] {
    // The grandchild (sleep) must die too: it is in the child's group.
    result = Exec(absl::StrCat("sleep 30 & echo $! > ", pid_file, "; wait"), job);
  });
  int grandchild = 0;
  ASSERT_TRUE(testing::WaitFor([&] {
    std::ifstream in(pid_file);
    std::string line;
    return std::getline(in, line) && absl::SimpleAtoi(line, &grandchild) && grandchild > 0;
  }));
  const absl::Time cancelled_at = absl::Now();
  job.Cancel("test");
  runner.join();
  EXPECT_LT(absl::Now() - cancelled_at, absl::Seconds(2));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(testing::WaitFor([&] { return kill(grandchild, 0) != 0; }));
}

TEST(ExecHandlerTest, ChildIgnoringTermIsKilledAfterGrace) {
  JobContext job(Info());
  absl::StatusOr<std::string> result;
  std::thread runner([&] {
    result = Exec("trap '' TERM; while :; do sleep 0.05; done", job, absl::Milliseconds(200));
  });
  // No output check is possible before the end; cancel at once instead.
  job.Cancel("test");
  runner.join();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace conveyor
