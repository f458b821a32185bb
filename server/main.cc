// conveyord: the Conveyor coordinator. Flags, logging, signals and wiring
// only; everything else lives in server/rpc/coordinator.h and below.

#include <signal.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/rpc/coordinator.h"
#include "server/rpc/logging.h"

namespace {

// Parses a duration flag ("30s", "500ms"); CLI11 reports the error.
std::function<std::string(const std::string&)> DurationValidator() {
  return [](const std::string& text) -> std::string {
    absl::Duration d;
    if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
      return "expected a duration such as 30s, 500ms or 2m";
    }
    return "";
  };
}

absl::Duration ParsedDuration(const std::string& text) {
  absl::Duration d;
  absl::ParseDuration(text, &d);
  return d;
}

bool WritePortFile(const std::string& path, int port) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << port << "\n";
    if (!out.good()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"conveyord: the Conveyor coordinator (durable job queues over gRPC)"};
  conveyor::rpc::CoordinatorOptions options;
  std::string port_file;
  std::string metrics_port_file;
  std::string summary_interval = "60s";
  options.metrics_listen = "127.0.0.1:7071";
  std::string log_level = "info";
  std::string log_format = "text";
  std::string drain_grace = "30s";
  std::string lease_duration = "30s";
  std::string retention = "24h";
  int max_attempts = 3;
  app.add_option("--listen", options.listen, "host:port to serve gRPC on (port 0: any free)")
      ->envname("CONVEYOR_LISTEN")
      ->capture_default_str();
  app.add_option("--data-dir", options.data_dir, "directory of the SQLite store")
      ->envname("CONVEYOR_DATA_DIR")
      ->capture_default_str();
  app.add_flag("--fsync", options.fsync,
               "make every commit durable against power loss (slower), not just crashes")
      ->envname("CONVEYOR_FSYNC");
  app.add_flag("--memory-store", options.memory_store,
               "keep jobs in memory only: nothing survives a restart")
      ->envname("CONVEYOR_MEMORY_STORE");
  app.add_option("--port-file", port_file, "write the bound port here once serving")
      ->envname("CONVEYOR_PORT_FILE");
  app.add_option("--metrics-listen", options.metrics_listen,
                 "host:port for HTTP /metrics, /healthz, /readyz (empty: off; port 0: any)")
      ->envname("CONVEYOR_METRICS_LISTEN")
      ->capture_default_str();
  app.add_option("--metrics-port-file", metrics_port_file,
                 "write the bound metrics port here once serving")
      ->envname("CONVEYOR_METRICS_PORT_FILE");
  app.add_option("--summary-interval", summary_interval,
                 "how often to log a summary line at info (0s: never)")
      ->envname("CONVEYOR_SUMMARY_INTERVAL")
      ->check(DurationValidator())
      ->capture_default_str();
  app.add_option("--drain-grace", drain_grace,
                 "on SIGTERM/SIGINT, how long running jobs get to finish")
      ->envname("CONVEYOR_DRAIN_GRACE")
      ->check(DurationValidator())
      ->capture_default_str();
  app.add_option("--max-payload-bytes", options.engine.max_payload_bytes,
                 "largest job payload or result")
      ->envname("CONVEYOR_MAX_PAYLOAD_BYTES")
      ->check(CLI::Range(1, 64 << 20))
      ->capture_default_str();
  app.add_option("--max-batch", options.engine.max_batch, "most jobs in one Submit")
      ->envname("CONVEYOR_MAX_BATCH")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--max-worker-concurrency", options.engine.max_worker_concurrency,
                 "cap on the concurrency one worker may announce")
      ->envname("CONVEYOR_MAX_WORKER_CONCURRENCY")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  // Limits that keep one client from hurting the rest (README: "Limits").
  app.add_option("--max-message-bytes", options.max_message_bytes,
                 "largest gRPC request read (must exceed --max-payload-bytes)")
      ->envname("CONVEYOR_MAX_MESSAGE_BYTES")
      ->check(CLI::Range(1024, 1 << 30))
      ->capture_default_str();
  app.add_option("--max-queue-depth", options.engine.max_queue_depth,
                 "most unfinished jobs in a queue without its own max_depth")
      ->envname("CONVEYOR_MAX_QUEUE_DEPTH")
      ->check(CLI::Range(int64_t{1}, int64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--max-queues", options.engine.max_queues, "most queues")
      ->envname("CONVEYOR_MAX_QUEUES")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--max-streams-per-peer", options.call_limits.max_streams_per_peer,
                 "most worker streams and WaitJob/RunJob/WatchJob calls open from one host")
      ->envname("CONVEYOR_MAX_STREAMS_PER_PEER")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--max-pending-waits", options.call_limits.max_pending_waits,
                 "most WaitJob/RunJob/WatchJob calls open at once")
      ->envname("CONVEYOR_MAX_PENDING_WAITS")
      ->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--max-worker-send-queue", options.max_worker_send_queue,
                 "messages waiting unread on a worker stream before it is ended")
      ->envname("CONVEYOR_MAX_WORKER_SEND_QUEUE")
      ->check(CLI::Range(16, 10000000))
      ->capture_default_str();
  app.add_option("--max-attempts", max_attempts, "default attempts per job")
      ->envname("CONVEYOR_MAX_ATTEMPTS")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--lease-duration", lease_duration,
                 "default lease without a heartbeat (1s to 1h)")
      ->envname("CONVEYOR_LEASE_DURATION")
      ->check(DurationValidator())
      ->capture_default_str();
  app.add_option("--retention", retention, "default time ended jobs are kept")
      ->envname("CONVEYOR_RETENTION")
      ->check(DurationValidator())
      ->capture_default_str();
  app.add_option("--tls-cert", options.tls.cert,
                 "PEM certificate chain: serve gRPC over TLS (with --tls-key)")
      ->envname("CONVEYOR_TLS_CERT");
  app.add_option("--tls-key", options.tls.key, "PEM private key of --tls-cert")
      ->envname("CONVEYOR_TLS_KEY");
  app.add_option("--tls-client-ca", options.tls.client_ca,
                 "PEM CA: require client certificates signed by it (mutual TLS)")
      ->envname("CONVEYOR_TLS_CLIENT_CA");
  app.add_option("--tokens-file", options.tokens_file,
                 "access tokens, one 'TOKEN ROLE' per line (producer, worker, admin); "
                 "SIGHUP reloads it")
      ->envname("CONVEYOR_TOKENS_FILE");
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error")
      ->envname("CONVEYOR_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text or json")
      ->envname("CONVEYOR_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Lock-order checking costs a few percent on every lock; tests and the
  // clang thread-safety analysis cover lock order instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);

  if (absl::Status s = conveyor::rpc::ConfigureLogging("conveyord", log_level, log_format);
      !s.ok()) {
    std::fprintf(stderr, "%s\n", std::string(s.message()).c_str());
    return 2;
  }
  options.engine.default_queue.max_attempts = max_attempts;
  options.engine.default_queue.lease_duration = ParsedDuration(lease_duration);
  options.engine.default_queue.retention = ParsedDuration(retention);
  options.summary_interval = ParsedDuration(summary_interval);
  if (options.engine.default_queue.lease_duration < absl::Seconds(1) ||
      options.engine.default_queue.lease_duration > absl::Hours(1)) {
    std::fprintf(stderr, "--lease-duration: must be 1s to 1h (got %s)\n", lease_duration.c_str());
    return 2;
  }

  // Signals are taken synchronously by the main thread; block them before
  // gRPC starts its threads so none of those gets them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto coordinator = conveyor::rpc::Coordinator::Start(options);
  if (!coordinator.ok()) {
    spdlog::critical("start failed: {}", coordinator.status().ToString());
    return absl::IsInvalidArgument(coordinator.status()) ? 2 : 1;
  }
  spdlog::info(
      "serving listen={} port={} metrics_port={} store={} data_dir={} fsync={} lease={} "
      "max_attempts={} retention={} max_payload_bytes={} max_batch={} max_message_bytes={} "
      "max_queue_depth={} max_queues={} max_streams_per_peer={} max_pending_waits={} "
      "max_worker_send_queue={} pid={}",
      options.listen, (*coordinator)->port(), (*coordinator)->metrics_port(),
      options.memory_store ? "memory" : "sqlite", options.data_dir, options.fsync,
      lease_duration, max_attempts, retention, options.engine.max_payload_bytes,
      options.engine.max_batch, options.max_message_bytes, options.engine.max_queue_depth,
      options.engine.max_queues, options.call_limits.max_streams_per_peer,
      options.call_limits.max_pending_waits, options.max_worker_send_queue, getpid());
  if (!metrics_port_file.empty() &&
      !WritePortFile(metrics_port_file, (*coordinator)->metrics_port())) {
    spdlog::critical("cannot write --metrics-port-file {}", metrics_port_file);
    return 1;
  }
  if (!port_file.empty() && !WritePortFile(port_file, (*coordinator)->port())) {
    spdlog::critical("cannot write --port-file {}", port_file);
    return 1;
  }

  int signal_number = 0;
  while (sigwait(&signals, &signal_number) == 0 && signal_number == SIGHUP) {
    absl::StatusOr<size_t> tokens = (*coordinator)->ReloadTokens();
    if (tokens.ok()) {
      spdlog::info("signal=SIGHUP tokens reloaded tokens={}", *tokens);
    } else {
      spdlog::error("signal=SIGHUP tokens not reloaded, the previous ones stay: {}",
                    tokens.status().ToString());
    }
  }
  spdlog::info("signal={} draining grace={}", signal_number, drain_grace);
  // A second SIGTERM/SIGINT during the drain exits at once.
  sigdelset(&signals, SIGHUP);
  pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
  (*coordinator)->Shutdown(ParsedDuration(drain_grace));
  coordinator->reset();
  spdlog::info("exit");
  return 0;
}
