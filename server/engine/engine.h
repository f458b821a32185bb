#ifndef CONVEYOR_SERVER_ENGINE_ENGINE_H_
#define CONVEYOR_SERVER_ENGINE_ENGINE_H_

// The job lifecycle engine: queues, scheduled jobs, leases, retries, the
// dead-letter queue. Start reading here.
//
// The engine keeps every job in memory and reports each durable change to a
// JobObserver (the store). Mutations return the sequence number of their
// last change; a caller that must not acknowledge before the change is
// durable waits for that number on the store. Time comes from a Clock and
// jitter from a Random: the engine never reads either directly, and never
// sleeps; a ticker calls Tick() at NextWakeup().

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/engine/clock.h"
#include "server/engine/ids.h"
#include "server/engine/job.h"
#include "server/engine/job_observer.h"
#include "server/engine/job_record.h"
#include "server/engine/queue_settings.h"
#include "server/engine/queue_state.h"
#include "server/engine/timer_set.h"
#include "server/engine/worker_channel.h"

namespace conveyor {

struct EngineOptions {
  // Largest payload or result, in bytes.
  size_t max_payload_bytes = 1 << 20;
  // Most specs in one Submit.
  size_t max_batch = 1000;
  // Concurrency announced by a worker above this is capped to it.
  int32_t max_worker_concurrency = 1000;
  // Most distinct queues (a queue exists once it has jobs, settings or
  // workers).
  size_t max_queues = 10000;
  // Most unfinished jobs in a queue whose settings leave max_depth at 0.
  int64_t max_queue_depth = 1000000;
  // Settings of a queue nobody configured.
  QueueSettings default_queue;
};

// Result of a mutation: a value and the sequence number to wait for.
template <typename T>
struct Mutation {
  T value;
  uint64_t seq = 0;  // 0: nothing to wait for.
};

// A job's state after a worker's answer: what callers log or check, without
// a copy of the job.
struct JobTransition {
  JobState state = JobState::kQueued;
  int32_t attempts = 0;
};

// A worker's answer about a leased job, for Engine::Report.
struct WorkerReport {
  enum class Kind { kComplete, kFail, kRelease, kProgress };
  Kind kind = Kind::kComplete;
  JobId job;
  FencingToken token;
  // Complete: the result. Fail: the error. Progress: the message.
  std::string text;
  bool permanent = false;  // Fail: dead at once, no retry.
  int32_t percent = -1;    // Progress: -1 (unknown) to 100.
};

struct SubmitResult {
  JobId id;
  bool duplicate = false;
};

struct JobFilter {
  std::string queue;               // Empty: any.
  std::optional<JobState> state;   // Unset: any.
  JobId after;                     // List ids greater than this.
  size_t limit = 100;
};

struct QueueStats {
  std::string name;
  QueueSettings settings;
  int64_t scheduled = 0, queued = 0, running = 0, succeeded = 0, dead = 0, cancelled = 0;
  absl::Duration oldest_queued_age = absl::ZeroDuration();
  QueueCounters counters;
  int32_t subscribers = 0;  // Connected workers taking from this queue.
  int64_t worker_slots = 0;  // Their summed concurrency.
};

struct LeaseInfo {
  JobId job;
  FencingToken token;
  int32_t attempt = 0;
  absl::Time expires_at;
};

// What a worker announces when it connects.
struct WorkerHello {
  std::string name;
  std::vector<std::string> queues;
  std::vector<std::string> types;  // Empty: every type.
  int32_t concurrency = 1;
  // Jobs it may hold beyond `concurrency`, waiting for a slot. Leased only
  // when no worker taking the job has a free slot; none while concurrency
  // is 0.
  int32_t prefetch = 0;
  Labels labels;
};

struct WorkerStats {
  WorkerId id;
  WorkerHello hello;  // concurrency: the value in force.
  absl::Time connected_at;
  absl::Time last_heartbeat;
  bool draining = false;
  std::vector<LeaseInfo> leases;
};

struct WorkerWelcome {
  WorkerId id;
  int32_t concurrency = 0;  // Possibly capped.
  int32_t prefetch = 0;     // Possibly capped.
  absl::Duration lease_duration;
  absl::Duration heartbeat_interval;
};

// Receives what a store recovered, piece by piece as the store reads it, so
// that no copy of every job is ever held at once (Store::RecoverTo).
class RecoverySink {
 public:
  virtual ~RecoverySink() = default;
  virtual void OnQueue(const std::string& name, const QueueSettings& settings) = 0;
  // A job, each once, in any order. The sink may move from `job`'s fields.
  // An error ends the recovery with it.
  virtual absl::Status OnJob(Job& job) = 0;
  // The greatest id ever assigned (deleted jobs included), if recorded.
  virtual void OnMaxJobId(JobId id) = 0;
};

// Everything a store recovered.
struct RecoveredState {
  std::vector<Job> jobs;
  std::vector<std::pair<std::string, QueueSettings>> queues;
  JobId max_job_id;  // The greatest id ever assigned (deleted jobs included).
};

// Thread-safe: every public method may be called from any thread. Observer,
// worker channel and watcher calls follow the rules in their headers.
class Engine {
 public:
  // `clock`, `random` and `observer` must outlive the engine; `observer` may
  // be null.
  Engine(const Clock* clock, Random* random, JobObserver* observer, EngineOptions options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Loads what a store recovered. Jobs that were RUNNING lose their lease:
  // the attempt counts as lost and they are queued again (or dead when it
  // was their last). REQUIRES: called once, before any other call.
  absl::Status Restore(RecoveredState state) ABSL_LOCKS_EXCLUDED(mu_);
  // Restore() from a store that streams: calls `read` once with a sink that
  // loads each piece as it arrives, then settles the jobs that were RUNNING.
  // Returns the number of jobs loaded, or the first error of `read` (the
  // engine must then be discarded). Same REQUIRES as Restore().
  absl::StatusOr<size_t> RestoreFrom(const std::function<absl::Status(RecoverySink&)>& read)
      ABSL_LOCKS_EXCLUDED(mu_);

  // Called (outside the lock) whenever NextWakeup() may have moved earlier.
  void SetWakeupCallback(std::function<void()> callback) ABSL_LOCKS_EXCLUDED(mu_);

  // --- Producers ---

  // Accepts all `specs` or none. INVALID_ARGUMENT for a malformed spec (the
  // message names its index and field), RESOURCE_EXHAUSTED for a batch over
  // max_batch, a queue over its max_depth (max_queue_depth when unset) or a
  // new queue beyond max_queues, UNAVAILABLE while draining.
  absl::StatusOr<Mutation<std::vector<SubmitResult>>> Submit(std::vector<JobSpec> specs)
      ABSL_LOCKS_EXCLUDED(mu_);
  // NOT_FOUND for unknown ids.
  absl::StatusOr<Job> GetJob(JobId id) const ABSL_LOCKS_EXCLUDED(mu_);
  // Jobs matching `filter`, by increasing id; payloads and results left out
  // when `omit_payloads`.
  std::vector<Job> ListJobs(const JobFilter& filter, bool omit_payloads = false) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Cancels a job that has not ended, telling its worker if it runs.
  // NOT_FOUND, or FAILED_PRECONDITION when it already ended.
  absl::StatusOr<Mutation<Job>> Cancel(JobId id, std::string reason) ABSL_LOCKS_EXCLUDED(mu_);

  // Calls `watcher` with the job now and after each change until it ends.
  // Returns a handle for Unwatch. NOT_FOUND for unknown ids.
  absl::StatusOr<uint64_t> Watch(JobId id, std::shared_ptr<JobWatcher> watcher)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Stops calls to the watcher (one already in flight may still arrive).
  void Unwatch(JobId id, uint64_t handle) ABSL_LOCKS_EXCLUDED(mu_);

  // --- Workers ---

  // Registers a worker; jobs are then assigned over `channel`.
  // INVALID_ARGUMENT for bad queue/type names or concurrency < 1;
  // UNAVAILABLE while draining.
  absl::StatusOr<WorkerWelcome> ConnectWorker(WorkerHello hello,
                                              std::shared_ptr<WorkerChannel> channel)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Ends a worker: each of its leases is lost (a failed attempt; retried or
  // dead). Unknown ids are ignored. Returns the seq to wait for.
  uint64_t DisconnectWorker(WorkerId worker) ABSL_LOCKS_EXCLUDED(mu_);
  // Changes how many jobs the worker runs at once (0 pauses it); capped like
  // the hello's. NOT_FOUND for unknown workers.
  absl::Status SetConcurrency(WorkerId worker, int32_t concurrency) ABSL_LOCKS_EXCLUDED(mu_);
  // Extends every lease of the worker by its queue's lease duration (never
  // past the attempt timeout), and lets a worker that lost a lease to expiry
  // take jobs again. NOT_FOUND for unknown workers.
  absl::Status Heartbeat(WorkerId worker) ABSL_LOCKS_EXCLUDED(mu_);

  // The worker's answers about a leased job. Each returns ABORTED when the
  // lease was lost (expired, cancelled, granted again; the result is dropped
  // and nothing changes), PERMISSION_DENIED when `token` is the current
  // lease of another worker, NOT_FOUND for unknown jobs, INVALID_ARGUMENT
  // for a result over the payload limit or a percent outside -1..100.
  // Each is Report() with one report.
  absl::StatusOr<Mutation<JobTransition>> Complete(WorkerId worker, JobId job, FencingToken token,
                                         std::string result) ABSL_LOCKS_EXCLUDED(mu_);
  // Retried after backoff, or dead when `permanent` or out of attempts.
  absl::StatusOr<Mutation<JobTransition>> Fail(WorkerId worker, JobId job, FencingToken token,
                                     std::string error, bool permanent)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Queued again at once; the attempt is not counted.
  absl::StatusOr<Mutation<JobTransition>> Release(WorkerId worker, JobId job, FencingToken token)
      ABSL_LOCKS_EXCLUDED(mu_);
  absl::StatusOr<Mutation<JobTransition>> ReportProgress(WorkerId worker, JobId job, FencingToken token,
                                               Progress progress) ABSL_LOCKS_EXCLUDED(mu_);
  // Applies `reports` in order, as one operation: one lock, one observer
  // bracket (the store makes them durable all or none), one seq to wait for
  // (`seq`, covering every change of the operation). answers[i] is what the
  // single call for reports[i] returns; a report answered ABORTED or
  // NOT_FOUND changed nothing and leaves the others as they are. The first
  // report answered PERMISSION_DENIED or INVALID_ARGUMENT (a broken worker)
  // ends the run: it is the last answer, and the reports after it are not
  // applied (answers is then shorter than reports). Each Complete, Fail and
  // Release answered OK, ABORTED or NOT_FOUND is also answered on the
  // worker's channel (WorkerChannel::Answer), in line with its assignments.
  struct ReportAnswers {
    std::vector<absl::StatusOr<JobTransition>> answers;
    uint64_t seq = 0;
  };
  ReportAnswers Report(WorkerId worker, std::vector<WorkerReport> reports)
      ABSL_LOCKS_EXCLUDED(mu_);

  // --- Time ---

  // The earliest time something is due (a delayed job, a lease expiry, a
  // deadline, a retention end, a rate-limit refill); InfiniteFuture if none.
  absl::Time NextWakeup() const ABSL_LOCKS_EXCLUDED(mu_);
  // Does everything due at the clock's now. Returns the seq to wait for.
  uint64_t Tick() ABSL_LOCKS_EXCLUDED(mu_);

  // --- Admin ---

  std::vector<QueueStats> ListQueues() const ABSL_LOCKS_EXCLUDED(mu_);
  // NOT_FOUND if the queue has neither jobs nor settings.
  absl::StatusOr<QueueStats> GetQueue(const std::string& name) const ABSL_LOCKS_EXCLUDED(mu_);
  // Creates the queue if needed. INVALID_ARGUMENT for bad names or values,
  // RESOURCE_EXHAUSTED for a new queue beyond max_queues.
  absl::StatusOr<Mutation<QueueStats>> UpdateQueue(const std::string& name,
                                                   const QueueSettingsUpdate& update)
      ABSL_LOCKS_EXCLUDED(mu_);
  std::vector<WorkerStats> ListWorkers() const ABSL_LOCKS_EXCLUDED(mu_);
  // Dead jobs (queue empty: all queues), by increasing id after `after`.
  std::vector<Job> ListDead(const std::string& queue, JobId after, size_t limit) const
      ABSL_LOCKS_EXCLUDED(mu_);
  // Queues dead jobs again with attempts reset. `ids` empty: every dead job
  // of `queue`. FAILED_PRECONDITION (nothing changed) when a named job is
  // not dead or not in `queue`; NOT_FOUND for unknown ids.
  absl::StatusOr<Mutation<int64_t>> Redrive(const std::string& queue,
                                            const std::vector<JobId>& ids)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Deletes dead jobs; same rules as Redrive.
  absl::StatusOr<Mutation<int64_t>> PurgeDead(const std::string& queue,
                                              const std::vector<JobId>& ids)
      ABSL_LOCKS_EXCLUDED(mu_);

  // --- Shutdown ---

  // Stops dispatching and accepting submits (UNAVAILABLE) and tells every
  // worker to drain within `grace`.
  void BeginDrain(absl::Duration grace) ABSL_LOCKS_EXCLUDED(mu_);
  // Leases currently held by all workers.
  size_t RunningCount() const ABSL_LOCKS_EXCLUDED(mu_);
  // True after BeginDrain.
  bool draining() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  struct Lease {
    WorkerId worker;
    FencingToken token;
    absl::Time expires_at;
    absl::Time attempt_deadline;  // Attempt timeout; InfiniteFuture: none.
  };
  struct WorkerState {
    WorkerHello hello;
    std::shared_ptr<WorkerChannel> channel;
    absl::Time connected_at;
    absl::Time last_heartbeat;
    absl::flat_hash_set<JobId> leases;
    uint64_t last_assign = 0;  // Dispatch order for fairness.
    uint64_t hungry_key = 0;   // Its key in the hungry sets; 0: not in them.
    // A lease of it expired (no heartbeat): it gets no new jobs until it
    // heartbeats again, so a hung worker cannot burn a job's attempts.
    bool suspended = false;
    size_t next_queue = 0;     // Round-robin over hello.queues.
  };
  struct WatchEntry {
    uint64_t handle;
    std::shared_ptr<JobWatcher> watcher;
  };
  // Calls to make once the lock is released, in order.
  using Effect = std::function<void()>;

  absl::Status ValidateSpec(size_t index, const JobSpec& spec) const;
  // OK if `queue` (nullptr: not created yet) can take `adding` more
  // unfinished jobs; else RESOURCE_EXHAUSTED saying which limit.
  absl::Status CheckDepth(const std::string& name, const QueueState* queue, int64_t adding) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Creates the queue's state with default settings if it has none.
  QueueState& QueueFor(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  const QueueSettings& SettingsOf(const std::string& queue) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  QueueStats StatsOf(const std::string& name, const QueueState& qs, absl::Time now) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  class Restorer;
  // `job` as a Job, in a buffer reused by the next call.
  const Job& View(const JobRecord& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // State transitions. Each keeps the per-queue counts and indexes right;
  // Created/Changed report to the observer and watchers.
  void SetState(JobRecord& job, JobState state) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Created(const Job& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Changed(const JobRecord& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues the job at its place for (priority, run_at, id).
  void MakeReady(JobRecord& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Schedule(JobRecord& job, absl::Time run_at) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes a SCHEDULED or QUEUED job out of its index.
  void Unindex(JobRecord& job) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Ends the current lease and records the attempt's outcome; the job's
  // state is left to the caller. REQUIRES: the job is RUNNING.
  void EndLease(JobRecord& job, AttemptOutcome outcome, const std::string& error, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // After a failed or lost attempt: dead when `permanent` or out of
  // attempts, else scheduled after backoff (`backoff`) or queued at once.
  void RetryOrBury(JobRecord& job, bool permanent, DeadReason reason_if_exhausted, bool backoff,
                   absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Finish(JobRecord& job, JobState terminal, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void CancelLocked(JobRecord& job, std::string reason, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DeleteJob(JobId id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // One report of Report(), at `now`.
  absl::StatusOr<JobTransition> ApplyReport(WorkerId worker, WorkerReport& report, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The job if `token` is its current lease and `worker` holds it.
  absl::StatusOr<JobRecord*> CheckLease(WorkerId worker, JobId id, FencingToken token)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Queues WorkerChannel::Answer for `report` (none for progress), in line
  // with what the engine tells `worker` next; `verdict` OK means change seq_.
  void AnswerLocked(WorkerId worker, const WorkerReport& report, absl::Status verdict)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Dead jobs of `queue` named by `ids` (empty: all), or why not.
  absl::StatusOr<std::vector<JobId>> SelectDead(const std::string& queue,
                                                const std::vector<JobId>& ids) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Dispatch: hands ready jobs to workers with free capacity, fairly (least
  // recently assigned worker first; a worker's queues round-robin).
  void DispatchQueue(const std::string& name, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void DispatchWorker(WorkerId worker, absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the queue's limits (pause, max_running, rate) let a job go now.
  bool CanDispatch(const std::string& name, QueueState& qs, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Leases the best ready job of `qs` that the worker takes. REQUIRES:
  // CanDispatch. Returns whether it did.
  bool TryAssign(WorkerId worker, WorkerState& ws, QueueState& qs, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool HasCredit(const WorkerState& ws) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether the worker holds fewer jobs than its concurrency (its credit is
  // more than prefetch room).
  bool HasFreeSlot(const WorkerState& ws) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts the worker in (or out of) its queues' hungry sets.
  void UpdateHunger(WorkerId worker, WorkerState& ws) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Time NextWakeupLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NoteWakeup(absl::Time t) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Runs queued effects outside the lock, in the order they were queued.
  void RunEffects() ABSL_LOCKS_EXCLUDED(mu_);
  // Before each change reaches the observer: opens the operation's bracket
  // (JobObserver::OnOperationBegin) at its first change.
  void NoteChange() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // Holds mu_ for one operation; on release closes the observer's bracket
  // if the operation changed anything. Every method that may change state
  // locks through it.
  class ABSL_SCOPED_LOCKABLE OpLock {
   public:
    explicit OpLock(Engine* engine) ABSL_EXCLUSIVE_LOCK_FUNCTION(engine->mu_);
    ~OpLock() ABSL_UNLOCK_FUNCTION();
    OpLock(const OpLock&) = delete;
    OpLock& operator=(const OpLock&) = delete;

   private:
    Engine* const engine_;
  };

  const Clock* const clock_;
  Random* const random_;
  JobObserver* const observer_;
  const EngineOptions options_;

  mutable absl::Mutex mu_;
  uint64_t seq_ ABSL_GUARDED_BY(mu_) = 0;
  // The operation holding mu_ has sent the observer a change.
  bool op_changed_ ABSL_GUARDED_BY(mu_) = false;
  JobId last_job_id_ ABSL_GUARDED_BY(mu_);
  WorkerId last_worker_id_ ABSL_GUARDED_BY(mu_);
  uint64_t dispatch_counter_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t watch_counter_ ABSL_GUARDED_BY(mu_) = 0;
  bool draining_ ABSL_GUARDED_BY(mu_) = false;
  absl::btree_map<JobId, JobRecord> jobs_ ABSL_GUARDED_BY(mu_);
  NameTable names_ ABSL_GUARDED_BY(mu_);  // Queue and type names of jobs_.
  BackoffPool backoffs_ ABSL_GUARDED_BY(mu_);
  Job view_ ABSL_GUARDED_BY(mu_);  // View()'s buffer.
  absl::node_hash_map<std::string, QueueState> queues_ ABSL_GUARDED_BY(mu_);
  // (queue, idempotency key) -> job.
  absl::flat_hash_map<std::pair<std::string, std::string>, JobId> idempotency_
      ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<JobId, Lease> leases_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<WorkerId, WorkerState> workers_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<JobId, std::vector<WatchEntry>> watches_ ABSL_GUARDED_BY(mu_);
  TimerSet delayed_ ABSL_GUARDED_BY(mu_);     // SCHEDULED jobs by run_at.
  TimerSet lease_expiry_ ABSL_GUARDED_BY(mu_);  // RUNNING jobs by lease end.
  TimerSet deadlines_ ABSL_GUARDED_BY(mu_);   // Unended jobs with a deadline.
  TimerSet retention_ ABSL_GUARDED_BY(mu_);   // Ended jobs by expires_at.
  absl::Time announced_wakeup_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  // Queues whose rate limit held back ready jobs; Tick retries them.
  absl::flat_hash_set<std::string> rate_blocked_ ABSL_GUARDED_BY(mu_);
  std::vector<Effect> effects_ ABSL_GUARDED_BY(mu_);
  std::function<void()> wakeup_callback_ ABSL_GUARDED_BY(mu_);

  // Serialises effect delivery so it keeps the order effects were queued in.
  absl::Mutex delivery_mu_ ABSL_ACQUIRED_AFTER(mu_);
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_ENGINE_H_
