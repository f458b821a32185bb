#include "fuzz/in_process_coordinator.h"

#include <cstdio>
#include <cstdlib>
#include <map>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "tests/testing/wait_for.h"

namespace conveyor::fuzz {
namespace {

[[noreturn]] void Broken(const std::string& what) {
  std::fprintf(stderr, "invariant broken: %s\n", what.c_str());
  std::abort();
}

constexpr size_t kEverything = 1 << 30;

}  // namespace

EngineOptions FuzzEngineOptions() {
  EngineOptions options;
  options.max_payload_bytes = 64;
  options.max_batch = 8;
  options.max_worker_concurrency = 4;
  options.max_queues = 6;
  return options;
}

rpc::CallLimitOptions FuzzCallLimitOptions() {
  rpc::CallLimitOptions options;
  options.max_streams_per_peer = 4;
  options.max_pending_waits = 2;
  return options;
}

InProcessCoordinator::InProcessCoordinator()
    : engine_(&clock_, &random_, &store_, FuzzEngineOptions()),
      call_limits_(FuzzCallLimitOptions()),
      job_service_(&engine_, &store_, &clock_, &call_limits_),
      worker_service_(&engine_, &store_, &clock_, &call_limits_,
                      rpc::WorkerStreamLimits{.max_send_queue = kFuzzMaxSendQueue}),
      admin_service_(&engine_, &store_) {
  grpc::ServerBuilder builder;
  auto server = rpc::ServerLoop::Start(builder, {&job_service_, &worker_service_, &admin_service_});
  if (!server.ok()) Broken("in-process server did not start");
  server_ = *std::move(server);
  channel_ = server_->server()->InProcessChannel(grpc::ChannelArguments());
  jobs_ = v1::JobService::NewStub(channel_);
  admin_ = v1::AdminService::NewStub(channel_);
  workers_ = v1::WorkerService::NewStub(channel_);
}

InProcessCoordinator::~InProcessCoordinator() {
  server_->Shutdown(absl::Now());
  store_.Close();
}

void InProcessCoordinator::Advance(absl::Duration d) {
  clock_.Advance(d);
  engine_.Tick();
}

void InProcessCoordinator::CheckInvariants(size_t live_workers) {
  // A RunJob whose caller gave up cancels its job on the server after the
  // client saw the call end, and a worker stream the client cancelled gives
  // its leases back after the client saw it end: wait until every such call
  // is done on the server, so that the snapshots below (each its own engine
  // call) see one state.
  if (!testing::WaitFor(
          [&] {
            return call_limits_.OpenWaits() == 0 && engine_.ListWorkers().size() == live_workers;
          },
          absl::Seconds(30))) {
    Broken(absl::StrCat(call_limits_.OpenWaits(), " WaitJob/RunJob/WatchJob calls never ended, ",
                        engine_.ListWorkers().size(), " workers connected for ", live_workers,
                        " streams"));
  }
  // A call the client gave up on before the server took it up (a RunJob
  // past its deadline of a few milliseconds) still runs after that. Each
  // snapshot below is its own engine call, so a change between two of them
  // shows as a mismatch: the check is repeated until the snapshots agree.
  // A broken invariant stays broken, and is reported.
  std::string broken;
  if (!testing::WaitFor(
          [&] {
            broken = FindBrokenInvariant(live_workers);
            return broken.empty();
          },
          absl::Seconds(20))) {
    Broken(broken);
  }
}

std::string InProcessCoordinator::FindBrokenInvariant(size_t live_workers) {
  JobFilter all;
  all.limit = kEverything;
  const std::vector<Job> jobs = engine_.ListJobs(all, /*omit_payloads=*/true);

  // Jobs per (queue, state), as listed, against the queues' counts.
  std::map<std::pair<std::string, JobState>, int64_t> listed;
  int64_t running = 0;
  for (const Job& job : jobs) {
    ++listed[{job.queue, job.state}];
    if (job.state == JobState::kRunning) ++running;
  }
  for (const QueueStats& q : engine_.ListQueues()) {
    const std::pair<JobState, int64_t> counts[] = {
        {JobState::kScheduled, q.scheduled}, {JobState::kQueued, q.queued},
        {JobState::kRunning, q.running},     {JobState::kSucceeded, q.succeeded},
        {JobState::kDead, q.dead},           {JobState::kCancelled, q.cancelled}};
    for (const auto& [state, count] : counts) {
      auto it = listed.find({q.name, state});
      const int64_t want = it == listed.end() ? 0 : it->second;
      if (count != want) {
        return absl::StrCat("queue ", q.name, " counts ", count, " jobs in state ",
                            JobStateName(state), " but ", want, " are listed");
      }
      if (it != listed.end()) listed.erase(it);
    }
  }
  if (!listed.empty()) {
    return absl::StrCat(listed.begin()->second, " jobs of queue ", listed.begin()->first.first,
                        " are in no listed queue");
  }

  // Every RUNNING job holds exactly one lease, and every lease is of one.
  size_t leases = 0;
  for (const WorkerStats& w : engine_.ListWorkers()) leases += w.leases.size();
  if (static_cast<int64_t>(leases) != running ||
      engine_.RunningCount() != static_cast<size_t>(running)) {
    return absl::StrCat(running, " jobs are RUNNING but workers hold ", leases,
                        " leases and RunningCount is ", engine_.RunningCount());
  }
  if (live_workers == 0 && running != 0) {
    return absl::StrCat("every worker stream ended but ", running, " jobs are RUNNING");
  }

  // The store holds what the engine holds.
  const absl::Status store_error = store_.stats().error;
  if (!store_error.ok()) return absl::StrCat("store: ", store_error.ToString());
  auto recovered = store_.Recover();
  if (!recovered.ok()) return absl::StrCat("store recover: ", recovered.status().ToString());
  if (recovered->jobs.size() != jobs.size()) {
    return absl::StrCat("store holds ", recovered->jobs.size(), " jobs, engine ", jobs.size());
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    const Job& stored = recovered->jobs[i];
    if (stored.id != jobs[i].id || stored.state != jobs[i].state ||
        stored.attempts != jobs[i].attempts) {
      return absl::StrCat("store has job ", stored.id.value, " ", JobStateName(stored.state),
                          " attempts ", stored.attempts, "; engine has job ", jobs[i].id.value, " ",
                          JobStateName(jobs[i].state), " attempts ", jobs[i].attempts);
    }
  }
  return "";
}

}  // namespace conveyor::fuzz
