#include "tests/testing/wait_for.h"

#include "absl/time/clock.h"

namespace conveyor::testing {

bool WaitFor(const std::function<bool()>& condition, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  absl::Duration pause = absl::Microseconds(200);
  while (true) {
    if (condition()) return true;
    if (absl::Now() >= deadline) return condition();
    absl::SleepFor(pause);  // A poll interval, not synchronisation.
    pause = std::min(pause * 2, absl::Milliseconds(20));
  }
}

}  // namespace conveyor::testing
