#include "server/rpc/call_limits.h"

#include <utility>

#include "absl/strings/str_cat.h"

namespace conveyor::rpc {

CallTicket::CallTicket(CallTicket&& other) noexcept
    : limits_(std::exchange(other.limits_, nullptr)),
      host_(std::move(other.host_)),
      wait_(other.wait_) {}

CallTicket& CallTicket::operator=(CallTicket&& other) noexcept {
  if (this != &other) {
    Release();
    limits_ = std::exchange(other.limits_, nullptr);
    host_ = std::move(other.host_);
    wait_ = other.wait_;
  }
  return *this;
}

CallTicket::~CallTicket() { Release(); }

void CallTicket::Release() {
  if (limits_ != nullptr) std::exchange(limits_, nullptr)->Release(host_, wait_);
}

std::string CallLimits::PeerHost(std::string_view peer) {
  std::string_view rest = peer;
  if (!rest.starts_with("ipv4:") && !rest.starts_with("ipv6:")) return std::string(peer);
  rest.remove_prefix(5);
  const size_t colon = rest.rfind(':');
  if (colon != std::string_view::npos) rest = rest.substr(0, colon);
  if (rest.size() >= 2 && rest.front() == '[' && rest.back() == ']') {
    rest = rest.substr(1, rest.size() - 2);
  }
  return std::string(rest);
}

absl::StatusOr<CallTicket> CallLimits::Admit(std::string_view peer, bool wait) {
  std::string host = PeerHost(peer);
  absl::MutexLock lock(&mu_);
  size_t& open = per_host_[host];
  if (options_.max_streams_per_peer > 0 && open >= options_.max_streams_per_peer) {
    if (open == 0) per_host_.erase(host);
    return absl::ResourceExhaustedError(absl::StrCat(
        "peer ", host, " already holds ", options_.max_streams_per_peer,
        " open streams and waits (worker Connect, WaitJob, RunJob, WatchJob); end some, or "
        "raise --max-streams-per-peer on conveyord"));
  }
  if (wait && options_.max_pending_waits > 0 && waits_ >= options_.max_pending_waits) {
    if (open == 0) per_host_.erase(host);
    return absl::ResourceExhaustedError(absl::StrCat(
        "the coordinator already holds ", options_.max_pending_waits,
        " open WaitJob/RunJob/WatchJob calls; retry later, poll GetJob, or raise "
        "--max-pending-waits on conveyord"));
  }
  ++open;
  if (wait) ++waits_;
  CallTicket ticket;
  ticket.limits_ = this;
  ticket.host_ = std::move(host);
  ticket.wait_ = wait;
  return ticket;
}

void CallLimits::Release(const std::string& host, bool wait) {
  absl::MutexLock lock(&mu_);
  auto it = per_host_.find(host);
  if (it != per_host_.end() && --it->second == 0) per_host_.erase(it);
  if (wait) --waits_;
}

size_t CallLimits::OpenFrom(std::string_view peer) const {
  absl::MutexLock lock(&mu_);
  auto it = per_host_.find(PeerHost(peer));
  return it == per_host_.end() ? 0 : it->second;
}

size_t CallLimits::OpenWaits() const {
  absl::MutexLock lock(&mu_);
  return waits_;
}

}  // namespace conveyor::rpc
