#include "worker/stream_poller.h"

#include <pthread.h>

namespace conveyor {

std::shared_ptr<StreamPoller> StreamPoller::Start() {
  return std::shared_ptr<StreamPoller>(new StreamPoller());
}

StreamPoller::StreamPoller() : thread_([this] { Run(); }) {}

StreamPoller::~StreamPoller() {
  cq_.Shutdown();
  thread_.join();
}

void StreamPoller::Run() {
  pthread_setname_np(pthread_self(), "conveyor-poll");
  void* tag = nullptr;
  bool ok = false;
  while (cq_.Next(&tag, &ok)) static_cast<Tag*>(tag)->OnComplete(ok);
}

}  // namespace conveyor
