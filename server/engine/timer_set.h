#ifndef CONVEYOR_SERVER_ENGINE_TIMER_SET_H_
#define CONVEYOR_SERVER_ENGINE_TIMER_SET_H_

#include <utility>
#include <vector>

#include "absl/container/btree_set.h"
#include "absl/time/time.h"
#include "server/engine/ids.h"

namespace conveyor {

// Jobs ordered by a due time; O(log n) add, remove and pop.
// Not thread-safe: Engine owns its TimerSets and uses them under its lock.
class TimerSet {
 public:
  // REQUIRES: (at, job) is not in the set.
  void Add(absl::Time at, JobId job) { set_.emplace(at, job); }
  // Removes (at, job) if present.
  void Remove(absl::Time at, JobId job) { set_.erase({at, job}); }
  // The earliest due time; InfiniteFuture when empty.
  absl::Time Next() const { return set_.empty() ? absl::InfiniteFuture() : set_.begin()->first; }
  // Removes and returns every job due at or before `now`, earliest first.
  std::vector<std::pair<absl::Time, JobId>> PopDue(absl::Time now) {
    std::vector<std::pair<absl::Time, JobId>> due;
    auto it = set_.begin();
    while (it != set_.end() && it->first <= now) due.push_back(*it++);
    set_.erase(set_.begin(), it);
    return due;
  }
  size_t size() const { return set_.size(); }

 private:
  absl::btree_set<std::pair<absl::Time, JobId>> set_;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_TIMER_SET_H_
