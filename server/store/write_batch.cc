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
  jobs_[job.id.value] = JobWrite{Op::kInsert, job};
}

void WriteBatch::Update(uint64_t seq, const Job& job) {
  Record(seq);
  auto [it, inserted] = jobs_.try_emplace(job.id.value);
  JobWrite& write = it->second;
  // An insert stays an insert, now of the newer version (same payload).
  if (inserted || write.op != Op::kInsert) write.op = Op::kUpdate;
  write.job = job;
}

void WriteBatch::Delete(uint64_t seq, JobId id) {
  Record(seq);
  auto it = jobs_.find(id.value);
  if (it != jobs_.end() && it->second.op == Op::kInsert) {
    jobs_.erase(it);  // Never written: nothing to delete.
    return;
  }
  JobWrite& write = jobs_[id.value];
  write.op = Op::kDelete;
  write.job = Job();
  write.job.id = id;
}

void WriteBatch::SetQueueSettings(uint64_t seq, const std::string& queue,
                                  const QueueSettings& settings) {
  Record(seq);
  queues_[queue] = settings;
}

}  // namespace conveyor
