#include "worker/slot_pool.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace conveyor {

SlotPool::SlotPool(int slots) {
  if (slots < 1) {
    std::fprintf(stderr, "SlotPool: slots must be >= 1, got %d\n", slots);
    std::abort();
  }
  threads_.reserve(slots);
  for (int i = 0; i < slots; ++i) threads_.emplace_back([this] { Loop(); });
}

SlotPool::~SlotPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    tasks_.clear();
  }
  for (auto& t : threads_) t.join();
}

void SlotPool::Submit(std::function<void()> task) {
  absl::MutexLock lock(&mu_);
  if (stopping_) return;
  tasks_.push_back(std::move(task));
}

int SlotPool::busy() const {
  absl::MutexLock lock(&mu_);
  return busy_;
}

void SlotPool::Loop() {
  while (true) {
    std::function<void()> task;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(this, &SlotPool::HasWorkOrStopping));
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
      ++busy_;
    }
    task();
    absl::MutexLock lock(&mu_);
    --busy_;
  }
}

}  // namespace conveyor
