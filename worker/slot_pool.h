#ifndef CONVEYOR_WORKER_SLOT_POOL_H_
#define CONVEYOR_WORKER_SLOT_POOL_H_

#include <deque>
#include <functional>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace conveyor {

// A fixed pool of N threads ("slots") running tasks in FIFO order; at most N
// tasks run at once. A task that never returns keeps its slot forever.
// Thread-safe.
class SlotPool {
 public:
  // Starts `slots` threads. REQUIRES: slots >= 1.
  explicit SlotPool(int slots);
  // Drops tasks not yet started and joins the threads: blocks until every
  // running task has returned.
  ~SlotPool();
  SlotPool(const SlotPool&) = delete;
  SlotPool& operator=(const SlotPool&) = delete;

  // Queues `task` to run on a free slot. Ignored after the destructor began.
  void Submit(std::function<void()> task) ABSL_LOCKS_EXCLUDED(mu_);
  // Tasks running now.
  int busy() const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  void Loop() ABSL_LOCKS_EXCLUDED(mu_);
  bool HasWorkOrStopping() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return stopping_ || !tasks_.empty();
  }

  mutable absl::Mutex mu_;
  std::deque<std::function<void()>> tasks_ ABSL_GUARDED_BY(mu_);
  int busy_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_SLOT_POOL_H_
