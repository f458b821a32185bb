#ifndef CONVEYOR_TESTS_TESTING_WAIT_FOR_H_
#define CONVEYOR_TESTS_TESTING_WAIT_FOR_H_

#include <functional>

#include "absl/time/time.h"

namespace conveyor::testing {

// Polls `condition` (every millisecond or so) until it returns true or
// `timeout` passes. Returns whether it became true. Use instead of sleeps.
bool WaitFor(const std::function<bool()>& condition,
             absl::Duration timeout = absl::Seconds(10));

}  // namespace conveyor::testing

#endif  // CONVEYOR_TESTS_TESTING_WAIT_FOR_H_
