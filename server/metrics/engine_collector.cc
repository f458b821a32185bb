#include "server/metrics/engine_collector.h"

#include <cmath>

namespace conveyor::metrics {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily Family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

void Add(MetricFamily& f, std::vector<ClientMetric::Label> labels, double value) {
  ClientMetric m;
  m.label = std::move(labels);
  if (f.type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  f.metric.push_back(std::move(m));
}

void AddHistogram(MetricFamily& f, std::vector<ClientMetric::Label> labels, const Histogram& h) {
  ClientMetric m;
  m.label = std::move(labels);
  m.histogram.sample_count = h.count();
  m.histogram.sample_sum = h.sum();
  uint64_t cumulative = 0;
  for (size_t i = 0; i <= Histogram::kBounds.size(); ++i) {
    cumulative += h.bucket(i);
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound = i < Histogram::kBounds.size() ? Histogram::kBounds[i] : INFINITY;
    m.histogram.bucket.push_back(b);
  }
  f.metric.push_back(std::move(m));
}

}  // namespace

EngineCollector::EngineCollector(const Engine* engine, const Store* store, const Clock* clock,
                                 absl::Duration drain_target)
    : engine_(engine), store_(store), clock_(clock), drain_target_(drain_target) {}

double EngineCollector::ArrivalRate(const std::string& queue, int64_t submitted,
                                    absl::Time now) const {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = rates_.try_emplace(queue);
  RateSample& s = it->second;
  if (inserted) {
    s.submitted = submitted;
    s.at = now;
    return 0;
  }
  const absl::Duration elapsed = now - s.at;
  if (elapsed >= absl::Seconds(1)) {  // Shorter windows are too noisy.
    s.rate = static_cast<double>(submitted - s.submitted) / absl::ToDoubleSeconds(elapsed);
    s.submitted = submitted;
    s.at = now;
  }
  return s.rate;
}

std::vector<MetricFamily> EngineCollector::Collect() const {
  const absl::Time now = clock_->Now();
  auto submitted = Family("conveyor_jobs_submitted_total", "Jobs accepted.", MetricType::Counter);
  auto dispatched = Family("conveyor_jobs_dispatched_total", "Leases granted (attempts started).",
                           MetricType::Counter);
  auto succeeded = Family("conveyor_jobs_succeeded_total", "Jobs completed.", MetricType::Counter);
  auto failed = Family("conveyor_job_attempts_failed_total",
                       "Attempts that failed, timed out or lost their lease.",
                       MetricType::Counter);
  auto dead = Family("conveyor_jobs_dead_total", "Jobs moved to the dead-letter queue.",
                     MetricType::Counter);
  auto cancelled = Family("conveyor_jobs_cancelled_total", "Jobs cancelled.", MetricType::Counter);
  auto expired = Family("conveyor_leases_expired_total",
                        "Leases that expired (no heartbeat, or attempt timeout).",
                        MetricType::Counter);
  auto jobs = Family("conveyor_jobs", "Jobs kept, by state.", MetricType::Gauge);
  auto oldest = Family("conveyor_queue_oldest_queued_age_seconds",
                       "How long the oldest QUEUED job has waited.", MetricType::Gauge);
  auto paused = Family("conveyor_queue_paused", "1 when the queue is paused.", MetricType::Gauge);
  auto desired = Family("conveyor_queue_desired_workers",
                        "Workers needed for the arrival rate and backlog (for autoscalers).",
                        MetricType::Gauge);
  auto arrival = Family("conveyor_queue_arrival_rate", "Jobs submitted per second, measured "
                        "between scrapes.", MetricType::Gauge);
  auto wait = Family("conveyor_job_queue_wait_seconds", "Time from ready (QUEUED) to started.",
                     MetricType::Histogram);
  auto run = Family("conveyor_job_run_seconds", "Run time of attempts that reported a result.",
                    MetricType::Histogram);
  for (const QueueStats& q : engine_->ListQueues()) {
    std::vector<ClientMetric::Label> labels = {{"queue", q.name}};
    Add(submitted, labels, static_cast<double>(q.counters.submitted));
    Add(dispatched, labels, static_cast<double>(q.counters.dispatched));
    Add(succeeded, labels, static_cast<double>(q.counters.succeeded));
    Add(failed, labels, static_cast<double>(q.counters.failed_attempts));
    Add(dead, labels, static_cast<double>(q.counters.dead));
    Add(cancelled, labels, static_cast<double>(q.counters.cancelled));
    Add(expired, labels, static_cast<double>(q.counters.leases_expired));
    const std::pair<const char*, int64_t> states[] = {
        {"scheduled", q.scheduled}, {"queued", q.queued},   {"running", q.running},
        {"succeeded", q.succeeded}, {"dead", q.dead},       {"cancelled", q.cancelled}};
    for (const auto& [state, n] : states) {
      Add(jobs, {{"queue", q.name}, {"state", state}}, static_cast<double>(n));
    }
    Add(oldest, labels, absl::ToDoubleSeconds(q.oldest_queued_age));
    Add(paused, labels, q.settings.paused ? 1 : 0);
    const double rate = ArrivalRate(q.name, q.counters.submitted, now);
    Add(arrival, labels, rate);
    const Histogram& runs = q.counters.run_time;
    const double mean_run = runs.count() > 0 ? runs.sum() / runs.count() : 0;
    double slots = rate * mean_run + q.queued * mean_run / absl::ToDoubleSeconds(drain_target_);
    slots = std::max(slots, static_cast<double>(q.running));
    const double per_worker =
        q.subscribers > 0 ? static_cast<double>(q.worker_slots) / q.subscribers : 1.0;
    double workers = std::ceil(slots / std::max(per_worker, 1.0));
    if (workers == 0 && (q.queued > 0 || q.running > 0)) workers = 1;
    Add(desired, labels, workers);
    AddHistogram(wait, labels, q.counters.queue_wait);
    AddHistogram(run, labels, q.counters.run_time);
  }

  auto workers = Family("conveyor_workers_connected", "Connected worker streams.",
                        MetricType::Gauge);
  auto slots = Family("conveyor_worker_slots", "Jobs connected workers may run at once.",
                      MetricType::Gauge);
  auto leases = Family("conveyor_leases", "Leases held (jobs running).", MetricType::Gauge);
  int64_t total_slots = 0;
  int64_t total_leases = 0;
  const std::vector<WorkerStats> worker_stats = engine_->ListWorkers();
  for (const WorkerStats& w : worker_stats) {
    total_slots += w.hello.concurrency;
    total_leases += static_cast<int64_t>(w.leases.size());
  }
  Add(workers, {}, static_cast<double>(worker_stats.size()));
  Add(slots, {}, static_cast<double>(total_slots));
  Add(leases, {}, static_cast<double>(total_leases));
  auto draining = Family("conveyor_draining", "1 while the coordinator drains.",
                         MetricType::Gauge);
  Add(draining, {}, engine_->draining() ? 1 : 0);

  const StoreStats store = store_->stats();
  auto commits = Family("conveyor_store_commits_total", "Store transactions (group commits).",
                        MetricType::Counter);
  Add(commits, {}, static_cast<double>(store.commits));
  auto changes = Family("conveyor_store_changes_total",
                        "State changes made durable (changes/commits = batch size).",
                        MetricType::Counter);
  Add(changes, {}, static_cast<double>(store.changes));
  auto commit_time = Family("conveyor_store_commit_seconds", "Time of one group commit.",
                            MetricType::Histogram);
  AddHistogram(commit_time, {}, store.commit_latency);
  auto checkpoints = Family("conveyor_store_checkpoints_total",
                            "WAL checkpoints run beside the commits (SQLite store).",
                            MetricType::Counter);
  Add(checkpoints, {}, static_cast<double>(store.checkpoints));
  auto healthy = Family("conveyor_store_healthy", "0 after a failed commit.", MetricType::Gauge);
  Add(healthy, {}, store.error.ok() ? 1 : 0);

  return {submitted, dispatched, succeeded, failed, dead,     cancelled, expired,
          jobs,      oldest,     paused,    arrival, desired, wait,      run,
          workers,   slots,      leases,    draining, commits, changes,  commit_time,
          checkpoints, healthy};
}

}  // namespace conveyor::metrics
