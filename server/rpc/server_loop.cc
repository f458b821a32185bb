#include "server/rpc/server_loop.h"

#include <pthread.h>

namespace conveyor::rpc {

absl::StatusOr<std::unique_ptr<ServerLoop>> ServerLoop::Start(grpc::ServerBuilder& builder,
                                                              std::vector<LoopService*> services) {
  std::unique_ptr<ServerLoop> loop(new ServerLoop());
  loop->cq_ = builder.AddCompletionQueue();
  for (LoopService* service : services) builder.RegisterService(service->grpc_service());
  loop->server_ = builder.BuildAndStart();
  if (loop->server_ == nullptr) {
    loop->cq_->Shutdown();
    void* tag;
    bool ok;
    while (loop->cq_->Next(&tag, &ok)) {
    }
    loop->stopped_ = true;
    return absl::UnavailableError("the gRPC server did not start");
  }
  for (LoopService* service : services) service->Serve(*loop);
  ServerLoop* raw = loop.get();
  loop->thread_ = std::thread([raw] { raw->Run(); });
  // Named here, not in Run: the name is there once Start() returns.
  pthread_setname_np(loop->thread_.native_handle(), "conveyor-rpc");
  return loop;
}

ServerLoop::~ServerLoop() { Shutdown(absl::Now()); }

void ServerLoop::Shutdown(absl::Time deadline) {
  if (stopped_) return;
  stopped_ = true;
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  // Fails the calls awaited but not started (each ends and deregisters),
  // and cancels the running ones at `deadline`.
  server_->Shutdown(absl::ToChronoTime(deadline));
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](size_t* calls) { return *calls == 0; }, &calls_));
  }
  cq_->Shutdown();
  thread_.join();
}

bool ServerLoop::BeginCall() {
  absl::MutexLock lock(&mu_);
  if (stopping_) return false;
  ++calls_;
  return true;
}

void ServerLoop::EndCall() {
  absl::MutexLock lock(&mu_);
  --calls_;
}

void ServerLoop::Run() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_->Next(&tag, &ok)) static_cast<LoopTag*>(tag)->Proceed(ok);
}

void LoopAlarm::Set(ServerLoop& loop, absl::Time deadline, std::function<void(bool)> fn) {
  fn_ = std::move(fn);
  alarm_.Set(loop.cq(), absl::ToChronoTime(deadline), static_cast<LoopTag*>(this));
}

void LoopAlarm::Proceed(bool ok) {
  // Moved out first: fn may destroy this alarm.
  std::function<void(bool)> fn = std::move(fn_);
  fn(ok);
}

}  // namespace conveyor::rpc
