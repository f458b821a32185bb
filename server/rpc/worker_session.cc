#include "server/rpc/worker_session.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "server/engine/errors.h"
#include "server/rpc/durable_reply.h"
#include "server/rpc/proto_convert.h"
#include "server/rpc/status_conversion.h"

namespace conveyor::rpc {
namespace {

v1::CoordinatorMessage MakeAck(uint64_t job_id, uint64_t token, bool accepted,
                               std::string reason) {
  v1::CoordinatorMessage m;
  v1::ResultAck* ack = m.mutable_ack();
  ack->set_job_id(job_id);
  ack->set_fencing_token(token);
  ack->set_accepted(accepted);
  ack->set_reason(std::move(reason));
  return m;
}

// About the bytes `m` adds to a batch: its strings and payload, plus a bit.
size_t ApproxBytes(const v1::CoordinatorMessage& m) {
  constexpr size_t kOverhead = 64;
  switch (m.kind_case()) {
    case v1::CoordinatorMessage::kAssignment: {
      const v1::Job& job = m.assignment().job();
      size_t n = kOverhead * 2 + job.payload().size() + job.queue().size() + job.type().size() +
                 job.idempotency_key().size();
      for (const auto& [k, v] : job.labels()) n += k.size() + v.size() + 8;
      return n;
    }
    case v1::CoordinatorMessage::kAck:
      return kOverhead + m.ack().reason().size();
    case v1::CoordinatorMessage::kCancel:
      return kOverhead + m.cancel().reason().size();
    default:
      return kOverhead;
  }
}

}  // namespace

WorkerSession::WorkerSession(Engine* engine, Store* store, const Clock* clock, ServerLoop* loop,
                             CallContext* context, CallTicket ticket, WorkerStreamLimits limits)
    : engine_(engine),
      store_(store),
      clock_(clock),
      loop_(loop),
      context_(context),
      peer_(context->peer()),
      limits_(limits),
      ticket_(std::move(ticket)) {}

WorkerSession* WorkerSession::Start(std::shared_ptr<WorkerSession> session) {
  session->self_ = session;
  session->StartRead(&session->incoming_);
  return session.get();
}

// --- WorkerChannel ---

void WorkerSession::Assign(Assignment assignment) {
  SPDLOG_DEBUG("job assigned id={} queue={} type={} attempt={} token={} peer={}",
               assignment.job.id.value, assignment.job.queue, assignment.job.type,
               assignment.attempt, assignment.token.value, peer_);
  const uint64_t seq = assignment.seq;
  v1::CoordinatorMessage m;
  ToProto(std::move(assignment), clock_->Now(), m.mutable_assignment());
  Send(std::move(m), seq);
}

void WorkerSession::Cancel(JobId job, FencingToken token, const std::string& reason) {
  v1::CoordinatorMessage m;
  m.mutable_cancel()->set_job_id(job.value);
  m.mutable_cancel()->set_fencing_token(token.value);
  m.mutable_cancel()->set_reason(reason);
  Send(std::move(m));
}

void WorkerSession::Drain(absl::Duration grace) {
  v1::CoordinatorMessage m;
  ToProtoDuration(grace, m.mutable_drain()->mutable_grace());
  Send(std::move(m));
}

void WorkerSession::Answer(JobId job, FencingToken token, absl::Status verdict, uint64_t seq) {
  // A taken result is acknowledged once durable (if the store fails, the
  // stream ends and the worker sends the result again on its next one); the
  // commit that makes it durable usually also makes the grants of the slot
  // it freed durable, and then both leave in one write. Nothing waits on
  // the ack but the worker's bookkeeping, so its commit may be lazy.
  if (verdict.ok()) {
    Send(MakeAck(job.value, token.value, true, ""), seq, /*lazy=*/true);
    return;
  }
  SPDLOG_DEBUG("job report rejected id={} token={} reason=\"{}\"", job.value, token.value,
               std::string(verdict.message()));
  Send(MakeAck(job.value, token.value, false, std::string(verdict.message())));
}

// --- Reactions ---

void WorkerSession::OnReadDone(bool ok) {
  if (!ok) {
    Close(grpc::Status::OK);  // The worker closed its side, or the stream broke.
    return;
  }
  absl::Status s = Handle(incoming_);
  if (!s.ok()) {
    Close(ToGrpcStatus(s));
    return;
  }
  StartRead(&incoming_);
}

void WorkerSession::OnWriteDone(bool ok) {
  Next next = Next::kNothing;
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    if (!ok) closing_ = true;
    writing_ = false;
    if (!closing_ && !outbox_.empty()) {
      next = StartNextWriteLocked();
    } else {
      if (!closing_ || !TakeFinishLocked()) return;
      finish = true;
    }
  }
  if (finish) {
    FinishNow();
  } else {
    Act(next);
  }
}

void WorkerSession::OnCancel() {
  Close(grpc::Status(grpc::StatusCode::CANCELLED, "stream cancelled"));
}

void WorkerSession::OnDone() {
  bool alarm_set;
  {
    absl::MutexLock lock(&mu_);
    done_ = true;
    alarm_set = unread_alarm_set_;
  }
  if (alarm_set) unread_alarm_.Cancel();  // Its callback holds its own reference.
  ticket_ = CallTicket();
  self_.reset();  // May destroy this object: touch nothing after.
}

// --- Messages ---

absl::Status WorkerSession::Handle(const v1::WorkerMessage& message) {
  WorkerId worker;
  {
    absl::MutexLock lock(&mu_);
    if (message.kind_case() == v1::WorkerMessage::kHello) {
      if (hello_seen_) {
        return absl::FailedPreconditionError("Hello was already sent on this stream");
      }
      hello_seen_ = true;
    } else if (!hello_seen_) {
      return absl::FailedPreconditionError(
          "send Hello first: the stream has no worker until then");
    }
    worker = worker_;
  }
  if (message.kind_case() == v1::WorkerMessage::kHello) return HandleHello(message.hello());
  if (message.kind_case() != v1::WorkerMessage::kBatch) {
    std::vector<WorkerReport> reports;
    if (AddReport(message, reports)) return HandleReports(worker, std::move(reports));
    return HandleAfterHello(worker, message);
  }
  const auto& messages = message.batch().messages();
  if (messages.empty() || messages.size() > kMaxBatch) {
    return absl::InvalidArgumentError(absl::StrCat("WorkerBatch holds ", messages.size(),
                                                   " messages; send 1 to ", kMaxBatch));
  }
  // Runs of results go to the engine as one Report each; other messages
  // (heartbeats, concurrency) one by one, in their place.
  std::vector<WorkerReport> reports;
  for (int i = 0; i < messages.size(); ++i) {
    const auto kind = messages[i].kind_case();
    if (kind == v1::WorkerMessage::kHello || kind == v1::WorkerMessage::kBatch) {
      return absl::InvalidArgumentError(
          absl::StrCat("WorkerBatch.messages[", i, "] is a ",
                       kind == v1::WorkerMessage::kHello ? "Hello" : "WorkerBatch",
                       ": a batch holds only the messages that follow Hello, unnested"));
    }
    if (AddReport(messages[i], reports)) continue;
    if (!reports.empty()) {
      absl::Status s = HandleReports(worker, std::exchange(reports, {}));
      if (!s.ok()) return s;
    }
    absl::Status s = HandleAfterHello(worker, messages[i]);
    if (!s.ok()) return s;
  }
  if (reports.empty()) return absl::OkStatus();
  return HandleReports(worker, std::move(reports));
}

bool WorkerSession::AddReport(const v1::WorkerMessage& message,
                              std::vector<WorkerReport>& reports) {
  WorkerReport r;
  switch (message.kind_case()) {
    case v1::WorkerMessage::kComplete: {
      const auto& c = message.complete();
      r.kind = WorkerReport::Kind::kComplete;
      r.job = JobId{c.job_id()};
      r.token = FencingToken{c.fencing_token()};
      r.text = c.result();
      break;
    }
    case v1::WorkerMessage::kFail: {
      const auto& f = message.fail();
      r.kind = WorkerReport::Kind::kFail;
      r.job = JobId{f.job_id()};
      r.token = FencingToken{f.fencing_token()};
      r.text = f.error();
      r.permanent = f.permanent();
      break;
    }
    case v1::WorkerMessage::kRelease: {
      const auto& rel = message.release();
      r.kind = WorkerReport::Kind::kRelease;
      r.job = JobId{rel.job_id()};
      r.token = FencingToken{rel.fencing_token()};
      break;
    }
    case v1::WorkerMessage::kProgress: {
      const auto& p = message.progress();
      r.kind = WorkerReport::Kind::kProgress;
      r.job = JobId{p.job_id()};
      r.token = FencingToken{p.fencing_token()};
      r.percent = p.progress().percent();
      r.text = p.progress().message();
      break;
    }
    default:
      return false;
  }
  reports.push_back(std::move(r));
  return true;
}

absl::Status WorkerSession::HandleAfterHello(WorkerId worker,
                                             const v1::WorkerMessage& message) {
  switch (message.kind_case()) {
    case v1::WorkerMessage::kSetConcurrency:
      return engine_->SetConcurrency(worker, message.set_concurrency().concurrency());
    case v1::WorkerMessage::kHeartbeat:
      return engine_->Heartbeat(worker);
    case v1::WorkerMessage::kProgress:
    case v1::WorkerMessage::kComplete:
    case v1::WorkerMessage::kFail:
    case v1::WorkerMessage::kRelease:
    case v1::WorkerMessage::kHello:
    case v1::WorkerMessage::kBatch:
      break;  // Handle() takes these.
    case v1::WorkerMessage::KIND_NOT_SET:
      return absl::InvalidArgumentError("empty WorkerMessage: set one of its fields");
  }
  return absl::InternalError("HandleAfterHello got a result, a Hello or a WorkerBatch");
}

absl::Status WorkerSession::HandleHello(const v1::Hello& hello) {
  auto welcome = engine_->ConnectWorker(FromProto(hello), shared_from_this());
  if (!welcome.ok()) return welcome.status();
  spdlog::info("worker connected id={} name={} peer={} concurrency={} prefetch={} queues={}",
               welcome->id.value, hello.name(), peer_, welcome->concurrency, welcome->prefetch,
               hello.queues_size());
  v1::CoordinatorMessage m;
  v1::Welcome* w = m.mutable_welcome();
  w->set_worker_id(welcome->id.value);
  ToProtoDuration(welcome->lease_duration, w->mutable_lease_duration());
  ToProtoDuration(welcome->heartbeat_interval, w->mutable_heartbeat_interval());
  w->set_concurrency(welcome->concurrency);
  w->set_prefetch(welcome->prefetch);
  const int max_batch = hello.max_batch() > 1 ? std::min(hello.max_batch(), kMaxBatch) : 0;
  w->set_max_batch(max_batch);
  w->set_max_worker_batch(kMaxBatch);
  bool closed;
  {
    // Welcome goes first, then what the engine assigned meanwhile.
    absl::MutexLock lock(&mu_);
    closed = closing_;
    if (!closed) {
    worker_ = welcome->id;
    welcomed_ = true;
    max_batch_ = max_batch;
    for (auto& h : held_) outbox_.push_back(std::move(h));
    held_.clear();
    writing_ = true;  // Nothing was written before Welcome.
    writing_msg_ = std::move(m);
    }
  }
  if (closed) {
    engine_->DisconnectWorker(welcome->id);  // The stream ended meanwhile.
    return absl::OkStatus();
  }
  StartWrite(&writing_msg_);
  return absl::OkStatus();
}

absl::Status WorkerSession::HandleReports(WorkerId worker, std::vector<WorkerReport> reports) {
  Engine::ReportAnswers out = engine_->Report(worker, std::move(reports));
  for (const absl::StatusOr<JobTransition>& answer : out.answers) {
    const absl::Status& s = answer.status();
    if (!s.ok() && !errors::IsStaleResult(s)) return s;  // The worker is broken.
  }
  return absl::OkStatus();
}

void WorkerSession::Send(v1::CoordinatorMessage message, uint64_t seq, bool lazy) {
  uint64_t await = 0;
  bool await_lazily = false;
  uint64_t expedite = 0;
  Next next;
  {
    absl::MutexLock lock(&mu_);
    if (closing_ || send_stopped_) return;
    // Only acks that would linger for company anyway may wait for a lazy commit.
    lazy = lazy && max_batch_ > 1 && limits_.ack_linger > absl::ZeroDuration();
    const bool waiting_lazily = awaiting_ && gated_prompt_ == 0;
    gated_.push_back(Gated{seq, std::move(message), lazy});
    if (!lazy) ++gated_prompt_;
    // One wait at a time, for the oldest change not yet durable: the commit
    // that answers it may cover later ones too (see OnDurable), and a later
    // change's own commit comes no sooner. A prompt message behind a lazy
    // wait hurries that wait's commit along.
    if (seq > durable_seq_ && !awaiting_) {
      awaiting_ = true;
      await = seq;
      await_lazily = lazy;
    } else if (waiting_lazily && !lazy) {
      expedite = std::max(seq, gated_.front().seq);  // The front is what the wait is for.
    }
    next = ReleaseLocked();
  }
  Act(next);
  if (await != 0) AwaitDurable(await, await_lazily);
  if (expedite != 0) store_->Expedite(expedite);
}

void WorkerSession::AwaitDurable(uint64_t seq, bool lazily) {
  auto done = [self = shared_from_this(), seq](absl::Status s) { self->OnDurable(seq, s); };
  if (lazily) {
    store_->WhenDurableLazily(seq, std::move(done));
  } else {
    store_->WhenDurable(seq, std::move(done));
  }
}

void WorkerSession::OnDurable(uint64_t seq, const absl::Status& status) {
  // How far the commit that made `seq` durable went: every grant it covers
  // is released now, in one write if none is in flight.
  const uint64_t durable = status.ok() ? std::max(seq, store_->DurableSeq()) : 0;
  Next next = Next::kNothing;
  uint64_t await = 0;
  bool await_lazily = false;
  {
    absl::MutexLock lock(&mu_);
    awaiting_ = false;
    if (closing_ || send_stopped_) return;
    if (!status.ok()) {
      send_stopped_ = true;
      gated_.clear();
      gated_prompt_ = 0;
      outbox_.clear();
    } else {
      durable_seq_ = std::max(durable_seq_, durable);
      next = ReleaseLocked();
      // What still waits is behind a grant of a later commit.
      if (!gated_.empty()) {
        awaiting_ = true;
        await = gated_.front().seq;
        await_lazily = gated_prompt_ == 0;
      }
    }
  }
  if (!status.ok()) {
    spdlog::error("worker stream ended: a lease grant or a result could not be made durable "
                  "peer={} error=\"{}\"", peer_, status.ToString());
    CloseSoon(ToGrpcStatus(StoreFailed(status)));  // UNAVAILABLE: the worker reconnects.
    return;
  }
  Act(next);
  if (await != 0) AwaitDurable(await, await_lazily);
}

WorkerSession::Next WorkerSession::ReleaseLocked() {
  while (!gated_.empty() && gated_.front().seq <= durable_seq_) {
    v1::CoordinatorMessage message = std::move(gated_.front().message);
    if (!gated_.front().lazy) --gated_prompt_;
    gated_.pop_front();
    if (!welcomed_) {
      held_.push_back(std::move(message));
    } else if (writing_ && limits_.max_send_queue > 0 && outbox_.size() >= limits_.max_send_queue) {
      send_stopped_ = true;  // The one bounded check: see CloseSoon.
      outbox_.clear();
      gated_.clear();
      gated_prompt_ = 0;
      return Next::kOverflow;
    } else {
      outbox_.push_back(std::move(message));
    }
  }
  if (writing_ || outbox_.empty()) return Next::kNothing;
  return StartNextWriteLocked();
}

WorkerSession::Next WorkerSession::StartNextWriteLocked() {
  if (ShouldLingerLocked()) {
    if (linger_armed_) return Next::kNothing;
    linger_armed_ = true;
    return Next::kLinger;
  }
  writing_ = true;
  TakeNextWriteLocked();
  return Next::kWrite;
}

bool WorkerSession::ShouldLingerLocked() const {
  if (max_batch_ <= 1 || limits_.ack_linger <= absl::ZeroDuration()) return false;
  return std::all_of(outbox_.begin(), outbox_.end(), [](const v1::CoordinatorMessage& m) {
    return m.has_ack() && m.ack().accepted();
  });
}

void WorkerSession::ArmLinger() {
  // One alarm per linger, deleted by its own callback; it holds the session
  // alive.
  auto* alarm = new LoopAlarm;
  alarm->Set(*loop_, absl::Now() + limits_.ack_linger,
             [self = shared_from_this(), alarm](bool) mutable {
               delete alarm;
               // Dropped before returning: the last reference may go here.
               auto session = std::move(self);
               session->OnLingerDone();
             });
}

void WorkerSession::OnLingerDone() {
  {
    absl::MutexLock lock(&mu_);
    linger_armed_ = false;
    if (closing_ || send_stopped_ || writing_ || outbox_.empty()) return;
    writing_ = true;
    TakeNextWriteLocked();
  }
  StartWrite(&writing_msg_);
}

void WorkerSession::Act(Next next) {
  switch (next) {
    case Next::kNothing:
      return;
    case Next::kWrite:
      StartWrite(&writing_msg_);
      return;
    case Next::kLinger:
      ArmLinger();
      return;
    case Next::kOverflow:
      spdlog::warn("worker stream over --max-worker-send-queue peer={} queued={}", peer_,
                   limits_.max_send_queue);
      CloseSoon(grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("the worker left ", limits_.max_send_queue,
                       " messages unread on its stream; the coordinator ended it and gave its "
                       "jobs to other workers: read the stream promptly, or raise "
                       "--max-worker-send-queue on conveyord")));
      return;
  }
}

void WorkerSession::CloseSoon(grpc::Status status) {
  close_alarm_.Set(*loop_, absl::Now(),
                   [self = shared_from_this(), status = std::move(status)](bool) mutable {
                     // Dropped before returning: the last reference may go here.
                     auto session = std::move(self);
                     session->Close(std::move(status));
                   });
}

void WorkerSession::TakeNextWriteLocked() {
  if (max_batch_ <= 1 || outbox_.size() == 1) {
    writing_msg_ = std::move(outbox_.front());
    outbox_.pop_front();
    return;
  }
  writing_msg_.Clear();
  auto* messages = writing_msg_.mutable_batch()->mutable_messages();
  size_t bytes = 0;
  while (!outbox_.empty() && messages->size() < max_batch_) {
    const size_t size = ApproxBytes(outbox_.front());
    if (!messages->empty() && bytes + size > kMaxBatchBytes) break;
    bytes += size;
    *messages->Add() = std::move(outbox_.front());
    outbox_.pop_front();
  }
  if (messages->size() == 1) {
    // Too big to share a batch: it goes on its own.
    v1::CoordinatorMessage single = std::move(*messages->Mutable(0));
    writing_msg_ = std::move(single);
  }
}

void WorkerSession::Close(grpc::Status status) {
  WorkerId worker;
  {
    absl::MutexLock lock(&mu_);
    if (closing_ && finish_called_) return;
    if (!closing_) final_status_ = status;
    closing_ = true;
    worker = worker_;
    worker_ = WorkerId{};
  }
  if (worker.value != 0) {
    engine_->DisconnectWorker(worker);
    spdlog::info("worker disconnected id={} peer={} status={} reason=\"{}\"", worker.value,
                 peer_, static_cast<int>(status.error_code()), status.error_message());
  }
  bool finish = false;
  {
    absl::MutexLock lock(&mu_);
    if (!writing_) {
      if (!TakeFinishLocked()) return;
      finish = true;
    } else if (unread_alarm_set_) {
      return;  // OnWriteDone finishes, or CancelStuckWrite.
    } else {
      unread_alarm_set_ = true;
    }
  }
  if (finish) {
    FinishNow();
    return;
  }
  unread_alarm_.Set(*loop_, absl::Now() + limits_.unread_grace,
                    [self = shared_from_this()](bool fired) mutable {
                      // Dropped before returning: the last reference may go here.
                      auto session = std::move(self);
                      if (fired) session->CancelStuckWrite();
                    });
}

bool WorkerSession::TakeFinishLocked() {
  if (finish_called_) return false;
  if (cancelling_) {
    finish_deferred_ = true;  // CancelStuckWrite finishes once TryCancel returns.
    return false;
  }
  finish_called_ = true;
  return true;
}

void WorkerSession::CancelStuckWrite() {
  {
    absl::MutexLock lock(&mu_);
    if (done_ || !writing_ || finish_called_) return;
    cancelling_ = true;
  }
  spdlog::warn("worker stream cancelled: its last write stayed unread for {} after the stream "
               "ended peer={}", absl::FormatDuration(limits_.unread_grace), peer_);
  context_->TryCancel();  // The pending write ends with ok=false.
  {
    absl::MutexLock lock(&mu_);
    cancelling_ = false;
    if (!finish_deferred_) return;  // The write has not ended yet: OnWriteDone finishes.
    finish_called_ = true;
  }
  FinishNow();
}

void WorkerSession::FinishNow() {
  grpc::Status status;
  {
    absl::MutexLock lock(&mu_);
    status = final_status_;
  }
  Finish(status);
}

}  // namespace conveyor::rpc
