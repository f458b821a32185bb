#ifndef CONVEYOR_BENCH_SCENARIOS_H_
#define CONVEYOR_BENCH_SCENARIOS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "bench/cluster.h"
#include "bench/report.h"

namespace conveyor::bench {

// Everything a run is told by its flags.
struct BenchConfig {
  ClusterOptions cluster;
  std::string queue = "bench";
  // K worker processes of C slots each.
  int workers = 4;
  int concurrency = 16;
  // Jobs each worker process may hold beyond C, waiting for a slot.
  int prefetch = 0;
  // throughput: also runs end-to-end with this prefetch (0: not).
  int e2e_prefetch = 256;
  // N jobs per throughput phase.
  int64_t jobs = 100'000;
  int payload_bytes = 100;
  // Batched submits: jobs per call, calls outstanding.
  int batch = 500;
  int batch_inflight = 4;
  // Single-job submits: calls outstanding ("concurrent callers").
  int callers = 64;
  // Client connections the load is spread over.
  int channels = 4;
  // latency: open-loop rate and how long it is measured (after a warm-up).
  double rate = 2000;
  absl::Duration duration = absl::Seconds(10);
  // latency: one job in this many is also waited for (WaitJob), for the
  // completion-seen figures; 1 waits for every job.
  int wait_every = 10;
  // latency: runs of the scenario, each on a fresh coordinator and workers.
  // With more than one, the targets apply to the median run's percentiles:
  // a shared VM's speed drifts from one run to the next, and one run's p99
  // follows it.
  int latency_runs = 5;
  // scale
  std::vector<int> scale_workers = {1, 2, 4, 8};
  int64_t scale_jobs = 100'000;
  int many_workers = 1000;
  int64_t many_jobs = 20'000;
  // capacity: jobs queued first, then jobs submitted while that deep.
  int64_t capacity_jobs = 1'000'000;
  int64_t deep_jobs = 100'000;
  int64_t deep_single_jobs = 20'000;
  bool smoke = false;
};

// Each runs one scenario on its own coordinator, adds its figures to
// `report`, and calls report.Fail for a lost job. An error status means the
// scenario could not run to its end.
absl::Status RunThroughput(const BenchConfig& config, Report& report);
absl::Status RunLatency(const BenchConfig& config, Report& report);
absl::Status RunScale(const BenchConfig& config, Report& report);
absl::Status RunCapacity(const BenchConfig& config, Report& report);

}  // namespace conveyor::bench

#endif  // CONVEYOR_BENCH_SCENARIOS_H_
