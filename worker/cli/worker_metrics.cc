#include "worker/cli/worker_metrics.h"

#include <prometheus/metric_family.h>

namespace conveyor {
namespace {

prometheus::MetricFamily One(std::string name, std::string help, prometheus::MetricType type,
                             double value, std::vector<prometheus::ClientMetric::Label> labels = {}) {
  prometheus::MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  prometheus::ClientMetric m;
  m.label = std::move(labels);
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
  return f;
}

}  // namespace

std::vector<prometheus::MetricFamily> WorkerMetrics::Collect() const {
  using prometheus::MetricType;
  auto runs = One("conveyor_worker_jobs_total", "Handler runs, by outcome.", MetricType::Counter,
                  static_cast<double>(worker_->jobs_succeeded()), {{"outcome", "succeeded"}});
  prometheus::ClientMetric failed;
  failed.label = {{"outcome", "failed"}};
  failed.counter.value = static_cast<double>(worker_->handler_errors());
  runs.metric.push_back(failed);
  return {
      One("conveyor_worker_slots", "Jobs this worker runs at once.", MetricType::Gauge,
          worker_->options().concurrency),
      One("conveyor_worker_slots_busy", "Handlers running now.", MetricType::Gauge,
          worker_->running()),
      One("conveyor_worker_jobs_held", "Jobs leased to this worker: running or waiting.",
          MetricType::Gauge, worker_->held()),
      runs,
      One("conveyor_worker_handler_errors_total", "Handler runs that failed or threw.",
          MetricType::Counter, static_cast<double>(worker_->handler_errors())),
      One("conveyor_worker_connected", "1 while welcomed on a coordinator stream.",
          MetricType::Gauge, worker_->state() == StreamState::kConnected ? 1 : 0),
  };
}

}  // namespace conveyor
