#include "server/engine/engine.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/engine/errors.h"

namespace conveyor {
namespace {

constexpr int32_t kMaxPriority = 1000;
constexpr size_t kMaxKeyBytes = 256;
constexpr size_t kMaxLabels = 64;
constexpr size_t kMaxErrorBytes = 64 * 1024;

// Draws a full-jitter backoff delay after failed attempt `attempt` (>= 1).
absl::Duration BackoffDelay(const Backoff& b, int32_t attempt, Random& random) {
  double cap = absl::ToDoubleSeconds(b.initial) * std::pow(b.multiplier, attempt - 1);
  cap = std::min(cap, absl::ToDoubleSeconds(b.max));
  return absl::Seconds(cap * random.Uniform());
}

std::string Truncated(std::string s, size_t limit) {
  if (s.size() > limit) s.resize(limit);
  return s;
}

}  // namespace

Engine::Engine(const Clock* clock, Random* random, JobObserver* observer, EngineOptions options)
    : clock_(clock), random_(random), observer_(observer), options_(std::move(options)) {}

Engine::~Engine() = default;

void Engine::SetWakeupCallback(std::function<void()> callback) {
  OpLock lock(this);
  wakeup_callback_ = std::move(callback);
}

// ---------------------------------------------------------------------------
// Effects

void Engine::RunEffects() {
  while (true) {
    if (!delivery_mu_.TryLock()) return;  // The deliverer will run ours too.
    std::vector<Effect> batch;
    {
      OpLock lock(this);
      batch.swap(effects_);
    }
    for (auto& effect : batch) effect();
    delivery_mu_.Unlock();
    OpLock lock(this);
    if (effects_.empty()) return;
  }
}

void Engine::NoteChange() {
  ++seq_;
  if (op_changed_ || observer_ == nullptr) return;
  op_changed_ = true;
  observer_->OnOperationBegin();
}

Engine::OpLock::OpLock(Engine* engine) : engine_(engine) { engine_->mu_.Lock(); }

Engine::OpLock::~OpLock() ABSL_NO_THREAD_SAFETY_ANALYSIS {
  if (engine_->op_changed_) {
    engine_->op_changed_ = false;
    engine_->observer_->OnOperationEnd();
  }
  engine_->mu_.Unlock();
}

void Engine::NoteWakeup(absl::Time t) {
  if (t >= announced_wakeup_) return;
  announced_wakeup_ = t;
  if (wakeup_callback_) effects_.push_back(wakeup_callback_);
}

// ---------------------------------------------------------------------------
// Bookkeeping

QueueState& Engine::QueueFor(const std::string& name) {
  auto [it, inserted] = queues_.try_emplace(name);
  if (inserted) it->second.settings = options_.default_queue;
  return it->second;
}

const QueueSettings& Engine::SettingsOf(const std::string& queue) const {
  auto it = queues_.find(queue);
  return it == queues_.end() ? options_.default_queue : it->second.settings;
}

const Job& Engine::View(const JobRecord& job) {
  job.ToJob(view_);
  return view_;
}

void Engine::SetState(JobRecord& job, JobState state) {
  QueueState& qs = QueueFor(job.queue);
  --qs.counts[static_cast<int>(job.state)];
  ++qs.counts[static_cast<int>(state)];
  job.state = state;
}

void Engine::Created(const Job& job) {
  NoteChange();
  if (observer_ != nullptr) observer_->OnJobCreated(seq_, job);
}

void Engine::Changed(const JobRecord& job) {
  NoteChange();
  if (observer_ != nullptr) observer_->OnJobUpdated(seq_, View(job));
  auto it = watches_.find(job.id);
  if (it == watches_.end()) return;
  auto snapshot = std::make_shared<const Job>(View(job));
  const uint64_t seq = seq_;
  for (const WatchEntry& w : it->second) {
    effects_.push_back([watcher = w.watcher, snapshot, seq] {
      watcher->OnJobChanged(*snapshot, seq);
    });
  }
  if (IsTerminal(job.state)) watches_.erase(it);
}

void Engine::MakeReady(JobRecord& job) {
  SetState(job, JobState::kQueued);
  QueueFor(job.queue).ready.Add(job.type, ReadyQueue::KeyOf(job.priority, job.run_at, job.id));
}

void Engine::Schedule(JobRecord& job, absl::Time run_at) {
  SetState(job, JobState::kScheduled);
  job.run_at = run_at;
  delayed_.Add(run_at, job.id);
  NoteWakeup(run_at);
}

void Engine::Unindex(JobRecord& job) {
  switch (job.state) {
    case JobState::kScheduled:
      delayed_.Remove(job.run_at, job.id);
      break;
    case JobState::kQueued:
      QueueFor(job.queue).ready.Remove(job.type,
                                       ReadyQueue::KeyOf(job.priority, job.run_at, job.id));
      break;
    default:
      break;
  }
}

void Engine::EndLease(JobRecord& job, AttemptOutcome outcome, const std::string& error,
                      absl::Time now) {
  auto it = leases_.find(job.id);
  if (it == leases_.end() || job.state != JobState::kRunning) {
    abort();  // Broken invariant: every RUNNING job has exactly one lease.
  }
  const Lease lease = it->second;
  leases_.erase(it);
  lease_expiry_.Remove(lease.expires_at, job.id);
  auto wit = workers_.find(lease.worker);
  if (wit != workers_.end()) {
    wit->second.leases.erase(job.id);
    UpdateHunger(lease.worker, wit->second);
  }
  if (!job.rare_or_default().history.empty()) {
    Attempt& a = job.rare().history.back();
    a.ended_at = now;
    a.outcome = outcome;
    a.error = error;
    QueueCounters& counters = QueueFor(job.queue).counters;
    if (outcome == AttemptOutcome::kSucceeded || outcome == AttemptOutcome::kFailed) {
      counters.run_time.Observe(now - a.started_at);
    }
    if (outcome == AttemptOutcome::kFailed || outcome == AttemptOutcome::kTimedOut ||
        outcome == AttemptOutcome::kLeaseLost) {
      ++counters.failed_attempts;
    }
  }
}

void Engine::RetryOrBury(JobRecord& job, bool permanent, DeadReason reason_if_exhausted,
                         bool backoff, absl::Time now) {
  if (permanent) {
    job.rare().dead_reason = DeadReason::kPermanentFailure;
    Finish(job, JobState::kDead, now);
  } else if (job.attempts >= job.max_attempts) {
    job.rare().dead_reason = reason_if_exhausted;
    Finish(job, JobState::kDead, now);
  } else if (backoff) {
    Schedule(job, now + BackoffDelay(*job.backoff, job.attempts, *random_));
    Changed(job);
  } else {
    job.run_at = now;
    MakeReady(job);
    Changed(job);
  }
}

void Engine::Finish(JobRecord& job, JobState terminal, absl::Time now) {
  SetState(job, terminal);
  QueueCounters& counters = QueueFor(job.queue).counters;
  if (terminal == JobState::kSucceeded) ++counters.succeeded;
  if (terminal == JobState::kDead) ++counters.dead;
  if (terminal == JobState::kCancelled) ++counters.cancelled;
  if (job.deadline != absl::InfiniteFuture()) deadlines_.Remove(job.deadline, job.id);
  JobRare& rare = job.rare();
  rare.finished_at = now;
  rare.expires_at = now + SettingsOf(job.queue).retention;
  retention_.Add(rare.expires_at, job.id);
  NoteWakeup(rare.expires_at);
  Changed(job);
}

void Engine::CancelLocked(JobRecord& job, std::string reason, absl::Time now) {
  if (job.state == JobState::kRunning) {
    const Lease& lease = leases_.at(job.id);
    auto wit = workers_.find(lease.worker);
    if (wit != workers_.end()) {
      effects_.push_back([channel = wit->second.channel, id = job.id, token = lease.token,
                          reason] { channel->Cancel(id, token, reason); });
    }
    EndLease(job, AttemptOutcome::kCancelled, reason, now);
  } else {
    Unindex(job);
  }
  job.rare().cancel_reason = std::move(reason);
  Finish(job, JobState::kCancelled, now);
}

void Engine::DeleteJob(JobId id) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return;
  JobRecord& job = it->second;
  if (!job.idempotency_key().empty()) {
    auto key_it = idempotency_.find(std::make_pair(job.queue.str(), job.idempotency_key()));
    if (key_it != idempotency_.end() && key_it->second == id) idempotency_.erase(key_it);
  }
  retention_.Remove(job.expires_at(), id);
  QueueState& qs = QueueFor(job.queue);
  --qs.counts[static_cast<int>(job.state)];
  watches_.erase(id);
  job.ReleaseNames(names_);
  jobs_.erase(it);
  NoteChange();
  if (observer_ != nullptr) observer_->OnJobDeleted(seq_, id);
}

absl::StatusOr<JobRecord*> Engine::CheckLease(WorkerId worker, JobId id, FencingToken token) {
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return errors::JobNotFound(id);
  auto lit = leases_.find(id);
  if (lit == leases_.end() || lit->second.token != token) return errors::LeaseLost(id, token);
  if (lit->second.worker != worker) return errors::NotYourLease(id, token);
  return &it->second;
}

// ---------------------------------------------------------------------------
// Validation

absl::Status Engine::ValidateSpec(size_t index, const JobSpec& spec) const {
  const std::string at = absl::StrCat("jobs[", index, "]");
  absl::Status s = errors::CheckName(at + ".queue", spec.queue);
  if (!s.ok()) return s;
  s = errors::CheckName(at + ".type", spec.type);
  if (!s.ok()) return s;
  auto invalid = [&](auto&&... parts) {
    return absl::InvalidArgumentError(absl::StrCat(at, ".", parts...));
  };
  if (spec.payload.size() > options_.max_payload_bytes) {
    return invalid("payload is ", spec.payload.size(), " bytes; the limit is ",
                   options_.max_payload_bytes, " (store large data elsewhere, pass a reference)");
  }
  if (spec.priority < -kMaxPriority || spec.priority > kMaxPriority) {
    return invalid("priority must be -1000 to 1000 (got ", spec.priority, ")");
  }
  if (spec.delay && spec.run_at) return invalid("delay and run_at: set at most one");
  if (spec.delay && *spec.delay < absl::ZeroDuration()) {
    return invalid("delay must not be negative (got ", absl::FormatDuration(*spec.delay), ")");
  }
  if (spec.max_attempts < 0 || spec.max_attempts > 1000) {
    return invalid("max_attempts must be 0 (queue default) to 1000 (got ", spec.max_attempts,
                   ")");
  }
  if (spec.backoff) {
    s = CheckBackoff(at + ".backoff", *spec.backoff);
    if (!s.ok()) return s;
  }
  if (spec.attempt_timeout < absl::ZeroDuration()) {
    return invalid("attempt_timeout must not be negative");
  }
  if (spec.deadline && spec.timeout) return invalid("deadline and timeout: set at most one");
  if (spec.timeout && *spec.timeout <= absl::ZeroDuration()) {
    return invalid("timeout must be positive (got ", absl::FormatDuration(*spec.timeout), ")");
  }
  if (spec.idempotency_key.size() > kMaxKeyBytes) {
    return invalid("idempotency_key is ", spec.idempotency_key.size(),
                   " bytes; at most 256");
  }
  if (spec.labels.size() > kMaxLabels) {
    return invalid("labels has ", spec.labels.size(), " entries; at most 64");
  }
  return absl::OkStatus();
}

absl::Status Engine::CheckDepth(const std::string& name, const QueueState* queue,
                                int64_t adding) const {
  const int64_t own = queue == nullptr ? 0 : queue->settings.max_depth;
  const int64_t limit = own > 0 ? own : options_.max_queue_depth;
  const int64_t holds = queue == nullptr ? 0 : queue->unended();
  if (limit <= 0 || holds + adding <= limit) return absl::OkStatus();
  return errors::QueueFull(name, holds, adding, limit, /*own_setting=*/own > 0);
}

// ---------------------------------------------------------------------------
// Producers

absl::StatusOr<Mutation<std::vector<SubmitResult>>> Engine::Submit(std::vector<JobSpec> specs) {
  if (specs.empty()) return absl::InvalidArgumentError("submit at least one job");
  if (specs.size() > options_.max_batch) {
    return absl::ResourceExhaustedError(absl::StrCat("batch of ", specs.size(),
                                                     " jobs is over the limit of ",
                                                     options_.max_batch, "; split it"));
  }
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::Status s = ValidateSpec(i, specs[i]);
    if (!s.ok()) return s;
  }
  Mutation<std::vector<SubmitResult>> out;
  {
    OpLock lock(this);
    if (draining_) return errors::Draining();
    const absl::Time now = clock_->Now();
    // First pass: resolve duplicates and check limits, changing nothing.
    out.value.resize(specs.size());
    std::vector<bool> fresh(specs.size(), false);
    absl::flat_hash_map<std::pair<std::string, std::string>, size_t> batch_keys;
    absl::flat_hash_map<std::string, int64_t> new_per_queue;
    for (size_t i = 0; i < specs.size(); ++i) {
      const JobSpec& spec = specs[i];
      if (!spec.idempotency_key.empty()) {
        auto key = std::make_pair(spec.queue, spec.idempotency_key);
        if (auto it = idempotency_.find(key); it != idempotency_.end()) {
          out.value[i] = SubmitResult{it->second, true};
          continue;
        }
        if (auto [it, inserted] = batch_keys.try_emplace(key, i); !inserted) {
          out.value[i].duplicate = true;  // Id filled in below from the first.
          continue;
        }
      }
      fresh[i] = true;
      ++new_per_queue[spec.queue];
    }
    size_t new_queues = 0;
    for (const auto& [queue, n] : new_per_queue) {
      auto it = queues_.find(queue);
      if (it == queues_.end()) ++new_queues;
      absl::Status s = CheckDepth(queue, it == queues_.end() ? nullptr : &it->second, n);
      if (!s.ok()) return s;
    }
    if (queues_.size() + new_queues > options_.max_queues) {
      return errors::TooManyQueues(queues_.size(), options_.max_queues);
    }
    // Second pass: create.
    for (size_t i = 0; i < specs.size(); ++i) {
      if (!fresh[i]) continue;
      JobSpec& spec = specs[i];
      QueueState& qs = QueueFor(spec.queue);
      const QueueSettings& settings = qs.settings;
      last_job_id_ = JobId{last_job_id_.value + 1};
      Job job;
      job.id = last_job_id_;
      job.queue = std::move(spec.queue);
      job.type = std::move(spec.type);
      job.payload = std::move(spec.payload);
      job.priority = spec.priority;
      job.labels = std::move(spec.labels);
      job.idempotency_key = std::move(spec.idempotency_key);
      job.max_attempts = spec.max_attempts > 0 ? spec.max_attempts : settings.max_attempts;
      job.backoff = spec.backoff.value_or(settings.backoff);
      job.attempt_timeout = spec.attempt_timeout;
      if (spec.deadline) job.deadline = *spec.deadline;
      if (spec.timeout) job.deadline = now + *spec.timeout;
      job.created_at = now;
      job.run_at = now;
      if (spec.run_at) job.run_at = std::max(now, *spec.run_at);
      if (spec.delay) job.run_at = now + *spec.delay;
      out.value[i] = SubmitResult{job.id, false};
      if (!job.idempotency_key.empty()) {
        idempotency_[std::make_pair(job.queue, job.idempotency_key)] = job.id;
      }
      // Counted as QUEUED first; MakeReady/Schedule move the count.
      ++qs.counts[static_cast<int>(JobState::kQueued)];
      job.state = JobState::kQueued;
      ++qs.counters.submitted;
      const bool delayed = job.run_at > now;
      if (delayed) job.state = JobState::kScheduled;
      Created(job);
      job.state = JobState::kQueued;
      JobRecord& stored =
          jobs_.emplace(job.id, JobRecord::FromJob(job, names_, backoffs_)).first->second;
      if (delayed) {
        SetState(stored, JobState::kScheduled);
        delayed_.Add(stored.run_at, stored.id);
        NoteWakeup(stored.run_at);
      } else {
        qs.ready.Add(stored.type, ReadyQueue::KeyOf(stored.priority, stored.run_at, stored.id));
      }
      if (stored.deadline != absl::InfiniteFuture()) {
        deadlines_.Add(stored.deadline, stored.id);
        NoteWakeup(stored.deadline);
      }
    }
    for (size_t i = 0; i < specs.size(); ++i) {
      if (out.value[i].id.value == 0) {
        out.value[i].id = out.value[batch_keys.at({specs[i].queue, specs[i].idempotency_key})].id;
      }
    }
    for (const auto& [queue, n] : new_per_queue) DispatchQueue(queue, now);
    out.seq = seq_;
  }
  RunEffects();
  return out;
}

absl::StatusOr<Job> Engine::GetJob(JobId id) const {
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(id);
  if (it == jobs_.end()) return errors::JobNotFound(id);
  Job job;
  it->second.ToJob(job);
  return job;
}

std::vector<Job> Engine::ListJobs(const JobFilter& filter, bool omit_payloads) const {
  std::vector<Job> out;
  absl::MutexLock lock(&mu_);
  for (auto it = jobs_.upper_bound(filter.after); it != jobs_.end() && out.size() < filter.limit;
       ++it) {
    const JobRecord& job = it->second;
    if (!filter.queue.empty() && job.queue != filter.queue) continue;
    if (filter.state && job.state != *filter.state) continue;
    job.ToJob(out.emplace_back(), !omit_payloads);
  }
  return out;
}

absl::StatusOr<Mutation<Job>> Engine::Cancel(JobId id, std::string reason) {
  Mutation<Job> out;
  {
    OpLock lock(this);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return errors::JobNotFound(id);
    JobRecord& job = it->second;
    if (IsTerminal(job.state)) return errors::AlreadyEnded(View(job));
    if (reason.empty()) reason = "cancelled by client";
    const absl::Time now = clock_->Now();
    const bool was_running = job.state == JobState::kRunning;
    const WorkerId worker = was_running ? leases_.at(id).worker : WorkerId{};
    CancelLocked(job, Truncated(std::move(reason), kMaxErrorBytes), now);
    job.ToJob(out.value);
    if (was_running) DispatchWorker(worker, now);
    DispatchQueue(job.queue, now);
    out.seq = seq_;
  }
  RunEffects();
  return out;
}

absl::StatusOr<uint64_t> Engine::Watch(JobId id, std::shared_ptr<JobWatcher> watcher) {
  uint64_t handle;
  {
    OpLock lock(this);
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return errors::JobNotFound(id);
    handle = ++watch_counter_;
    if (!IsTerminal(it->second.state)) watches_[id].push_back(WatchEntry{handle, watcher});
    effects_.push_back([watcher, job = View(it->second)] { watcher->OnJobChanged(job, 0); });
  }
  RunEffects();
  return handle;
}

void Engine::Unwatch(JobId id, uint64_t handle) {
  OpLock lock(this);
  auto it = watches_.find(id);
  if (it == watches_.end()) return;
  auto& list = it->second;
  list.erase(std::remove_if(list.begin(), list.end(),
                            [&](const WatchEntry& w) { return w.handle == handle; }),
             list.end());
  if (list.empty()) watches_.erase(it);
}

// ---------------------------------------------------------------------------
// Workers

absl::StatusOr<WorkerWelcome> Engine::ConnectWorker(WorkerHello hello,
                                                    std::shared_ptr<WorkerChannel> channel) {
  if (hello.queues.empty()) {
    return absl::InvalidArgumentError("hello.queues: name at least one queue to take jobs from");
  }
  for (const auto& q : hello.queues) {
    absl::Status s = errors::CheckName("hello.queues", q);
    if (!s.ok()) return s;
  }
  for (const auto& t : hello.types) {
    absl::Status s = errors::CheckName("hello.types", t);
    if (!s.ok()) return s;
  }
  if (hello.concurrency < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("hello.concurrency must be at least 1 (got ", hello.concurrency, ")"));
  }
  if (hello.prefetch < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("hello.prefetch must be 0 or more (got ", hello.prefetch, ")"));
  }
  std::sort(hello.queues.begin(), hello.queues.end());
  hello.queues.erase(std::unique(hello.queues.begin(), hello.queues.end()), hello.queues.end());
  hello.concurrency = std::min(hello.concurrency, options_.max_worker_concurrency);
  hello.prefetch = std::min(hello.prefetch, options_.max_worker_concurrency);
  WorkerWelcome welcome;
  {
    OpLock lock(this);
    if (draining_) return errors::Draining();
    const absl::Time now = clock_->Now();
    last_worker_id_ = WorkerId{last_worker_id_.value + 1};
    const WorkerId id = last_worker_id_;
    absl::Duration lease = absl::InfiniteDuration();
    for (const auto& q : hello.queues) {
      QueueState& qs = QueueFor(q);
      ++qs.subscribers;
      lease = std::min(lease, qs.settings.lease_duration);
    }
    WorkerState& ws = workers_[id];
    ws.hello = std::move(hello);
    ws.channel = std::move(channel);
    ws.connected_at = now;
    ws.last_heartbeat = now;
    welcome = WorkerWelcome{id, ws.hello.concurrency, ws.hello.prefetch, lease, lease / 3};
    UpdateHunger(id, ws);
    DispatchWorker(id, now);
  }
  RunEffects();
  return welcome;
}

uint64_t Engine::DisconnectWorker(WorkerId worker) {
  uint64_t seq;
  {
    OpLock lock(this);
    auto wit = workers_.find(worker);
    if (wit == workers_.end()) return seq_;
    const absl::Time now = clock_->Now();
    const std::string name = wit->second.hello.name;
    std::vector<JobId> held(wit->second.leases.begin(), wit->second.leases.end());
    std::sort(held.begin(), held.end());
    // Unsubscribe first so the jobs it held go to other workers.
    wit->second.hello.concurrency = 0;
    UpdateHunger(worker, wit->second);
    for (const auto& q : wit->second.hello.queues) --QueueFor(q).subscribers;
    std::vector<std::string> queues = wit->second.hello.queues;
    for (JobId id : held) {
      JobRecord& job = jobs_.at(id);
      const std::string error = absl::StrCat("worker ", name, " disconnected while running it");
      EndLease(job, AttemptOutcome::kLeaseLost, error, now);
      job.rare().error = error;
      RetryOrBury(job, false, DeadReason::kLeaseLost, /*backoff=*/false, now);
      queues.push_back(job.queue);
    }
    workers_.erase(worker);
    std::sort(queues.begin(), queues.end());
    queues.erase(std::unique(queues.begin(), queues.end()), queues.end());
    for (const auto& q : queues) DispatchQueue(q, now);
    seq = seq_;
  }
  RunEffects();
  return seq;
}

absl::Status Engine::SetConcurrency(WorkerId worker, int32_t concurrency) {
  if (concurrency < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("concurrency must be >= 0 (got ", concurrency, ")"));
  }
  {
    OpLock lock(this);
    auto wit = workers_.find(worker);
    if (wit == workers_.end()) return errors::WorkerNotFound(worker);
    wit->second.hello.concurrency = std::min(concurrency, options_.max_worker_concurrency);
    UpdateHunger(worker, wit->second);
    DispatchWorker(worker, clock_->Now());
  }
  RunEffects();
  return absl::OkStatus();
}

absl::Status Engine::Heartbeat(WorkerId worker) {
  {
    OpLock lock(this);
    auto wit = workers_.find(worker);
    if (wit == workers_.end()) return errors::WorkerNotFound(worker);
    const absl::Time now = clock_->Now();
    WorkerState& ws = wit->second;
    ws.last_heartbeat = now;
    for (JobId id : ws.leases) {
      Lease& lease = leases_.at(id);
      const absl::Time expires =
          std::min(now + SettingsOf(jobs_.at(id).queue).lease_duration, lease.attempt_deadline);
      if (expires == lease.expires_at) continue;
      lease_expiry_.Remove(lease.expires_at, id);
      lease.expires_at = expires;
      lease_expiry_.Add(expires, id);
    }
    if (ws.suspended) {
      ws.suspended = false;
      UpdateHunger(worker, ws);
      DispatchWorker(worker, now);
    }
  }
  RunEffects();
  return absl::OkStatus();
}

namespace {

// The single-report form of Engine::Report's answer.
absl::StatusOr<Mutation<JobTransition>> OnlyAnswer(Engine::ReportAnswers out) {
  absl::StatusOr<JobTransition>& answer = out.answers.at(0);
  if (!answer.ok()) return answer.status();
  return Mutation<JobTransition>{*answer, out.seq};
}

WorkerReport MakeReport(WorkerReport::Kind kind, JobId job, FencingToken token) {
  WorkerReport r;
  r.kind = kind;
  r.job = job;
  r.token = token;
  return r;
}

}  // namespace

absl::StatusOr<Mutation<JobTransition>> Engine::Complete(WorkerId worker, JobId id,
                                                         FencingToken token, std::string result) {
  std::vector<WorkerReport> reports(1, MakeReport(WorkerReport::Kind::kComplete, id, token));
  reports[0].text = std::move(result);
  return OnlyAnswer(Report(worker, std::move(reports)));
}

absl::StatusOr<Mutation<JobTransition>> Engine::Fail(WorkerId worker, JobId id, FencingToken token,
                                                     std::string error, bool permanent) {
  std::vector<WorkerReport> reports(1, MakeReport(WorkerReport::Kind::kFail, id, token));
  reports[0].text = std::move(error);
  reports[0].permanent = permanent;
  return OnlyAnswer(Report(worker, std::move(reports)));
}

absl::StatusOr<Mutation<JobTransition>> Engine::Release(WorkerId worker, JobId id,
                                                        FencingToken token) {
  std::vector<WorkerReport> reports(1, MakeReport(WorkerReport::Kind::kRelease, id, token));
  return OnlyAnswer(Report(worker, std::move(reports)));
}

absl::StatusOr<Mutation<JobTransition>> Engine::ReportProgress(WorkerId worker, JobId id,
                                                               FencingToken token,
                                                               Progress progress) {
  std::vector<WorkerReport> reports(1, MakeReport(WorkerReport::Kind::kProgress, id, token));
  reports[0].text = std::move(progress.message);
  reports[0].percent = progress.percent;
  return OnlyAnswer(Report(worker, std::move(reports)));
}

Engine::ReportAnswers Engine::Report(WorkerId worker, std::vector<WorkerReport> reports) {
  ReportAnswers out;
  out.answers.reserve(reports.size());
  {
    OpLock lock(this);
    const absl::Time now = clock_->Now();
    for (WorkerReport& report : reports) {
      out.answers.push_back(ApplyReport(worker, report, now));
      const absl::Status& s = out.answers.back().status();
      if (absl::IsPermissionDenied(s) || absl::IsInvalidArgument(s)) break;
    }
    out.seq = seq_;
  }
  RunEffects();
  return out;
}

absl::StatusOr<JobTransition> Engine::ApplyReport(WorkerId worker, WorkerReport& report,
                                                  absl::Time now) {
  using Kind = WorkerReport::Kind;
  if (report.kind == Kind::kComplete && report.text.size() > options_.max_payload_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("result is ", report.text.size(),
                                                   " bytes; the limit is ",
                                                   options_.max_payload_bytes));
  }
  if (report.kind == Kind::kProgress && (report.percent < -1 || report.percent > 100)) {
    return absl::InvalidArgumentError(
        absl::StrCat("progress.percent must be -1 to 100 (got ", report.percent, ")"));
  }
  auto job_or = CheckLease(worker, report.job, report.token);
  if (!job_or.ok()) {
    const absl::Status& s = job_or.status();
    if (errors::IsStaleResult(s)) AnswerLocked(worker, report, s);
    return s;
  }
  JobRecord& job = **job_or;
  switch (report.kind) {
    case Kind::kComplete:
      EndLease(job, AttemptOutcome::kSucceeded, "", now);
      job.rare().result = std::move(report.text);
      Finish(job, JobState::kSucceeded, now);
      break;
    case Kind::kFail: {
      std::string error = Truncated(std::move(report.text), kMaxErrorBytes);
      if (error.empty()) error = "failed (no error text)";
      EndLease(job, AttemptOutcome::kFailed, error, now);
      job.rare().error = std::move(error);
      RetryOrBury(job, report.permanent, DeadReason::kAttemptsExhausted, /*backoff=*/true, now);
      break;
    }
    case Kind::kRelease:
      EndLease(job, AttemptOutcome::kReleased, "", now);
      --job.attempts;
      MakeReady(job);  // Keeps its run_at: back at its old place in line.
      Changed(job);
      break;
    case Kind::kProgress:
      job.rare().progress.percent = report.percent;
      job.rare().progress.message = Truncated(std::move(report.text), kMaxErrorBytes);
      Changed(job);
      break;
  }
  // The job's state after the answer, before the dispatch it lets happen:
  // the worker hears the answer before the assignments of the slot it freed.
  const JobTransition transition{job.state, job.attempts};
  AnswerLocked(worker, report, absl::OkStatus());
  switch (report.kind) {
    case Kind::kComplete:
    case Kind::kFail:
      // The freed slot's worker first, unless what it freed is only room for
      // a prefetch: then a free slot elsewhere comes first.
      if (HasFreeSlot(workers_.at(worker))) {  // CheckLease found the worker.
        DispatchWorker(worker, now);
        DispatchQueue(job.queue, now);
      } else {
        DispatchQueue(job.queue, now);
        DispatchWorker(worker, now);
      }
      break;
    case Kind::kRelease:
      DispatchQueue(job.queue, now);  // Not to this worker first: it gave it back.
      DispatchWorker(worker, now);
      break;
    case Kind::kProgress:
      break;
  }
  return transition;
}

void Engine::AnswerLocked(WorkerId worker, const WorkerReport& report, absl::Status verdict) {
  if (report.kind == WorkerReport::Kind::kProgress) return;
  auto wit = workers_.find(worker);
  if (wit == workers_.end()) return;
  const uint64_t seq = verdict.ok() ? seq_ : 0;
  effects_.push_back([channel = wit->second.channel, job = report.job, token = report.token,
                      verdict = std::move(verdict), seq] {
    channel->Answer(job, token, verdict, seq);
  });
}

// ---------------------------------------------------------------------------
// Dispatch

bool Engine::HasCredit(const WorkerState& ws) const {
  if (draining_ || ws.suspended || ws.hello.concurrency == 0) return false;
  return ws.leases.size() <
         static_cast<size_t>(ws.hello.concurrency) + static_cast<size_t>(ws.hello.prefetch);
}

bool Engine::HasFreeSlot(const WorkerState& ws) const {
  return ws.leases.size() < static_cast<size_t>(ws.hello.concurrency);
}

void Engine::UpdateHunger(WorkerId worker, WorkerState& ws) {
  const bool hungry = HasCredit(ws);
  // Workers with a free slot come first; those with only prefetch room after
  // them all, each group least recently assigned first.
  constexpr uint64_t kPrefetchOnly = uint64_t{1} << 62;
  const uint64_t key = ws.last_assign + 1 + (HasFreeSlot(ws) ? 0 : kPrefetchOnly);  // Never 0.
  if (ws.hungry_key != 0 && (!hungry || ws.hungry_key != key)) {
    for (const auto& q : ws.hello.queues) QueueFor(q).hungry.erase({ws.hungry_key, worker});
    ws.hungry_key = 0;
  }
  if (hungry && ws.hungry_key == 0) {
    ws.hungry_key = key;
    for (const auto& q : ws.hello.queues) QueueFor(q).hungry.insert({ws.hungry_key, worker});
  }
}

bool Engine::CanDispatch(const std::string& name, QueueState& qs, absl::Time now) {
  if (draining_ || qs.settings.paused || qs.ready.empty()) return false;
  if (qs.settings.max_running > 0 && qs.count(JobState::kRunning) >= qs.settings.max_running) {
    return false;
  }
  if (qs.settings.rate_limit > 0 && !qs.rate.Ready(qs.settings.rate_limit, now)) {
    rate_blocked_.insert(name);
    NoteWakeup(qs.rate.NextToken(qs.settings.rate_limit));
    return false;
  }
  return true;
}

bool Engine::TryAssign(WorkerId worker, WorkerState& ws, QueueState& qs, absl::Time now) {
  auto key = qs.ready.PopBest(ws.hello.types);
  if (!key) return false;
  JobRecord& job = jobs_.at(key->id);
  if (qs.settings.rate_limit > 0) qs.rate.Take();
  ++qs.counters.dispatched;
  if (now > job.run_at) qs.counters.queue_wait.Observe(now - job.run_at);
  SetState(job, JobState::kRunning);
  ++job.attempts;
  job.last_token = FencingToken{job.last_token.value + 1};
  JobRare& rare = job.rare();
  rare.progress = Progress{};
  Attempt attempt;
  attempt.number = job.attempts;
  attempt.worker = worker;
  attempt.worker_name = ws.hello.name;
  attempt.started_at = now;
  rare.history.push_back(std::move(attempt));
  Lease lease;
  lease.worker = worker;
  lease.token = job.last_token;
  lease.attempt_deadline = rare.attempt_timeout > absl::ZeroDuration()
                               ? now + rare.attempt_timeout
                               : absl::InfiniteFuture();
  lease.expires_at = std::min(now + qs.settings.lease_duration, lease.attempt_deadline);
  leases_[job.id] = lease;
  lease_expiry_.Add(lease.expires_at, job.id);
  NoteWakeup(lease.expires_at);
  ws.leases.insert(job.id);
  ws.last_assign = ++dispatch_counter_;
  UpdateHunger(worker, ws);
  Changed(job);
  auto assignment = std::make_shared<Assignment>();
  assignment->job = JobForWorker(View(job));
  assignment->attempt = job.attempts;
  assignment->token = lease.token;
  assignment->lease_expires_at = lease.expires_at;
  assignment->deadline = std::min(job.deadline.time(), lease.attempt_deadline);
  assignment->seq = seq_;  // Changed(job) recorded the grant.
  effects_.push_back(
      [channel = ws.channel, assignment] { channel->Assign(std::move(*assignment)); });
  return true;
}

void Engine::DispatchQueue(const std::string& name, absl::Time now) {
  auto qit = queues_.find(name);
  if (qit == queues_.end()) return;
  QueueState& qs = qit->second;
  std::pair<uint64_t, WorkerId> cursor{0, WorkerId{0}};
  while (CanDispatch(name, qs, now)) {
    auto it = qs.hungry.upper_bound(cursor);
    if (it == qs.hungry.end()) break;
    cursor = *it;
    WorkerState& ws = workers_.at(cursor.second);
    TryAssign(cursor.second, ws, qs, now);  // Moves the worker behind the cursor's end.
  }
}

void Engine::DispatchWorker(WorkerId worker, absl::Time now) {
  auto wit = workers_.find(worker);
  if (wit == workers_.end()) return;
  WorkerState& ws = wit->second;
  const size_t n = ws.hello.queues.size();
  while (HasCredit(ws)) {
    bool assigned = false;
    for (size_t i = 0; i < n && !assigned; ++i) {
      const size_t index = (ws.next_queue + i) % n;
      const std::string& name = ws.hello.queues[index];
      QueueState& qs = QueueFor(name);
      if (CanDispatch(name, qs, now) && TryAssign(worker, ws, qs, now)) {
        ws.next_queue = (index + 1) % n;
        assigned = true;
      }
    }
    if (!assigned) break;
  }
}

// ---------------------------------------------------------------------------
// Time

absl::Time Engine::NextWakeup() const {
  absl::MutexLock lock(&mu_);
  return NextWakeupLocked();
}

absl::Time Engine::NextWakeupLocked() const {
  absl::Time next = std::min({delayed_.Next(), lease_expiry_.Next(), deadlines_.Next(),
                              retention_.Next()});
  for (const auto& name : rate_blocked_) {
    auto it = queues_.find(name);
    if (it != queues_.end()) {
      next = std::min(next, it->second.rate.NextToken(it->second.settings.rate_limit));
    }
  }
  return next;
}

uint64_t Engine::Tick() {
  uint64_t seq;
  {
    OpLock lock(this);
    const absl::Time now = clock_->Now();
    absl::flat_hash_set<std::string> touched;
    absl::flat_hash_set<WorkerId> freed;
    for (const auto& [at, id] : delayed_.PopDue(now)) {
      JobRecord& job = jobs_.at(id);
      MakeReady(job);  // run_at stays the due time: FIFO by when it became ready.
      Changed(job);
      touched.insert(job.queue.str());
    }
    for (const auto& [at, id] : lease_expiry_.PopDue(now)) {
      lease_expiry_.Add(at, id);  // EndLease removes it again.
      JobRecord& job = jobs_.at(id);
      const Lease lease = leases_.at(id);
      const bool timed_out = now >= lease.attempt_deadline;
      auto wit = workers_.find(lease.worker);
      const std::string worker_name = wit != workers_.end() ? wit->second.hello.name : "?";
      const std::string error =
          timed_out ? absl::StrCat("attempt timed out after ",
                                   absl::FormatDuration(job.attempt_timeout()))
                    : absl::StrCat("lease expired: no heartbeat from worker ", worker_name,
                                   " within ",
                                   absl::FormatDuration(SettingsOf(job.queue).lease_duration));
      if (wit != workers_.end()) {
        effects_.push_back([channel = wit->second.channel, job_id = id, token = lease.token, error] {
          channel->Cancel(job_id, token, error);
        });
        if (timed_out) {
          freed.insert(lease.worker);  // The handler ran long; the worker is alive.
        } else {
          wit->second.suspended = true;  // Silent: no new jobs until it heartbeats.
        }
      }
      ++QueueFor(job.queue).counters.leases_expired;
      EndLease(job, timed_out ? AttemptOutcome::kTimedOut : AttemptOutcome::kLeaseLost, error,
               now);
      job.rare().error = error;
      RetryOrBury(job, false, DeadReason::kLeaseLost, /*backoff=*/false, now);
      touched.insert(job.queue.str());
    }
    for (const auto& [at, id] : deadlines_.PopDue(now)) {
      deadlines_.Add(at, id);  // Finish removes it again.
      JobRecord& job = jobs_.at(id);
      if (job.state == JobState::kRunning) freed.insert(leases_.at(id).worker);
      CancelLocked(job, "deadline exceeded", now);
      touched.insert(job.queue.str());
    }
    for (const auto& [at, id] : retention_.PopDue(now)) {
      retention_.Add(at, id);  // DeleteJob removes it again.
      DeleteJob(id);
    }
    for (const auto& name : rate_blocked_) touched.insert(name);
    rate_blocked_.clear();
    for (WorkerId w : freed) DispatchWorker(w, now);
    for (const auto& name : touched) DispatchQueue(name, now);
    announced_wakeup_ = NextWakeupLocked();
    seq = seq_;
  }
  RunEffects();
  return seq;
}

// ---------------------------------------------------------------------------
// Admin

QueueStats Engine::StatsOf(const std::string& name, const QueueState& qs, absl::Time now) const {
  QueueStats s;
  s.name = name;
  s.settings = qs.settings;
  s.scheduled = qs.count(JobState::kScheduled);
  s.queued = qs.count(JobState::kQueued);
  s.running = qs.count(JobState::kRunning);
  s.succeeded = qs.count(JobState::kSucceeded);
  s.dead = qs.count(JobState::kDead);
  s.cancelled = qs.count(JobState::kCancelled);
  const absl::Time oldest = qs.ready.OldestReadyAt();
  if (oldest < now) s.oldest_queued_age = now - oldest;
  s.counters = qs.counters;
  s.subscribers = static_cast<int32_t>(qs.subscribers);
  for (const auto& [id, ws] : workers_) {
    if (std::binary_search(ws.hello.queues.begin(), ws.hello.queues.end(), name)) {
      s.worker_slots += ws.hello.concurrency;
    }
  }
  return s;
}

std::vector<QueueStats> Engine::ListQueues() const {
  absl::MutexLock lock(&mu_);
  const absl::Time now = clock_->Now();
  std::vector<QueueStats> out;
  for (const auto& [name, qs] : queues_) out.push_back(StatsOf(name, qs, now));
  std::sort(out.begin(), out.end(),
            [](const QueueStats& a, const QueueStats& b) { return a.name < b.name; });
  return out;
}

absl::StatusOr<QueueStats> Engine::GetQueue(const std::string& name) const {
  absl::MutexLock lock(&mu_);
  auto it = queues_.find(name);
  if (it == queues_.end()) {
    return absl::NotFoundError(absl::StrCat("queue \"", name, "\" has no jobs, settings or workers"));
  }
  return StatsOf(name, it->second, clock_->Now());
}

absl::StatusOr<Mutation<QueueStats>> Engine::UpdateQueue(const std::string& name,
                                                         const QueueSettingsUpdate& update) {
  absl::Status s = errors::CheckName("queue", name);
  if (!s.ok()) return s;
  Mutation<QueueStats> out;
  {
    OpLock lock(this);
    if (!queues_.contains(name) && queues_.size() >= options_.max_queues) {
      return errors::TooManyQueues(queues_.size(), options_.max_queues);
    }
    auto settings = ApplyUpdate(SettingsOf(name), update);
    if (!settings.ok()) return settings.status();
    const absl::Time now = clock_->Now();
    QueueState& qs = QueueFor(name);
    qs.settings = *settings;
    qs.configured = true;
    NoteChange();
    if (observer_ != nullptr) observer_->OnQueueSettingsChanged(seq_, name, qs.settings);
    DispatchQueue(name, now);
    out.value = StatsOf(name, qs, now);
    out.seq = seq_;
  }
  RunEffects();
  return out;
}

std::vector<WorkerStats> Engine::ListWorkers() const {
  absl::MutexLock lock(&mu_);
  std::vector<WorkerStats> out;
  for (const auto& [id, ws] : workers_) {
    WorkerStats s;
    s.id = id;
    s.hello = ws.hello;
    s.connected_at = ws.connected_at;
    s.last_heartbeat = ws.last_heartbeat;
    s.draining = draining_;
    for (JobId job : ws.leases) {
      const Lease& lease = leases_.at(job);
      s.leases.push_back(LeaseInfo{job, lease.token, jobs_.at(job).attempts, lease.expires_at});
    }
    std::sort(s.leases.begin(), s.leases.end(),
              [](const LeaseInfo& a, const LeaseInfo& b) { return a.job < b.job; });
    out.push_back(std::move(s));
  }
  std::sort(out.begin(), out.end(),
            [](const WorkerStats& a, const WorkerStats& b) { return a.id < b.id; });
  return out;
}

std::vector<Job> Engine::ListDead(const std::string& queue, JobId after, size_t limit) const {
  JobFilter filter;
  filter.queue = queue;
  filter.state = JobState::kDead;
  filter.after = after;
  filter.limit = limit;
  return ListJobs(filter);
}

absl::StatusOr<std::vector<JobId>> Engine::SelectDead(const std::string& queue,
                                                      const std::vector<JobId>& ids) const {
  absl::Status s = errors::CheckName("queue", queue);
  if (!s.ok()) return s;
  std::vector<JobId> out;
  if (ids.empty()) {
    for (const auto& [id, job] : jobs_) {
      if (job.queue == queue && job.state == JobState::kDead) out.push_back(id);
    }
    return out;
  }
  for (JobId id : ids) {
    auto it = jobs_.find(id);
    if (it == jobs_.end()) return errors::JobNotFound(id);
    if (it->second.queue != queue) {
      return absl::FailedPreconditionError(absl::StrCat(
          "job ", id.value, " is in queue \"", it->second.queue.str(), "\", not \"", queue, "\""));
    }
    if (it->second.state != JobState::kDead) {
      return absl::FailedPreconditionError(absl::StrCat(
          "job ", id.value, " is ", JobStateName(it->second.state), ", not DEAD"));
    }
    out.push_back(id);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

absl::StatusOr<Mutation<int64_t>> Engine::Redrive(const std::string& queue,
                                                  const std::vector<JobId>& ids) {
  Mutation<int64_t> out;
  {
    OpLock lock(this);
    auto selected = SelectDead(queue, ids);
    if (!selected.ok()) return selected.status();
    const absl::Time now = clock_->Now();
    for (JobId id : *selected) {
      JobRecord& job = jobs_.at(id);
      retention_.Remove(job.expires_at(), id);
      job.attempts = 0;
      JobRare& rare = job.rare();
      rare.dead_reason = DeadReason::kNone;
      rare.finished_at = absl::InfinitePast();
      rare.expires_at = absl::InfiniteFuture();
      job.run_at = now;
      if (job.deadline != absl::InfiniteFuture()) {
        deadlines_.Add(job.deadline, id);
        NoteWakeup(job.deadline);
      }
      MakeReady(job);
      Changed(job);
    }
    out.value = static_cast<int64_t>(selected->size());
    DispatchQueue(queue, now);
    out.seq = seq_;
  }
  RunEffects();
  return out;
}

absl::StatusOr<Mutation<int64_t>> Engine::PurgeDead(const std::string& queue,
                                                    const std::vector<JobId>& ids) {
  Mutation<int64_t> out;
  OpLock lock(this);
  auto selected = SelectDead(queue, ids);
  if (!selected.ok()) return selected.status();
  for (JobId id : *selected) DeleteJob(id);
  out.value = static_cast<int64_t>(selected->size());
  out.seq = seq_;
  return out;
}

// ---------------------------------------------------------------------------
// Recovery and shutdown

void Engine::BeginDrain(absl::Duration grace) {
  {
    OpLock lock(this);
    if (draining_) return;
    draining_ = true;
    for (auto& [id, ws] : workers_) {
      UpdateHunger(id, ws);
      effects_.push_back([channel = ws.channel, grace] { channel->Drain(grace); });
    }
  }
  RunEffects();
}

bool Engine::draining() const {
  absl::MutexLock lock(&mu_);
  return draining_;
}

size_t Engine::RunningCount() const {
  absl::MutexLock lock(&mu_);
  return leases_.size();
}

}  // namespace conveyor
