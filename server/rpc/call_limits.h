#ifndef CONVEYOR_SERVER_RPC_CALL_LIMITS_H_
#define CONVEYOR_SERVER_RPC_CALL_LIMITS_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace conveyor::rpc {

struct CallLimitOptions {
  // Most open long calls (worker Connect streams, WaitJob, RunJob, WatchJob)
  // from one peer host, ports ignored. 0: unlimited.
  size_t max_streams_per_peer = 10000;
  // Most WaitJob, RunJob and WatchJob calls open at once, all peers
  // together. 0: unlimited.
  size_t max_pending_waits = 100000;
};

class CallLimits;

// One admitted long call; gives its place back when destroyed. Move-only.
class CallTicket {
 public:
  CallTicket() = default;
  CallTicket(CallTicket&& other) noexcept;
  CallTicket& operator=(CallTicket&& other) noexcept;
  CallTicket(const CallTicket&) = delete;
  CallTicket& operator=(const CallTicket&) = delete;
  ~CallTicket();

 private:
  friend class CallLimits;
  void Release();
  CallLimits* limits_ = nullptr;
  std::string host_;
  bool wait_ = false;
};

// Counts the long calls each peer holds open, so one client cannot take
// every reactor and byte of memory. Thread-safe; outlives its tickets.
class CallLimits {
 public:
  explicit CallLimits(CallLimitOptions options) : options_(options) {}

  // Admits a call from `peer` (a gRPC peer string, "ipv4:1.2.3.4:567");
  // `wait`: a WaitJob, RunJob or WatchJob (counted against
  // max_pending_waits too). RESOURCE_EXHAUSTED, naming the limit and its
  // flag, when over a limit; nothing is counted then.
  absl::StatusOr<CallTicket> Admit(std::string_view peer, bool wait) ABSL_LOCKS_EXCLUDED(mu_);

  // Open calls from `peer`'s host, and open waits in total.
  size_t OpenFrom(std::string_view peer) const ABSL_LOCKS_EXCLUDED(mu_);
  size_t OpenWaits() const ABSL_LOCKS_EXCLUDED(mu_);

  // The host part of a gRPC peer string: "ipv4:1.2.3.4:567" -> "1.2.3.4",
  // "ipv6:[::1]:567" -> "::1"; other forms are returned whole.
  static std::string PeerHost(std::string_view peer);

 private:
  friend class CallTicket;
  void Release(const std::string& host, bool wait) ABSL_LOCKS_EXCLUDED(mu_);

  const CallLimitOptions options_;
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, size_t> per_host_ ABSL_GUARDED_BY(mu_);
  size_t waits_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_CALL_LIMITS_H_
