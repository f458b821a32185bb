#include "worker/worker.h"

#include <unistd.h>

#include <algorithm>
#include <exception>
#include <random>
#include <utility>

#include "absl/strings/str_cat.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"
#include "spdlog/spdlog.h"

namespace conveyor {

using conveyor::v1::CoordinatorMessage;
using conveyor::v1::WorkerMessage;

// Actions collected under mu_ and run, in order, after it is released: no
// logging, writing or waking of handlers happens under the lock.
class Worker::Deferred {
 public:
  Deferred() = default;
  Deferred(const Deferred&) = delete;
  Deferred& operator=(const Deferred&) = delete;
  ~Deferred() {
    for (auto& action : actions_) action();
  }
  void Add(std::function<void()> action) { actions_.push_back(std::move(action)); }
  template <typename... Args>
  void Info(fmt::format_string<Args...> format, Args&&... args) {
    Add([line = fmt::format(format, std::forward<Args>(args)...)] { spdlog::info("{}", line); });
  }
  // Formats only when debug lines are on: per-job lines stay cheap at info.
  template <typename... Args>
  void Debug(fmt::format_string<Args...> format, Args&&... args) {
    if (!spdlog::should_log(spdlog::level::debug)) return;
    Add([line = fmt::format(format, std::forward<Args>(args)...)] { spdlog::debug("{}", line); });
  }
  template <typename... Args>
  void Warn(fmt::format_string<Args...> format, Args&&... args) {
    Add([line = fmt::format(format, std::forward<Args>(args)...)] { spdlog::warn("{}", line); });
  }

 private:
  std::vector<std::function<void()>> actions_;
};

namespace {

absl::Duration FromProto(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

std::string DefaultName() {
  char host[256] = {};
  if (gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return absl::StrCat(host[0] != '\0' ? host : "worker", "-", getpid());
}

std::string Quote(absl::string_view text) {
  std::string out = "\"";
  for (char c : text.substr(0, 512)) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c == '\n' ? ' ' : c);
  }
  out.push_back('"');
  return out;
}

std::string Fmt(absl::Duration d) { return absl::FormatDuration(d); }

}  // namespace

std::string_view StreamStateName(StreamState state) {
  switch (state) {
    case StreamState::kConnecting:
      return "connecting";
    case StreamState::kConnected:
      return "connected";
    case StreamState::kDraining:
      return "draining";
    case StreamState::kBackoff:
      return "backoff";
    case StreamState::kClosed:
      return "closed";
  }
  return "unknown";
}

absl::StatusOr<std::unique_ptr<Worker>> Worker::Create(WorkerOptions options) {
  if (options.queues.empty()) return absl::InvalidArgumentError("worker: give at least one queue");
  for (const auto& q : options.queues) {
    if (q.empty()) return absl::InvalidArgumentError("worker: empty queue name");
  }
  if (options.concurrency < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker: concurrency must be >= 1, got ", options.concurrency));
  }
  if (options.prefetch < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker: prefetch must be >= 0, got ", options.prefetch));
  }
  if (options.channel == nullptr && options.coordinator.empty()) {
    return absl::InvalidArgumentError("worker: no coordinator address");
  }
  if (options.max_batch < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker: max_batch must be >= 1, got ", options.max_batch));
  }
  if (options.drain_timeout < absl::ZeroDuration() ||
      options.cancel_grace < absl::ZeroDuration()) {
    return absl::InvalidArgumentError("worker: drain_timeout and cancel_grace must be >= 0");
  }
  if (options.name.empty()) options.name = DefaultName();
  if (options.jitter_seed == 0) options.jitter_seed = std::random_device{}();
  return std::unique_ptr<Worker>(new Worker(std::move(options)));
}

Worker::Worker(WorkerOptions options)
    : options_(std::move(options)),
      backoff_(options_.reconnect_initial, options_.reconnect_max, options_.jitter_seed) {}

Worker::~Worker() {
  bool started;
  {
    absl::MutexLock lock(&mu_);
    started = started_;
  }
  if (started) {
    Stop();
    Wait().IgnoreError();
  }
  pool_.reset();  // joins the slots: waits for running handlers
}

absl::Status Worker::RegisterHandler(std::string type, Handler handler) {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("worker: register handlers before Start()");
  if (type.empty() || handler == nullptr) {
    return absl::InvalidArgumentError("worker: handler needs a type and a function");
  }
  if (!handlers_.emplace(type, std::move(handler)).second) {
    return absl::AlreadyExistsError(absl::StrCat("worker: a handler for type \"", type,
                                                 "\" is already registered"));
  }
  return absl::OkStatus();
}

absl::Status Worker::SetDefaultHandler(Handler handler) {
  absl::MutexLock lock(&mu_);
  if (started_) return absl::FailedPreconditionError("worker: set handlers before Start()");
  default_handler_ = std::move(handler);
  return absl::OkStatus();
}

const Handler* Worker::FindHandler(const std::string& type) const {
  auto it = handlers_.find(type);
  if (it != handlers_.end()) return &it->second;
  if (default_handler_ != nullptr) return &default_handler_;
  return nullptr;
}

absl::Status Worker::Start() {
  {
    absl::MutexLock lock(&mu_);
    if (started_) return absl::FailedPreconditionError("worker: already started");
    started_ = true;
  }
  channel_ = options_.channel;
  if (channel_ == nullptr) {
    grpc::ChannelArguments args;
    // Let our own backoff pace reconnects, not the channel's (up to 2 min).
    const int max_ms = static_cast<int>(absl::ToInt64Milliseconds(options_.reconnect_max));
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, std::max(100, max_ms));
    args.SetMaxReceiveMessageSize(options_.max_receive_message_bytes);
    auto channel = CreateCoordinatorChannel(options_.coordinator, options_.connection, args);
    if (!channel.ok()) return channel.status();
    channel_ = *std::move(channel);
  }
  stub_ = conveyor::v1::WorkerService::NewStub(channel_);
  poller_ = options_.poller != nullptr ? options_.poller : StreamPoller::Start();
  pool_ = std::make_unique<SlotPool>(options_.concurrency);
  spdlog::info("event=worker_start name={} coordinator={} concurrency={} prefetch={} queues={}",
               options_.name, options_.coordinator, options_.concurrency, options_.prefetch,
               fmt::join(options_.queues, ","));
  timer_ = std::thread([this] { TimerLoop(); });
  Connect();
  return absl::OkStatus();
}

absl::Status Worker::Run() {
  absl::Status started = Start();
  if (!started.ok()) return started;
  return Wait();
}

void Worker::Drain() {
  Deferred after;
  absl::MutexLock lock(&mu_);
  StartDrainLocked(options_.drain_timeout, "requested", &after);
}

void Worker::Stop() {
  Deferred after;
  absl::MutexLock lock(&mu_);
  if (done_) return;
  after.Info("event=worker_stop running={}", jobs_.size());
  for (auto& [key, job] : jobs_) {
    after.Add([context = job.context] { context->Cancel("worker stopping"); });
  }
  FinishLocked(&after);
  WorkerStream* closing = closing_;
  if (closing != nullptr) {
    closing->AddHold();
    after.Add([closing] {
      closing->Cancel();
      closing->RemoveHold();
    });
  }
}

absl::Status Worker::Wait() {
  {
    absl::MutexLock lock(&mu_);
    if (!started_) return absl::FailedPreconditionError("worker: not started");
    mu_.Await(absl::Condition(this, &Worker::EndedLocked));
    if (timer_exit_) return absl::OkStatus();  // waited before
    timer_exit_ = true;
    KickTimerLocked();
  }
  if (timer_.joinable()) timer_.join();
  int busy = running();
  if (busy > 0) spdlog::warn("event=worker_end handlers_still_running={}", busy);
  spdlog::info("event=worker_end name={}", options_.name);
  return absl::OkStatus();
}

StreamState Worker::state() const {
  absl::MutexLock lock(&mu_);
  return state_;
}

int Worker::running() const {
  absl::MutexLock lock(&mu_);
  int n = 0;
  for (const auto& [key, job] : jobs_) n += job.started ? 1 : 0;
  return n;
}

int Worker::held() const {
  absl::MutexLock lock(&mu_);
  return static_cast<int>(jobs_.size());
}

uint64_t Worker::worker_id() const {
  absl::MutexLock lock(&mu_);
  return worker_id_;
}

// --- the stream ------------------------------------------------------------

conveyor::v1::Hello Worker::MakeHelloLocked() const {
  conveyor::v1::Hello hello;
  hello.set_name(options_.name);
  for (const auto& q : options_.queues) hello.add_queues(q);
  if (!options_.types.empty()) {
    for (const auto& t : options_.types) hello.add_types(t);
  } else if (default_handler_ == nullptr) {
    for (const auto& [type, handler] : handlers_) hello.add_types(type);
  }
  hello.set_concurrency(options_.concurrency);
  hello.set_prefetch(options_.prefetch);
  hello.set_max_batch(options_.max_batch);
  for (const auto& [k, v] : options_.labels) (*hello.mutable_labels())[k] = v;
  return hello;
}

void Worker::Connect() {
  WorkerStream* stream = nullptr;
  conveyor::v1::Hello hello;
  {
    Deferred after;
    absl::MutexLock lock(&mu_);
    if (done_ || stream_ != nullptr) return;
    ++generation_;
    welcomed_ = false;
    reconnect_at_ = absl::InfiniteFuture();
    hello = MakeHelloLocked();
    // Takes the owner hold.
    stream = WorkerStream::Create(stub_.get(), poller_.get(), this, options_.max_batch);
    stream_ = stream;
    ++streams_alive_;
    SetStateLocked(StreamState::kConnecting, &after);
  }
  // No reaction can run before the call starts, so stream_ is set in time.
  stream->StartWithHello(hello);
}

void Worker::OnStreamMessage(WorkerStream* stream, const CoordinatorMessage& message) {
  Deferred after;
  absl::MutexLock lock(&mu_);
  if (stream != stream_) return;  // a stream we already let go of
  if (message.has_batch()) {
    for (const CoordinatorMessage& m : message.batch().messages()) {
      if (m.has_batch()) {
        after.Warn("event=nested_batch_ignored");
        continue;
      }
      HandleMessageLocked(m, &after);
      if (stream != stream_) break;  // e.g. a drain ended the worker
    }
  } else {
    HandleMessageLocked(message, &after);
  }
  MaybeFinishDrainLocked(&after);
}

void Worker::HandleMessageLocked(const CoordinatorMessage& message, Deferred* after_ptr) {
  Deferred& after = *after_ptr;
  switch (message.kind_case()) {
    case CoordinatorMessage::kWelcome:
      HandleWelcome(message.welcome(), &after);
      break;
    case CoordinatorMessage::kAssignment:
      HandleAssignment(message.assignment(), &after);
      break;
    case CoordinatorMessage::kAck:
      HandleAck(message.ack(), &after);
      break;
    case CoordinatorMessage::kCancel:
      HandleCancel(message.cancel(), &after);
      break;
    case CoordinatorMessage::kDrain: {
      const absl::Duration grace = FromProto(message.drain().grace());
      after.Info("event=coordinator_drain grace={}", Fmt(grace));
      if (options_.exit_on_coordinator_drain) {
        StartDrainLocked(std::min(grace, options_.drain_timeout), "coordinator drain", &after);
      } else {
        // Give back what has not started; running jobs finish and report.
        std::vector<WorkerMessage> releases;
        for (auto it = jobs_.begin(); it != jobs_.end();) {
          if (it->second.started) {
            ++it;
            continue;
          }
          WorkerMessage m;
          m.mutable_release()->set_job_id(it->first.first);
          m.mutable_release()->set_fencing_token(it->first.second);
          SendResultLocked(it->first, std::move(m), &after);
          it = jobs_.erase(it);
        }
      }
      break;
    }
    case CoordinatorMessage::kBatch:  // OnStreamMessage unpacks these
    case CoordinatorMessage::KIND_NOT_SET:
      after.Warn("event=unknown_message");
      break;
  }
}

void Worker::HandleWelcome(const conveyor::v1::Welcome& welcome, Deferred* after) {
  welcomed_ = true;
  worker_id_ = welcome.worker_id();
  backoff_.Reset();
  absl::Duration interval = FromProto(welcome.heartbeat_interval());
  if (interval <= absl::ZeroDuration()) interval = FromProto(welcome.lease_duration()) / 3;
  if (interval <= absl::ZeroDuration()) interval = absl::Seconds(5);
  heartbeat_interval_ = std::max(interval, absl::Milliseconds(10));
  next_heartbeat_ = absl::Now() + heartbeat_interval_;
  granted_concurrency_ = std::max(0, welcome.concurrency());
  sent_concurrency_ = granted_concurrency_;
  after->Info("event=welcome worker_id={} concurrency={} prefetch={} heartbeat_interval={} "
              "lease={}",
              worker_id_, welcome.concurrency(), welcome.prefetch(), Fmt(heartbeat_interval_),
              Fmt(FromProto(welcome.lease_duration())));
  SetStateLocked(draining_ ? StreamState::kDraining : StreamState::kConnected, after);
  UpdateConcurrencyLocked(after);
  // Results finished while disconnected (or unacked when the stream broke).
  std::vector<WorkerMessage> results;
  for (const auto& [key, message] : unacked_) results.push_back(message);
  if (!results.empty()) after->Info("event=resend_results count={}", results.size());
  SendLocked(std::move(results), after);
  KickTimerLocked();
}

void Worker::HandleAssignment(const conveyor::v1::Assignment& assignment, Deferred* after) {
  const auto& job = assignment.job();
  const AttemptKey key{job.id(), assignment.fencing_token()};
  if (draining_ || done_) {
    after->Info("event=job_release job_id={} reason=draining", job.id());
    WorkerMessage m;
    m.mutable_release()->set_job_id(key.first);
    m.mutable_release()->set_fencing_token(key.second);
    SendResultLocked(key, std::move(m), after);
    return;
  }
  JobInfo info;
  info.job_id = job.id();
  info.queue = job.queue();
  info.type = job.type();
  info.payload = job.payload();
  info.labels.insert(job.labels().begin(), job.labels().end());
  info.attempt = assignment.attempt();
  info.fencing_token = assignment.fencing_token();
  if (assignment.has_deadline_in()) {
    info.deadline = absl::Now() + FromProto(assignment.deadline_in());
  }
  const absl::Time info_deadline = info.deadline;
  auto context = std::make_shared<JobContext>(
      std::move(info),
      [this, key](int percent, const std::string& message) { SendProgress(key, percent, message); });
  ActiveJob active;
  active.context = std::move(context);
  active.generation = generation_;
  jobs_[key] = std::move(active);
  after->Debug("event=job_assigned job_id={} type={} attempt={} token={}", job.id(), job.type(),
               assignment.attempt(), key.second);
  SlotPool* pool = pool_.get();
  after->Add([this, pool, key] { pool->Submit([this, key] { RunJob(key); }); });
  // A deadline earlier than the timer's next wake-up needs watching; jobs
  // without one wake nobody.
  if (info_deadline < timer_next_wake_) KickTimerLocked();
}

void Worker::HandleAck(const conveyor::v1::ResultAck& ack, Deferred* after) {
  const AttemptKey key{ack.job_id(), ack.fencing_token()};
  auto it = unacked_.find(key);
  if (it == unacked_.end()) {
    after->Warn("event=unexpected_ack job_id={} token={}", key.first, key.second);
    return;
  }
  const char* kind = it->second.has_complete() ? "complete"
                     : it->second.has_fail()   ? "fail"
                                               : "release";
  unacked_.erase(it);
  if (ack.accepted()) {
    after->Debug("event=result_accepted job_id={} kind={}", key.first, kind);
  } else {
    after->Warn("event=result_rejected job_id={} kind={} reason={}", key.first, kind,
                Quote(ack.reason()));
  }
}

void Worker::HandleCancel(const conveyor::v1::CancelJobCommand& cancel, Deferred* after) {
  const AttemptKey key{cancel.job_id(), cancel.fencing_token()};
  auto it = jobs_.find(key);
  if (it == jobs_.end()) {
    after->Info("event=cancel_unknown job_id={} token={}", key.first, key.second);
    return;
  }
  ActiveJob& job = it->second;
  job.cancelled_by_coordinator = true;
  after->Info("event=job_cancel job_id={} started={} reason={}", key.first, job.started,
              Quote(cancel.reason()));
  auto context = job.context;
  std::string reason = cancel.reason().empty() ? "cancelled" : cancel.reason();
  after->Add([context, reason] { context->Cancel(reason); });
  if (!job.started) {
    jobs_.erase(it);  // its slot is never taken; the lease is already gone
  } else if (job.cancelled_at == absl::InfiniteFuture()) {
    job.cancelled_at = absl::Now();
    KickTimerLocked();  // watch the grace period
  }
}

void Worker::OnStreamBroken(WorkerStream* stream) {
  {
    Deferred after;
    absl::MutexLock lock(&mu_);
    if (stream == stream_) {
      stream_ = nullptr;
      welcomed_ = false;
      next_heartbeat_ = absl::InfiniteFuture();
      // The coordinator returned every lease of this stream to its queue:
      // jobs not started yet are no longer ours.
      int dropped = 0;
      for (auto it = jobs_.begin(); it != jobs_.end();) {
        if (!it->second.started) {
          after.Add([context = it->second.context] { context->Cancel("lease lost"); });
          it = jobs_.erase(it);
          ++dropped;
        } else {
          ++it;
        }
      }
      if (dropped > 0) after.Warn("event=jobs_dropped count={} reason=stream_lost", dropped);
      if (done_) {
        SetStateLocked(StreamState::kClosed, &after);
      } else {
        const absl::Duration delay = backoff_.Next();
        reconnect_at_ = absl::Now() + delay;
        after.Info("event=reconnect_scheduled in={}", Fmt(delay));
        SetStateLocked(StreamState::kBackoff, &after);
        KickTimerLocked();
      }
    } else if (stream == closing_) {
      closing_ = nullptr;
      closing_deadline_ = absl::InfiniteFuture();
    }
  }
  stream->ReleaseOwnerHold();
}

void Worker::OnStreamDone(const grpc::Status& status) {
  if (status.ok()) {
    spdlog::info("event=stream_end status=OK");
  } else {
    spdlog::warn("event=stream_end code={} message={}", static_cast<int>(status.error_code()),
                 Quote(status.error_message()));
  }
  absl::MutexLock lock(&mu_);
  --streams_alive_;
}

// --- jobs --------------------------------------------------------------------

void Worker::RunJob(AttemptKey key) {
  std::shared_ptr<JobContext> context;
  {
    absl::MutexLock lock(&mu_);
    auto it = jobs_.find(key);
    if (it == jobs_.end()) return;  // released, cancelled or dropped before it started
    it->second.started = true;
    context = it->second.context;
  }
  spdlog::debug("event=job_start job_id={} type={} attempt={}", key.first, context->type(),
               context->attempt());
  const absl::Time start = absl::Now();
  absl::StatusOr<std::string> result;
  const Handler* handler = FindHandler(context->type());
  if (handler == nullptr) {
    result = PermanentError(absl::StrCat("no handler for job type \"", context->type(),
                                         "\" on worker ", options_.name));
  } else {
    // The one catch in Conveyor: a throwing handler fails its attempt.
    try {
      result = (*handler)(*context);
    } catch (const std::exception& e) {
      result = absl::UnknownError(absl::StrCat("handler threw: ", e.what()));
    } catch (...) {
      result = absl::UnknownError("handler threw a non-std::exception");
    }
  }
  const absl::Duration took = absl::Now() - start;
  (result.ok() ? jobs_succeeded_ : handler_errors_).fetch_add(1);
  if (result.ok()) {
    spdlog::debug("event=job_done job_id={} took={} result_bytes={}", key.first, Fmt(took),
                 result->size());
  } else {
    spdlog::debug("event=job_failed job_id={} took={} permanent={} error={}", key.first, Fmt(took),
                 IsPermanent(result.status()), Quote(result.status().message()));
  }
  FinishJob(key, std::move(result));
}

void Worker::FinishJob(AttemptKey key, absl::StatusOr<std::string> result) {
  Deferred after;
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end()) return;  // Stop() or a stream loss already let it go
  const bool cancelled = it->second.cancelled_by_coordinator;
  const bool grace_logged = it->second.grace_logged;
  const uint64_t generation = it->second.generation;
  jobs_.erase(it);
  if (grace_logged) after.Warn("event=slot_freed job_id={} after_ignoring_cancel=true", key.first);
  if (cancelled) {
    after.Info("event=result_dropped job_id={} reason=cancelled_by_coordinator", key.first);
  } else if (done_) {
    after.Warn("event=result_dropped job_id={} reason=worker_stopped", key.first);
  } else {
    WorkerMessage m;
    if (result.ok()) {
      auto* complete = m.mutable_complete();
      complete->set_job_id(key.first);
      complete->set_fencing_token(key.second);
      complete->set_result(std::move(*result));
    } else {
      auto* fail = m.mutable_fail();
      fail->set_job_id(key.first);
      fail->set_fencing_token(key.second);
      std::string error(result.status().message());
      if (error.empty()) error = result.status().ToString();
      if (error.size() > 64 * 1024) error.resize(64 * 1024);
      fail->set_error(std::move(error));
      fail->set_permanent(IsPermanent(result.status()));
    }
    SendResultLocked(key, std::move(m), &after);
  }
  if (generation != generation_) UpdateConcurrencyLocked(&after);
  MaybeFinishDrainLocked(&after);
}

void Worker::SendProgress(AttemptKey key, int percent, const std::string& message) {
  Deferred after;
  absl::MutexLock lock(&mu_);
  auto it = jobs_.find(key);
  if (it == jobs_.end() || !welcomed_ || it->second.generation != generation_) return;
  WorkerMessage m;
  auto* progress = m.mutable_progress();
  progress->set_job_id(key.first);
  progress->set_fencing_token(key.second);
  progress->mutable_progress()->set_percent(percent);
  progress->mutable_progress()->set_message(message);
  SendLocked(std::move(m), &after);
}

// --- helpers under mu_ ------------------------------------------------------

void Worker::SetStateLocked(StreamState state, Deferred* after) {
  if (state == state_) return;
  after->Info("event=state from={} to={}", StreamStateName(state_), StreamStateName(state));
  state_ = state;
}

void Worker::SendLocked(WorkerMessage message, Deferred* after) {
  if (stream_ == nullptr) return;
  WorkerStream* stream = stream_;
  stream->AddHold();  // our owner hold is outstanding, so this is allowed
  after->Add([stream, message = std::move(message)]() mutable {
    stream->Send(std::move(message));
    stream->RemoveHold();
  });
}

void Worker::SendLocked(std::vector<WorkerMessage> messages, Deferred* after) {
  if (stream_ == nullptr || messages.empty()) return;
  WorkerStream* stream = stream_;
  stream->AddHold();  // our owner hold is outstanding, so this is allowed
  after->Add([stream, messages = std::move(messages)]() mutable {
    stream->Send(std::move(messages));
    stream->RemoveHold();
  });
}

void Worker::SendResultLocked(AttemptKey key, WorkerMessage message, Deferred* after) {
  if (welcomed_) {
    unacked_[key] = message;
    SendLocked(std::move(message), after);
  } else {
    unacked_[key] = std::move(message);
    after->Info("event=result_pending job_id={} reason=disconnected", key.first);
  }
}

int Worker::WantedConcurrencyLocked() const {
  if (draining_) return 0;
  int busy_elsewhere = 0;
  for (const auto& [key, job] : jobs_) {
    if (job.generation != generation_) ++busy_elsewhere;
  }
  return std::max(0, options_.concurrency - busy_elsewhere);
}

void Worker::UpdateConcurrencyLocked(Deferred* after) {
  if (!welcomed_) return;
  const int wanted = std::min(WantedConcurrencyLocked(), granted_concurrency_);
  if (wanted == sent_concurrency_) return;
  sent_concurrency_ = wanted;
  WorkerMessage m;
  m.mutable_set_concurrency()->set_concurrency(wanted);
  after->Info("event=set_concurrency concurrency={}", wanted);
  SendLocked(std::move(m), after);
}

void Worker::StartDrainLocked(absl::Duration timeout, std::string_view why, Deferred* after) {
  if (draining_ || done_) return;
  draining_ = true;
  drain_deadline_ = absl::Now() + timeout;
  int released = 0;
  for (auto it = jobs_.begin(); it != jobs_.end();) {
    if (it->second.started) {
      ++it;
      continue;
    }
    WorkerMessage m;
    m.mutable_release()->set_job_id(it->first.first);
    m.mutable_release()->set_fencing_token(it->first.second);
    unacked_[it->first] = std::move(m);
    it = jobs_.erase(it);
    ++released;
  }
  after->Info("event=drain_start why={} timeout={} running={} released={}", Quote(absl::string_view(why.data(), why.size())),
              Fmt(timeout), jobs_.size(), released);
  if (welcomed_) {
    SetStateLocked(StreamState::kDraining, after);
    // SetConcurrency 0 first, so nothing new arrives, then the releases.
    std::vector<WorkerMessage> messages(1);
    messages[0].mutable_set_concurrency()->set_concurrency(0);
    sent_concurrency_ = 0;
    for (const auto& [key, m] : unacked_) {
      if (m.has_release()) messages.push_back(m);
    }
    SendLocked(std::move(messages), after);
  }
  KickTimerLocked();
  MaybeFinishDrainLocked(after);
}

void Worker::MaybeFinishDrainLocked(Deferred* after) {
  if (!draining_ || done_) return;
  if (!jobs_.empty()) return;
  // Everything reported: wait for the acks while connected.
  if (!unacked_.empty() && stream_ != nullptr) return;
  if (!unacked_.empty()) {
    if (absl::Now() < drain_deadline_ + options_.cancel_grace) return;  // still reconnecting
    after->Warn("event=drain_results_unsent count={}", unacked_.size());
  }
  after->Info("event=drain_done");
  FinishLocked(after);
}

void Worker::FinishLocked(Deferred* after) {
  done_ = true;
  reconnect_at_ = absl::InfiniteFuture();
  next_heartbeat_ = absl::InfiniteFuture();
  SetStateLocked(StreamState::kClosed, after);
  KickTimerLocked();
  WorkerStream* stream = stream_;
  if (stream == nullptr) return;
  stream_ = nullptr;
  welcomed_ = false;
  if (draining_ && jobs_.empty() && unacked_.empty()) {
    // A clean end: half-close, and cancel if the coordinator doesn't finish
    // the call soon. The owner hold is kept for that (released when broken).
    closing_ = stream;
    closing_deadline_ = absl::Now() + absl::Seconds(2);
    stream->AddHold();
    after->Add([stream] {
      stream->CloseWrites();
      stream->RemoveHold();
    });
    return;
  }
  stream->AddHold();
  after->Add([stream] {
    stream->Cancel();
    stream->ReleaseOwnerHold();
    stream->RemoveHold();
  });
}

// --- timers ----------------------------------------------------------------

void Worker::TimerLoop() {
  absl::Time wake = absl::InfinitePast();
  while (true) {
    bool connect = false;
    {
      Deferred after;  // runs after the lock below is released
      absl::MutexLock lock(&mu_);
      if (!timer_kick_ && !timer_exit_) timer_wake_.WaitWithDeadline(&mu_, wake);
      timer_kick_ = false;
      if (timer_exit_) return;
      const absl::Time now = absl::Now();
      wake = TickLocked(now, &after);
      timer_next_wake_ = wake;
      connect = !done_ && stream_ == nullptr && reconnect_at_ <= now;
    }
    if (connect) Connect();
  }
}

absl::Time Worker::TickLocked(absl::Time now, Deferred* after) {
  absl::Time wake = now + absl::Seconds(1);
  if (welcomed_ && stream_ != nullptr) {
    if (now >= next_heartbeat_) {
      WorkerMessage m;
      m.mutable_heartbeat();
      SendLocked(std::move(m), after);
      next_heartbeat_ = now + heartbeat_interval_;
    }
    wake = std::min(wake, next_heartbeat_);
  }
  if (!done_ && stream_ == nullptr) wake = std::min(wake, reconnect_at_);
  const bool drain_expired = draining_ && !done_ && now >= drain_deadline_;
  for (auto& [key, job] : jobs_) {
    if (!job.context->cancelled()) {
      std::string reason;
      if (now >= job.context->deadline()) {
        reason = "deadline exceeded";
      } else if (drain_expired && job.started) {
        reason = "drain timeout";
      }
      if (!reason.empty()) {
        after->Info("event=job_cancel job_id={} reason={}", key.first, Quote(reason));
        after->Add([context = job.context, reason] { context->Cancel(reason); });
        job.cancelled_at = now;
      } else {
        wake = std::min(wake, job.context->deadline());
      }
    }
    if (job.started && !job.grace_logged && job.cancelled_at != absl::InfiniteFuture()) {
      if (now >= job.cancelled_at + options_.cancel_grace) {
        job.grace_logged = true;
        after->Warn(
            "event=handler_ignores_cancel job_id={} cancelled_for={} slot=busy_until_it_returns",
            key.first, Fmt(now - job.cancelled_at));
      } else {
        wake = std::min(wake, job.cancelled_at + options_.cancel_grace);
      }
    }
  }
  if (draining_ && !done_) {
    if (drain_expired && !drain_cancelled_) {
      drain_cancelled_ = true;
      after->Warn("event=drain_timeout running={}", jobs_.size());
    }
    const absl::Time give_up = drain_deadline_ + options_.cancel_grace;
    if (now >= give_up) {
      if (!jobs_.empty()) {
        after->Warn("event=drain_incomplete running={} unsent={}", jobs_.size(), unacked_.size());
      }
      FinishLocked(after);
    } else {
      wake = std::min(wake, drain_expired ? give_up : drain_deadline_);
      MaybeFinishDrainLocked(after);
    }
  }
  if (closing_ != nullptr) {
    if (now >= closing_deadline_) {
      WorkerStream* stream = closing_;
      closing_deadline_ = absl::InfiniteFuture();
      stream->AddHold();
      after->Add([stream] {
        stream->Cancel();
        stream->RemoveHold();
      });
    } else {
      wake = std::min(wake, closing_deadline_);
    }
  }
  return std::max(wake, now + absl::Milliseconds(1));
}

}  // namespace conveyor
