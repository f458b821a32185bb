#ifndef CONVEYOR_SERVER_ENGINE_JOB_RECORD_H_
#define CONVEYOR_SERVER_ENGINE_JOB_RECORD_H_

// How the engine keeps a Job in memory: a million queued jobs must fit in a
// few hundred MB, so a record holds only what a waiting job needs (about 100
// bytes plus its payload) and keeps the fields that are rare before a job
// runs (result, error, history, labels...) behind one pointer allocated on
// first use. Engine-internal: callers see `Job` (job.h).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/container/node_hash_map.h"
#include "absl/time/time.h"
#include "server/engine/ids.h"
#include "server/engine/job.h"
#include "server/engine/packed_time.h"

namespace conveyor {

// A string shared by every record that names it (queue and type names).
// Converts implicitly to the string. Valid while its NameTable holds it.
class NameRef {
 public:
  NameRef() = default;
  operator const std::string&() const { return *name_; }  // NOLINT
  const std::string& str() const { return *name_; }
  friend bool operator==(const NameRef& a, const std::string& b) { return *a.name_ == b; }
  friend bool operator!=(const NameRef& a, const std::string& b) { return *a.name_ != b; }

 private:
  friend class NameTable;
  explicit NameRef(const std::string* name) : name_(name) {}
  const std::string* name_ = nullptr;
};

// Reference-counted interned names. Not thread-safe: Engine uses it under
// its lock.
class NameTable {
 public:
  NameRef Acquire(std::string_view name);
  // REQUIRES: `name` came from Acquire and was not released since.
  void Release(NameRef name);
  size_t size() const { return counts_.size(); }

 private:
  absl::node_hash_map<std::string, int64_t> counts_;  // Nodes: stable keys.
  // The entry Acquire returned last: most jobs name what the previous did.
  std::pair<const std::string, int64_t>* last_ = nullptr;
};

// Shares equal Backoff values between records: consecutive jobs of a queue
// almost always carry its current backoff. Not thread-safe.
class BackoffPool {
 public:
  std::shared_ptr<const Backoff> Intern(const Backoff& backoff);

 private:
  std::shared_ptr<const Backoff> last_;
};

// The fields of a Job that a job waiting in its queue rarely has.
struct JobRare {
  Labels labels;
  std::string idempotency_key;
  absl::Duration attempt_timeout = absl::ZeroDuration();  // 0: none.
  absl::Time finished_at = absl::InfinitePast();
  absl::Time expires_at = absl::InfiniteFuture();
  std::string result;
  std::string error;
  DeadReason dead_reason = DeadReason::kNone;
  std::string cancel_reason;
  Progress progress;
  std::vector<Attempt> history;
};

// One job as the engine stores it. Fields named as in Job mean the same.
// Move-only. Its names belong to the NameTable given to FromJob, which the
// owner must Release() them to (ReleaseNames) before dropping it.
class JobRecord {
 public:
  JobId id;
  NameRef queue;
  NameRef type;
  int32_t attempts = 0;
  JobState state = JobState::kQueued;
  int16_t priority = 0;
  int16_t max_attempts = 0;
  PackedTime created_at;
  PackedTime run_at;
  PackedTime deadline = absl::InfiniteFuture();
  FencingToken last_token;
  std::shared_ptr<const Backoff> backoff;

  // Takes what it needs from `job`, leaving `job` valid but unspecified.
  static JobRecord FromJob(Job& job, NameTable& names, BackoffPool& backoffs);
  // Writes every field into `out`, reusing its buffers; the payload and
  // result only when `with_payload`.
  void ToJob(Job& out, bool with_payload = true) const;
  void ReleaseNames(NameTable& names) const;

  std::string_view payload() const;
  // The rare fields, allocated on first use.
  JobRare& rare();
  // The rare fields if allocated, else their defaults.
  const JobRare& rare_or_default() const;

  absl::Duration attempt_timeout() const { return rare_or_default().attempt_timeout; }
  absl::Time expires_at() const { return rare_or_default().expires_at; }
  const std::string& idempotency_key() const { return rare_or_default().idempotency_key; }

 private:
  // The payload's size (4 bytes, native order), then its bytes; null: empty.
  std::unique_ptr<char[]> payload_;
  std::unique_ptr<JobRare> rare_;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_JOB_RECORD_H_
