#ifndef CONVEYOR_SERVER_METRICS_ENGINE_COLLECTOR_H_
#define CONVEYOR_SERVER_METRICS_ENGINE_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <map>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/engine/clock.h"
#include "server/engine/engine.h"
#include "server/store/store.h"

namespace conveyor::metrics {

// Builds the coordinator's Prometheus metrics from the engine's and the
// store's own counts at scrape time (nothing is counted twice).
//
// `conveyor_queue_desired_workers` is what an autoscaler should run: enough
// job slots for the arrival rate times the mean run time (Little's law),
// plus enough to drain the current backlog within `drain_target`, divided by
// the mean concurrency of the queue's workers. The arrival rate is measured
// between scrapes. Thread-safe.
class EngineCollector : public prometheus::Collectable {
 public:
  EngineCollector(const Engine* engine, const Store* store, const Clock* clock,
                  absl::Duration drain_target = absl::Seconds(30));
  std::vector<prometheus::MetricFamily> Collect() const override;

 private:
  struct RateSample {
    int64_t submitted = 0;
    absl::Time at;
    double rate = 0;  // Jobs/s measured up to `at`.
  };
  // The arrival rate of `queue`, updated from its submitted count.
  double ArrivalRate(const std::string& queue, int64_t submitted, absl::Time now) const
      ABSL_LOCKS_EXCLUDED(mu_);

  const Engine* const engine_;
  const Store* const store_;
  const Clock* const clock_;
  const absl::Duration drain_target_;
  mutable absl::Mutex mu_;
  mutable std::map<std::string, RateSample> rates_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conveyor::metrics

#endif  // CONVEYOR_SERVER_METRICS_ENGINE_COLLECTOR_H_
