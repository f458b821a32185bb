#include "server/engine/job_record.h"

#include <cstring>
#include <utility>

#include "absl/strings/string_view.h"

namespace conveyor {

NameRef NameTable::Acquire(std::string_view name) {
  if (last_ == nullptr || last_->first != name) {
    auto it = counts_.find(absl::string_view(name.data(), name.size()));
    if (it == counts_.end()) it = counts_.emplace(std::string(name), 0).first;
    last_ = &*it;
  }
  ++last_->second;
  return NameRef(&last_->first);
}

void NameTable::Release(NameRef name) {
  auto it = counts_.find(name.str());
  if (it == counts_.end()) abort();  // Broken invariant: released more than acquired.
  if (--it->second > 0) return;
  if (last_ == &*it) last_ = nullptr;
  counts_.erase(it);
}

std::shared_ptr<const Backoff> BackoffPool::Intern(const Backoff& backoff) {
  if (last_ == nullptr || !(*last_ == backoff)) last_ = std::make_shared<const Backoff>(backoff);
  return last_;
}

JobRecord JobRecord::FromJob(Job& job, NameTable& names, BackoffPool& backoffs) {
  JobRecord r;
  r.id = job.id;
  r.queue = names.Acquire(job.queue);
  r.type = names.Acquire(job.type);
  r.attempts = job.attempts;
  r.state = job.state;
  // Both validated to at most 1000 in magnitude: int16_t holds them.
  r.priority = static_cast<int16_t>(job.priority);
  r.max_attempts = static_cast<int16_t>(job.max_attempts);
  r.created_at = job.created_at;
  r.run_at = job.run_at;
  r.deadline = job.deadline;
  r.last_token = job.last_token;
  r.backoff = backoffs.Intern(job.backoff);
  if (!job.payload.empty()) {
    const uint32_t size = static_cast<uint32_t>(job.payload.size());
    r.payload_ = std::make_unique_for_overwrite<char[]>(sizeof(size) + size);
    std::memcpy(r.payload_.get(), &size, sizeof(size));
    std::memcpy(r.payload_.get() + sizeof(size), job.payload.data(), size);
  }
  const bool rare = !job.labels.empty() || !job.idempotency_key.empty() ||
                    job.attempt_timeout != absl::ZeroDuration() ||
                    job.finished_at != absl::InfinitePast() ||
                    job.expires_at != absl::InfiniteFuture() || !job.result.empty() ||
                    !job.error.empty() || job.dead_reason != DeadReason::kNone ||
                    !job.cancel_reason.empty() || job.progress.percent != -1 ||
                    !job.progress.message.empty() || !job.history.empty();
  if (rare) {
    JobRare& x = r.rare();
    x.labels = std::move(job.labels);
    x.idempotency_key = std::move(job.idempotency_key);
    x.attempt_timeout = job.attempt_timeout;
    x.finished_at = job.finished_at;
    x.expires_at = job.expires_at;
    x.result = std::move(job.result);
    x.error = std::move(job.error);
    x.dead_reason = job.dead_reason;
    x.cancel_reason = std::move(job.cancel_reason);
    x.progress = std::move(job.progress);
    x.history = std::move(job.history);
  }
  return r;
}

void JobRecord::ToJob(Job& out, bool with_payload) const {
  const JobRare& x = rare_or_default();
  out.id = id;
  out.queue = queue.str();
  out.type = type.str();
  if (with_payload) {
    out.payload.assign(payload());
    out.result = x.result;
  } else {
    out.payload.clear();
    out.result.clear();
  }
  out.priority = priority;
  out.labels = x.labels;
  out.idempotency_key = x.idempotency_key;
  out.max_attempts = max_attempts;
  out.backoff = backoff != nullptr ? *backoff : Backoff();
  out.attempt_timeout = x.attempt_timeout;
  out.deadline = deadline;
  out.state = state;
  out.attempts = attempts;
  out.created_at = created_at;
  out.run_at = run_at;
  out.finished_at = x.finished_at;
  out.expires_at = x.expires_at;
  out.error = x.error;
  out.dead_reason = x.dead_reason;
  out.cancel_reason = x.cancel_reason;
  out.progress = x.progress;
  out.history = x.history;
  out.last_token = last_token;
}

void JobRecord::ReleaseNames(NameTable& names) const {
  names.Release(queue);
  names.Release(type);
}

std::string_view JobRecord::payload() const {
  if (payload_ == nullptr) return {};
  uint32_t size;
  std::memcpy(&size, payload_.get(), sizeof(size));
  return std::string_view(payload_.get() + sizeof(size), size);
}

JobRare& JobRecord::rare() {
  if (rare_ == nullptr) rare_ = std::make_unique<JobRare>();
  return *rare_;
}

const JobRare& JobRecord::rare_or_default() const {
  static const JobRare* const kDefault = new JobRare();
  return rare_ != nullptr ? *rare_ : *kDefault;
}

}  // namespace conveyor
