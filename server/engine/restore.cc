// Engine::Restore and RestoreFrom: loading what a store recovered.

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/engine/engine.h"

namespace conveyor {

// Loads each recovered piece into the engine as it arrives. Jobs that were
// RUNNING are settled in Finish(), once every queue's settings are known.
class Engine::Restorer : public RecoverySink {
 public:
  explicit Restorer(Engine* engine) : engine_(engine) {}

  void OnQueue(const std::string& name, const QueueSettings& settings) override
      ABSL_NO_THREAD_SAFETY_ANALYSIS {
    QueueState& qs = engine_->QueueFor(name);
    qs.settings = settings;
    qs.configured = true;
  }

  void OnMaxJobId(JobId id) override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    engine_->last_job_id_ = std::max(engine_->last_job_id_, id);
  }

  absl::Status OnJob(Job& recovered) override ABSL_NO_THREAD_SAFETY_ANALYSIS {
    Engine& e = *engine_;
    const JobId id = recovered.id;
    e.last_job_id_ = std::max(e.last_job_id_, id);
    const JobState recorded = recovered.state;
    QueueState& qs = e.QueueFor(recovered.queue);
    if (!recovered.idempotency_key.empty()) {
      e.idempotency_[std::make_pair(recovered.queue, recovered.idempotency_key)] = id;
    }
    auto [it, inserted] =
        e.jobs_.try_emplace(id, JobRecord::FromJob(recovered, e.names_, e.backoffs_));
    if (!inserted) {
      return absl::DataLossError(absl::StrCat("job ", id.value, " recovered twice"));
    }
    ++loaded_;
    ++qs.counts[static_cast<int>(recorded)];
    JobRecord& job = it->second;
    if (!IsTerminal(recorded) && job.deadline != absl::InfiniteFuture()) {
      e.deadlines_.Add(job.deadline, id);
    }
    switch (recorded) {
      case JobState::kScheduled:
        e.delayed_.Add(job.run_at, id);
        break;
      case JobState::kQueued:
        qs.ready.Add(job.type, ReadyQueue::KeyOf(job.priority, job.run_at, id));
        break;
      case JobState::kRunning:
        running_.push_back(id);
        break;
      default:
        e.retention_.Add(job.expires_at(), id);
        break;
    }
    return absl::OkStatus();
  }

  // Jobs that were RUNNING lost their lease: retried or dead, by id.
  void Finish(absl::Time now) ABSL_NO_THREAD_SAFETY_ANALYSIS {
    std::sort(running_.begin(), running_.end());
    for (JobId id : running_) {
      JobRecord& job = engine_->jobs_.at(id);
      const std::string error = "coordinator restarted while the attempt ran";
      JobRare& rare = job.rare();
      if (!rare.history.empty()) {
        rare.history.back().ended_at = now;
        rare.history.back().outcome = AttemptOutcome::kLeaseLost;
        rare.history.back().error = error;
      }
      rare.error = error;
      engine_->RetryOrBury(job, false, DeadReason::kLeaseLost, /*backoff=*/false, now);
    }
  }

  size_t loaded() const { return loaded_; }

 private:
  Engine* const engine_;
  std::vector<JobId> running_;
  size_t loaded_ = 0;
};

absl::StatusOr<size_t> Engine::RestoreFrom(
    const std::function<absl::Status(RecoverySink&)>& read) {
  size_t loaded;
  {
    OpLock lock(this);
    if (!jobs_.empty() || !queues_.empty()) {
      return absl::FailedPreconditionError("Restore must come before any other call");
    }
    const absl::Time now = clock_->Now();
    Restorer restorer(this);
    if (absl::Status s = read(restorer); !s.ok()) return s;
    restorer.Finish(now);
    loaded = restorer.loaded();
    announced_wakeup_ = absl::InfinitePast();  // The ticker asks at start.
  }
  RunEffects();
  return loaded;
}

absl::Status Engine::Restore(RecoveredState state) {
  return RestoreFrom([&state](RecoverySink& sink) {
           for (const auto& [name, settings] : state.queues) sink.OnQueue(name, settings);
           sink.OnMaxJobId(state.max_job_id);
           for (Job& job : state.jobs) {
             if (absl::Status s = sink.OnJob(job); !s.ok()) return s;
           }
           return absl::OkStatus();
         })
      .status();
}

}  // namespace conveyor
