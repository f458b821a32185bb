#ifndef CONVEYOR_TESTS_TESTING_TEST_WORKER_H_
#define CONVEYOR_TESTS_TESTING_TEST_WORKER_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "conveyor/v1/worker_service.grpc.pb.h"

namespace conveyor::testing {

// A raw WorkerService.Connect stream driven by hand: tests send messages
// and take what the coordinator sent, waiting with a timeout. Sends no
// heartbeats. Thread-safe.
class TestWorker {
 public:
  explicit TestWorker(std::shared_ptr<grpc::Channel> channel);
  ~TestWorker();

  // A worker on a plaintext channel to `address` that has said Hello for
  // `queue` with concurrency 1.
  static absl::StatusOr<std::unique_ptr<TestWorker>> Connect(const std::string& address,
                                                             const std::string& queue);

  bool Send(const v1::WorkerMessage& message);
  // Sends Hello (Hello.max_batch = `max_batch`, Hello.prefetch = `prefetch`)
  // and waits for Welcome; returns the worker id (0 on failure).
  uint64_t Hello(const std::string& name, const std::string& queue, int concurrency,
                 int max_batch = 0, int prefetch = 0);
  // The Welcome that Hello() got.
  v1::Welcome welcome() const { return welcome_; }
  // The next message from the coordinator, or nullopt after `timeout`.
  std::optional<v1::CoordinatorMessage> Next(absl::Duration timeout = absl::Seconds(10));
  // Next() until a message of `kind`, dropping others (heartbeat-free tests).
  std::optional<v1::CoordinatorMessage> NextOf(v1::CoordinatorMessage::KindCase kind,
                                               absl::Duration timeout = absl::Seconds(10));
  bool Complete(uint64_t job, uint64_t token, const std::string& result);
  bool Fail(uint64_t job, uint64_t token, const std::string& error, bool permanent = false);

  // The next Assignment; DEADLINE_EXCEEDED, or the stream's status if it
  // ended first.
  absl::StatusOr<v1::Assignment> NextAssignment(absl::Duration timeout = absl::Seconds(10));
  // Complete/Fail for `a`, then the coordinator's ResultAck for it: OK when
  // accepted, ABORTED with its reason when not.
  absl::Status CompleteAcked(const v1::Assignment& a, const std::string& result);
  absl::Status FailAcked(const v1::Assignment& a, const std::string& error, bool permanent);
  absl::Status Progress(const v1::Assignment& a, int percent, const std::string& message);
  // Half-closes and returns the stream's final status.
  grpc::Status Finish();
  // Cancels the call, as a crashed worker's connection would end.
  void Abort() { context_.TryCancel(); }
  // The stream's final status once the coordinator ended it.
  std::optional<grpc::Status> WaitClosed(absl::Duration timeout = absl::Seconds(10));

 private:
  void ReadLoop();
  absl::Status AwaitAck(uint64_t job_id);
  // Why the stream gave nothing: its final status, or DEADLINE_EXCEEDED.
  absl::Status NothingReceived();

  grpc::ClientContext context_;
  std::unique_ptr<v1::WorkerService::Stub> stub_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>> stream_;
  absl::Mutex mu_;
  std::deque<v1::CoordinatorMessage> inbox_ ABSL_GUARDED_BY(mu_);
  bool read_done_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<grpc::Status> final_ ABSL_GUARDED_BY(mu_);
  absl::Mutex write_mu_;
  bool writes_done_ ABSL_GUARDED_BY(write_mu_) = false;
  std::thread reader_;
  v1::Welcome welcome_;  // Written by Hello() only.
};

}  // namespace conveyor::testing

#endif  // CONVEYOR_TESTS_TESTING_TEST_WORKER_H_
