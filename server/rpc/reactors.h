#ifndef CONVEYOR_SERVER_RPC_REACTORS_H_
#define CONVEYOR_SERVER_RPC_REACTORS_H_

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <optional>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

// The reactors a LoopService's handlers return: the shapes of gRPC's
// callback API (Start* from any thread; On* reactions; Finish once; OnDone
// last), run on a ServerLoop's thread by calls.h. As in the callback API, a
// handler may start operations or Finish before it returns its reactor.

namespace conveyor::rpc {

class UnaryReactor;

namespace internal {
template <class Request, class Response>
class UnaryCall;
template <class Stream, class First, class Request, class Response>
class StreamCall;

// The call a reactor is bound to (calls.h).
class UnaryOps {
 public:
  virtual void Finish(grpc::Status status) = 0;

 protected:
  ~UnaryOps() = default;
};
template <class Request, class Response>
class StreamOps {
 public:
  virtual void Read(Request* request) = 0;
  virtual void Write(const Response* response, grpc::WriteOptions options) = 0;
  virtual void Finish(grpc::Status status) = 0;

 protected:
  ~StreamOps() = default;
};

// A reactor's link to its call, which calls.h makes once the handler
// returned: until then the reactor keeps what it was asked to start.
template <class Ops>
class Binding {
 protected:
  // `start(call)` once bound, else `keep()` under mu_ (for Bind to start).
  template <class Start, class Keep>
  void StartOrKeep(Start start, Keep keep) ABSL_LOCKS_EXCLUDED(mu_) {
    Ops* call;
    {
      absl::MutexLock lock(&mu_);
      if (call_ == nullptr) {
        keep();
        return;
      }
      call = call_;
    }
    start(call);
  }

  absl::Mutex mu_;
  Ops* call_ ABSL_GUARDED_BY(mu_) = nullptr;
};
}  // namespace internal

// A call's grpc::ServerContext, and for a unary call its default reactor.
class CallContext : public grpc::ServerContext {
 public:
  // A reactor that only finishes the call, for a unary call answered without
  // one of its own; nullptr on a streaming call.
  UnaryReactor* DefaultReactor() const { return default_reactor_; }

 private:
  template <class Request, class Response>
  friend class internal::UnaryCall;
  UnaryReactor* default_reactor_ = nullptr;
};

// One unary call. Thread-safe.
class UnaryReactor : private internal::Binding<internal::UnaryOps> {
 public:
  virtual ~UnaryReactor() = default;
  // Sends `status`, and the response when OK. Call exactly once (also on a
  // cancelled call), from any thread.
  void Finish(grpc::Status status) {
    StartOrKeep([&](internal::UnaryOps* call) { call->Finish(std::move(status)); },
                [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { finish_ = std::move(status); });
  }
  // The caller cancelled the call or its deadline passed; at most once, on
  // the loop's thread, before OnDone (maybe after Finish).
  virtual void OnCancel() {}
  // The call has ended; nothing follows. On the loop's thread.
  virtual void OnDone() {}

 private:
  template <class Request, class Response>
  friend class internal::UnaryCall;
  // Starts what was asked before.
  void Bind(internal::UnaryOps* call) ABSL_LOCKS_EXCLUDED(mu_) {
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      call_ = call;
      finish = std::move(finish_);
    }
    if (finish.has_value()) call->Finish(*std::move(finish));
  }

  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);  // Before Bind.
};

// One streaming call: server-streaming (WriteReactor) or bidirectional
// (BidiReactor). At most one read and one write in flight; Finish only while
// no write is. Start* and Finish from any thread; reactions on the loop's
// thread, one at a time. Thread-safe.
template <class Request, class Response>
class StreamReactor : private internal::Binding<internal::StreamOps<Request, Response>> {
  using Ops = internal::StreamOps<Request, Response>;
  using internal::Binding<Ops>::mu_;

 public:
  virtual ~StreamReactor() = default;

  // BidiReactor only. OnReadDone(false): no more messages.
  void StartRead(Request* request) {
    this->StartOrKeep([&](Ops* call) { call->Read(request); },
                      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { read_ = request; });
  }
  // `response` must stay as it is until OnWriteDone.
  void StartWrite(const Response* response, grpc::WriteOptions options = {}) {
    this->StartOrKeep([&](Ops* call) { call->Write(response, options); },
                      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
                        write_ = response;
                        write_options_ = options;
                      });
  }
  // Call exactly once (also on a cancelled call).
  void Finish(grpc::Status status) {
    this->StartOrKeep([&](Ops* call) { call->Finish(std::move(status)); },
                      [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { finish_ = std::move(status); });
  }

  virtual void OnReadDone(bool /*ok*/) {}
  virtual void OnWriteDone(bool /*ok*/) {}
  // As UnaryReactor::OnCancel.
  virtual void OnCancel() {}
  // The call has ended and no operation is in flight: nothing follows.
  virtual void OnDone() = 0;

 private:
  template <class Stream, class First, class Req, class Resp>
  friend class internal::StreamCall;
  // Starts what the handler started before it returned this reactor.
  void Bind(Ops* call) ABSL_LOCKS_EXCLUDED(mu_) {
    Request* read;
    const Response* write;
    grpc::WriteOptions write_options;
    std::optional<grpc::Status> finish;
    {
      absl::MutexLock lock(&mu_);
      this->call_ = call;
      read = read_;
      write = write_;
      write_options = write_options_;
      finish = std::move(finish_);
    }
    if (read != nullptr) call->Read(read);
    if (write != nullptr) call->Write(write, write_options);
    if (finish.has_value()) call->Finish(*std::move(finish));
  }

  // Started before Bind.
  Request* read_ ABSL_GUARDED_BY(mu_) = nullptr;
  const Response* write_ ABSL_GUARDED_BY(mu_) = nullptr;
  grpc::WriteOptions write_options_ ABSL_GUARDED_BY(mu_);
  std::optional<grpc::Status> finish_ ABSL_GUARDED_BY(mu_);
};

// What a server-streaming call's reactor reads: nothing (its one request
// comes with the call).
struct NoReads {};
template <class Response>
using WriteReactor = StreamReactor<NoReads, Response>;
template <class Request, class Response>
using BidiReactor = StreamReactor<Request, Response>;

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_REACTORS_H_
