#include "client/cli/cli_args.h"

#include <gtest/gtest.h>

namespace conveyor::cli {
namespace {

TEST(CliArgsTest, ParseLabel) {
  auto label = ParseLabel("env=prod");
  ASSERT_TRUE(label.ok());
  EXPECT_EQ(label->first, "env");
  EXPECT_EQ(label->second, "prod");
  label = ParseLabel("expr=a=b");
  ASSERT_TRUE(label.ok());
  EXPECT_EQ(label->second, "a=b");
  label = ParseLabel("empty=");
  ASSERT_TRUE(label.ok());
  EXPECT_EQ(label->second, "");
  EXPECT_TRUE(absl::IsInvalidArgument(ParseLabel("novalue").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseLabel("=x").status()));
}

TEST(CliArgsTest, ParseLabelsLaterWins) {
  auto labels = ParseLabels({"a=1", "b=2", "a=3"});
  ASSERT_TRUE(labels.ok());
  EXPECT_EQ(labels->size(), 2u);
  EXPECT_EQ(labels->at("a"), "3");
  EXPECT_FALSE(ParseLabels({"a=1", "bad"}).ok());
}

TEST(CliArgsTest, ParseJobStateAcceptsShortAndFullNames) {
  EXPECT_EQ(*ParseJobState("queued"), v1::JOB_STATE_QUEUED);
  EXPECT_EQ(*ParseJobState("DEAD"), v1::JOB_STATE_DEAD);
  EXPECT_EQ(*ParseJobState("job_state_cancelled"), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(*ParseJobState("Succeeded"), v1::JOB_STATE_SUCCEEDED);
  EXPECT_TRUE(absl::IsInvalidArgument(ParseJobState("unspecified").status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ParseJobState("done").status()));
}

TEST(CliArgsTest, ParseDuration) {
  EXPECT_EQ(*ParseNonNegativeDuration("--delay", "500ms"), absl::Milliseconds(500));
  EXPECT_EQ(*ParseNonNegativeDuration("--delay", "1h30m"), absl::Minutes(90));
  EXPECT_EQ(*ParseNonNegativeDuration("--delay", "0"), absl::ZeroDuration());
  const absl::Status bad = ParseNonNegativeDuration("--delay", "5 minutes").status();
  EXPECT_TRUE(absl::IsInvalidArgument(bad));
  EXPECT_NE(bad.message().find("--delay"), absl::string_view::npos);
  EXPECT_FALSE(ParseNonNegativeDuration("--delay", "-1s").ok());
  EXPECT_FALSE(ParseNonNegativeDuration("--delay", "inf").ok());
}

TEST(CliArgsTest, SplitPayloadLines) {
  EXPECT_EQ(SplitPayloadLines("a\nb\r\n\nc"), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(SplitPayloadLines("one\n"), (std::vector<std::string>{"one"}));
  EXPECT_TRUE(SplitPayloadLines("").empty());
  EXPECT_TRUE(SplitPayloadLines("\n\r\n").empty());
}

TEST(CliArgsTest, BatchRangesCoverEverythingOnce) {
  using Ranges = std::vector<std::pair<size_t, size_t>>;
  EXPECT_EQ(BatchRanges(0, 500), Ranges{});
  EXPECT_EQ(BatchRanges(3, 500), (Ranges{{0, 3}}));
  EXPECT_EQ(BatchRanges(1000, 500), (Ranges{{0, 500}, {500, 1000}}));
  EXPECT_EQ(BatchRanges(10'001, 500).size(), 21u);
  EXPECT_EQ(BatchRanges(10'001, 500).back(), (std::pair<size_t, size_t>{10'000, 10'001}));
  EXPECT_EQ(BatchRanges(3, 1), (Ranges{{0, 1}, {1, 2}, {2, 3}}));
}

}  // namespace
}  // namespace conveyor::cli
