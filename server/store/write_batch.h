#ifndef CONVEYOR_SERVER_STORE_WRITE_BATCH_H_
#define CONVEYOR_SERVER_STORE_WRITE_BATCH_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/container/btree_map.h"
#include "absl/container/btree_set.h"
#include "server/engine/ids.h"
#include "server/engine/job.h"
#include "server/engine/queue_settings.h"
#include "server/store/job_lifecycle.h"

namespace conveyor {

// The observer calls with consecutive sequence numbers that one transaction
// makes durable, coalesced: per job only the net effect is kept (a created
// and then updated job is one insert of its last version; several updates
// are one update of the last lifecycle; a job created and deleted in the
// same batch leaves no write, though max_job_id() still counts it), per
// queue the last settings. A job id is in at most one of inserts(),
// updates() and deletes(). An update copies only the job's lifecycle fields
// (see job_lifecycle.h), never its payload. Not thread-safe.
class WriteBatch {
 public:
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
  // Jobs created in this batch, at their last version, by id.
  const std::map<uint64_t, Job>& inserts() const { return inserts_; }
  // The last lifecycle of jobs created before this batch, by id.
  const std::map<uint64_t, JobLifecycle>& updates() const { return updates_; }
  // Jobs created before this batch and deleted in it.
  const absl::btree_set<uint64_t>& deletes() const { return deletes_; }
  // The last settings of each queue changed, by name.
  const absl::btree_map<std::string, QueueSettings>& queues() const { return queues_; }

 private:
  void Record(uint64_t seq);

  size_t changes_ = 0;
  uint64_t last_seq_ = 0;
  JobId max_job_id_;
  // Node maps, not B-trees: these values are hundreds of bytes, which a
  // B-tree would move on every insert and allocate in nodes too large for
  // malloc's fast paths.
  std::map<uint64_t, Job> inserts_;
  std::map<uint64_t, JobLifecycle> updates_;
  absl::btree_set<uint64_t> deletes_;
  absl::btree_map<std::string, QueueSettings> queues_;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_STORE_WRITE_BATCH_H_
