// Thousands of random operations against a simple reference model; after
// each one the engine must agree with the model.
//
// The model: one queue "q", one job type, every worker subscribed to it; a
// constant jitter (0.5) so retry times are exact. What it predicts:
// - Submit: new ids grow; a kept idempotency key returns its job; delayed
//   jobs are SCHEDULED until run_at, others QUEUED.
// - Dispatch: only QUEUED jobs, only to a worker below its concurrency, with
//   attempt = attempts + 1, a token greater than every earlier one of the job,
//   lease_expires_at = now + lease; the jobs handed out by one operation
//   have priority >= every job left QUEUED; afterwards no worker has a free
//   slot while a job is QUEUED.
// - Complete -> SUCCEEDED; Fail -> SCHEDULED after 0.5 * min(max, initial *
//   mult^(n-1)), or DEAD (permanent, or attempts exhausted); Release ->
//   QUEUED, attempt not counted; a lease lost (expiry, disconnect) -> QUEUED
//   at once, or DEAD kLeaseLost after the last attempt.
// - Stale tokens -> ABORTED, another worker's current token ->
//   PERMISSION_DENIED, and nothing changes.
// - Cancel: unended -> CANCELLED (its worker told with the token), ended ->
//   FAILED_PRECONDITION, removed -> NOT_FOUND.
// - Ended jobs are removed `retention` after they ended; their key is free.

#include <algorithm>
#include <array>
#include <deque>
#include <random>
#include <set>
#include <tuple>

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

constexpr absl::Duration kModelLease = absl::Seconds(10);
constexpr absl::Duration kRetention = absl::Seconds(120);
const Backoff kBackoff{absl::Seconds(1), absl::Seconds(4), 2.0};
constexpr int32_t kDefaultAttempts = 3;

struct MJob {
  JobId id;
  int32_t priority = 0;
  int32_t max_attempts = kDefaultAttempts;
  std::string key;
  JobState state = JobState::kQueued;
  int32_t attempts = 0;
  absl::Time run_at;                 // SCHEDULED: when due.
  WorkerId worker;                   // RUNNING: the lease.
  FencingToken token;                // RUNNING: current; else the last one (0: never leased).
  absl::Time lease_expires;          // RUNNING.
  std::vector<FencingToken> tokens;  // Every token ever issued.
  DeadReason dead_reason = DeadReason::kNone;
  absl::Time expires_at = absl::InfiniteFuture();  // Ended: retention end.
  bool deleted = false;
};

struct MWorker {
  WorkerId id;
  int tag = 0;
  int32_t concurrency = 1;
  std::set<JobId> leases;
  std::shared_ptr<RecordingChannel> channel;
  bool suspended = false;  // A lease of it expired; no new jobs until it heartbeats.
};

class RandomizedTest : public EngineTest, public ::testing::WithParamInterface<uint64_t> {
 protected:
  void SetUp() override {
    random_.set_value(0.5);
    rng_.seed(GetParam());
    log_ = std::make_shared<ChannelLog>();
    QueueSettingsUpdate u;
    u.lease_duration = kModelLease;
    u.retention = kRetention;
    u.backoff = kBackoff;
    u.max_attempts = kDefaultAttempts;
    Configure("q", u);
  }

  // --- Random helpers ---
  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <typename T>
  T Pick(const std::vector<T>& v) {
    return v[Uniform(0, static_cast<int>(v.size()) - 1)];
  }

  // --- Model helpers ---
  static absl::Duration BackoffAfter(int32_t n) {
    absl::Duration cap = kBackoff.initial;
    for (int i = 1; i < n && cap < kBackoff.max; ++i) cap = cap * kBackoff.multiplier;
    return std::min(cap, kBackoff.max) * 0.5;
  }
  std::vector<JobId> JobsIn(JobState s) const {
    std::vector<JobId> ids;
    for (const auto& [id, j] : jobs_) {
      if (!j.deleted && j.state == s) ids.push_back(id);
    }
    return ids;
  }
  int64_t Unended() const {
    int64_t n = 0;
    for (const auto& [id, j] : jobs_) n += (!j.deleted && !IsTerminal(j.state)) ? 1 : 0;
    return n;
  }
  MWorker* WorkerById(WorkerId id) {
    for (MWorker& w : workers_) {
      if (w.id == id) return &w;
    }
    return nullptr;
  }
  void EndLease(MJob& j) {
    MWorker* w = WorkerById(j.worker);
    if (w != nullptr) w->leases.erase(j.id);
    j.worker = WorkerId{};
  }
  void Finish(MJob& j, JobState terminal, DeadReason reason) {
    j.state = terminal;
    j.dead_reason = reason;
    j.expires_at = Now() + kRetention;
  }
  // A lease ended without an answer (expiry, disconnect).
  void LoseLease(MJob& j) {
    EndLease(j);
    if (j.attempts >= j.max_attempts) {
      Finish(j, JobState::kDead, DeadReason::kLeaseLost);
    } else {
      j.state = JobState::kQueued;
    }
  }
  absl::Time ModelNextDue() const {
    absl::Time next = absl::InfiniteFuture();
    for (const auto& [id, j] : jobs_) {
      if (j.deleted) continue;
      if (j.state == JobState::kScheduled) next = std::min(next, j.run_at);
      if (j.state == JobState::kRunning) next = std::min(next, j.lease_expires);
      if (IsTerminal(j.state)) next = std::min(next, j.expires_at);
    }
    return next;
  }

  // --- Operations ---
  void OpSubmit() {
    if (Unended() >= 60) return OpAdvance();
    std::vector<JobSpec> specs;
    const int n = Uniform(1, 3);
    for (int i = 0; i < n; ++i) {
      JobSpec s = Spec();
      s.priority = Uniform(-2, 2);
      if (Chance(0.3)) s.delay = absl::Milliseconds(Uniform(1, 8000));
      if (Chance(0.25)) s.idempotency_key = absl::StrCat("k", Uniform(0, 7));
      if (Chance(0.3)) s.max_attempts = Uniform(1, 4);
      specs.push_back(s);
    }
    trace_ = absl::StrCat("Submit x", n);
    auto r = engine().Submit(specs);
    if (!r.ok()) {
      ADD_FAILURE() << "Submit: " << r.status();
      return;
    }
    if (r->value.size() != specs.size()) {
      ADD_FAILURE() << "Submit returned " << r->value.size() << " results for " << specs.size();
      return;
    }
    for (size_t i = 0; i < specs.size(); ++i) {
      const JobSpec& s = specs[i];
      const SubmitResult& res = r->value[i];
      if (!s.idempotency_key.empty() && keys_.count(s.idempotency_key) != 0) {
        EXPECT_TRUE(res.duplicate) << "spec " << i << " key " << s.idempotency_key;
        EXPECT_EQ(res.id, keys_[s.idempotency_key]) << "spec " << i;
        continue;
      }
      EXPECT_FALSE(res.duplicate) << "spec " << i;
      EXPECT_GT(res.id, last_id_) << "ids grow in submission order";
      last_id_ = res.id;
      MJob j;
      j.id = res.id;
      j.priority = s.priority;
      if (s.max_attempts != 0) j.max_attempts = s.max_attempts;
      j.key = s.idempotency_key;
      if (s.delay) {
        j.state = JobState::kScheduled;
        j.run_at = Now() + *s.delay;
      }
      if (!j.key.empty()) keys_[j.key] = j.id;
      absl::StrAppend(&trace_, " ", j.id.value, j.state == JobState::kScheduled ? "(delayed)" : "",
                      "p", j.priority);
      jobs_[j.id] = j;
    }
  }

  void OpConnect() {
    if (workers_.size() >= 5) return OpSetConcurrency();
    const int tag = next_tag_++;
    auto channel = std::make_shared<RecordingChannel>(log_, tag);
    WorkerHello hello;
    hello.name = absl::StrCat("w", tag);
    hello.queues = {"q"};
    hello.concurrency = Uniform(1, 3);
    trace_ = absl::StrCat("Connect tag ", tag, " concurrency ", hello.concurrency);
    auto r = engine().ConnectWorker(hello, channel);
    if (!r.ok()) {
      ADD_FAILURE() << "ConnectWorker: " << r.status();
      return;
    }
    EXPECT_EQ(r->concurrency, hello.concurrency);
    MWorker w;
    w.id = r->id;
    w.tag = tag;
    w.concurrency = hello.concurrency;
    w.channel = channel;
    workers_.push_back(w);
    tag_to_worker_[tag] = r->id;
  }

  void OpDisconnect() {
    if (workers_.empty()) return OpConnect();
    const size_t i = static_cast<size_t>(Uniform(0, static_cast<int>(workers_.size()) - 1));
    MWorker w = workers_[i];
    trace_ = absl::StrCat("Disconnect ", w.id.value, " holding ", w.leases.size());
    engine().DisconnectWorker(w.id);
    workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(i));
    gone_tags_.insert(w.tag);
    for (JobId id : w.leases) {
      MJob& j = jobs_.at(id);
      allowed_cancels_.insert({w.tag, id.value, j.token.value});
      j.worker = WorkerId{};
      if (j.attempts >= j.max_attempts) {
        Finish(j, JobState::kDead, DeadReason::kLeaseLost);
      } else {
        j.state = JobState::kQueued;
      }
    }
  }

  void OpSetConcurrency() {
    if (workers_.empty()) return OpConnect();
    MWorker& w = workers_[Uniform(0, static_cast<int>(workers_.size()) - 1)];
    const int32_t c = Uniform(0, 4);
    trace_ = absl::StrCat("SetConcurrency ", w.id.value, " ", c);
    EXPECT_OK(engine().SetConcurrency(w.id, c));
    w.concurrency = c;
  }

  void OpHeartbeat() {
    if (workers_.empty()) return OpConnect();
    MWorker& w = workers_[Uniform(0, static_cast<int>(workers_.size()) - 1)];
    trace_ = absl::StrCat("Heartbeat ", w.id.value);
    EXPECT_OK(engine().Heartbeat(w.id));
    w.suspended = false;
    for (JobId id : w.leases) jobs_.at(id).lease_expires = Now() + kModelLease;
  }

  // A worker's answer about a running job, with the right or a wrong token.
  void OpAnswer() {
    std::vector<JobId> running = JobsIn(JobState::kRunning);
    if (running.empty()) return OpAdvance();
    MJob& j = jobs_.at(Pick(running));
    enum { kRight, kStale, kThief } mode = kRight;
    const double m = std::uniform_real_distribution<double>(0, 1)(rng_);
    if (m < 0.15 && j.tokens.size() >= 2) mode = kStale;
    if (m >= 0.15 && m < 0.3 && workers_.size() >= 2) mode = kThief;
    WorkerId by = j.worker;
    FencingToken token = j.token;
    if (mode == kStale) {
      token = j.tokens[Uniform(0, static_cast<int>(j.tokens.size()) - 2)];
      by = Pick(workers_).id;
    } else if (mode == kThief) {
      while (by == j.worker) by = Pick(workers_).id;
    }
    const int action = Uniform(0, 9);  // 0-3 complete, 4-6 fail, 7-8 release, 9 progress.
    const bool permanent = Chance(0.2);
    trace_ = absl::StrCat(action <= 3   ? "Complete"
                          : action <= 6 ? "Fail"
                          : action <= 8 ? "Release"
                                        : "Progress",
                          permanent && action >= 4 && action <= 6 ? "(permanent)" : "", " job ",
                          j.id.value, " token ", token.value, " by ", by.value,
                          mode == kRight   ? " (owner)"
                          : mode == kStale ? " (stale)"
                                           : " (thief)");
    const uint64_t seq = observer_.last_seq();
    absl::Status st;
    if (action <= 3) {
      st = StatusOf(engine().Complete(by, j.id, token, "r"));
    } else if (action <= 6) {
      st = StatusOf(engine().Fail(by, j.id, token, "e", permanent));
    } else if (action <= 8) {
      st = StatusOf(engine().Release(by, j.id, token));
    } else {
      Progress p;
      p.percent = Uniform(0, 100);
      st = StatusOf(engine().ReportProgress(by, j.id, token, p));
    }
    if (mode != kRight) {
      EXPECT_EQ(st.code(),
                mode == kStale ? absl::StatusCode::kAborted : absl::StatusCode::kPermissionDenied)
          << st;
      EXPECT_EQ(observer_.last_seq(), seq) << "a refused answer writes nothing";
      return;
    }
    if (!st.ok()) {
      ADD_FAILURE() << "the owner's answer was refused: " << st;
      return;
    }
    if (action <= 3) {
      EndLease(j);
      Finish(j, JobState::kSucceeded, DeadReason::kNone);
    } else if (action <= 6) {
      EndLease(j);
      if (permanent) {
        Finish(j, JobState::kDead, DeadReason::kPermanentFailure);
      } else if (j.attempts >= j.max_attempts) {
        Finish(j, JobState::kDead, DeadReason::kAttemptsExhausted);
      } else {
        j.state = JobState::kScheduled;
        j.run_at = Now() + BackoffAfter(j.attempts);
      }
    } else if (action <= 8) {
      EndLease(j);
      j.attempts -= 1;
      j.state = JobState::kQueued;
    }
  }

  // An answer for a job that is not running (or is gone): refused.
  void OpLateAnswer() {
    std::vector<JobId> candidates;
    for (const auto& [id, j] : jobs_) {
      if (j.state != JobState::kRunning && !j.tokens.empty()) candidates.push_back(id);
    }
    if (candidates.empty()) return OpAnswer();
    const MJob& j = jobs_.at(Pick(candidates));
    const WorkerId by = workers_.empty() ? WorkerId{12345} : Pick(workers_).id;
    trace_ = absl::StrCat("LateComplete job ", j.id.value, " token ", j.token.value);
    const uint64_t seq = observer_.last_seq();
    absl::Status st = StatusOf(engine().Complete(by, j.id, j.token, "late"));
    EXPECT_EQ(st.code(), j.deleted ? absl::StatusCode::kNotFound : absl::StatusCode::kAborted)
        << st;
    EXPECT_EQ(observer_.last_seq(), seq);
  }

  void OpCancel() {
    if (jobs_.empty()) return OpSubmit();
    std::vector<JobId> ids;
    for (const auto& [id, j] : jobs_) ids.push_back(id);
    MJob& j = jobs_.at(Pick(ids));
    trace_ = absl::StrCat("Cancel job ", j.id.value, " (", JobStateName(j.state),
                          j.deleted ? ", deleted)" : ")");
    absl::Status st = StatusOf(engine().Cancel(j.id, "random"));
    if (j.deleted) {
      EXPECT_EQ(st.code(), absl::StatusCode::kNotFound) << st;
      return;
    }
    if (IsTerminal(j.state)) {
      EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
      return;
    }
    if (!st.ok()) {
      ADD_FAILURE() << "Cancel of an unended job: " << st;
      return;
    }
    if (j.state == JobState::kRunning) {
      MWorker* w = WorkerById(j.worker);
      if (w != nullptr) required_cancels_.insert({w->tag, j.id.value, j.token.value});
      EndLease(j);
    }
    Finish(j, JobState::kCancelled, DeadReason::kNone);
  }

  void OpAdvance() {
    static const absl::Duration kSteps[] = {
        absl::ZeroDuration(),    absl::Milliseconds(1), absl::Milliseconds(100),
        absl::Milliseconds(500), absl::Seconds(1),      absl::Seconds(3),
        absl::Seconds(7),        absl::Seconds(12),     absl::Seconds(40)};
    const absl::Duration dt = kSteps[Uniform(0, 8)];
    const absl::Time target = Now() + dt;
    trace_ = absl::StrCat("Advance ", absl::FormatDuration(dt));
    do {
      const absl::Time due = ModelNextDue();
      const absl::Time wake = engine().NextWakeup();
      EXPECT_LE(wake, due) << "NextWakeup is later than something the model has due";
      const absl::Time t = std::min(target, due);
      if (t > Now()) clock_.Advance(t - Now());
      engine().Tick();
      ModelTick();
      if (::testing::Test::HasFailure()) return;
      ProcessEffects();
      if (::testing::Test::HasFailure()) return;
    } while (Now() < target);
  }

  void ModelTick() {
    const absl::Time now = Now();
    for (auto& [id, j] : jobs_) {
      if (j.deleted) continue;
      if (j.state == JobState::kScheduled && j.run_at <= now) j.state = JobState::kQueued;
    }
    for (auto& [id, j] : jobs_) {
      if (j.deleted) continue;
      if (j.state == JobState::kRunning && j.lease_expires <= now) {
        MWorker* w = WorkerById(j.worker);
        if (w != nullptr) {
          allowed_cancels_.insert({w->tag, id.value, j.token.value});
          w->suspended = true;
        }
        LoseLease(j);
      }
    }
    for (auto& [id, j] : jobs_) {
      if (j.deleted || !IsTerminal(j.state) || j.expires_at > now) continue;
      j.deleted = true;
      if (!j.key.empty() && keys_.count(j.key) != 0 && keys_[j.key] == id) keys_.erase(j.key);
      EXPECT_EQ(engine().GetJob(id).status().code(), absl::StatusCode::kNotFound)
          << "job " << id << " should be gone after retention";
    }
  }

  // Checks the assignments and cancels the last operation caused.
  void ProcessEffects() {
    std::vector<JobId> assigned;
    for (const ChannelLog::Entry& e : log_->entries) {
      if (e.drain) {
        ADD_FAILURE() << "unexpected Drain";
        continue;
      }
      if (e.cancel) {
        std::tuple<int, uint64_t, uint64_t> key{e.channel_tag, e.cancel->job.value,
                                                e.cancel->token.value};
        if (required_cancels_.erase(key) == 0 && allowed_cancels_.count(key) == 0) {
          ADD_FAILURE() << "unexpected Cancel of job " << e.cancel->job << " token "
                        << e.cancel->token << " to tag " << e.channel_tag;
        }
        continue;
      }
      const Assignment& a = *e.assignment;
      if (gone_tags_.count(e.channel_tag) != 0) {
        ADD_FAILURE() << "job " << a.job.id << " assigned to a disconnected worker";
        continue;
      }
      MWorker* w = WorkerById(tag_to_worker_.at(e.channel_tag));
      if (w == nullptr) {
        ADD_FAILURE() << "assignment to unknown worker tag " << e.channel_tag;
        continue;
      }
      auto it = jobs_.find(a.job.id);
      if (it == jobs_.end() || it->second.deleted) {
        ADD_FAILURE() << "assigned unknown job " << a.job.id;
        continue;
      }
      MJob& j = it->second;
      EXPECT_EQ(j.state, JobState::kQueued) << "assigned job " << j.id << " was not QUEUED";
      EXPECT_LT(w->leases.size(), static_cast<size_t>(std::max(0, w->concurrency)))
          << "worker " << w->id << " over its concurrency";
      EXPECT_EQ(a.attempt, j.attempts + 1) << "job " << j.id;
      for (FencingToken t : j.tokens) EXPECT_GT(a.token, t) << "job " << j.id;
      EXPECT_EQ(a.lease_expires_at, Now() + kModelLease);
      j.state = JobState::kRunning;
      j.attempts += 1;
      j.token = a.token;
      j.tokens.push_back(a.token);
      j.worker = w->id;
      j.lease_expires = a.lease_expires_at;
      w->leases.insert(j.id);
      assigned.push_back(j.id);
    }
    log_->entries.clear();
    for (const auto& c : required_cancels_) {
      ADD_FAILURE() << "worker tag " << std::get<0>(c) << " was not told to cancel job "
                    << std::get<1>(c) << " token " << std::get<2>(c);
    }
    required_cancels_.clear();
    allowed_cancels_.clear();
    if (!assigned.empty()) {
      int32_t lowest = 1000;
      for (JobId id : assigned) lowest = std::min(lowest, jobs_.at(id).priority);
      for (JobId id : JobsIn(JobState::kQueued)) {
        EXPECT_LE(jobs_.at(id).priority, lowest)
            << "job " << id << " (priority " << jobs_.at(id).priority
            << ") left QUEUED while one of priority " << lowest << " was dispatched";
      }
    }
  }

  // Everything the engine reports must match the model.
  void CheckAgreement() {
    const std::vector<JobId> queued = JobsIn(JobState::kQueued);
    if (!queued.empty()) {
      for (const MWorker& w : workers_) {
        if (w.suspended) continue;
        EXPECT_GE(w.leases.size(), static_cast<size_t>(std::max(0, w.concurrency)))
            << "worker " << w.id << " has a free slot while job " << queued[0] << " waits";
      }
    }
    std::array<int64_t, 7> counts{};
    size_t running = 0;
    for (const auto& [id, mj] : jobs_) {
      if (mj.deleted) continue;
      ++counts[static_cast<int>(mj.state)];
      running += mj.state == JobState::kRunning ? 1 : 0;
      auto got = engine().GetJob(id);
      if (!got.ok()) {
        ADD_FAILURE() << "job " << id << ": " << got.status();
        continue;
      }
      EXPECT_EQ(got->state, mj.state) << "job " << id;
      EXPECT_EQ(got->attempts, mj.attempts) << "job " << id;
      EXPECT_EQ(got->priority, mj.priority) << "job " << id;
      EXPECT_EQ(got->max_attempts, mj.max_attempts) << "job " << id;
      EXPECT_EQ(got->last_token, mj.token) << "job " << id;
      if (mj.state == JobState::kScheduled) {
        EXPECT_EQ(got->run_at, mj.run_at) << "job " << id;
      }
      if (mj.state == JobState::kDead) {
        EXPECT_EQ(got->dead_reason, mj.dead_reason) << "job " << id;
      }
      if (IsTerminal(mj.state)) {
        EXPECT_EQ(got->expires_at, mj.expires_at) << "job " << id;
      }
    }
    EXPECT_EQ(engine().RunningCount(), running);

    std::vector<WorkerStats> ws = engine().ListWorkers();
    EXPECT_EQ(ws.size(), workers_.size());
    std::map<JobId, int> leases_of_job;
    for (const WorkerStats& s : ws) {
      MWorker* w = WorkerById(s.id);
      if (w == nullptr) {
        ADD_FAILURE() << "engine lists worker " << s.id << " the model disconnected";
        continue;
      }
      EXPECT_EQ(s.hello.concurrency, w->concurrency) << "worker " << s.id;
      std::set<JobId> held;
      for (const LeaseInfo& l : s.leases) {
        held.insert(l.job);
        ++leases_of_job[l.job];
        auto it = jobs_.find(l.job);
        if (it == jobs_.end()) continue;
        EXPECT_EQ(l.token, it->second.token) << "lease of job " << l.job;
        EXPECT_EQ(l.expires_at, it->second.lease_expires) << "lease of job " << l.job;
      }
      EXPECT_EQ(held, w->leases) << "leases of worker " << s.id;
    }
    for (const auto& [id, mj] : jobs_) {
      if (!mj.deleted && mj.state == JobState::kRunning) {
        EXPECT_EQ(leases_of_job[id], 1) << "RUNNING job " << id << " must have exactly one lease";
      }
    }
    for (const auto& [id, n] : leases_of_job) {
      EXPECT_EQ(jobs_.at(id).state, JobState::kRunning) << "lease on a job that is not RUNNING";
    }

    QueueStats q = StatsOf("q");
    EXPECT_EQ(q.scheduled, counts[static_cast<int>(JobState::kScheduled)]);
    EXPECT_EQ(q.queued, counts[static_cast<int>(JobState::kQueued)]);
    EXPECT_EQ(q.running, counts[static_cast<int>(JobState::kRunning)]);
    EXPECT_EQ(q.succeeded, counts[static_cast<int>(JobState::kSucceeded)]);
    EXPECT_EQ(q.dead, counts[static_cast<int>(JobState::kDead)]);
    EXPECT_EQ(q.cancelled, counts[static_cast<int>(JobState::kCancelled)]);
  }

  std::mt19937_64 rng_;
  std::shared_ptr<ChannelLog> log_;
  std::map<JobId, MJob> jobs_;
  std::vector<MWorker> workers_;
  std::map<int, WorkerId> tag_to_worker_;
  std::set<int> gone_tags_;
  std::map<std::string, JobId> keys_;
  JobId last_id_;
  int next_tag_ = 1;
  std::string trace_;
  std::set<std::tuple<int, uint64_t, uint64_t>> required_cancels_;  // (tag, job, token)
  std::set<std::tuple<int, uint64_t, uint64_t>> allowed_cancels_;
};

TEST_P(RandomizedTest, EngineAgreesWithTheModel) {
  constexpr int kOps = 4000;
  std::deque<std::string> recent;
  int op_counts[9] = {};
  for (int step = 0; step < kOps; ++step) {
    const int r = Uniform(0, 99);
    int op;
    if (r < 20)
      op = 0;  // submit
    else if (r < 24)
      op = 1;  // connect
    else if (r < 26)
      op = 2;  // disconnect
    else if (r < 30)
      op = 3;  // set concurrency
    else if (r < 35)
      op = 4;  // heartbeat
    else if (r < 62)
      op = 5;  // answer
    else if (r < 66)
      op = 6;  // late answer
    else if (r < 71)
      op = 7;  // cancel
    else
      op = 8;  // advance time
    ++op_counts[op];
    trace_.clear();
    switch (op) {
      case 0:
        OpSubmit();
        break;
      case 1:
        OpConnect();
        break;
      case 2:
        OpDisconnect();
        break;
      case 3:
        OpSetConcurrency();
        break;
      case 4:
        OpHeartbeat();
        break;
      case 5:
        OpAnswer();
        break;
      case 6:
        OpLateAnswer();
        break;
      case 7:
        OpCancel();
        break;
      default:
        OpAdvance();
        break;
    }
    if (op != 8) ProcessEffects();
    if (!HasFailure()) CheckAgreement();
    recent.push_back(absl::StrCat(
        "#", step, " t+", absl::FormatDuration(Now() - absl::FromUnixSeconds(1'700'000'000)), " ",
        trace_));
    if (recent.size() > 15) recent.pop_front();
    if (HasFailure()) {
      ADD_FAILURE() << "seed " << GetParam() << ": engine and model disagree after step " << step
                    << "; the last operations:\n"
                    << absl::StrJoin(recent, "\n");
      return;
    }
  }
  ExpectReplayMatchesEngine();
  // The run exercised every path.
  size_t ended = 0;
  for (const auto& [id, j] : jobs_) ended += (j.deleted || IsTerminal(j.state)) ? 1 : 0;
  EXPECT_GT(ended, 200u);
  EXPECT_GT(observer_.Count(RecordingObserver::Kind::kDeleted), 50);
  for (int op = 0; op < 9; ++op) EXPECT_GT(op_counts[op], 20) << "operation " << op;
}

INSTANTIATE_TEST_SUITE_P(Seeds, RandomizedTest, ::testing::Values(1, 2, 3, 20240601));

}  // namespace
}  // namespace conveyor::testing
