#ifndef CONVEYOR_SERVER_STORE_WRITE_BATCH_H_
#define CONVEYOR_SERVER_STORE_WRITE_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/container/btree_map.h"
#include "server/engine/ids.h"
#include "server/engine/job.h"
#include "server/engine/queue_settings.h"

namespace conveyor {

// The observer calls with consecutive sequence numbers that one transaction
// makes durable, coalesced: per job only the net effect is kept (a created
// and then updated job is one insert of its last version; several updates
// are one update; a job created and deleted in the same batch leaves no
// write, though max_job_id() still counts it), per queue the last settings.
// Not thread-safe.
class WriteBatch {
 public:
  enum class Op { kInsert, kUpdate, kDelete };
  struct JobWrite {
    Op op = Op::kInsert;
    Job job;  // For kDelete only job.id is set. For kUpdate, job.payload is unused.
  };

  // REQUIRES: `seq` greater than every seq recorded before; a job is created
  // once, and neither updated nor deleted after its deletion.
  void Create(uint64_t seq, const Job& job);
  void Update(uint64_t seq, const Job& job);
  void Delete(uint64_t seq, JobId id);
  void SetQueueSettings(uint64_t seq, const std::string& queue, const QueueSettings& settings);

  // Observer calls recorded (before coalescing).
  size_t changes() const { return changes_; }
  bool empty() const { return changes_ == 0; }
  // The seq of the last recorded call; 0 when empty.
  uint64_t last_seq() const { return last_seq_; }
  // The greatest id created in this batch; 0 when none.
  JobId max_job_id() const { return max_job_id_; }
  // The net writes, by job id.
  const absl::btree_map<uint64_t, JobWrite>& jobs() const { return jobs_; }
  // The last settings of each queue changed, by name.
  const absl::btree_map<std::string, QueueSettings>& queues() const { return queues_; }

 private:
  void Record(uint64_t seq);

  size_t changes_ = 0;
  uint64_t last_seq_ = 0;
  JobId max_job_id_;
  absl::btree_map<uint64_t, JobWrite> jobs_;
  absl::btree_map<std::string, QueueSettings> queues_;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_STORE_WRITE_BATCH_H_
