#include "server/metrics/summary_logger.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include "absl/time/clock.h"

namespace conveyor::metrics {
namespace {

struct Totals {
  int64_t submitted = 0, succeeded = 0, failed = 0, dead = 0, cancelled = 0;
  int64_t queued = 0, running = 0;
};

Totals Sum(const std::vector<QueueStats>& queues) {
  Totals t;
  for (const QueueStats& q : queues) {
    t.submitted += q.counters.submitted;
    t.succeeded += q.counters.succeeded;
    t.failed += q.counters.failed_attempts;
    t.dead += q.counters.dead;
    t.cancelled += q.counters.cancelled;
    t.queued += q.queued;
    t.running += q.running;
  }
  return t;
}

}  // namespace

SummaryLogger::SummaryLogger(const Engine* engine, absl::Duration interval)
    : engine_(engine), interval_(interval) {
  thread_ = std::thread([this] { Run(); });
  pthread_setname_np(thread_.native_handle(), "conveyor-summary");
}

SummaryLogger::~SummaryLogger() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  thread_.join();
}

void SummaryLogger::Run() {
  Totals last = Sum(engine_->ListQueues());
  while (true) {
    {
      absl::MutexLock lock(&mu_);
      auto stopping = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stop_; };
      mu_.AwaitWithTimeout(absl::Condition(&stopping), interval_);
      if (stop_) return;
    }
    const Totals now = Sum(engine_->ListQueues());
    spdlog::info(
        "summary interval={} submitted={} succeeded={} failed_attempts={} dead={} cancelled={} "
        "queued={} running={}",
        absl::FormatDuration(interval_), now.submitted - last.submitted,
        now.succeeded - last.succeeded, now.failed - last.failed, now.dead - last.dead,
        now.cancelled - last.cancelled, now.queued, now.running);
    last = now;
  }
}

}  // namespace conveyor::metrics
