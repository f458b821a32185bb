#ifndef CONVEYOR_TESTS_CLIENT_SHARED_COORDINATOR_H_
#define CONVEYOR_TESTS_CLIENT_SHARED_COORDINATOR_H_

#include <gtest/gtest.h>

#include <string>

#include "absl/strings/str_cat.h"
#include "tests/testing/process_harness.h"

namespace conveyor::testing {

// One conveyord (CONVEYORD_PATH) for the whole test binary, started on first
// use in its own temp dir and killed at exit. Tests keep apart by using
// their own queue names (UniqueQueue). Returns nullptr, after a test
// failure, if it cannot start.
inline const Coordinator* SharedCoordinator() {
  struct Shared {
    TempDir dir;  // Destroyed after the process below.
    absl::StatusOr<Coordinator> coordinator = StartCoordinator(CONVEYORD_PATH, dir.path() + "/d");
  };
  static Shared shared;  // Destroyed at exit: kills the process, removes the dir.
  if (!shared.coordinator.ok()) {
    ADD_FAILURE() << "conveyord did not start: " << shared.coordinator.status();
    return nullptr;
  }
  return &*shared.coordinator;
}

// A queue name no other test uses.
inline std::string UniqueQueue() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string name = absl::StrCat(info->test_suite_name(), ".", info->name());
  for (char& c : name) {
    if (c == '/') c = '.';
  }
  return name;
}

}  // namespace conveyor::testing

#endif  // CONVEYOR_TESTS_CLIENT_SHARED_COORDINATOR_H_
