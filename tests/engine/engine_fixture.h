#ifndef CONVEYOR_TESTS_ENGINE_ENGINE_FIXTURE_H_
#define CONVEYOR_TESTS_ENGINE_ENGINE_FIXTURE_H_

// Fakes and a fixture shared by the engine tests: a FakeClock, a constant
// Random, and recording JobObserver / WorkerChannel / JobWatcher. Everything
// is single-threaded: the engine delivers effects before its call returns.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/engine/clock.h"
#include "server/engine/engine.h"
#include "server/engine/ids.h"
#include "server/engine/job.h"
#include "server/engine/job_observer.h"
#include "server/engine/queue_settings.h"
#include "server/engine/worker_channel.h"
#include "tests/testing/fake_clock.h"

namespace conveyor {

// Readable gtest output for the engine's enums.
inline void PrintTo(JobState s, std::ostream* os) { *os << JobStateName(s); }
inline void PrintTo(DeadReason r, std::ostream* os) {
  switch (r) {
    case DeadReason::kNone:
      *os << "kNone";
      return;
    case DeadReason::kAttemptsExhausted:
      *os << "kAttemptsExhausted";
      return;
    case DeadReason::kPermanentFailure:
      *os << "kPermanentFailure";
      return;
    case DeadReason::kLeaseLost:
      *os << "kLeaseLost";
      return;
  }
  *os << "DeadReason(" << static_cast<int>(r) << ")";
}
inline void PrintTo(AttemptOutcome o, std::ostream* os) {
  switch (o) {
    case AttemptOutcome::kRunning:
      *os << "kRunning";
      return;
    case AttemptOutcome::kSucceeded:
      *os << "kSucceeded";
      return;
    case AttemptOutcome::kFailed:
      *os << "kFailed";
      return;
    case AttemptOutcome::kLeaseLost:
      *os << "kLeaseLost";
      return;
    case AttemptOutcome::kTimedOut:
      *os << "kTimedOut";
      return;
    case AttemptOutcome::kCancelled:
      *os << "kCancelled";
      return;
    case AttemptOutcome::kReleased:
      *os << "kReleased";
      return;
  }
  *os << "AttemptOutcome(" << static_cast<int>(o) << ")";
}

namespace testing {

#define CONVEYOR_TEST_CONCAT_INNER(a, b) a##b
#define CONVEYOR_TEST_CONCAT(a, b) CONVEYOR_TEST_CONCAT_INNER(a, b)
#define ASSERT_OK_AND_ASSIGN_IMPL(so, lhs, rexpr) \
  auto so = (rexpr);                              \
  ASSERT_TRUE(so.ok()) << so.status();            \
  lhs = std::move(so).value()
// Asserts `rexpr` (a StatusOr) is OK and moves its value into `lhs`.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL(CONVEYOR_TEST_CONCAT(statusor_, __LINE__), lhs, rexpr)

inline absl::Status StatusOf(const absl::Status& s) { return s; }
template <typename T>
absl::Status StatusOf(const absl::StatusOr<T>& s) {
  return s.status();
}
#define ASSERT_OK(expr)                                                  \
  do {                                                                   \
    absl::Status assert_ok_status = ::conveyor::testing::StatusOf(expr); \
    ASSERT_TRUE(assert_ok_status.ok()) << assert_ok_status;              \
  } while (0)
#define EXPECT_OK(expr)                                                  \
  do {                                                                   \
    absl::Status expect_ok_status = ::conveyor::testing::StatusOf(expr); \
    EXPECT_TRUE(expect_ok_status.ok()) << expect_ok_status;              \
  } while (0)
// Expects `expr` to fail with `code` and a message containing `text`.
#define EXPECT_STATUS(expr, want_code, text)                                      \
  do {                                                                            \
    absl::Status expect_status = ::conveyor::testing::StatusOf(expr);             \
    EXPECT_EQ(expect_status.code(), want_code) << expect_status;                  \
    EXPECT_THAT(std::string(expect_status.message()), ::testing::HasSubstr(text)) \
        << expect_status;                                                         \
  } while (0)

// A Random that always returns the same value, so backoff delays are exact.
class FixedRandom : public Random {
 public:
  explicit FixedRandom(double value) : value_(value) {}
  double Uniform() override {
    ++calls_;
    return value_;
  }
  void set_value(double v) { value_ = v; }
  int calls() const { return calls_; }

 private:
  double value_;
  int calls_ = 0;
};

// Every field of a job, as one string: compares jobs with a readable diff.
inline std::string Describe(const Job& j) {
  std::string s = absl::StrCat(
      "id=", j.id.value, " queue=", j.queue, " type=", j.type, " payload=", j.payload,
      " priority=", j.priority, " labels={", absl::StrJoin(j.labels, ",", absl::PairFormatter("=")),
      "} key=", j.idempotency_key, " max_attempts=", j.max_attempts,
      " backoff=", absl::FormatDuration(j.backoff.initial), "/",
      absl::FormatDuration(j.backoff.max), "/", j.backoff.multiplier,
      " attempt_timeout=", absl::FormatDuration(j.attempt_timeout),
      " deadline=", absl::FormatTime(j.deadline), "\n  state=", JobStateName(j.state),
      " attempts=", j.attempts, " created_at=", absl::FormatTime(j.created_at),
      " run_at=", absl::FormatTime(j.run_at), " finished_at=", absl::FormatTime(j.finished_at),
      " expires_at=", absl::FormatTime(j.expires_at), " result=", j.result, " error=", j.error,
      " dead_reason=", static_cast<int>(j.dead_reason), " cancel_reason=", j.cancel_reason,
      " progress=", j.progress.percent, ":", j.progress.message,
      " last_token=", j.last_token.value);
  for (const Attempt& a : j.history) {
    absl::StrAppend(&s, "\n  attempt ", a.number, " worker=", a.worker.value, "/", a.worker_name,
                    " ", absl::FormatTime(a.started_at), "..", absl::FormatTime(a.ended_at),
                    " outcome=", static_cast<int>(a.outcome), " error=", a.error);
  }
  return s;
}

// Records every observer call, checks the sequence numbers (first 1, then +1
// each) and replays the calls onto a map, like a MemoryStore would.
class RecordingObserver : public JobObserver {
 public:
  enum class Kind { kCreated, kUpdated, kDeleted, kQueueSettings };
  struct Event {
    Kind kind;
    uint64_t seq;
    JobId id;
    std::optional<Job> job;
    std::string queue;
    std::optional<QueueSettings> settings;
    // The bracket (OnOperationBegin/End) it came in: 1 for the first; 0
    // outside any.
    int operation = 0;
  };

  void OnJobCreated(uint64_t seq, const Job& job) override {
    CheckSeq(seq);
    if (jobs_.count(job.id) != 0) ADD_FAILURE() << "job " << job.id << " created twice";
    jobs_[job.id] = job;
    events_.push_back({Kind::kCreated, seq, job.id, job, "", std::nullopt});
    Stamp();
  }
  void OnJobUpdated(uint64_t seq, const Job& job) override {
    CheckSeq(seq);
    auto it = jobs_.find(job.id);
    if (it == jobs_.end()) {
      ADD_FAILURE() << "job " << job.id << " updated before it was created (or after deletion)";
      return;
    }
    std::string payload = it->second.payload;
    it->second = job;
    it->second.payload = payload;  // Payload is the one given at creation.
    events_.push_back({Kind::kUpdated, seq, job.id, job, "", std::nullopt});
    Stamp();
  }
  void OnJobDeleted(uint64_t seq, JobId id) override {
    CheckSeq(seq);
    if (jobs_.erase(id) == 0) ADD_FAILURE() << "job " << id << " deleted but not present";
    deleted_.push_back(id);
    events_.push_back({Kind::kDeleted, seq, id, std::nullopt, "", std::nullopt});
    Stamp();
  }
  void OnQueueSettingsChanged(uint64_t seq, const std::string& queue,
                              const QueueSettings& settings) override {
    CheckSeq(seq);
    queues_[queue] = settings;
    events_.push_back({Kind::kQueueSettings, seq, JobId{}, std::nullopt, queue, settings});
    Stamp();
  }

  void OnOperationBegin() override {
    if (in_operation_) ADD_FAILURE() << "OnOperationBegin inside an operation";
    in_operation_ = true;
    ++operations_;
  }
  void OnOperationEnd() override {
    if (!in_operation_) ADD_FAILURE() << "OnOperationEnd outside an operation";
    in_operation_ = false;
  }

  uint64_t last_seq() const { return last_seq_; }
  // Brackets opened so far.
  int operations() const { return operations_; }
  const std::vector<Event>& events() const { return events_; }
  const std::map<JobId, Job>& jobs() const { return jobs_; }
  const std::map<std::string, QueueSettings>& queues() const { return queues_; }
  const std::vector<JobId>& deleted() const { return deleted_; }
  // Events of one kind about one job.
  int CountFor(Kind kind, JobId id) const {
    int n = 0;
    for (const Event& e : events_) n += (e.kind == kind && e.id == id) ? 1 : 0;
    return n;
  }
  int Count(Kind kind) const {
    int n = 0;
    for (const Event& e : events_) n += e.kind == kind ? 1 : 0;
    return n;
  }
  // What the store already held before a Restore.
  void Seed(const std::vector<Job>& jobs) {
    for (const Job& j : jobs) jobs_[j.id] = j;
  }

 private:
  void CheckSeq(uint64_t seq) {
    if (seq != last_seq_ + 1) {
      ADD_FAILURE() << "observer seq " << seq << " after " << last_seq_ << " (want +1)";
    }
    last_seq_ = seq;
  }
  // Every event is pushed right after CheckSeq: stamps it with its bracket.
  void Stamp() { events_.back().operation = in_operation_ ? operations_ : 0; }

  uint64_t last_seq_ = 0;
  bool in_operation_ = false;
  int operations_ = 0;
  std::vector<Event> events_;
  std::map<JobId, Job> jobs_;
  std::map<std::string, QueueSettings> queues_;
  std::vector<JobId> deleted_;
};

struct CancelCall {
  JobId job;
  FencingToken token;
  std::string reason;
};

struct AnswerCall {
  JobId job;
  FencingToken token;
  absl::Status verdict;
  uint64_t seq;
  size_t assignments_before;  // How many Assign calls this channel had got.
};

// Calls to any RecordingChannel that shares it, in order: lets a test see
// which worker was told what, across workers.
struct ChannelLog {
  struct Entry {
    int channel_tag;
    std::optional<Assignment> assignment;
    std::optional<CancelCall> cancel;
    std::optional<absl::Duration> drain;
  };
  std::vector<Entry> entries;
};

// Records what the engine tells one worker.
class RecordingChannel : public WorkerChannel {
 public:
  RecordingChannel() = default;
  RecordingChannel(std::shared_ptr<ChannelLog> log, int tag) : log_(std::move(log)), tag_(tag) {}

  void Assign(Assignment a) override {
    assignments.push_back(a);
    if (log_) log_->entries.push_back({tag_, a, std::nullopt, std::nullopt});
  }
  void Cancel(JobId job, FencingToken token, const std::string& reason) override {
    cancels.push_back({job, token, reason});
    if (log_)
      log_->entries.push_back({tag_, std::nullopt, CancelCall{job, token, reason}, std::nullopt});
  }
  void Answer(JobId job, FencingToken token, absl::Status verdict, uint64_t seq) override {
    answers.push_back({job, token, std::move(verdict), seq, assignments.size()});
  }
  void Drain(absl::Duration grace) override {
    drains.push_back(grace);
    if (log_) log_->entries.push_back({tag_, std::nullopt, std::nullopt, grace});
  }

  // The latest assignment of `job`, or nullopt.
  std::optional<Assignment> Find(JobId job) const {
    for (auto it = assignments.rbegin(); it != assignments.rend(); ++it) {
      if (it->job.id == job) return *it;
    }
    return std::nullopt;
  }
  std::vector<JobId> AssignedIds() const {
    std::vector<JobId> ids;
    for (const Assignment& a : assignments) ids.push_back(a.job.id);
    return ids;
  }

  std::vector<Assignment> assignments;
  std::vector<CancelCall> cancels;
  std::vector<AnswerCall> answers;
  std::vector<absl::Duration> drains;

 private:
  std::shared_ptr<ChannelLog> log_;
  int tag_ = 0;
};

// Records what the engine reports about one job.
class RecordingWatcher : public JobWatcher {
 public:
  void OnJobChanged(const Job& job, uint64_t seq) override { calls.emplace_back(job, seq); }
  std::vector<JobState> States() const {
    std::vector<JobState> s;
    for (const auto& c : calls) s.push_back(c.first.state);
    return s;
  }
  std::vector<std::pair<Job, uint64_t>> calls;
};

struct TestWorker {
  WorkerId id;
  std::shared_ptr<RecordingChannel> channel;
};

// The engine on a FakeClock with a constant Random (0.5) and a recording
// observer. The engine is built on first use, so a test may first change
// `options_`.
class EngineTest : public ::testing::Test {
 protected:
  static constexpr absl::Duration kLease = absl::Seconds(30);  // The default.

  Engine& engine() {
    if (engine_ == nullptr) {
      engine_ = std::make_unique<Engine>(&clock_, &random_, &observer_, options_);
    }
    return *engine_;
  }
  absl::Time Now() const { return clock_.Now(); }
  // Advances the fake clock and runs whatever is due.
  void AdvanceAndTick(absl::Duration d) {
    clock_.Advance(d);
    engine().Tick();
  }

  static JobSpec Spec(std::string queue = "q", std::string type = "t") {
    JobSpec s;
    s.queue = std::move(queue);
    s.type = std::move(type);
    s.payload = "payload";
    return s;
  }
  // Submits one spec; on failure records a test failure and returns id 0.
  JobId SubmitOne(JobSpec spec) {
    std::vector<JobSpec> specs;
    specs.push_back(std::move(spec));
    auto r = engine().Submit(std::move(specs));
    if (!r.ok()) {
      ADD_FAILURE() << "Submit: " << r.status();
      return JobId{};
    }
    if (r->value.size() != 1) {
      ADD_FAILURE() << "Submit returned " << r->value.size() << " results for 1 spec";
      return JobId{};
    }
    return r->value[0].id;
  }
  JobId SubmitWithPriority(int32_t priority, std::string queue = "q") {
    JobSpec s = Spec(std::move(queue));
    s.priority = priority;
    return SubmitOne(std::move(s));
  }
  // The job now; on failure a test failure and a default Job.
  Job Get(JobId id) {
    auto r = engine().GetJob(id);
    if (!r.ok()) {
      ADD_FAILURE() << "GetJob(" << id << "): " << r.status();
      return Job{};
    }
    return *r;
  }
  JobState StateOf(JobId id) { return Get(id).state; }

  TestWorker Connect(std::string name = "w", std::vector<std::string> queues = {"q"},
                     int32_t concurrency = 1, std::vector<std::string> types = {},
                     int32_t prefetch = 0) {
    WorkerHello hello;
    hello.name = std::move(name);
    hello.queues = std::move(queues);
    hello.types = std::move(types);
    hello.concurrency = concurrency;
    hello.prefetch = prefetch;
    auto channel = std::make_shared<RecordingChannel>();
    auto r = engine().ConnectWorker(std::move(hello), channel);
    if (!r.ok()) {
      ADD_FAILURE() << "ConnectWorker: " << r.status();
      return TestWorker{WorkerId{}, channel};
    }
    return TestWorker{r->id, channel};
  }

  void Configure(const std::string& queue, const QueueSettingsUpdate& update) {
    auto r = engine().UpdateQueue(queue, update);
    if (!r.ok()) ADD_FAILURE() << "UpdateQueue(" << queue << "): " << r.status();
  }

  // The counts of one queue from ListQueues (default QueueStats if absent).
  QueueStats StatsOf(const std::string& queue) {
    for (QueueStats& q : engine().ListQueues()) {
      if (q.name == queue) return q;
    }
    QueueStats none;
    none.name = "<absent>";
    return none;
  }
  size_t LeasesOf(WorkerId worker) {
    for (const WorkerStats& w : engine().ListWorkers()) {
      if (w.id == worker) return w.leases.size();
    }
    return 0;
  }

  // Every job the observer's replay holds must equal GetJob, and the other
  // way round.
  void ExpectReplayMatchesEngine() {
    JobFilter all;
    all.limit = 1'000'000;
    std::vector<Job> jobs = engine().ListJobs(all);
    std::map<JobId, Job> replay = observer_.jobs();
    EXPECT_EQ(jobs.size(), replay.size()) << "jobs in engine vs replayed observer calls";
    for (const Job& j : jobs) {
      auto it = replay.find(j.id);
      if (it == replay.end()) {
        ADD_FAILURE() << "job " << j.id << " is in the engine but not in the replay";
        continue;
      }
      auto got = engine().GetJob(j.id);
      ASSERT_TRUE(got.ok()) << got.status();
      EXPECT_EQ(Describe(it->second), Describe(*got)) << "replay (left) vs GetJob (right)";
    }
  }

  FakeClock clock_;
  FixedRandom random_{0.5};
  RecordingObserver observer_;
  EngineOptions options_;
  std::unique_ptr<Engine> engine_;
};

}  // namespace testing
}  // namespace conveyor

#endif  // CONVEYOR_TESTS_ENGINE_ENGINE_FIXTURE_H_
