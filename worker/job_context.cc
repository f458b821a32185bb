#include "worker/job_context.h"

#include <algorithm>
#include <chrono>
#include <utility>

namespace conveyor {

JobContext::JobContext(JobInfo info, ProgressSink progress)
    : info_(std::move(info)), progress_(std::move(progress)) {}

std::string JobContext::cancel_reason() const {
  absl::MutexLock lock(&mu_);
  return cancel_reason_;
}

void JobContext::Cancel(std::string_view reason) {
  {
    absl::MutexLock lock(&mu_);
    if (cancelled_.HasBeenNotified()) return;
    cancel_reason_ = std::string(reason);
    // Notify under mu_ so that two racing Cancel calls cannot both notify.
    cancelled_.Notify();
  }
}

void JobContext::ReportProgress(int percent, std::string_view message) {
  if (progress_ == nullptr) return;
  progress_(std::clamp(percent, -1, 100), std::string(message));
}

void JobContext::ConfigureClientContext(grpc::ClientContext* context) const {
  if (!has_deadline()) return;
  const auto deadline = absl::ToChronoTime(info_.deadline);
  if (context->deadline() <= deadline) return;  // already earlier
  context->set_deadline(deadline);
}

std::unique_ptr<grpc::ClientContext> JobContext::MakeClientContext() const {
  auto context = std::make_unique<grpc::ClientContext>();
  ConfigureClientContext(context.get());
  return context;
}

}  // namespace conveyor
