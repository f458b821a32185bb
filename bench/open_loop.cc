#include "bench/open_loop.h"

#include <algorithm>
#include <utility>

#include <grpcpp/client_context.h>

#include "absl/time/clock.h"

namespace conveyor::bench {

// One job's Submit, then (for one job in wait_every) its WaitJob. It is the
// completion queue's tag of whichever of the two is open.
struct OpenLoop::Call {
  v1::JobService::Stub* stub = nullptr;
  bool record = false;
  bool wait = false;
  bool waiting = false;  // The open call is the WaitJob.
  absl::Time sent;
  grpc::Status status;
  grpc::ClientContext submit_context;
  v1::SubmitResponse submit_response;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::SubmitResponse>> submit;
  grpc::ClientContext wait_context;
  v1::WaitJobRequest wait_request;
  v1::Job job;
  std::unique_ptr<grpc::ClientAsyncResponseReader<v1::Job>> wait_job;
};

OpenLoop::OpenLoop(std::vector<v1::JobService::Stub*> stubs, v1::SubmitRequest request,
                   int wait_every)
    : stubs_(std::move(stubs)),
      request_(std::move(request)),
      wait_every_(std::max(1, wait_every)),
      reaper_([this] { Reap(); }) {}

OpenLoop::~OpenLoop() {
  AwaitQuiet(absl::InfiniteFuture());
  cq_.Shutdown();
  reaper_.join();
}

absl::Duration OpenLoop::Run(double rate, absl::Duration duration, bool record) {
  const absl::Time start = absl::Now();
  const int64_t total = static_cast<int64_t>(rate * absl::ToDoubleSeconds(duration));
  absl::Duration worst_lag;
  for (int64_t i = 0; i < total; ++i) {
    const absl::Time due = start + absl::Seconds(i / rate);
    absl::Time now = absl::Now();
    if (now < due) {
      absl::SleepFor(due - now);
      now = absl::Now();
    }
    worst_lag = std::max(worst_lag, now - due);
    {
      absl::MutexLock lock(&mu_);
      ++outstanding_;
    }
    auto* call = new Call;
    call->stub = stubs_[sent_ % stubs_.size()];
    call->record = record;
    call->wait = sent_ % wait_every_ == 0;
    ++sent_;
    call->submit_context.set_deadline(absl::ToChronoTime(now + absl::Seconds(60)));
    call->sent = absl::Now();
    call->submit = call->stub->AsyncSubmit(&call->submit_context, request_, &cq_);
    call->submit->Finish(&call->submit_response, &call->status, call);
  }
  return worst_lag;
}

bool OpenLoop::AwaitQuiet(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithDeadline(
      absl::Condition(+[](int64_t* outstanding) { return *outstanding == 0; }, &outstanding_),
      deadline);
}

void OpenLoop::Reap() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) {
    auto* call = static_cast<Call*>(tag);
    const absl::Time now = absl::Now();
    if (call->waiting) {
      OnEnded(call, now);
    } else {
      OnSubmitted(call, now);
    }
  }
}

void OpenLoop::OnSubmitted(Call* call, absl::Time now) {
  {
    absl::MutexLock lock(&mu_);
    if (!call->status.ok() || call->submit_response.results_size() != 1) {
      Fail(call->status);
      delete call;
      return;
    }
    const uint64_t id = call->submit_response.results(0).id();
    call->wait_request.set_id(id);
    results_.ids.push_back(id);
    if (call->record) {
      results_.to_ack.Record(absl::ToInt64Nanoseconds(now - call->sent));
      results_.sent_at[id] = call->sent;
    }
    if (!call->wait) {
      --outstanding_;
      delete call;
      return;
    }
  }
  call->waiting = true;
  call->wait_context.set_deadline(absl::ToChronoTime(now + absl::Seconds(120)));
  call->wait_job = call->stub->AsyncWaitJob(&call->wait_context, call->wait_request, &cq_);
  call->wait_job->Finish(&call->job, &call->status, call);
}

void OpenLoop::OnEnded(Call* call, absl::Time now) {
  {
    absl::MutexLock lock(&mu_);
    if (!call->status.ok()) {
      Fail(call->status);
    } else {
      --outstanding_;
      if (call->record && call->job.state() == v1::JOB_STATE_SUCCEEDED) {
        results_.to_done.Record(absl::ToInt64Nanoseconds(now - call->sent));
      }
    }
  }
  delete call;
}

void OpenLoop::Fail(const grpc::Status& status) {
  if (results_.errors++ == 0) {
    results_.first_error = status.ok() ? "Submit answered without one result"
                                       : status.error_message();
  }
  --outstanding_;
}

}  // namespace conveyor::bench
