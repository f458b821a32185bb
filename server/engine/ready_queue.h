#ifndef CONVEYOR_SERVER_ENGINE_READY_QUEUE_H_
#define CONVEYOR_SERVER_ENGINE_READY_QUEUE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "server/engine/ids.h"
#include "server/engine/packed_time.h"

namespace conveyor {

// The QUEUED jobs of one queue: higher priority first, then earlier
// ready time, then lower id (FIFO within a priority). Indexed by job type so
// a worker that runs only some types finds its best job in O(types * log n).
// Not thread-safe: Engine uses it under its lock.
class ReadyQueue {
 public:
  struct Key {
    int32_t neg_priority;
    PackedTime ready_at;  // 8 bytes: a million keys fit in less.
    JobId id;
    friend bool operator<(const Key& a, const Key& b) {
      if (a.neg_priority != b.neg_priority) return a.neg_priority < b.neg_priority;
      if (a.ready_at.nanos() != b.ready_at.nanos()) return a.ready_at.nanos() < b.ready_at.nanos();
      return a.id < b.id;
    }
  };
  static Key KeyOf(int32_t priority, absl::Time ready_at, JobId id) {
    return Key{-priority, ready_at, id};
  }

  // REQUIRES: `key` is not present.
  void Add(const std::string& type, const Key& key);
  // Removes `key` if present.
  void Remove(const std::string& type, const Key& key);
  // The best job whose type is in `types` (empty: any type).
  std::optional<Key> Best(const std::vector<std::string>& types) const;
  // Removes and returns Best(types).
  std::optional<Key> PopBest(const std::vector<std::string>& types);
  // The earliest ready_at of any job; InfiniteFuture when empty.
  absl::Time OldestReadyAt() const;
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

 private:
  std::optional<std::pair<Key, const std::string*>> BestEntry(
      const std::vector<std::string>& types) const;

  absl::flat_hash_map<std::string, absl::btree_set<Key>> by_type_;
  size_t size_ = 0;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_READY_QUEUE_H_
