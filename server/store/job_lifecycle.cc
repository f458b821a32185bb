#include "server/store/job_lifecycle.h"

namespace conveyor {
namespace {

// One list of the lifecycle fields for every copy direction.
template <typename From, typename To>
void CopyFields(const From& from, To& to) {
  to.state = from.state;
  to.attempts = from.attempts;
  to.run_at = from.run_at;
  to.finished_at = from.finished_at;
  to.expires_at = from.expires_at;
  to.result = from.result;
  to.error = from.error;
  to.dead_reason = from.dead_reason;
  to.cancel_reason = from.cancel_reason;
  to.progress = from.progress;
  to.history = from.history;
  to.last_token = from.last_token;
}

}  // namespace

void JobLifecycle::CopyFrom(const Job& job) { CopyFields(job, *this); }

void JobLifecycle::ApplyTo(Job& job) const { CopyFields(*this, job); }

void CopyLifecycle(const Job& from, Job& to) { CopyFields(from, to); }

}  // namespace conveyor
