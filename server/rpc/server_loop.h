#ifndef CONVEYOR_SERVER_RPC_SERVER_LOOP_H_
#define CONVEYOR_SERVER_RPC_SERVER_LOOP_H_

#include <grpcpp/alarm.h>
#include <grpcpp/server.h>
#include <grpcpp/server_builder.h>

#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace conveyor::rpc {

class ServerLoop;

// What gRPC gets as the tag of an operation started on a ServerLoop's queue.
class LoopTag {
 public:
  // On the loop's thread; `ok` as gRPC reports it. Must not block.
  virtual void Proceed(bool ok) = 0;

 protected:
  ~LoopTag() = default;
};

// A service whose calls run on a ServerLoop (see calls.h).
class LoopService {
 public:
  virtual ~LoopService() = default;
  // The generated AsyncService to register with the builder.
  virtual grpc::Service* grpc_service() = 0;
  // Awaits the first call of each method. Called once, after the server
  // started.
  virtual void Serve(ServerLoop& loop) = 0;
};

// A gRPC server whose calls all run on one thread ("conveyor-rpc"), which
// polls the connections and runs every reaction (reactors.h), one at a
// time. gRPC's callback API hands each event between two threads of its
// own; on a small machine those extra context switches cost more than the
// work they carry. Services that are not LoopServices (reflection) are
// served by gRPC's own threads, which then do not poll.
// Thread-safe.
class ServerLoop {
 public:
  // Adds a completion queue to `builder` (which holds the listening ports,
  // options and any services of gRPC's own), registers `services` with it,
  // starts the server and the thread. UNAVAILABLE if the server does not
  // start. The services must outlive the loop.
  static absl::StatusOr<std::unique_ptr<ServerLoop>> Start(grpc::ServerBuilder& builder,
                                                           std::vector<LoopService*> services);
  // Shutdown(now) unless done before.
  ~ServerLoop();
  ServerLoop(const ServerLoop&) = delete;
  ServerLoop& operator=(const ServerLoop&) = delete;

  // Stops taking calls; cancels the ones still running at `deadline`; returns
  // once every call has ended (each reactor's OnDone ran) and the thread has
  // stopped. Not on the loop's thread.
  void Shutdown(absl::Time deadline);

  grpc::Server* server() { return server_.get(); }
  // Operations started here must pass a LoopTag* as their tag.
  grpc::ServerCompletionQueue* cq() { return cq_.get(); }

  // Calls in progress (calls.h): a call registers as it is awaited and
  // deregisters once it ended; Shutdown waits for none to be left. Begin
  // returns false, registering nothing, once Shutdown started.
  bool BeginCall() ABSL_LOCKS_EXCLUDED(mu_);
  void EndCall() ABSL_LOCKS_EXCLUDED(mu_);

 private:
  ServerLoop() = default;
  void Run();

  std::unique_ptr<grpc::ServerCompletionQueue> cq_;
  std::unique_ptr<grpc::Server> server_;
  std::thread thread_;
  absl::Mutex mu_;
  size_t calls_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  bool stopped_ = false;  // Touched only by Shutdown's caller.
};

// A grpc::Alarm whose end runs on the loop's thread. Thread-safe.
class LoopAlarm final : public LoopTag {
 public:
  LoopAlarm() = default;
  // Calls `fn(true)` on the loop's thread at `deadline`, or `fn(false)` if
  // Cancel() came first. `fn` may destroy this alarm. REQUIRES: not set, or
  // the last `fn` has run; the loop is not shut down.
  void Set(ServerLoop& loop, absl::Time deadline, std::function<void(bool)> fn);
  void Cancel() { alarm_.Cancel(); }

 private:
  void Proceed(bool ok) override;

  grpc::Alarm alarm_;
  std::function<void(bool)> fn_;
};

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_SERVER_LOOP_H_
