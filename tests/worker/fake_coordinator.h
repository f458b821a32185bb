#ifndef CONVEYOR_TESTS_WORKER_FAKE_COORDINATOR_H_
#define CONVEYOR_TESTS_WORKER_FAKE_COORDINATOR_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "conveyor/v1/worker_service.grpc.pb.h"
#include "grpcpp/server.h"

namespace conveyor::testing {

// An in-process WorkerService on 127.0.0.1:0 that speaks the coordinator's
// side of Connect under a test's control: it welcomes every Hello, assigns
// the jobs the test gives it, acks every result (accepted unless told
// otherwise) and records what the worker sent. Thread-safe.
class FakeCoordinator {
 public:
  FakeCoordinator();
  ~FakeCoordinator();

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Welcome values for the next streams.
  void set_heartbeat_interval(absl::Duration d) ABSL_LOCKS_EXCLUDED(mu_);
  // Welcome.max_worker_batch for the next streams (0: like a coordinator
  // that predates batching).
  void set_max_worker_batch(int n) ABSL_LOCKS_EXCLUDED(mu_);
  // Acks results with accepted=false from now on.
  void set_reject_results(bool reject) ABSL_LOCKS_EXCLUDED(mu_);

  // True while a welcomed stream is open.
  bool connected() const ABSL_LOCKS_EXCLUDED(mu_);
  int streams_opened() const ABSL_LOCKS_EXCLUDED(mu_);
  conveyor::v1::Hello last_hello() const ABSL_LOCKS_EXCLUDED(mu_);

  // Sends an Assignment for job `id` on the open stream; returns its token,
  // or 0 if no stream is open.
  uint64_t Assign(uint64_t id, const std::string& type, const std::string& payload,
                  std::optional<absl::Duration> deadline_in = std::nullopt,
                  std::map<std::string, std::string> labels = {}) ABSL_LOCKS_EXCLUDED(mu_);
  // Sends one Assignment per job (id, type) in one CoordinatorBatch; returns
  // their tokens, or none if no stream is open.
  std::vector<uint64_t> AssignBatch(const std::vector<std::pair<uint64_t, std::string>>& jobs)
      ABSL_LOCKS_EXCLUDED(mu_);
  void Cancel(uint64_t id, uint64_t token, const std::string& reason) ABSL_LOCKS_EXCLUDED(mu_);
  void Drain(absl::Duration grace) ABSL_LOCKS_EXCLUDED(mu_);
  // Ends the open stream with UNAVAILABLE, as a crashing coordinator would.
  void Disconnect() ABSL_LOCKS_EXCLUDED(mu_);

  // WorkerBatches received (their messages are in received(), unpacked).
  int batches_received() const ABSL_LOCKS_EXCLUDED(mu_);
  // Every message the worker sent, in order of arrival, batches unpacked.
  std::vector<conveyor::v1::WorkerMessage> received() const ABSL_LOCKS_EXCLUDED(mu_);
  // The Complete/Fail/Release for job `id`, if one arrived.
  std::optional<conveyor::v1::WorkerMessage> ResultFor(uint64_t id) const ABSL_LOCKS_EXCLUDED(mu_);
  int CountOf(conveyor::v1::WorkerMessage::KindCase kind) const ABSL_LOCKS_EXCLUDED(mu_);

 private:
  class Session;
  class Service;
  friend class Session;

  void Send(conveyor::v1::CoordinatorMessage message) ABSL_LOCKS_EXCLUDED(mu_);
  void Detach(Session* session) ABSL_LOCKS_EXCLUDED(mu_);
  void OnMessage(Session* session, const conveyor::v1::WorkerMessage& message)
      ABSL_LOCKS_EXCLUDED(mu_);
  // Records one message and returns the reply it needs, if any.
  std::optional<conveyor::v1::CoordinatorMessage> HandleLocked(
      const conveyor::v1::WorkerMessage& message) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  conveyor::v1::CoordinatorMessage MakeAssignment(uint64_t id, const std::string& type,
                                                  const std::string& payload,
                                                  std::optional<absl::Duration> deadline_in,
                                                  const std::map<std::string, std::string>& labels);

  mutable absl::Mutex mu_;
  std::vector<conveyor::v1::WorkerMessage> received_ ABSL_GUARDED_BY(mu_);
  Session* session_ ABSL_GUARDED_BY(mu_) = nullptr;
  bool welcomed_ ABSL_GUARDED_BY(mu_) = false;
  int streams_opened_ ABSL_GUARDED_BY(mu_) = 0;
  int sessions_alive_ ABSL_GUARDED_BY(mu_) = 0;
  conveyor::v1::Hello last_hello_ ABSL_GUARDED_BY(mu_);
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_) = absl::Milliseconds(100);
  bool reject_results_ ABSL_GUARDED_BY(mu_) = false;
  int max_worker_batch_ ABSL_GUARDED_BY(mu_) = 0;
  int batches_received_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;

  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace conveyor::testing

#endif  // CONVEYOR_TESTS_WORKER_FAKE_COORDINATOR_H_
