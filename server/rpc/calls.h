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

template <class Request, class Response>
class UnaryCall final : public UnaryOps {
 public:
  struct Method {
    ServerLoop* loop;
    std::function<void(grpc::ServerContext*, Request*, grpc::ServerAsyncResponseWriter<Response>*,
                       grpc::ServerCompletionQueue*, void*)>
        request;
    std::function<UnaryReactor*(CallContext*, const Request*, Response*)> handle;
  };

  // Awaits the next call of `method`, unless the loop is shutting down.
  static void Await(std::shared_ptr<const Method> method) {
    if (method->loop->BeginCall()) new UnaryCall(std::move(method));
  }

  // From any thread.
  void Finish(grpc::Status status) override {
    if (status.ok()) {
      responder_.Finish(response_, status, &finished_);
    } else {
      responder_.FinishWithError(status, &finished_);
    }
  }

 private:
  explicit UnaryCall(std::shared_ptr<const Method> method) : method_(std::move(method)) {
    context_.default_reactor_ = &default_reactor_;
    context_.AsyncNotifyWhenDone(static_cast<LoopTag*>(&done_));
    method_->request(&context_, &request_, &responder_, method_->loop->cq(),
                     static_cast<LoopTag*>(&started_));
  }

  void OnStarted(bool ok) {
    if (!ok) {  // The server is shutting down: this call never started.
      End();
      return;
    }
    Await(method_);
    reactor_ = method_->handle(&context_, &request_, &response_);
    reactor_->Bind(this);
  }
  void OnFinished(bool /*ok*/) {
    finish_done_ = true;
    MaybeEnd();
  }
  void OnDone(bool /*ok*/) {
    done_seen_ = true;
    if (context_.IsCancelled()) reactor_->OnCancel();
    MaybeEnd();
  }
  void MaybeEnd() {
    if (!finish_done_ || !done_seen_) return;
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
  Request request_;
  Response response_;
  grpc::ServerAsyncResponseWriter<Response> responder_{&context_};
  UnaryReactor default_reactor_;
  UnaryReactor* reactor_ = nullptr;
  // Touched only on the loop's thread.
  bool finish_done_ = false;
  bool done_seen_ = false;
  CallTag<UnaryCall, &UnaryCall::OnStarted> started_{this};
  CallTag<UnaryCall, &UnaryCall::OnFinished> finished_{this};
  CallTag<UnaryCall, &UnaryCall::OnDone> done_{this};
};

// A streaming call. Stream is grpc::ServerAsyncWriter<Response> (First: the
// call's one request; Request: NoReads) or grpc::ServerAsyncReaderWriter
// (First: NoReads).
template <class Stream, class First, class Request, class Response>
class StreamCall final : public StreamOps<Request, Response> {
 public:
  struct Method {
    ServerLoop* loop;
    std::function<void(grpc::ServerContext*, First*, Stream*, grpc::ServerCompletionQueue*, void*)>
        request;
    std::function<StreamReactor<Request, Response>*(CallContext*, const First*)> handle;
  };

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
  void Finish(grpc::Status status) override { stream_.Finish(status, &finished_); }

 private:
  explicit StreamCall(std::shared_ptr<const Method> method) : method_(std::move(method)) {
    context_.AsyncNotifyWhenDone(static_cast<LoopTag*>(&done_));
    method_->request(&context_, &first_, &stream_, method_->loop->cq(),
                     static_cast<LoopTag*>(&started_));
  }

  void OnStarted(bool ok) {
    if (!ok) {  // The server is shutting down: this call never started.
      End();
      return;
    }
    Await(method_);
    reactor_ = method_->handle(&context_, &first_);
    reactor_->Bind(this);
  }
  void OnRead(bool ok) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    reactor_->OnReadDone(ok);
    MaybeEnd();
  }
  void OnWritten(bool ok) {
    in_flight_.fetch_sub(1, std::memory_order_relaxed);
    reactor_->OnWriteDone(ok);
    MaybeEnd();
  }
  void OnFinished(bool /*ok*/) {
    finish_done_ = true;
    MaybeEnd();
  }
  void OnDone(bool /*ok*/) {
    done_seen_ = true;
    if (context_.IsCancelled()) reactor_->OnCancel();
    MaybeEnd();
  }
  void MaybeEnd() {
    // No operation starts after Finish but a read from a reaction, which
    // this thread would have counted already.
    if (!finish_done_ || !done_seen_ || in_flight_.load(std::memory_order_relaxed) != 0) return;
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
  First first_;
  Stream stream_{&context_};
  StreamReactor<Request, Response>* reactor_ = nullptr;
  std::atomic<int> in_flight_{0};  // Reads and writes started, not yet reacted to.
  // Touched only on the loop's thread.
  bool finish_done_ = false;
  bool done_seen_ = false;
  CallTag<StreamCall, &StreamCall::OnStarted> started_{this};
  CallTag<StreamCall, &StreamCall::OnRead> read_{this};
  CallTag<StreamCall, &StreamCall::OnWritten> written_{this};
  CallTag<StreamCall, &StreamCall::OnFinished> finished_{this};
  CallTag<StreamCall, &StreamCall::OnDone> done_{this};
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
  using Call = internal::UnaryCall<Request, Response>;
  Call::Await(std::make_shared<const typename Call::Method>(typename Call::Method{
      &loop,
      [async, request](grpc::ServerContext* context, Request* req,
                       grpc::ServerAsyncResponseWriter<Response>* responder,
                       grpc::ServerCompletionQueue* cq,
                       void* tag) { (async->*request)(context, req, responder, cq, cq, tag); },
      [impl, handle](CallContext* context, const Request* req, Response* resp) {
        return (impl->*handle)(context, req, resp);
      }}));
}

// Serves a server-streaming method (as ServeUnary).
template <class Async, class Base, class Request, class Response, class Impl>
void ServeServerStream(
    ServerLoop& loop, Async* async,
    void (Base::*request)(grpc::ServerContext*, Request*, grpc::ServerAsyncWriter<Response>*,
                          grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
    Impl* impl, WriteReactor<Response>* (Impl::*handle)(CallContext*, const Request*)) {
  using Call = internal::StreamCall<grpc::ServerAsyncWriter<Response>, Request, NoReads, Response>;
  Call::Await(std::make_shared<const typename Call::Method>(typename Call::Method{
      &loop,
      [async, request](grpc::ServerContext* context, Request* req,
                       grpc::ServerAsyncWriter<Response>* writer, grpc::ServerCompletionQueue* cq,
                       void* tag) { (async->*request)(context, req, writer, cq, cq, tag); },
      [impl, handle](CallContext* context, const Request* req) {
        return (impl->*handle)(context, req);
      }}));
}

// Serves a bidirectional streaming method (as ServeUnary).
template <class Async, class Base, class Request, class Response, class Impl>
void ServeBidi(ServerLoop& loop, Async* async,
               void (Base::*request)(grpc::ServerContext*,
                                     grpc::ServerAsyncReaderWriter<Response, Request>*,
                                     grpc::CompletionQueue*, grpc::ServerCompletionQueue*, void*),
               Impl* impl, BidiReactor<Request, Response>* (Impl::*handle)(CallContext*)) {
  using Stream = grpc::ServerAsyncReaderWriter<Response, Request>;
  using Call = internal::StreamCall<Stream, NoReads, Request, Response>;
  Call::Await(std::make_shared<const typename Call::Method>(typename Call::Method{
      &loop,
      [async, request](grpc::ServerContext* context, NoReads*, Stream* stream,
                       grpc::ServerCompletionQueue* cq,
                       void* tag) { (async->*request)(context, stream, cq, cq, tag); },
      [impl, handle](CallContext* context, const NoReads*) { return (impl->*handle)(context); }}));
}

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_CALLS_H_
