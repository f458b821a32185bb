#include "worker/stream_poller.h"

#include <pthread.h>

namespace conveyor {

std::shared_ptr<StreamPoller> StreamPoller::Start() {
  return std::shared_ptr<StreamPoller>(new StreamPoller());
}

StreamPoller::StreamPoller() : thread_([this] { Run(); }) {
  // Named here, not in Run: the name is there once Start() returns.
  pthread_setname_np(thread_.native_handle(), "conveyor-poll");
}

StreamPoller::~StreamPoller() {
  cq_.Shutdown();
  thread_.join();
}

void StreamPoller::Run() {
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) static_cast<Tag*>(tag)->OnComplete(ok);
}

}  // namespace conveyor
