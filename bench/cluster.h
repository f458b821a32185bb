#ifndef CONVEYOR_BENCH_CLUSTER_H_
#define CONVEYOR_BENCH_CLUSTER_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/process.h"
#include "conveyor/v1/admin_service.grpc.pb.h"
#include "conveyor/v1/job_service.grpc.pb.h"
#include "grpcpp/channel.h"

namespace conveyor::bench {

// Where the binaries are and how to run the coordinator.
struct ClusterOptions {
  std::string conveyord;
  std::string worker;
  // host:port of a running coordinator to use instead of starting one.
  std::string external;
  bool fsync = false;
  bool keep_logs = false;
};

// A new channel with its own TCP connection (a local subchannel pool), so
// that several channels spread load over several connections.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

// One coordinator for a scenario: a conveyord this process started with the
// default SQLite store in its own temp dir (stopped by PID at the end), or
// an external one. Not thread-safe.
class Coordinator {
 public:
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(const ClusterOptions& options,
                                                            const std::string& name);
  ~Coordinator();

  const std::string& address() const { return address_; }
  bool external() const { return process_ == nullptr && external_; }
  // 0 for an external coordinator.
  pid_t pid() const { return process_ ? process_->pid() : 0; }
  const std::string& dir() const { return dir_->path(); }
  v1::JobService::Stub& jobs() { return *jobs_; }
  v1::AdminService::Stub& admin() { return *admin_; }

  // SIGKILL, then starts it again on the same data dir; returns the time from
  // exec until the port file appears. REQUIRES: !external().
  absl::StatusOr<absl::Duration> KillAndRestart();
  // SIGTERM (drain), SIGKILL after a grace.
  void Stop();
  // The text of its /metrics. FAILED_PRECONDITION for an external one.
  absl::StatusOr<std::string> ScrapeMetrics();

 private:
  Coordinator() = default;
  absl::Status Launch();
  void Connect();

  ClusterOptions options_;
  bool external_ = false;
  std::unique_ptr<TempDir> dir_;
  std::unique_ptr<ChildProcess> process_;
  int launches_ = 0;
  std::string address_;
  int metrics_port_ = 0;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

// K conveyor-worker processes with the built-in echo handler.
class WorkerFleet {
 public:
  WorkerFleet(const ClusterOptions& options, Coordinator* coordinator)
      : options_(options), coordinator_(coordinator) {}
  ~WorkerFleet() { Stop(); }
  // Starts `count` processes of `concurrency` slots (and `prefetch`) on
  // `queue`, then waits until the coordinator lists them all.
  absl::Status Start(int count, int concurrency, int prefetch, const std::string& queue);
  // SIGTERM (drain) to each, SIGKILL after a grace; reaps them.
  void Stop();
  std::vector<pid_t> pids() const;

 private:
  ClusterOptions options_;
  Coordinator* coordinator_;
  std::vector<std::unique_ptr<ChildProcess>> processes_;
  int generation_ = 0;
};

// Connected workers taking jobs from `queue`.
absl::StatusOr<int> CountWorkers(v1::AdminService::Stub& admin, const std::string& queue);
// Waits until at least `count` workers take jobs from `queue`.
absl::Status WaitForWorkers(v1::AdminService::Stub& admin, const std::string& queue, int count,
                            absl::Duration timeout);
// The queue's counters; zeros when it does not exist yet.
absl::StatusOr<v1::QueueInfo> GetQueue(v1::AdminService::Stub& admin, const std::string& queue);

}  // namespace conveyor::bench

#endif  // CONVEYOR_BENCH_CLUSTER_H_
