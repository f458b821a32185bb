#ifndef CONVEYOR_FUZZ_IN_PROCESS_COORDINATOR_H_
#define CONVEYOR_FUZZ_IN_PROCESS_COORDINATOR_H_

#include <grpcpp/grpcpp.h>

#include <memory>

#include "absl/time/time.h"
#include "conveyor/v1/admin_service.grpc.pb.h"
#include "conveyor/v1/job_service.grpc.pb.h"
#include "conveyor/v1/worker_service.grpc.pb.h"
#include "server/engine/engine.h"
#include "server/rpc/admin_service.h"
#include "server/rpc/call_limits.h"
#include "server/rpc/job_service.h"
#include "server/rpc/server_loop.h"
#include "server/rpc/worker_service.h"
#include "server/store/memory_store.h"
#include "tests/testing/fake_clock.h"

namespace conveyor::fuzz {

// The coordinator's request handling as conveyord wires it (JobService,
// WorkerService and AdminService over one Engine and a MemoryStore), served
// on an in-process gRPC channel. Time is a FakeClock and there is no ticker:
// Advance() moves the clock and runs what became due. Limits are small so
// short inputs reach them. Thread-safe like its parts.
class InProcessCoordinator {
 public:
  InProcessCoordinator();
  // Stops the server (pending calls end CANCELLED), then the engine.
  ~InProcessCoordinator();

  v1::JobService::Stub& jobs() { return *jobs_; }
  v1::AdminService::Stub& admin() { return *admin_; }
  v1::WorkerService::Stub& workers() { return *workers_; }
  Engine& engine() { return engine_; }
  absl::Time Now() const { return clock_.Now(); }

  // Moves the clock forward by `d` and runs the engine's timers.
  void Advance(absl::Duration d);

  // Aborts with a message when engine and store disagree: counts by state
  // per queue add up to the jobs listed in that state, every RUNNING job
  // holds a lease and every lease a RUNNING job, the store holds exactly the
  // engine's jobs in the same states, and the store saw no impossible change.
  // With no `live_workers` (streams that said Hello and have not ended)
  // nothing may run. Waits first for the server to finish every WaitJob,
  // RunJob and WatchJob call, and to hold `live_workers` workers; then
  // repeats the check (up to 20 s) until its snapshots agree.
  void CheckInvariants(size_t live_workers);

 private:
  // The first invariant the engine and store break now, or "".
  std::string FindBrokenInvariant(size_t live_workers);

  testing::FakeClock clock_;
  SeededRandom random_{42};
  MemoryStore store_;
  Engine engine_;
  rpc::CallLimits call_limits_;
  rpc::JobService job_service_;
  rpc::WorkerService worker_service_;
  rpc::AdminService admin_service_;
  std::unique_ptr<rpc::ServerLoop> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
  std::unique_ptr<v1::WorkerService::Stub> workers_;
};

// Fuzzing limits: small enough to reach with a few operations.
EngineOptions FuzzEngineOptions();
rpc::CallLimitOptions FuzzCallLimitOptions();
// Most messages queued for one worker stream.
inline constexpr size_t kFuzzMaxSendQueue = 16;

}  // namespace conveyor::fuzz

#endif  // CONVEYOR_FUZZ_IN_PROCESS_COORDINATOR_H_
