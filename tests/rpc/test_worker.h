#ifndef CONVEYOR_TESTS_RPC_TEST_WORKER_H_
#define CONVEYOR_TESTS_RPC_TEST_WORKER_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "conveyor/v1/worker_service.grpc.pb.h"

namespace conveyor::testing {

// A raw WorkerService.Connect stream driven by hand: tests send messages
// and take what the coordinator sent, waiting with a timeout. Thread-safe.
class TestWorker {
 public:
  explicit TestWorker(std::shared_ptr<grpc::Channel> channel);
  ~TestWorker();

  bool Send(const v1::WorkerMessage& message);
  // Sends Hello (Hello.max_batch = `max_batch`) and waits for Welcome;
  // returns the worker id (0 on failure).
  uint64_t Hello(const std::string& name, const std::string& queue, int concurrency,
                 int max_batch = 0);
  // The Welcome that Hello() got.
  v1::Welcome welcome() const { return welcome_; }
  // The next message from the coordinator, or nullopt after `timeout`.
  std::optional<v1::CoordinatorMessage> Next(absl::Duration timeout = absl::Seconds(10));
  // Next() until a message of `kind`, dropping others (heartbeat-free tests).
  std::optional<v1::CoordinatorMessage> NextOf(v1::CoordinatorMessage::KindCase kind,
                                               absl::Duration timeout = absl::Seconds(10));
  bool Complete(uint64_t job, uint64_t token, const std::string& result);
  bool Fail(uint64_t job, uint64_t token, const std::string& error, bool permanent = false);
  // Half-closes and returns the stream's final status.
  grpc::Status Finish();
  // Cancels the call, as a crashed worker's connection would end.
  void Abort() { context_.TryCancel(); }
  // The stream's final status once the coordinator ended it.
  std::optional<grpc::Status> WaitClosed(absl::Duration timeout = absl::Seconds(10));

 private:
  void ReadLoop();

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

#endif  // CONVEYOR_TESTS_RPC_TEST_WORKER_H_
