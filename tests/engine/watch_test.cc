// Watching a job, and draining the engine for shutdown.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

using ::testing::ElementsAre;

TEST_F(EngineTest, WatchSeesTheJobNowThenEveryChangeUntilItEnds) {
  JobId id = SubmitOne(Spec());
  auto watcher = std::make_shared<RecordingWatcher>();
  ASSERT_OK_AND_ASSIGN(uint64_t handle, engine().Watch(id, watcher));
  (void)handle;
  ASSERT_EQ(watcher->calls.size(), 1u) << "the current state first";
  EXPECT_EQ(watcher->calls[0].first.state, JobState::kQueued);
  EXPECT_EQ(watcher->calls[0].first.id, id);

  TestWorker w = Connect();
  const Assignment a = w.channel->assignments.at(0);
  Progress p;
  p.percent = 30;
  p.message = "warming up";
  ASSERT_OK(engine().ReportProgress(w.id, id, a.token, p));
  ASSERT_OK(engine().Complete(w.id, id, a.token, "r"));

  ASSERT_GE(watcher->calls.size(), 4u);
  EXPECT_THAT(watcher->States(), ElementsAre(JobState::kQueued, JobState::kRunning,
                                             JobState::kRunning, JobState::kSucceeded));
  EXPECT_EQ(watcher->calls[2].first.progress.percent, 30);
  EXPECT_EQ(watcher->calls[2].first.progress.message, "warming up");
  EXPECT_EQ(watcher->calls[3].first.result, "r");

  // Each seq is the observer's record of that change.
  for (size_t i = 1; i < watcher->calls.size(); ++i) {
    const uint64_t seq = watcher->calls[i].second;
    if (seq == 0) continue;
    bool found = false;
    for (const auto& e : observer_.events()) {
      if (e.seq == seq) {
        found = true;
        EXPECT_EQ(e.id, id) << "watch call " << i;
        ASSERT_TRUE(e.job.has_value());
        EXPECT_EQ(e.job->state, watcher->calls[i].first.state) << "watch call " << i;
      }
    }
    EXPECT_TRUE(found) << "watch call " << i << " seq " << seq << " was never observed";
  }
  EXPECT_NE(watcher->calls[3].second, 0u) << "the terminal change is written";

  // Nothing after the end, retention removal included.
  const size_t n = watcher->calls.size();
  AdvanceAndTick(absl::Hours(25));
  EXPECT_STATUS(engine().GetJob(id), absl::StatusCode::kNotFound, "");
  EXPECT_EQ(watcher->calls.size(), n);
}

TEST_F(EngineTest, WatchSeesRetriesAndDeath) {
  random_.set_value(0.5);
  TestWorker w = Connect();
  JobSpec spec = Spec();
  spec.max_attempts = 2;
  JobId id = SubmitOne(spec);
  auto watcher = std::make_shared<RecordingWatcher>();
  ASSERT_OK(engine().Watch(id, watcher));
  ASSERT_OK(engine().Fail(w.id, id, w.channel->assignments.at(0).token, "e1", false));
  AdvanceAndTick(absl::Milliseconds(500));
  ASSERT_OK(engine().Fail(w.id, id, w.channel->assignments.at(1).token, "e2", false));
  std::vector<JobState> states = watcher->States();
  // QUEUED may or may not be reported between SCHEDULED and RUNNING.
  states.erase(std::remove(states.begin(), states.end(), JobState::kQueued), states.end());
  EXPECT_THAT(states, ElementsAre(JobState::kRunning, JobState::kScheduled, JobState::kRunning,
                                  JobState::kDead));
  EXPECT_EQ(watcher->calls.back().first.dead_reason, DeadReason::kAttemptsExhausted);
}

TEST_F(EngineTest, WatchOfAnEndedJobReportsItOnce) {
  JobId id = SubmitOne(Spec());
  ASSERT_OK(engine().Cancel(id, "bye"));
  auto watcher = std::make_shared<RecordingWatcher>();
  ASSERT_OK(engine().Watch(id, watcher));
  ASSERT_EQ(watcher->calls.size(), 1u);
  EXPECT_EQ(watcher->calls[0].first.state, JobState::kCancelled);
  EXPECT_EQ(watcher->calls[0].first.cancel_reason, "bye");
}

TEST_F(EngineTest, WatchCancelledJobEndsWithCancelled) {
  JobId id = SubmitOne(Spec());
  auto watcher = std::make_shared<RecordingWatcher>();
  ASSERT_OK(engine().Watch(id, watcher));
  ASSERT_OK(engine().Cancel(id, "stop"));
  EXPECT_THAT(watcher->States(), ElementsAre(JobState::kQueued, JobState::kCancelled));
}

TEST_F(EngineTest, UnwatchStopsCalls) {
  JobId id = SubmitOne(Spec());
  auto kept = std::make_shared<RecordingWatcher>();
  auto dropped = std::make_shared<RecordingWatcher>();
  ASSERT_OK(engine().Watch(id, kept));
  ASSERT_OK_AND_ASSIGN(uint64_t handle, engine().Watch(id, dropped));
  engine().Unwatch(id, handle);
  TestWorker w = Connect();
  ASSERT_OK(engine().Complete(w.id, id, w.channel->assignments.at(0).token, ""));
  EXPECT_EQ(dropped->calls.size(), 1u);
  EXPECT_EQ(kept->calls.size(), 3u);
  engine().Unwatch(id, 987654);           // Unknown handle: ignored.
  engine().Unwatch(JobId{4444}, handle);  // Unknown job: ignored.
}

TEST_F(EngineTest, WatchUnknownJobIsNotFound) {
  EXPECT_STATUS(engine().Watch(JobId{8080}, std::make_shared<RecordingWatcher>()),
                absl::StatusCode::kNotFound, "8080");
}

TEST_F(EngineTest, DrainTellsWorkersAndStopsSubmitsAndDispatch) {
  TestWorker w1 = Connect("w1", {"q"}, 1);
  TestWorker w2 = Connect("w2", {"other"}, 1);
  JobId running = SubmitOne(Spec());
  JobId waiting = SubmitOne(Spec());

  engine().BeginDrain(absl::Seconds(20));
  ASSERT_EQ(w1.channel->drains.size(), 1u);
  EXPECT_EQ(w1.channel->drains[0], absl::Seconds(20));
  ASSERT_EQ(w2.channel->drains.size(), 1u);
  for (const WorkerStats& ws : engine().ListWorkers()) EXPECT_TRUE(ws.draining) << ws.id;

  EXPECT_STATUS(engine().Submit({Spec()}), absl::StatusCode::kUnavailable, "");
  WorkerHello hello;
  hello.name = "late";
  hello.queues = {"q"};
  EXPECT_STATUS(engine().ConnectWorker(hello, std::make_shared<RecordingChannel>()),
                absl::StatusCode::kUnavailable, "");

  // Answers still count; nothing new is dispatched.
  ASSERT_OK(engine().Complete(w1.id, running, w1.channel->assignments.at(0).token, "r"));
  EXPECT_EQ(StateOf(running), JobState::kSucceeded);
  AdvanceAndTick(absl::Seconds(1));
  EXPECT_EQ(StateOf(waiting), JobState::kQueued);
  EXPECT_EQ(w1.channel->assignments.size(), 1u);
  EXPECT_EQ(engine().RunningCount(), 0u);
}

TEST_F(EngineTest, JobReleasedWhileDrainingStaysQueued) {
  TestWorker w1 = Connect("w1", {"q"}, 1);
  TestWorker w2 = Connect("w2", {"q"}, 1);
  JobId id = SubmitOne(Spec());
  TestWorker& holder = w1.channel->assignments.empty() ? w2 : w1;
  const Assignment a = holder.channel->assignments.at(0);
  engine().BeginDrain(absl::Seconds(5));
  ASSERT_OK(engine().Release(holder.id, id, a.token));
  Job j = Get(id);
  EXPECT_EQ(j.state, JobState::kQueued);
  EXPECT_EQ(j.attempts, 0);
  EXPECT_EQ(w1.channel->assignments.size() + w2.channel->assignments.size(), 1u)
      << "no dispatch while draining, even to the idle worker";
}

}  // namespace
}  // namespace conveyor::testing
