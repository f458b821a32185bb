#ifndef CONVEYOR_FUZZ_WORKER_STREAM_H_
#define CONVEYOR_FUZZ_WORKER_STREAM_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "conveyor/v1/worker_service.grpc.pb.h"

namespace conveyor::fuzz {

// One WorkerService.Connect stream driven by the fuzzer: it writes whatever
// it is given and records the assignments that come back, so later messages
// can name real leases. A reader thread takes every message as it arrives.
// Not thread-safe: one caller drives it.
class WorkerStream {
 public:
  struct Lease {
    uint64_t job_id;
    uint64_t token;
  };

  explicit WorkerStream(v1::WorkerService::Stub& stub);
  // Ends the stream (Close) if the caller did not.
  ~WorkerStream();

  // Sends `message`; false once the stream is broken.
  bool Write(const v1::WorkerMessage& message);
  bool hello_sent() const { return hello_sent_; }
  bool ended() const;

  // Waits until the coordinator has handled every message written so far and
  // everything it sent in reply is recorded: writes a report for job 0 (a
  // rejected ResultAck comes back in order) and waits for its ack, or for the
  // stream's end. Aborts when neither comes within a minute: a hung stream.
  void Sync();

  // A lease the coordinator assigned on this stream (any, by `pick`), if any.
  bool PickLease(uint64_t pick, Lease* lease) const;

  // Half-closes (or, with `cancel`, cancels) and waits for the stream's end.
  void Close(bool cancel);

 private:
  void ReadAll();

  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>> stream_;
  std::thread reader_;
  bool hello_sent_ = false;
  bool closed_ = false;
  // Above any token the fuzzer sends, so only Sync's own acks count.
  uint64_t next_sync_token_ = uint64_t{1} << 62;

  mutable absl::Mutex mu_;
  std::vector<Lease> leases_ ABSL_GUARDED_BY(mu_);
  uint64_t synced_ ABSL_GUARDED_BY(mu_) = 0;  // The last sync token acknowledged.
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace conveyor::fuzz

#endif  // CONVEYOR_FUZZ_WORKER_STREAM_H_
