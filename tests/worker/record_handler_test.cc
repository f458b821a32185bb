// The `record` handler: one appended line per run, nothing on cancellation
// or a bad payload, whole lines under concurrency.
#include "worker/record_handler.h"

#include <unistd.h>

#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/process_harness.h"

namespace conveyor {
namespace {

std::vector<std::string> Lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

JobInfo Info(uint64_t id, int attempt, std::string payload = "") {
  JobInfo info;
  info.job_id = id;
  info.type = "record";
  info.attempt = attempt;
  info.payload = std::move(payload);
  return info;
}

TEST(RecordHandlerTest, AppendsJobAttemptAndPid) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/records";
  auto handler = MakeRecordHandler(path);
  ASSERT_TRUE(handler.ok()) << handler.status();
  JobContext first(Info(7, 1, "1ms"));
  JobContext second(Info(7, 2));
  EXPECT_EQ((*handler)(first).value_or("error"), "recorded");
  EXPECT_EQ((*handler)(second).value_or("error"), "recorded");
  EXPECT_EQ(Lines(path), (std::vector<std::string>{absl::StrCat("7 1 ", getpid()),
                                                   absl::StrCat("7 2 ", getpid())}));
}

TEST(RecordHandlerTest, CancelledOrBadPayloadRecordsNothing) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/records";
  auto handler = MakeRecordHandler(path);
  ASSERT_TRUE(handler.ok()) << handler.status();
  JobContext cancelled(Info(1, 1, "10s"));
  cancelled.Cancel("test");
  absl::StatusOr<std::string> result = (*handler)(cancelled);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled);
  EXPECT_FALSE(IsPermanent(result.status()));
  JobContext bad(Info(2, 1, "soon"));
  result = (*handler)(bad);
  EXPECT_TRUE(IsPermanent(result.status())) << result.status();
  EXPECT_NE(result.status().message().find("soon"), std::string::npos);
  EXPECT_TRUE(Lines(path).empty());
}

TEST(RecordHandlerTest, ConcurrentRunsWriteWholeLines) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/records";
  auto handler = MakeRecordHandler(path);
  ASSERT_TRUE(handler.ok()) << handler.status();
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        JobContext job(Info(t * 1000 + i, 1));
        EXPECT_TRUE((*handler)(job).ok());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<std::string> lines;
  for (const std::string& line : Lines(path)) lines.insert(line);
  EXPECT_EQ(lines.size(), 1600u);
  for (int t = 0; t < 8; ++t) {
    EXPECT_TRUE(lines.count(absl::StrCat(t * 1000 + 199, " 1 ", getpid())));
  }
}

TEST(RecordHandlerTest, UnopenableFileIsAnErrorNamingIt) {
  auto handler = MakeRecordHandler("/nonexistent-dir/records");
  ASSERT_FALSE(handler.ok());
  EXPECT_NE(handler.status().message().find("/nonexistent-dir/records"), std::string::npos);
}

}  // namespace
}  // namespace conveyor
