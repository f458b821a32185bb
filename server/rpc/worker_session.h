#ifndef CONVEYOR_SERVER_RPC_WORKER_SESSION_H_
#define CONVEYOR_SERVER_RPC_WORKER_SESSION_H_

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "conveyor/v1/worker_service.grpc.pb.h"
#include "server/engine/clock.h"
#include "server/engine/engine.h"
#include "server/rpc/call_limits.h"
#include "server/rpc/reactors.h"
#include "server/rpc/server_loop.h"
#include "server/store/store.h"

namespace conveyor::rpc {

// Bounds on one worker stream (see WorkerSession).
struct WorkerStreamLimits {
  // Messages that may wait unread behind the write in flight; 0: unlimited.
  size_t max_send_queue = 10000;
  // How long an ended stream's pending write may wait for the worker to
  // read before the call is cancelled.
  absl::Duration unread_grace = absl::Seconds(10);
  // How long accepted-result acks with nothing else to go out may wait for
  // company, to batching workers (Hello.max_batch > 1): nothing waits on an
  // ack but the worker's own bookkeeping, so a few of them per write save
  // a write and a wake-up each. Zero sends them at once.
  absl::Duration ack_linger = absl::Milliseconds(10);
};

// One worker's Connect stream: reads its messages one at a time and turns
// them into engine calls (a WorkerBatch's in order); writes what the engine
// says to the worker (it is the worker's WorkerChannel), one write in
// flight, the rest queued. When that write completes, what queued meanwhile
// goes out as one CoordinatorBatch if the worker opted in (Hello.max_batch),
// else one message per write.
//
// An Assignment leaves only once the store made its grant durable
// (Assignment::seq), so a coordinator killed meanwhile cannot grant the same
// attempt again to another worker. Messages keep the order they were sent
// in: those after a waiting Assignment wait with it. Each grant is released
// right after the commit that makes it durable (one commit of delay, no
// more); what is released while a write is in flight goes in the next one
// (batching as above). Acks alone wait up to `limits.ack_linger` for more
// to go with them; to such a worker, an accepted result's ack also lets the
// store hold back the result's commit (Store::WhenDurableLazily) until a
// message behind the ack needs a commit or the store's own linger ends.
//
// Protocol errors (a message before Hello, a second Hello, an empty message,
// another worker's lease token, an oversized result) end the stream with
// FAILED_PRECONDITION / INVALID_ARGUMENT / PERMISSION_DENIED; stale tokens
// only get a rejected ResultAck. Whenever the stream ends the worker is
// disconnected from the engine, which returns its leases at once.
//
// A worker that does not read its stream: once `limits.max_send_queue`
// messages wait behind the write in flight, the rest are dropped and the
// stream ends with RESOURCE_EXHAUSTED (its leases go to other workers), so it
// can neither hold jobs nor grow the coordinator's memory. gRPC finishes a
// stream only after the write in flight, which such a worker may never take:
// if it is still pending `limits.unread_grace` after the stream ended, the
// call is cancelled, so that it also gives back its place among its peer's
// streams.
//
// Owned by itself from Start until gRPC's OnDone (and by the engine while it
// holds the channel). Thread-safe.
class WorkerSession : public BidiReactor<v1::WorkerMessage, v1::CoordinatorMessage>,
                      public WorkerChannel,
                      public std::enable_shared_from_this<WorkerSession> {
 public:
  // `ticket`: the stream's place among its peer's (released in OnDone).
  // `context`: the call's, valid until OnDone. `loop`: the one the call
  // runs on (for alarms).
  WorkerSession(Engine* engine, Store* store, const Clock* clock, ServerLoop* loop,
                CallContext* context, CallTicket ticket, WorkerStreamLimits limits);
  // Starts reading; returns the reactor for gRPC.
  static WorkerSession* Start(std::shared_ptr<WorkerSession> session);

  // Most messages in one batch, either way (Welcome.max_worker_batch and
  // the cap on Hello.max_batch).
  static constexpr int kMaxBatch = 1000;
  // A CoordinatorBatch stops growing at about this many bytes.
  static constexpr size_t kMaxBatchBytes = 1 << 20;

  // WorkerChannel.
  void Assign(Assignment assignment) override;
  void Cancel(JobId job, FencingToken token, const std::string& reason) override;
  void Drain(absl::Duration grace) override;
  void Answer(JobId job, FencingToken token, absl::Status verdict, uint64_t seq) override;

  // Reactions.
  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;

 private:
  // Handles one message; a non-OK status ends the stream with it.
  absl::Status Handle(const v1::WorkerMessage& message);
  // Handles a SetConcurrency or Heartbeat (the messages other than Hello
  // that are not results).
  absl::Status HandleAfterHello(WorkerId worker, const v1::WorkerMessage& message);
  absl::Status HandleHello(const v1::Hello& hello);
  // Appends `message` to `reports` if it is a result (Complete, Fail,
  // Release, Progress); false otherwise.
  static bool AddReport(const v1::WorkerMessage& message, std::vector<WorkerReport>& reports);
  // Hands the results to the engine in one call (the engine answers each
  // on this channel: see Answer); protocol errors come back as the status.
  absl::Status HandleReports(WorkerId worker, std::vector<WorkerReport> reports);
  // Queues a message behind every one sent before it; it goes out once the
  // store's change `seq` is durable (0: nothing to wait for). Starts a write
  // if none is in flight. `lazy` (an accepted result's ack, to a worker it
  // would linger for anyway): the store may hold that commit back
  // (Store::WhenDurableLazily) until a prompt message needs it.
  void Send(v1::CoordinatorMessage message, uint64_t seq = 0, bool lazy = false)
      ABSL_LOCKS_EXCLUDED(mu_);
  // What to do once mu_ is released, after messages moved towards the wire.
  enum class Next { kNothing, kWrite, kOverflow, kLinger };
  // Moves the messages at gated_'s front whose change is durable on to
  // held_ (before Welcome) or outbox_, and takes the next write if none is
  // in flight.
  Next ReleaseLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Act(Next next) ABSL_LOCKS_EXCLUDED(mu_);
  // Asks the store to call OnDurable once `seq` is durable (maybe at once),
  // with no hurry when `lazily`. REQUIRES: the caller set awaiting_.
  void AwaitDurable(uint64_t seq, bool lazily) ABSL_LOCKS_EXCLUDED(mu_);
  // The store's answer for `seq`: releases every message whose change is
  // now durable and waits for the next one, if any; an error ends the
  // stream (a grant or a result cannot be made durable).
  void OnDurable(uint64_t seq, const absl::Status& status) ABSL_LOCKS_EXCLUDED(mu_);
  // Takes the next write from outbox_, or arms the ack linger if outbox_
  // should wait (kNothing if it is armed already). REQUIRES: no write in
  // flight, outbox_ not empty.
  Next StartNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Whether outbox_ should wait for company (see WorkerStreamLimits::ack_linger):
  // it holds only acks, to a batching worker.
  bool ShouldLingerLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Starts the ack linger's alarm. REQUIRES: the caller set linger_armed_.
  void ArmLinger() ABSL_LOCKS_EXCLUDED(mu_);
  // The linger's end: writes what waits, if no write is in flight.
  void OnLingerDone() ABSL_LOCKS_EXCLUDED(mu_);
  // Moves the next write from outbox_ into writing_msg_: the front message,
  // or as many as the batch limits allow. REQUIRES: outbox_ not empty.
  void TakeNextWriteLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Disconnects from the engine (once) and finishes the stream after the
  // write in flight (or cancels the call if that write is still pending
  // limits_.unread_grace later).
  void Close(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_);
  // The unread_grace alarm: cancels the call if a write is still pending.
  void CancelStuckWrite() ABSL_LOCKS_EXCLUDED(mu_);
  // Whether the caller is the one to finish the stream now (then marks it
  // finished); false if it is finished already or CancelStuckWrite is in
  // TryCancel (it finishes after). REQUIRES: no write in flight.
  bool TakeFinishLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Finishes the stream with final_status_. REQUIRES: TakeFinishLocked()
  // said so.
  void FinishNow() ABSL_LOCKS_EXCLUDED(mu_);
  // Close, from a gRPC thread: Send's callers (engine effects, store
  // callbacks) must not call into the engine. REQUIRES: called once (the
  // caller set send_stopped_).
  void CloseSoon(grpc::Status status) ABSL_LOCKS_EXCLUDED(mu_);

  Engine* const engine_;
  Store* const store_;
  const Clock* const clock_;
  ServerLoop* const loop_;
  CallContext* const context_;
  const std::string peer_;
  const WorkerStreamLimits limits_;
  CallTicket ticket_;  // Touched only by the constructor and OnDone.
  LoopAlarm close_alarm_;   // Set once, by CloseSoon.
  LoopAlarm unread_alarm_;  // Set at most once, by Close; cancelled in OnDone.
  std::shared_ptr<WorkerSession> self_;
  v1::WorkerMessage incoming_;  // The read in flight; touched only by reactions.

  absl::Mutex mu_;
  WorkerId worker_ ABSL_GUARDED_BY(mu_);
  bool hello_seen_ ABSL_GUARDED_BY(mu_) = false;
  bool welcomed_ ABSL_GUARDED_BY(mu_) = false;
  // Welcome.max_batch: 0 sends every message on its own.
  int max_batch_ ABSL_GUARDED_BY(mu_) = 0;
  // A message and the change that must be durable before it goes out.
  struct Gated {
    uint64_t seq;
    v1::CoordinatorMessage message;
    bool lazy;  // See Send.
  };
  // Messages waiting, in order, for their change or an earlier message's.
  std::deque<Gated> gated_ ABSL_GUARDED_BY(mu_);
  uint64_t durable_seq_ ABSL_GUARDED_BY(mu_) = 0;  // The store said: durable up to here.
  // A WhenDurable answer is pending, for gated_.front()'s change (until the
  // stream closes, gated_ holds messages only while one is).
  bool awaiting_ ABSL_GUARDED_BY(mu_) = false;
  // Messages in gated_ not lazy. While awaiting_, 0 means the wait is lazy
  // (a prompt message expedites it as it joins).
  size_t gated_prompt_ ABSL_GUARDED_BY(mu_) = 0;
  // Messages released before Welcome went out.
  std::vector<v1::CoordinatorMessage> held_ ABSL_GUARDED_BY(mu_);
  std::deque<v1::CoordinatorMessage> outbox_ ABSL_GUARDED_BY(mu_);
  v1::CoordinatorMessage writing_msg_;  // The write in flight; touched only by its writer.
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool linger_armed_ ABSL_GUARDED_BY(mu_) = false;  // An ack linger's alarm is pending.
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  // Over max_send_queue_, or the store failed: send nothing more, CloseSoon.
  bool send_stopped_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_called_ ABSL_GUARDED_BY(mu_) = false;
  bool unread_alarm_set_ ABSL_GUARDED_BY(mu_) = false;
  // CancelStuckWrite is in TryCancel: the write's end must not Finish (and so
  // let OnDone free the context) until it returns; it finishes instead.
  bool cancelling_ ABSL_GUARDED_BY(mu_) = false;
  bool finish_deferred_ ABSL_GUARDED_BY(mu_) = false;
  bool done_ ABSL_GUARDED_BY(mu_) = false;  // OnDone ran.
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
};

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_WORKER_SESSION_H_
