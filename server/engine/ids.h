#ifndef CONVEYOR_SERVER_ENGINE_IDS_H_
#define CONVEYOR_SERVER_ENGINE_IDS_H_

#include <cstdint>
#include <ostream>

namespace conveyor {

// Small strong types over uint64_t, so a JobId can't be passed as a
// FencingToken. Value 0 means "none".
template <typename Tag>
struct StrongId {
  uint64_t value = 0;

  friend bool operator==(StrongId a, StrongId b) { return a.value == b.value; }
  friend bool operator!=(StrongId a, StrongId b) { return a.value != b.value; }
  friend bool operator<(StrongId a, StrongId b) { return a.value < b.value; }
  friend bool operator>(StrongId a, StrongId b) { return a.value > b.value; }
  friend bool operator<=(StrongId a, StrongId b) { return a.value <= b.value; }
  template <typename H>
  friend H AbslHashValue(H h, StrongId id) {
    return H::combine(std::move(h), id.value);
  }
  friend std::ostream& operator<<(std::ostream& os, StrongId id) { return os << id.value; }
};

struct JobIdTag {};
struct WorkerIdTag {};
struct FencingTokenTag {};

// Identifies a job for its whole life; assigned in submission order.
using JobId = StrongId<JobIdTag>;
// Identifies one connected worker stream.
using WorkerId = StrongId<WorkerIdTag>;
// Identifies one lease of a job; grows with every lease of that job.
using FencingToken = StrongId<FencingTokenTag>;

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_IDS_H_
