#ifndef CONVEYOR_WORKER_STREAM_POLLER_H_
#define CONVEYOR_WORKER_STREAM_POLLER_H_

#include <memory>
#include <thread>

#include "grpcpp/completion_queue.h"

namespace conveyor {

// A gRPC completion queue and the one thread ("conveyor-poll") that polls it
// and runs the reactions of every worker stream started on it, one at a
// time. A message costs that thread one wake-up; gRPC's callback API hands
// each event between two shared threads of its own, and on a small machine
// those extra context switches are most of a worker's CPU.
//
// A Worker starts one of its own unless WorkerOptions::poller gives it one to
// share: many Workers in one process then cost one thread. Thread-safe.
class StreamPoller {
 public:
  // What gRPC gets as the tag of an operation started on cq().
  class Tag {
   public:
    // On the poller's thread; `ok` as gRPC reports it. Must not block.
    virtual void OnComplete(bool ok) = 0;

   protected:
    ~Tag() = default;
  };

  // Starts the thread.
  static std::shared_ptr<StreamPoller> Start();
  // Shuts the queue down and joins the thread. REQUIRES: every operation
  // started on cq() has completed (each stream on it is done), and not
  // called on the poller's thread.
  ~StreamPoller();
  StreamPoller(const StreamPoller&) = delete;
  StreamPoller& operator=(const StreamPoller&) = delete;

  // Operations started here must pass a Tag* as their tag.
  grpc::CompletionQueue* cq() { return &cq_; }

 private:
  StreamPoller();
  void Run();

  grpc::CompletionQueue cq_;
  std::thread thread_;
};

}  // namespace conveyor

#endif  // CONVEYOR_WORKER_STREAM_POLLER_H_
