#include "client/cli/format.h"

#include <gtest/gtest.h>

#include "client/cli/cli.h"
#include "client/cli/json_output.h"
#include "client/proto_time.h"

namespace conveyor::cli {
namespace {

TEST(FormatTest, StateAndReasonNames) {
  EXPECT_EQ(StateName(v1::JOB_STATE_QUEUED), "queued");
  EXPECT_EQ(StateName(v1::JOB_STATE_CANCELLED), "cancelled");
  EXPECT_EQ(StateName(static_cast<v1::JobState>(42)), "42");
  EXPECT_EQ(DeadReasonName(v1::DEAD_REASON_LEASE_LOST), "lease lost");
  EXPECT_EQ(DeadReasonName(v1::DEAD_REASON_UNSPECIFIED), "");
}

TEST(FormatTest, Timestamps) {
  google::protobuf::Timestamp unset;
  EXPECT_EQ(FormatTimestamp(unset), "-");
  const auto t = ToProtoTimestamp(absl::FromUnixSeconds(1'700'000'000));
  EXPECT_EQ(FormatTimestamp(t, absl::UTCTimeZone()), "2023-11-14 22:13:20");
  EXPECT_EQ(FromProtoTimestamp(ToProtoTimestamp(absl::FromUnixMillis(1'700'000'000'123))),
            absl::FromUnixMillis(1'700'000'000'123));
  EXPECT_EQ(FromProtoDuration(ToProtoDuration(absl::Milliseconds(1500))), absl::Milliseconds(1500));
  EXPECT_EQ(FromProtoDuration(ToProtoDuration(absl::Milliseconds(-1500))),
            absl::Milliseconds(-1500));
}

TEST(FormatTest, Ages) {
  EXPECT_EQ(FormatAge(absl::Milliseconds(90'400)), "1m30s");
  EXPECT_EQ(FormatAge(absl::ZeroDuration()), "0s");
  EXPECT_EQ(FormatAge(absl::Milliseconds(400)), "0s");
  EXPECT_EQ(FormatAge(absl::Minutes(125) + absl::Seconds(7)), "2h5m");
}

TEST(FormatTest, PrintableBytesEscapesAndTruncates) {
  EXPECT_EQ(PrintableBytes("a\nb\t\\", 100), "a\\nb\\t\\\\");
  EXPECT_EQ(PrintableBytes(std::string("\x01\xff", 2), 100), "\\x01\\xff");
  EXPECT_EQ(PrintableBytes("abcdefghij", 6), "abc...");
  EXPECT_EQ(PrintableBytes("abcdef", 6), "abcdef");
}

TEST(FormatTest, JobDetailNamesTheEssentials) {
  v1::Job job;
  job.set_id(17);
  job.set_queue("emails");
  job.set_type("send");
  job.set_state(v1::JOB_STATE_DEAD);
  job.set_dead_reason(v1::DEAD_REASON_ATTEMPTS_EXHAUSTED);
  job.set_error("smtp down");
  job.set_payload("hi");
  const std::string text = JobDetail(job);
  for (const char* want : {"17", "emails", "send", "dead", "attempts exhausted", "smtp down"}) {
    EXPECT_NE(text.find(want), std::string::npos) << want << " in\n" << text;
  }
}

TEST(JsonOutputTest, JobUsesProtoNamesAndAddsText) {
  v1::Job job;
  job.set_id(5);
  job.set_state(v1::JOB_STATE_SUCCEEDED);
  job.set_payload("héllo");
  job.set_result(std::string("\xff\xfe", 2));
  (*job.mutable_labels())["k"] = "v";
  const nlohmann::json j = JobToJson(job);
  EXPECT_EQ(j["id"], "5");  // uint64 is a string in the protobuf JSON mapping
  EXPECT_EQ(j["state"], "JOB_STATE_SUCCEEDED");
  EXPECT_EQ(j["payload_text"], "héllo");
  EXPECT_FALSE(j.contains("result_text"));
  EXPECT_EQ(j["labels"]["k"], "v");
  EXPECT_EQ(j["cancel_reason"], "");  // every scalar present
}

TEST(JsonOutputTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8("plain"));
  EXPECT_TRUE(IsValidUtf8("€ and 😀"));
  EXPECT_FALSE(IsValidUtf8(std::string("\xc0\xaf", 2)));      // overlong
  EXPECT_FALSE(IsValidUtf8(std::string("\xed\xa0\x80", 3)));  // surrogate
  EXPECT_FALSE(IsValidUtf8(std::string("\xe2\x82", 2)));      // truncated
}

TEST(CliExitCodeTest, ForState) {
  EXPECT_EQ(ExitCodeForState(v1::JOB_STATE_SUCCEEDED), kExitOk);
  EXPECT_EQ(ExitCodeForState(v1::JOB_STATE_DEAD), kExitJobFailed);
  EXPECT_EQ(ExitCodeForState(v1::JOB_STATE_CANCELLED), kExitJobFailed);
}

}  // namespace
}  // namespace conveyor::cli
