#include "worker/job_context.h"

#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "worker/backoff.h"
#include "worker/handler.h"

namespace conveyor {
namespace {

JobInfo Info(uint64_t id, absl::Time deadline = absl::InfiniteFuture()) {
  JobInfo info;
  info.job_id = id;
  info.deadline = deadline;
  return info;
}

TEST(JobContextTest, CancelIsSeenByPollAndWait) {
  JobContext context(Info(7));
  EXPECT_FALSE(context.cancelled());
  EXPECT_FALSE(context.WaitForCancel(absl::Milliseconds(1)));
  std::thread canceller([&] { context.Cancel("because"); });
  EXPECT_TRUE(context.WaitForCancel(absl::Seconds(10)));
  canceller.join();
  EXPECT_TRUE(context.cancelled());
  context.Cancel("second reason is ignored");
  EXPECT_EQ(context.cancel_reason(), "because");
}

TEST(JobContextTest, DeadlineGoesOntoClientContexts) {
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  JobContext context(Info(1, deadline));
  ASSERT_TRUE(context.has_deadline());
  auto client = context.MakeClientContext();
  EXPECT_EQ(absl::FromChrono(client->deadline()), deadline);

  grpc::ClientContext earlier;
  earlier.set_deadline(absl::ToChronoTime(deadline - absl::Seconds(1)));
  context.ConfigureClientContext(&earlier);
  EXPECT_EQ(absl::FromChrono(earlier.deadline()), deadline - absl::Seconds(1));
}

TEST(JobContextTest, NoDeadlineLeavesClientContextAlone) {
  JobContext context(Info(1));
  EXPECT_FALSE(context.has_deadline());
  auto client = context.MakeClientContext();
  EXPECT_EQ(client->deadline(), std::chrono::system_clock::time_point::max());
}

TEST(JobContextTest, ProgressIsClampedAndForwarded) {
  int got_percent = 0;
  std::string got_message;
  JobContext context(JobInfo{}, [&](int percent, const std::string& message) {
    got_percent = percent;
    got_message = message;
  });
  context.ReportProgress(150, "almost");
  EXPECT_EQ(got_percent, 100);
  EXPECT_EQ(got_message, "almost");
}

TEST(HandlerTest, PermanentMarker) {
  EXPECT_TRUE(IsPermanent(PermanentError("bad input")));
  EXPECT_EQ(PermanentError("bad input").message(), "bad input");
  EXPECT_FALSE(IsPermanent(absl::UnavailableError("later")));
  EXPECT_TRUE(IsPermanent(MakePermanent(absl::InvalidArgumentError("x"))));
  EXPECT_FALSE(IsPermanent(absl::OkStatus()));
}

TEST(BackoffTest, GrowsWithJitterUpToTheCap) {
  Backoff backoff(absl::Milliseconds(100), absl::Seconds(1), /*seed=*/42);
  absl::Duration cap = absl::Milliseconds(100);
  for (int i = 0; i < 10; ++i) {
    const absl::Duration d = backoff.Next();
    EXPECT_GE(d, cap / 2) << i;
    EXPECT_LE(d, cap) << i;
    cap = std::min(cap * 2, absl::Seconds(1));
  }
  backoff.Reset();
  EXPECT_LE(backoff.Next(), absl::Milliseconds(100));
}

}  // namespace
}  // namespace conveyor
