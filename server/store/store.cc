#include "server/store/store.h"

#include <algorithm>
#include <utility>

namespace conveyor {
namespace {

// Collects what a store recovers.
class Collector : public RecoverySink {
 public:
  explicit Collector(RecoveredState& state) : state_(state) {}
  void OnQueue(const std::string& name, const QueueSettings& settings) override {
    state_.queues.emplace_back(name, settings);
  }
  absl::Status OnJob(Job& job) override {
    state_.max_job_id = std::max(state_.max_job_id, job.id);
    state_.jobs.push_back(std::move(job));
    return absl::OkStatus();
  }
  void OnMaxJobId(JobId id) override { state_.max_job_id = std::max(state_.max_job_id, id); }

 private:
  RecoveredState& state_;
};

}  // namespace

absl::StatusOr<RecoveredState> Store::Recover() {
  RecoveredState state;
  Collector collector(state);
  if (absl::Status s = RecoverTo(collector); !s.ok()) return s;
  return state;
}

}  // namespace conveyor
