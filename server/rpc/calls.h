#ifndef CONVEYOR_SERVER_RPC_CALLS_H_
#define CONVEYOR_SERVER_RPC_CALLS_H_

#include <grpcpp/completion_queue.h>
#include <grpcpp/support/async_stream.h>
#include <grpcpp/support/async_unary_call.h>

#include <atomic>
#include <cstdlib>
#include <functional>
#include <memory>
#include <type_traits>

#include "server/rpc/reactors.h"
#include "server/rpc/server_loop.h"

// How a LoopService serves a method on a ServerLoop: ServeUnary,
// ServeServerStream or ServeBidi, called from its Serve(). Each call awaits
// the next one as it starts, so one call of each method is always awaited.
// The handler runs on the loop's thread and returns the call's reactor
// (reactors.h); the call ends once it finished and gRPC reported it done.

namespace conveyor::rpc {
namespace internal {

// A LoopTag that calls one member of one object.
template <class Call, void (Call::*Fn)(bool)>
class CallTag final : public LoopTag {
 public:
  explicit CallTag(Call* call) : call_(call) {}
  void Proceed(bool ok) override { (call_->*Fn)(ok); }

 private:
  Call* const call_;
};

// What every call shares: its context, its reactor, and its end. OnCancel
// when gRPC reports the call done and cancelled; OnDone, and the call
// deleted, once it finished, gRPC reported it done, and InFlight() is 0.
template <class Method, class Reactor>
class LoopCall {
 protected:
  explicit LoopCall(std::shared_ptr<const Method> method) : method_(std::move(method)) {
    context_.AsyncNotifyWhenDone(static_cast<LoopTag*>(&done_));
  }
  virtual ~LoopCall() = default;
  // Reads and writes started and not yet reacted to.
  virtual int InFlight() const { return 0; }

  void OnFinished(bool /*ok*/) {
    finish_done_ = true;
    MaybeEnd();
  }
  void OnDone(bool /*ok*/) {
    done_seen_ = true;
    if (context_.IsCancelled()) reactor_->OnCancel();
    MaybeEnd();
  }
  // Also after each reaction: a reaction may start a read (none starts after
  // Finish otherwise), which InFlight() then counts already.
  void MaybeEnd() {
    if (!finish_done_ || !done_seen_ || InFlight() != 0) return;
    reactor_->OnDone();
    End();
  }
  void End() {
    ServerLoop* loop = method_->loop;
    delete this;
    loop->EndCall();
  }

  const std::shared_ptr<const Method> method_;
  CallContext context_;
  Reactor* reactor_ = nullptr;
  // Touched only on the loop's thread.
  bool finish_done_ = false;
  bool done_seen_ = false;
  CallTag<LoopCall, &LoopCall::OnFinished> finished_{this};
  CallTag<LoopCall, &LoopCall::OnDone> done_{this};
};

template <class Request, class Response>
struct UnaryMethod {
  ServerLoop* loop;
  std::function<void(grpc::ServerContext*, Request*, grpc::ServerAsyncResponseWriter<Response>*,
                     grpc::ServerCompletionQueue*, void*)>
      request;
  std::function<UnaryReactor*(CallContext*, const Request*, Response*)> handle;
};

template <class Request, class Response>
class UnaryCall final : public UnaryOps,
                        private LoopCall<UnaryMethod<Request, Response>, UnaryReactor> {
  using Method = UnaryMethod<Request, Response>;

 public:
  // Awaits the next call of `method`, unless the loop is shutting down.
  static void Await(std::shared_ptr<const Method> method) {
    if (method->loop->BeginCall()) new UnaryCall(std::move(method));
  }

  // From any thread.
  void Finish(grpc::Status status) override {
    if (status.ok()) {
      responder_.Finish(response_, status, &this->finished_);
    } else {
      responder_.FinishWithError(status, &this->finished_);
    }
  }

 private:
  explicit UnaryCall(std::shared_ptr<const Method> method)
      : LoopCall<Method, UnaryReactor>(std::move(method)) {
    this->context_.default_reactor_ = &default_reactor_;
    this->method_->request(&this->context_, &request_, &responder_, this->method_->loop->cq(),
                           static_cast<LoopTag*>(&started_));
  }

  void OnStarted(bool ok) {
    if (!ok) {  // The server is shutting down: this call never started.
      this->End();
      return;
    }
    Await(this->method_);
    this->reactor_ = this->method_->handle(&this->context_, &request_, &response_);
    this->reactor_->Bind(this);
  }

  Request request_;
  Response response_;
  grpc::ServerAsyncResponseWriter<Response> responder_{&this->context_};
  UnaryReactor default_reactor_;
  CallTag<UnaryCall, &UnaryCall::OnStarted> started_{this};
};

// How a streaming call starts. Stream is grpc::ServerAsyncWriter<Response>
// (First: the call's one request; Request: NoReads) or
// grpc::ServerAsyncReaderWriter (First: NoReads).
template <class Stream, class First, class Request, class Response>
struct StreamMethod {
  ServerLoop* loop;
  std::function<void(grpc::ServerContext*, First*, Stream*, grpc::ServerCompletionQueue*, void*)>
      request;
  std::function<StreamReactor<Request, Response>*(CallContext*, const First*)> handle;
};

template <class Stream, class First, class Request, class Response>
class StreamCall final : public StreamOps<Request, Response>,
                         private LoopCall<StreamMethod<Stream, First, Request, Response>,
                                          StreamReactor<Request, Response>> {
  using Method = StreamMethod<Stream, First, Request, Response>;
  using Base = LoopCall<Method, StreamReactor<Request, Response>>;

 public:
  static void Await(std::shared_ptr<const Method> method) {
    if (method->loop->BeginCall()) new StreamCall(std::move(method));
  }

  // From any thread.
  void Read(Request* request) override {
    if constexpr (std::is_same_v<Request, NoReads>) {
      std::abort();  // A server-streaming call has nothing to read.
    } else {
      in_flight_.fetch_add(1, std::memory_order_relaxed);
      stream_.Read(request, &read_);
    }
  }
  void Write(const Response* response, grpc::WriteOptions options) override {
    in_flight_.fetch_add(1, std::memory_order_relaxed);
    stream_.Write(*response, options, &written_);
  }
  void Finish(grpc::Status status) override { stream_.Finish(status, &this->finished_); }

 private:
  explicit StreamCall(std::shared_ptr<const Method> method) : Base(std::move(method)) {
    this->method_->request(&this->context_, &first_, &stream_, this->method_->loop->cq(),
                           static_cast<LoopTag*>(&started_));
  }

  int InFlight() const override { return in_flight_.load(std::memory_order_relaxed); }

  void OnStarted(bool ok) {
    if (!ok) {  // The server is shutting down: this call never started.
      this->End();
      return;
    }
    Await(this->method_);
    this->reactor_ = this->method_->handle(&this->context_, &first_);
    this->reactor_->Bind(this);
  }
  void OnRead(bool ok) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    this->reactor_->OnReadDone(ok);
    this->MaybeEnd();
  }
  void OnWritten(bool ok) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    this->reactor_->OnWriteDone(ok);
    this->MaybeEnd();
  }

  First first_;
  Stream stream_{&this->context_};
  std::atomic<int> in_flight_{0};
  CallTag<StreamCall, &StreamCall::OnStarted> started_{this};
  CallTag<StreamCall, &StreamCall::OnRead> read_{this};
  CallTag<StreamCall, &StreamCall::OnWritten> written_{this};
};

}  // namespace internal

// Serves a unary method: `request` is the generated AsyncService's
// Request<Method> (on `async`), `handle` the implementation's handler.
template <class Async, class Base, class Request, class Response, class Impl>
void ServeUnary(ServerLoop& loop, Async* async,
                void (Base::*request)(grpc::ServerContext*, Request*,
                                      grpc::ServerAsyncResponseWriter<Response>*,
                                      grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
                Impl* impl,
                UnaryReactor* (Impl::*handle)(CallContext*, const Request*, Response*)) {
  using Method = internal::UnaryMethod<Request, Response>;
  auto method = std::make_shared<const Method>(
      Method{&loop,
             [async, request](auto* context, auto* req, auto* responder, auto* cq, void* tag) {
               (async->*request)(context, req, responder, cq, cq, tag);
             },
             [impl, handle](auto* context, auto* req, auto* resp) {
               return (impl->*handle)(context, req, resp);
             }});
  internal::UnaryCall<Request, Response>::Await(std::move(method));
}

// Serves a server-streaming method (as ServeUnary).
template <class Async, class Base, class Request, class Response, class Impl>
void ServeServerStream(
    ServerLoop& loop, Async* async,
    void (Base::*request)(grpc::ServerContext*, Request*, grpc::ServerAsyncWriter<Response>*,
                          grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
    Impl* impl, WriteReactor<Response>* (Impl::*handle)(CallContext*, const Request*)) {
  using Stream = grpc::ServerAsyncWriter<Response>;
  using Method = internal::StreamMethod<Stream, Request, NoReads, Response>;
  auto method = std::make_shared<const Method>(
      Method{&loop,
             [async, request](auto* context, auto* req, auto* writer, auto* cq, void* tag) {
               (async->*request)(context, req, writer, cq, cq, tag);
             },
             [impl, handle](auto* context, auto* req) { return (impl->*handle)(context, req); }});
  internal::StreamCall<Stream, Request, NoReads, Response>::Await(std::move(method));
}

// Serves a bidirectional streaming method (as ServeUnary).
template <class Async, class Base, class Request, class Response, class Impl>
void ServeBidi(ServerLoop& loop, Async* async,
               void (Base::*request)(grpc::ServerContext*,
                                     grpc::ServerAsyncReaderWriter<Response, Request>*,
                                     grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
               Impl* impl, BidiReactor<Request, Response>* (Impl::*handle)(CallContext*)) {
  using Stream = grpc::ServerAsyncReaderWriter<Response, Request>;
  using Method = internal::StreamMethod<Stream, NoReads, Request, Response>;
  auto method = std::make_shared<const Method>(
      Method{&loop,
             [async, request](auto* context, NoReads*, auto* stream, auto* cq, void* tag) {
               (async->*request)(context, stream, cq, cq, tag);
             },
             [impl, handle](auto* context, const NoReads*) { return (impl->*handle)(context); }});
  internal::StreamCall<Stream, NoReads, Request, Response>::Await(std::move(method));
}

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_CALLS_H_
