#ifndef CONVEYOR_SERVER_ENGINE_TICKER_H_
#define CONVEYOR_SERVER_ENGINE_TICKER_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/engine/engine.h"

namespace conveyor {

// The one timer thread: waits (on the real clock) until the engine's
// NextWakeup() or until the engine says it moved earlier, then calls Tick().
// Thread-safe; `engine` must outlive it.
class Ticker {
 public:
  // Starts the thread and installs the engine's wakeup callback.
  explicit Ticker(Engine* engine);
  // Stops and joins the thread.
  ~Ticker();
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  void Wake() ABSL_LOCKS_EXCLUDED(mu_);
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  Engine* const engine_;
  absl::Mutex mu_;
  bool woken_ ABSL_GUARDED_BY(mu_) = false;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_TICKER_H_
