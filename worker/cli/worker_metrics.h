#ifndef CONVEYOR_WORKER_CLI_WORKER_METRICS_H_
#define CONVEYOR_WORKER_CLI_WORKER_METRICS_H_

#include <prometheus/collectable.h>

#include <vector>

#include "worker/worker.h"

namespace conveyor {

// The worker process's Prometheus metrics, read from the Worker at scrape
// time: slots, slots busy, jobs held, handler runs by outcome, stream state.
// Thread-safe; `worker` must outlive it.
class WorkerMetrics : public prometheus::Collectable {
 public:
  explicit WorkerMetrics(const Worker* worker) : worker_(worker) {}
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  const Worker* const worker_;
};

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_CLI_WORKER_METRICS_H_
