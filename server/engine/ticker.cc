#include "server/engine/ticker.h"

#include <pthread.h>

#include "absl/time/clock.h"

namespace conveyor {

Ticker::Ticker(Engine* engine) : engine_(engine) {
  engine_->SetWakeupCallback([this] { Wake(); });
  thread_ = std::thread([this] { Run(); });
  pthread_setname_np(thread_.native_handle(), "conveyor-tick");
}

Ticker::~Ticker() {
  engine_->SetWakeupCallback(nullptr);
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void Ticker::Wake() {
  absl::MutexLock lock(&mu_);
  woken_ = true;
}

void Ticker::Run() {
  while (true) {
    engine_->Tick();
    // Wait on the real clock: the engine's clock is real when a Ticker runs.
    const absl::Time next = engine_->NextWakeup();
    absl::MutexLock lock(&mu_);
    auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return woken_ || stop_; };
    mu_.AwaitWithDeadline(absl::Condition(&ready), next);
    if (stop_) return;
    woken_ = false;
  }
}

}  // namespace conveyor
