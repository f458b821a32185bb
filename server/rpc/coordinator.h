#ifndef CONVEYOR_SERVER_RPC_COORDINATOR_H_
#define CONVEYOR_SERVER_RPC_COORDINATOR_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/engine/engine.h"
#include "server/rpc/transport_security.h"
#include "server/rpc/call_limits.h"

namespace conveyor::rpc {

struct CoordinatorOptions {
  // host:port to listen on; port 0 picks a free one (see Coordinator::port).
  std::string listen = "127.0.0.1:7070";
  // Where the SQLite store lives (created if missing).
  std::string data_dir = "data";
  // Keep jobs in memory only (tests, benchmarks): nothing survives a restart.
  bool memory_store = false;
  // Make every group commit durable against power loss, not just crashes.
  bool fsync = false;
  // host:port of the HTTP port for /metrics, /healthz and /readyz; empty:
  // none.
  std::string metrics_listen;
  // How often a summary line (counts per interval) is logged at info; zero:
  // never.
  absl::Duration summary_interval = absl::ZeroDuration();
  // TLS on the gRPC port (transport_security.h); empty: plaintext.
  TlsFiles tls;
  // Access tokens, one `TOKEN ROLE` per line (token_table.h); empty: every
  // caller may call everything.
  std::string tokens_file;
  // Largest request the gRPC server reads; larger ones get
  // RESOURCE_EXHAUSTED. Must exceed engine.max_payload_bytes.
  int max_message_bytes = 16 << 20;
  // Streams and waits per peer, waits in total (call_limits.h).
  CallLimitOptions call_limits;
  // Messages that may wait unread on one worker stream before it is ended
  // with RESOURCE_EXHAUSTED; 0: unlimited. At least 2 x
  // engine.max_worker_concurrency + 16, so a worker that reads is never cut.
  size_t max_worker_send_queue = 10000;
  // How long an ended worker stream's last write may stay unread before the
  // call is cancelled (its place among its peer's streams comes back).
  absl::Duration worker_unread_grace = absl::Seconds(10);
  EngineOptions engine;
};

// A running coordinator: store, engine, ticker and the gRPC server with
// JobService, WorkerService, AdminService (each call checked against the
// tokens file, if any), health and reflection (always open). Thread-safe.
class Coordinator {
 public:
  // Opens the store, restores the engine from it and starts serving.
  static absl::StatusOr<std::unique_ptr<Coordinator>> Start(CoordinatorOptions options);
  ~Coordinator();

  // The ports actually bound (metrics_port: 0 without metrics_listen).
  int port() const;
  int metrics_port() const;
  // Reads the tokens file again (on SIGHUP); on error the old tokens stay.
  // Returns how many tokens are now in force; FAILED_PRECONDITION without a
  // tokens file.
  absl::StatusOr<size_t> ReloadTokens();
  // Drains: health goes NOT_SERVING, submits and new workers get
  // UNAVAILABLE, workers are told to drain; waits up to `grace` for running
  // jobs to report, then stops the server and flushes the store.
  void Shutdown(absl::Duration grace);

 private:
  struct Parts;
  explicit Coordinator(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_COORDINATOR_H_
