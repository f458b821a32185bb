#include "server/store/write_batch.h"

#include <algorithm>

namespace conveyor {

void WriteBatch::Record(uint64_t seq) {
  ++changes_;
  last_seq_ = std::max(last_seq_, seq);
}

void WriteBatch::Create(uint64_t seq, const Job& job) {
  Record(seq);
  max_job_id_ = std::max(max_job_id_, job.id);
  inserts_[job.id.value] = job;
}

void WriteBatch::Update(uint64_t seq, const Job& job) {
  Record(seq);
  // An insert stays an insert, now of the newer lifecycle (same payload).
  if (auto it = inserts_.find(job.id.value); it != inserts_.end()) {
    CopyLifecycle(job, it->second);
    return;
  }
  updates_[job.id.value].CopyFrom(job);
}

void WriteBatch::Delete(uint64_t seq, JobId id) {
  Record(seq);
  if (inserts_.erase(id.value) == 1) return;  // Never written: nothing to delete.
  updates_.erase(id.value);
  deletes_.insert(id.value);
}

void WriteBatch::SetQueueSettings(uint64_t seq, const std::string& queue,
                                  const QueueSettings& settings) {
  Record(seq);
  queues_[queue] = settings;
}

}  // namespace conveyor
