#include "client/client.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/status_conversion.h"

namespace conveyor {
namespace {

// Registers a context with an optional Cancellation for its lifetime.
class ScopedRegistration {
 public:
  ScopedRegistration(Cancellation* cancellation, grpc::ClientContext* context)
      : cancellation_(cancellation), context_(context) {
    registered_ = cancellation_ == nullptr || cancellation_->Register(context_);
  }
  ~ScopedRegistration() {
    if (cancellation_ != nullptr && registered_) cancellation_->Unregister(context_);
  }
  ScopedRegistration(const ScopedRegistration&) = delete;
  ScopedRegistration& operator=(const ScopedRegistration&) = delete;
  // False when the Cancellation had already fired: do not start the call.
  bool ok() const { return registered_; }

 private:
  Cancellation* cancellation_;
  grpc::ClientContext* context_;
  bool registered_;
};

void SetDeadline(grpc::ClientContext& context, absl::Time deadline) {
  if (deadline != absl::InfiniteFuture()) context.set_deadline(absl::ToChronoTime(deadline));
}

absl::Status Cancelled() { return absl::CancelledError("call cancelled by the caller"); }

bool IsCancelled(const Cancellation* cancellation) {
  return cancellation != nullptr && cancellation->cancelled();
}

}  // namespace

CallOptions WithTimeout(absl::Duration timeout) {
  CallOptions call;
  call.deadline = absl::Now() + timeout;
  return call;
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(const ClientOptions& options) {
  if (options.target.empty()) return absl::InvalidArgumentError("client target: empty");
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
      CreateCoordinatorChannel(options.target, options.connection, args);
  if (!channel.ok()) return channel.status();
  return Create(*std::move(channel), options);
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(std::shared_ptr<grpc::Channel> channel,
                                                       const ClientOptions& options) {
  if (channel == nullptr) return absl::InvalidArgumentError("client channel: null");
  if (options.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "client timeout ", absl::FormatDuration(options.timeout), ": must be positive"));
  }
  if (absl::Status s = ValidateRetryPolicy(options.retry); !s.ok()) return s;
  return std::unique_ptr<Client>(new Client(std::move(channel), options));
}

Client::Client(std::shared_ptr<grpc::Channel> channel, const ClientOptions& options)
    : options_(options),
      channel_(std::move(channel)),
      jobs_(v1::JobService::NewStub(channel_)),
      admin_(v1::AdminService::NewStub(channel_)),
      jitter_(options.jitter_seed != 0 ? options.jitter_seed : std::random_device{}()) {}

absl::Time Client::Deadline(CallLength length, const CallOptions& call) const {
  if (length == CallLength::kLong) return call.deadline;
  return std::min(call.deadline, absl::Now() + options_.timeout);
}

bool Client::Backoff(int retry, absl::Time deadline, Cancellation* cancellation) {
  double unit;
  {
    absl::MutexLock lock(&mu_);
    unit = std::uniform_real_distribution<double>(0.0, 1.0)(jitter_);
  }
  const absl::Time until = absl::Now() + RetryDelay(options_.retry, retry, unit);
  if (until >= deadline) return false;
  if (cancellation != nullptr) return cancellation->SleepUntil(until);
  absl::SleepFor(until - absl::Now());
  return true;
}

absl::Status Client::Call(CallLength length, bool retryable, const CallOptions& call,
                          const std::function<grpc::Status(grpc::ClientContext&)>& rpc) {
  const absl::Time deadline = Deadline(length, call);
  for (int attempt = 1;; ++attempt) {
    absl::Status status;
    {
      grpc::ClientContext context;
      SetDeadline(context, deadline);
      ScopedRegistration registration(call.cancellation, &context);
      if (!registration.ok()) return Cancelled();
      status = FromGrpcStatus(rpc(context));
    }
    if (status.ok() || !retryable || !absl::IsUnavailable(status) ||
        attempt >= options_.retry.max_attempts) {
      return status;
    }
    if (!Backoff(attempt, deadline, call.cancellation)) {
      return IsCancelled(call.cancellation) ? Cancelled() : status;
    }
  }
}

absl::StatusOr<v1::SubmitResult> Client::Submit(const v1::JobSpec& spec, const CallOptions& call) {
  absl::StatusOr<v1::SubmitResponse> response = SubmitBatch({&spec, 1}, call);
  if (!response.ok()) return response.status();
  if (response->results_size() != 1) {
    return absl::InternalError(
        absl::StrCat("Submit of 1 job returned ", response->results_size(), " results"));
  }
  return response->results(0);
}

absl::StatusOr<v1::SubmitResponse> Client::SubmitBatch(absl::Span<const v1::JobSpec> specs,
                                                       const CallOptions& call) {
  if (specs.empty()) return absl::InvalidArgumentError("Submit: no jobs in the batch");
  v1::SubmitRequest request;
  request.mutable_jobs()->Reserve(static_cast<int>(specs.size()));
  bool keyed = true;
  for (const v1::JobSpec& spec : specs) {
    *request.add_jobs() = spec;
    keyed = keyed && !spec.idempotency_key().empty();
  }
  v1::SubmitResponse response;
  absl::Status status = Call(CallLength::kShort, keyed, call, [&](grpc::ClientContext& context) {
    return jobs_->Submit(&context, request, &response);
  });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Job> Client::GetJob(uint64_t id, const CallOptions& call) {
  v1::GetJobRequest request;
  request.set_id(id);
  v1::Job job;
  absl::Status status = Call(CallLength::kShort, true, call, [&](grpc::ClientContext& context) {
    return jobs_->GetJob(&context, request, &job);
  });
  if (!status.ok()) return status;
  return job;
}

absl::StatusOr<v1::ListJobsResponse> Client::ListJobs(const v1::ListJobsRequest& request,
                                                      const CallOptions& call) {
  v1::ListJobsResponse response;
  absl::Status status = Call(CallLength::kShort, true, call, [&](grpc::ClientContext& context) {
    return jobs_->ListJobs(&context, request, &response);
  });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::Job> Client::CancelJob(uint64_t id, const std::string& reason,
                                          const CallOptions& call) {
  v1::CancelJobRequest request;
  request.set_id(id);
  request.set_reason(reason);
  v1::Job job;
  absl::Status status = Call(CallLength::kShort, false, call, [&](grpc::ClientContext& context) {
    return jobs_->CancelJob(&context, request, &job);
  });
  if (!status.ok()) return status;
  return job;
}

absl::StatusOr<v1::Job> Client::WaitJob(uint64_t id, const CallOptions& call) {
  v1::WaitJobRequest request;
  request.set_id(id);
  v1::Job job;
  absl::Status status = Call(CallLength::kLong, true, call, [&](grpc::ClientContext& context) {
    return jobs_->WaitJob(&context, request, &job);
  });
  if (!status.ok()) return status;
  return job;
}

absl::Status Client::WatchJob(uint64_t id, const std::function<bool(const v1::Job&)>& on_update,
                              const CallOptions& call) {
  const absl::Time deadline = Deadline(CallLength::kLong, call);
  v1::WatchJobRequest request;
  request.set_id(id);
  int failures = 0;  // UNAVAILABLE in a row without an update in between.
  while (true) {
    bool stopped = false;
    bool received = false;
    absl::Status status;
    {
      grpc::ClientContext context;
      SetDeadline(context, deadline);
      ScopedRegistration registration(call.cancellation, &context);
      if (!registration.ok()) return Cancelled();
      std::unique_ptr<grpc::ClientReader<v1::JobUpdate>> reader =
          jobs_->WatchJob(&context, request);
      v1::JobUpdate update;
      while (reader->Read(&update)) {
        received = true;
        if (!on_update(update.job())) {
          stopped = true;
          context.TryCancel();
          while (reader->Read(&update)) {
          }
          break;
        }
      }
      status = FromGrpcStatus(reader->Finish());
    }
    if (stopped || status.ok()) return absl::OkStatus();
    if (!absl::IsUnavailable(status)) return status;
    failures = received ? 1 : failures + 1;
    if (failures >= options_.retry.max_attempts) return status;
    if (!Backoff(failures, deadline, call.cancellation)) {
      return IsCancelled(call.cancellation) ? Cancelled() : status;
    }
  }
}

absl::StatusOr<v1::Job> Client::RunJob(const v1::JobSpec& spec, const CallOptions& call) {
  v1::RunJobRequest request;
  *request.mutable_job() = spec;
  v1::Job job;
  absl::Status status = Call(CallLength::kLong, false, call, [&](grpc::ClientContext& context) {
    return jobs_->RunJob(&context, request, &job);
  });
  if (!status.ok()) return status;
  return job;
}

absl::StatusOr<v1::ListQueuesResponse> Client::ListQueues(const CallOptions& call) {
  v1::ListQueuesRequest request;
  v1::ListQueuesResponse response;
  absl::Status status = Call(CallLength::kShort, true, call, [&](grpc::ClientContext& context) {
    return admin_->ListQueues(&context, request, &response);
  });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::QueueInfo> Client::GetQueue(const std::string& name, const CallOptions& call) {
  v1::GetQueueRequest request;
  request.set_name(name);
  v1::QueueInfo queue;
  absl::Status status = Call(CallLength::kShort, true, call, [&](grpc::ClientContext& context) {
    return admin_->GetQueue(&context, request, &queue);
  });
  if (!status.ok()) return status;
  return queue;
}

absl::StatusOr<v1::QueueInfo> Client::UpdateQueue(const std::string& name,
                                                  const v1::QueueSettings& settings,
                                                  const CallOptions& call) {
  v1::UpdateQueueRequest request;
  request.set_name(name);
  *request.mutable_settings() = settings;
  v1::QueueInfo queue;
  absl::Status status = Call(CallLength::kShort, true, call, [&](grpc::ClientContext& context) {
    return admin_->UpdateQueue(&context, request, &queue);
  });
  if (!status.ok()) return status;
  return queue;
}

absl::StatusOr<v1::ListWorkersResponse> Client::ListWorkers(const CallOptions& call) {
  v1::ListWorkersRequest request;
  v1::ListWorkersResponse response;
  absl::Status status = Call(CallLength::kShort, true, call, [&](grpc::ClientContext& context) {
    return admin_->ListWorkers(&context, request, &response);
  });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<v1::ListDeadJobsResponse> Client::ListDeadJobs(
    const v1::ListDeadJobsRequest& request, const CallOptions& call) {
  v1::ListDeadJobsResponse response;
  absl::Status status = Call(CallLength::kShort, true, call, [&](grpc::ClientContext& context) {
    return admin_->ListDeadJobs(&context, request, &response);
  });
  if (!status.ok()) return status;
  return response;
}

absl::StatusOr<int64_t> Client::RedriveJobs(const std::string& queue,
                                            absl::Span<const uint64_t> job_ids,
                                            const CallOptions& call) {
  v1::RedriveJobsRequest request;
  request.set_queue(queue);
  request.mutable_job_ids()->Add(job_ids.begin(), job_ids.end());
  v1::RedriveJobsResponse response;
  absl::Status status = Call(CallLength::kShort, false, call, [&](grpc::ClientContext& context) {
    return admin_->RedriveJobs(&context, request, &response);
  });
  if (!status.ok()) return status;
  return response.redriven();
}

absl::StatusOr<int64_t> Client::PurgeDeadJobs(const std::string& queue,
                                              absl::Span<const uint64_t> job_ids,
                                              const CallOptions& call) {
  v1::PurgeDeadJobsRequest request;
  request.set_queue(queue);
  request.mutable_job_ids()->Add(job_ids.begin(), job_ids.end());
  v1::PurgeDeadJobsResponse response;
  absl::Status status = Call(CallLength::kShort, false, call, [&](grpc::ClientContext& context) {
    return admin_->PurgeDeadJobs(&context, request, &response);
  });
  if (!status.ok()) return status;
  return response.purged();
}

}  // namespace conveyor
