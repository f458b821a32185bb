#ifndef CONVEYOR_TESTS_TESTING_COORDINATOR_PROCESS_TEST_H_
#define CONVEYOR_TESTS_TESTING_COORDINATOR_PROCESS_TEST_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "conveyor/v1/admin_service.grpc.pb.h"
#include "conveyor/v1/job_service.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/testing/process_harness.h"

namespace conveyor::testing {

// A fixture for tests that run conveyord (and conveyor-worker) as child
// processes in a temporary directory and drive jobs with the generated stubs.
// Each child logs to `<dir>/<name>.log`; a failed test prints those logs.
// The stub helpers record a gtest failure when a call fails.
class CoordinatorProcessTest : public ::testing::Test {
 protected:
  CoordinatorProcessTest(std::string conveyord_path, std::string worker_path)
      : conveyord_path_(std::move(conveyord_path)), worker_path_(std::move(worker_path)) {}

  void TearDown() override;

  // Starts conveyord on a data directory under dir_ with `extra_args`, and
  // connects jobs_ and admin_ to it.
  void StartCoordinator(const std::vector<std::string>& extra_args = {});

  // A spec for the default queue with a short retry backoff (10 ms..50 ms).
  static v1::JobSpec Spec(const std::string& type, const std::string& payload);
  std::vector<uint64_t> SubmitAll(const std::vector<v1::JobSpec>& specs);
  uint64_t Submit(const v1::JobSpec& spec);  // 0 on failure.
  v1::Job Get(uint64_t id);
  // WaitJob: the job once it has ended.
  v1::Job WaitEnd(uint64_t id, absl::Duration timeout = absl::Seconds(30));
  bool WaitState(uint64_t id, v1::JobState state);
  bool Cancel(uint64_t id);

  // Starts conveyor-worker with `args` plus --coordinator, logging to
  // `<dir>/<log_name>`; nullptr (and a test failure) if it cannot start.
  std::unique_ptr<ChildProcess> StartWorkerProcess(std::vector<std::string> args,
                                                   const std::string& log_name);

  TempDir dir_;
  Coordinator coordinator_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::AdminService::Stub> admin_;

 private:
  const std::string conveyord_path_;
  const std::string worker_path_;
};

}  // namespace conveyor::testing

#endif  // CONVEYOR_TESTS_TESTING_COORDINATOR_PROCESS_TEST_H_
