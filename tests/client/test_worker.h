#ifndef CONVEYOR_TESTS_CLIENT_TEST_WORKER_H_
#define CONVEYOR_TESTS_CLIENT_TEST_WORKER_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "conveyor/v1/worker_service.grpc.pb.h"

namespace conveyor::testing {

// A bare WorkerService.Connect client, driven step by step by a test so it
// can finish jobs the client tests wait for. Sends no heartbeats (tests end
// well within a lease). Not thread-safe; the stream ends after 60s at most.
class TestWorker {
 public:
  // Connects, sends Hello for `queue` with concurrency 1 and reads Welcome.
  static absl::StatusOr<std::unique_ptr<TestWorker>> Connect(const std::string& address,
                                                             const std::string& queue);
  ~TestWorker();

  // Reads messages until the next Assignment; DEADLINE_EXCEEDED or the
  // stream's status if it ends first.
  absl::StatusOr<v1::Assignment> NextAssignment();
  absl::Status Complete(const v1::Assignment& a, const std::string& result);
  absl::Status Fail(const v1::Assignment& a, const std::string& error, bool permanent);
  absl::Status Progress(const v1::Assignment& a, int percent, const std::string& message);

 private:
  TestWorker() = default;
  // Writes `message`, then reads until the ResultAck for `job_id`.
  absl::Status Answer(const v1::WorkerMessage& message, uint64_t job_id);
  absl::Status StreamStatus();

  std::unique_ptr<v1::WorkerService::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>> stream_;
};

}  // namespace conveyor::testing

#endif  // CONVEYOR_TESTS_CLIENT_TEST_WORKER_H_
