#ifndef CONVEYOR_SERVER_METRICS_SUMMARY_LOGGER_H_
#define CONVEYOR_SERVER_METRICS_SUMMARY_LOGGER_H_

#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/engine/engine.h"

namespace conveyor::metrics {

// Logs one info line every `interval` with what happened in it (submitted,
// succeeded, failed attempts, dead, cancelled; totals over all queues) and
// the jobs queued and running now: the per-job detail is at debug level.
// Owns one thread. Thread-safe.
class SummaryLogger {
 public:
  SummaryLogger(const Engine* engine, absl::Duration interval);
  ~SummaryLogger();  // Stops and joins.

 private:
  void Run() ABSL_LOCKS_EXCLUDED(mu_);

  const Engine* const engine_;
  const absl::Duration interval_;
  absl::Mutex mu_;
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace conveyor::metrics

#endif  // CONVEYOR_SERVER_METRICS_SUMMARY_LOGGER_H_
