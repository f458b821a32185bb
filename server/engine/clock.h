#ifndef CONVEYOR_SERVER_ENGINE_CLOCK_H_
#define CONVEYOR_SERVER_ENGINE_CLOCK_H_

#include <cstdint>
#include <random>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace conveyor {

// Where the engine reads the time. Implementations are thread-safe.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The wall clock.
class RealClock : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
};

// Where the engine draws randomness (backoff jitter). Thread-safe.
class Random {
 public:
  virtual ~Random() = default;
  // A uniformly distributed value in [0, 1).
  virtual double Uniform() = 0;
};

// A seedable Random; the same seed gives the same sequence.
class SeededRandom : public Random {
 public:
  explicit SeededRandom(uint64_t seed) : engine_(seed) {}
  double Uniform() override {
    absl::MutexLock lock(&mu_);
    return std::uniform_real_distribution<double>(0.0, 1.0)(engine_);
  }

 private:
  absl::Mutex mu_;
  std::mt19937_64 engine_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_CLOCK_H_
