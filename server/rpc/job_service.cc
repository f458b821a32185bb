#include "server/rpc/job_service.h"

#include <atomic>
#include <deque>
#include <memory>

#include <spdlog/spdlog.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/rpc/calls.h"
#include "server/rpc/durable_reply.h"
#include "server/rpc/proto_convert.h"
#include "server/rpc/status_conversion.h"

namespace conveyor::rpc {
namespace {

constexpr int kDefaultPageSize = 100;
constexpr int kMaxPageSize = 1000;
constexpr size_t kMaxQueuedUpdates = 1000;
constexpr char kDeadlineExceeded[] = "deadline exceeded";

// The caller's gRPC deadline, or nullopt when it has none.
std::optional<absl::Time> CallDeadline(const CallContext* context) {
  const auto deadline = context->deadline();
  if (deadline >= std::chrono::system_clock::time_point::max() - std::chrono::hours(24 * 365)) {
    return std::nullopt;
  }
  return absl::FromChrono(deadline);
}

// Waits for a job to end, for WaitJob and RunJob. An engine watcher: no
// thread waits. Lives until OnDone (and while the engine holds it).
class JobWaitReactor : public UnaryReactor,
                       public JobWatcher,
                       public std::enable_shared_from_this<JobWaitReactor> {
 public:
  JobWaitReactor(Engine* engine, Store* store, JobId id, v1::Job* response, bool run_job,
                 CallContext* context)
      : engine_(engine), store_(store), id_(id), response_(response), run_job_(run_job),
        context_(context) {}

  // Starts watching; returns the reactor for gRPC. It holds `ticket` until
  // done.
  static UnaryReactor* Start(std::shared_ptr<JobWaitReactor> reactor, CallTicket ticket) {
    reactor->self_ = reactor;
    reactor->ticket_ = std::move(ticket);
    auto handle = reactor->engine_->Watch(reactor->id_, reactor);
    if (!handle.ok()) {
      reactor->FinishOnce(ToGrpcStatus(handle.status()), nullptr);
    } else {
      reactor->handle_.store(*handle);
    }
    return reactor.get();
  }

  void OnJobChanged(const Job& job, uint64_t seq) override {
    if (!IsTerminal(job.state)) return;
    auto ended = std::make_shared<Job>(job);
    store_->WhenDurable(seq, [self = shared_from_this(), ended](absl::Status s) {
      if (!s.ok()) {
        self->FinishOnce(ToGrpcStatus(StoreFailed(s)), nullptr);
      } else if (self->run_job_ && ended->state == JobState::kCancelled &&
                 ended->cancel_reason == kDeadlineExceeded) {
        self->FinishOnce(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                                      absl::StrCat("job ", ended->id.value,
                                                   " was cancelled: the call's deadline passed")),
                         nullptr);
      } else {
        self->FinishOnce(grpc::Status::OK, ended.get());
      }
    });
  }

  void OnCancel() override {
    const bool deadline_passed = context_->deadline() <= std::chrono::system_clock::now();
    if (run_job_) {
      // The caller is gone: so is the job, on its worker too.
      (void)engine_->Cancel(id_, deadline_passed ? kDeadlineExceeded
                                                 : "RunJob caller cancelled the call");
    }
    FinishOnce(deadline_passed
                   ? grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED, "the call's deadline passed")
                   : grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"),
               nullptr);
  }

  void OnDone() override {
    engine_->Unwatch(id_, handle_.load());
    ticket_ = CallTicket();
    self_.reset();  // May destroy this object: touch nothing after.
  }

 private:
  void FinishOnce(grpc::Status status, const Job* job) {
    if (finished_.exchange(true)) return;
    if (job != nullptr) ToProto(*job, response_);
    Finish(std::move(status));
  }

  Engine* const engine_;
  Store* const store_;
  const JobId id_;
  v1::Job* const response_;
  const bool run_job_;
  CallContext* const context_;
  std::atomic<bool> finished_{false};
  std::atomic<uint64_t> handle_{0};
  CallTicket ticket_;  // Touched only by Start and OnDone.
  std::shared_ptr<JobWaitReactor> self_;
};

// Streams a job's changes. One write in flight; updates wait in a bounded
// queue (the oldest non-final ones are dropped for a reader that lags).
class JobWatchReactor : public WriteReactor<v1::JobUpdate>,
                        public JobWatcher,
                        public std::enable_shared_from_this<JobWatchReactor> {
 public:
  JobWatchReactor(Engine* engine, JobId id) : engine_(engine), id_(id) {}

  // Starts watching when `ticket` admitted the call, else ends it with the
  // refusal; returns the reactor for gRPC.
  static WriteReactor<v1::JobUpdate>* Start(std::shared_ptr<JobWatchReactor> r,
                                            absl::StatusOr<CallTicket> ticket) {
    r->self_ = r;
    if (!ticket.ok()) {
      r->Close(ToGrpcStatus(ticket.status()));
      return r.get();
    }
    r->ticket_ = *std::move(ticket);
    auto handle = r->engine_->Watch(r->id_, r);
    if (!handle.ok()) {
      r->Close(ToGrpcStatus(handle.status()));
    } else {
      r->handle_.store(*handle);
    }
    return r.get();
  }

  void OnJobChanged(const Job& job, uint64_t /*seq*/) override {
    {
      absl::MutexLock lock(&mu_);
      if (closing_) return;
      v1::JobUpdate update;
      ToProto(job, update.mutable_job());
      pending_.push_back(std::move(update));
      if (pending_.size() > kMaxQueuedUpdates) pending_.pop_front();
      if (IsTerminal(job.state)) ended_ = true;
      if (writing_) return;
      writing_ = true;
      current_ = std::move(pending_.front());
      pending_.pop_front();
    }
    StartWrite(&current_);
  }

  void OnWriteDone(bool ok) override {
    bool write_next = false;
    grpc::Status finish;
    {
      absl::MutexLock lock(&mu_);
      if (ok && !pending_.empty() && !closing_) {
        current_ = std::move(pending_.front());
        pending_.pop_front();
        write_next = true;
      } else {
        writing_ = false;
        if (!ok) closing_ = true;
        if (!(closing_ || ended_) || finish_called_) return;
        finish_called_ = true;
        finish = closing_ ? status_ : grpc::Status::OK;
      }
    }
    if (write_next) {
      StartWrite(&current_);
    } else {
      Finish(finish);
    }
  }

  void OnCancel() override {
    Close(grpc::Status(grpc::StatusCode::CANCELLED, "the call was cancelled"));
  }

  void OnDone() override {
    engine_->Unwatch(id_, handle_.load());
    ticket_ = CallTicket();
    self_.reset();  // May destroy this object: touch nothing after.
  }

 private:
  void Close(grpc::Status status) {
    {
      absl::MutexLock lock(&mu_);
      closing_ = true;
      status_ = status;
      if (writing_ || finish_called_) return;  // OnWriteDone finishes.
      finish_called_ = true;
    }
    Finish(std::move(status));
  }

  Engine* const engine_;
  const JobId id_;
  std::atomic<uint64_t> handle_{0};
  CallTicket ticket_;  // Touched only by Start and OnDone.
  std::shared_ptr<JobWatchReactor> self_;
  absl::Mutex mu_;
  std::deque<v1::JobUpdate> pending_ ABSL_GUARDED_BY(mu_);
  v1::JobUpdate current_;  // The write in flight; touched only by its writer.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

void JobService::Serve(ServerLoop& loop) {
  using Async = v1::JobService::AsyncService;
  ServeUnary(loop, &async_, &Async::RequestSubmit, this, &JobService::Submit);
  ServeUnary(loop, &async_, &Async::RequestGetJob, this, &JobService::GetJob);
  ServeUnary(loop, &async_, &Async::RequestListJobs, this, &JobService::ListJobs);
  ServeUnary(loop, &async_, &Async::RequestCancelJob, this, &JobService::CancelJob);
  ServeUnary(loop, &async_, &Async::RequestWaitJob, this, &JobService::WaitJob);
  ServeServerStream(loop, &async_, &Async::RequestWatchJob, this, &JobService::WatchJob);
  ServeUnary(loop, &async_, &Async::RequestRunJob, this, &JobService::RunJob);
}

UnaryReactor* JobService::Submit(CallContext* context, const v1::SubmitRequest* request,
                                 v1::SubmitResponse* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.JobService/Submit");
  if (refused != nullptr) return refused;
  std::vector<JobSpec> specs;
  specs.reserve(request->jobs_size());
  for (int i = 0; i < request->jobs_size(); ++i) {
    auto spec = FromProto(request->jobs(i), absl::StrCat("jobs[", i, "]"));
    if (!spec.ok()) return FinishNow(context, spec.status());
    specs.push_back(*std::move(spec));
  }
  auto submitted = engine_->Submit(std::move(specs));
  if (!submitted.ok()) return FinishNow(context, submitted.status());
  for (const SubmitResult& r : submitted->value) {
    SPDLOG_DEBUG("job submitted id={} duplicate={} peer={}", r.id.value, r.duplicate,
                 context->peer());
    v1::SubmitResult* out = response->add_results();
    out->set_id(r.id.value);
    out->set_duplicate(r.duplicate);
  }
  auto* reactor = context->DefaultReactor();
  FinishWhenDurable(store_, submitted->seq, reactor);
  return reactor;
}

UnaryReactor* JobService::GetJob(CallContext* context, const v1::GetJobRequest* request,
                                 v1::Job* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.JobService/GetJob");
  if (refused != nullptr) return refused;
  auto job = engine_->GetJob(JobId{request->id()});
  if (!job.ok()) return FinishNow(context, job.status());
  ToProto(*job, response);
  return FinishNow(context, absl::OkStatus());
}

UnaryReactor* JobService::ListJobs(CallContext* context, const v1::ListJobsRequest* request,
                                   v1::ListJobsResponse* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.JobService/ListJobs");
  if (refused != nullptr) return refused;
  JobFilter filter;
  filter.queue = request->queue();
  if (!v1::JobState_IsValid(request->state())) {
    return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
                                  "state ", request->state(),
                                  " is not a JobState: leave it unset or use 1 to 6")));
  }
  if (request->state() != v1::JOB_STATE_UNSPECIFIED) {
    filter.state = static_cast<JobState>(request->state());
  }
  if (request->page_size() < 0 || request->page_size() > kMaxPageSize) {
    return FinishNow(context, absl::InvalidArgumentError(absl::StrCat(
                                  "page_size must be 0 (default 100) to ", kMaxPageSize)));
  }
  filter.limit = request->page_size() == 0 ? kDefaultPageSize : request->page_size();
  if (!request->page_token().empty() &&
      !absl::SimpleAtoi(request->page_token(), &filter.after.value)) {
    return FinishNow(context, absl::InvalidArgumentError(
                                  "page_token: pass next_page_token from the previous page"));
  }
  std::vector<Job> jobs = engine_->ListJobs(filter, request->omit_payloads());
  for (const Job& job : jobs) ToProto(job, response->add_jobs());
  if (jobs.size() == filter.limit) {
    response->set_next_page_token(absl::StrCat(jobs.back().id.value));
  }
  return FinishNow(context, absl::OkStatus());
}

UnaryReactor* JobService::CancelJob(CallContext* context, const v1::CancelJobRequest* request,
                                    v1::Job* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.JobService/CancelJob");
  if (refused != nullptr) return refused;
  auto cancelled = engine_->Cancel(JobId{request->id()}, request->reason());
  if (!cancelled.ok()) return FinishNow(context, cancelled.status());
  auto* reactor = context->DefaultReactor();
  auto job = std::make_shared<Job>(std::move(cancelled->value));
  FinishWhenDurable(store_, cancelled->seq, reactor, [job, response] { ToProto(*job, response); });
  return reactor;
}

UnaryReactor* JobService::WaitJob(CallContext* context, const v1::WaitJobRequest* request,
                                  v1::Job* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.JobService/WaitJob");
  if (refused != nullptr) return refused;
  auto ticket = limits_->Admit(context->peer(), /*wait=*/true);
  if (!ticket.ok()) return FinishNow(context, ticket.status());
  return JobWaitReactor::Start(
      std::make_shared<JobWaitReactor>(engine_, store_, JobId{request->id()}, response,
                                       /*run_job=*/false, context),
      *std::move(ticket));
}

WriteReactor<v1::JobUpdate>* JobService::WatchJob(CallContext* context,
                                                  const v1::WatchJobRequest* request) {
  grpc::Status refused = CheckCall(authorizer_, *context, "/conveyor.v1.JobService/WatchJob");
  if (!refused.ok()) return new RefusedStream<WriteReactor<v1::JobUpdate>>(refused);
  return JobWatchReactor::Start(std::make_shared<JobWatchReactor>(engine_, JobId{request->id()}),
                                limits_->Admit(context->peer(), /*wait=*/true));
}

UnaryReactor* JobService::RunJob(CallContext* context, const v1::RunJobRequest* request,
                                 v1::Job* response) {
  auto* refused = RefuseUnary(authorizer_, context, "/conveyor.v1.JobService/RunJob");
  if (refused != nullptr) return refused;
  auto spec = FromProto(request->job(), "job");
  if (!spec.ok()) return FinishNow(context, spec.status());
  if (auto call_deadline = CallDeadline(context)) {
    // The call's deadline becomes the job's (the earlier of the two).
    absl::Time deadline = *call_deadline;
    if (spec->deadline) deadline = std::min(deadline, *spec->deadline);
    if (spec->timeout) deadline = std::min(deadline, clock_->Now() + *spec->timeout);
    spec->deadline = deadline;
    spec->timeout.reset();
  }
  // Admitted before the submit, so a refused RunJob leaves no job behind.
  auto ticket = limits_->Admit(context->peer(), /*wait=*/true);
  if (!ticket.ok()) return FinishNow(context, ticket.status());
  std::vector<JobSpec> specs;
  specs.push_back(*std::move(spec));
  auto submitted = engine_->Submit(std::move(specs));
  if (!submitted.ok()) return FinishNow(context, submitted.status());
  return JobWaitReactor::Start(
      std::make_shared<JobWaitReactor>(engine_, store_, submitted->value[0].id, response,
                                       /*run_job=*/true, context),
      *std::move(ticket));
}

}  // namespace conveyor::rpc
