#include "server/engine/ready_queue.h"

#include <limits>

namespace conveyor {

void ReadyQueue::Add(const std::string& type, const Key& key) {
  if (by_type_[type].insert(key).second) ++size_;
}

void ReadyQueue::Remove(const std::string& type, const Key& key) {
  auto it = by_type_.find(type);
  if (it == by_type_.end()) return;
  if (it->second.erase(key) > 0) --size_;
  if (it->second.empty()) by_type_.erase(it);
}

std::optional<std::pair<ReadyQueue::Key, const std::string*>> ReadyQueue::BestEntry(
    const std::vector<std::string>& types) const {
  std::optional<std::pair<Key, const std::string*>> best;
  auto consider = [&](const std::string& type, const absl::btree_set<Key>& set) {
    if (set.empty()) return;
    if (!best || *set.begin() < best->first) best.emplace(*set.begin(), &type);
  };
  if (types.empty()) {
    for (const auto& [type, set] : by_type_) consider(type, set);
  } else {
    for (const auto& type : types) {
      auto it = by_type_.find(type);
      if (it != by_type_.end()) consider(it->first, it->second);
    }
  }
  return best;
}

std::optional<ReadyQueue::Key> ReadyQueue::Best(const std::vector<std::string>& types) const {
  auto entry = BestEntry(types);
  if (!entry) return std::nullopt;
  return entry->first;
}

std::optional<ReadyQueue::Key> ReadyQueue::PopBest(const std::vector<std::string>& types) {
  auto entry = BestEntry(types);
  if (!entry) return std::nullopt;
  Remove(*entry->second, entry->first);  // Copies the type: Remove may erase it.
  return entry->first;
}

absl::Time ReadyQueue::OldestReadyAt() const {
  // Within one priority jobs are ordered by ready time, so the oldest job is
  // the head of some priority level: visit each level's head.
  absl::Time oldest = absl::InfiniteFuture();
  for (const auto& [type, set] : by_type_) {
    auto it = set.begin();
    while (it != set.end()) {
      oldest = std::min(oldest, it->ready_at.time());
      if (it->neg_priority == std::numeric_limits<int32_t>::max()) break;
      it = set.lower_bound(Key{it->neg_priority + 1, absl::InfinitePast(), JobId{0}});
    }
  }
  return oldest;
}

}  // namespace conveyor
