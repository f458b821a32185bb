#include "server/store/memory_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/store/job_lifecycle.h"

namespace conveyor {

MemoryStore::MemoryStore(RecoveredState initial) {
  absl::MutexLock lock(&mu_);
  for (Job& job : initial.jobs) {
    max_job_id_ = std::max(max_job_id_, job.id);
    jobs_[job.id.value] = std::move(job);
  }
  for (auto& [name, settings] : initial.queues) queues_[name] = settings;
  max_job_id_ = std::max(max_job_id_, initial.max_job_id);
}

absl::Status MemoryStore::RecoverTo(RecoverySink& sink) {
  absl::MutexLock lock(&mu_);
  for (const auto& [name, settings] : queues_) sink.OnQueue(name, settings);
  sink.OnMaxJobId(max_job_id_);
  for (const auto& [id, job] : jobs_) {
    Job copy = job;
    if (absl::Status s = sink.OnJob(copy); !s.ok()) return s;
  }
  return absl::OkStatus();
}

bool MemoryStore::Check(bool ok, uint64_t seq, const std::string& message) {
  if (ok) {
    recorded_seq_ = seq;
  } else {
    error_ = absl::InternalError(message);
  }
  return ok;
}

void MemoryStore::OnJobCreated(uint64_t seq, const Job& job) {
  absl::MutexLock lock(&mu_);
  if (!Accepting()) return;
  if (!Check(!jobs_.contains(job.id.value), seq,
             absl::StrCat("job ", job.id.value, " created twice"))) {
    return;
  }
  jobs_[job.id.value] = job;
  max_job_id_ = std::max(max_job_id_, job.id);
}

void MemoryStore::OnJobUpdated(uint64_t seq, const Job& job) {
  absl::MutexLock lock(&mu_);
  if (!Accepting()) return;
  auto it = jobs_.find(job.id.value);
  if (!Check(it != jobs_.end(), seq, absl::StrCat("update of unknown job ", job.id.value))) return;
  CopyLifecycle(job, it->second);
}

void MemoryStore::OnJobDeleted(uint64_t seq, JobId id) {
  absl::MutexLock lock(&mu_);
  if (!Accepting()) return;
  Check(jobs_.erase(id.value) == 1, seq, absl::StrCat("delete of unknown job ", id.value));
}

void MemoryStore::OnQueueSettingsChanged(uint64_t seq, const std::string& queue,
                                         const QueueSettings& settings) {
  absl::MutexLock lock(&mu_);
  if (!Accepting()) return;
  queues_[queue] = settings;
  recorded_seq_ = seq;
}

uint64_t MemoryStore::DurableSeq() const {
  absl::MutexLock lock(&mu_);
  return recorded_seq_;
}

void MemoryStore::WhenDurable(uint64_t seq, std::function<void(absl::Status)> done) {
  absl::Status status;
  {
    absl::MutexLock lock(&mu_);
    if (seq <= recorded_seq_) {
      // Recorded: OK below.
    } else if (!error_.ok()) {
      status = error_;
    } else if (closed_) {
      status = absl::FailedPreconditionError("store is closed");
    }
  }
  done(std::move(status));
}

StoreStats MemoryStore::stats() const {
  absl::MutexLock lock(&mu_);
  StoreStats out;
  out.commits = recorded_seq_;
  out.changes = recorded_seq_;
  out.error = error_;
  return out;
}

absl::Status MemoryStore::Flush() {
  absl::MutexLock lock(&mu_);
  return error_;
}

void MemoryStore::Close() {
  absl::MutexLock lock(&mu_);
  closed_ = true;
}

}  // namespace conveyor
