// conveyor-worker: a Conveyor worker process with built-in handlers (echo,
// sleep, fail, fail-permanent, crash; record with --record-file), or --exec
// to run a command per job.
// Flags only and wiring here; the logic is in the conveyor_worker_sdk.

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"
#include "client/cli/connection_flags.h"
#include "spdlog/spdlog.h"
#include "server/metrics/ops_server.h"
#include "worker/cli/worker_metrics.h"
#include "worker/builtin_handlers.h"
#include "worker/exec_handler.h"
#include "worker/record_handler.h"
#include "worker/worker.h"

namespace {

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(text, ',', absl::SkipWhitespace())) {
    out.emplace_back(absl::StripAsciiWhitespace(part));
  }
  return out;
}

// Checks a CLI11 duration flag, e.g. "30s" or "1m30s".
std::string ValidateDuration(const std::string& text) {
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d < absl::ZeroDuration()) {
    return "not a duration like 30s, 500ms or 1m";
  }
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"conveyor-worker: runs Conveyor jobs from a coordinator"};
  std::string coordinator = "127.0.0.1:7070";
  std::string queues = "default";
  std::string types;
  int concurrency = 4;
  int prefetch = 0;
  std::string drain_timeout = "30s";
  std::string name;
  std::vector<std::string> labels;
  std::string exec;
  app.add_option("--coordinator", coordinator, "conveyord address, host:port")
      ->envname("CONVEYOR_COORDINATOR")
      ->capture_default_str();
  app.add_option("--queues", queues, "comma-separated queues to take jobs from")
      ->envname("CONVEYOR_QUEUES")
      ->capture_default_str();
  app.add_option("--types", types,
                 "comma-separated job types to take (default: the built-in ones; every type "
                 "with --exec)")
      ->envname("CONVEYOR_TYPES");
  app.add_option("--concurrency", concurrency, "jobs run at once")
      ->envname("CONVEYOR_CONCURRENCY")
      ->check(CLI::Range(1, 100000))
      ->capture_default_str();
  app.add_option("--prefetch", prefetch,
                 "jobs leased beyond --concurrency, waiting here for a free slot, when no "
                 "worker has one (raises throughput of short jobs; their leases and "
                 "timeouts run while they wait)")
      ->envname("CONVEYOR_PREFETCH")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--drain-timeout", drain_timeout,
                 "on SIGTERM/SIGINT, how long running jobs may finish before they are cancelled")
      ->envname("CONVEYOR_DRAIN_TIMEOUT")
      ->check(ValidateDuration)
      ->capture_default_str();
  app.add_option("--name", name, "worker name (default: hostname-pid)")->envname("CONVEYOR_NAME");
  app.add_option("--label", labels, "k=v label, repeatable (env: comma-separated)")
      ->envname("CONVEYOR_LABELS")
      ->delimiter(',');
  app.add_option("--exec", exec,
                 "run every job as /bin/sh -c CMD: payload on stdin, stdout is the result; exit "
                 "0 ok, 75 retryable, else permanent")
      ->envname("CONVEYOR_EXEC");
  std::string record_file;
  app.add_option("--record-file", record_file,
                 "also take jobs of type `record`: wait the payload's duration, then append "
                 "\"<job id> <attempt> <pid>\" to this file (for chaos tests)")
      ->envname("CONVEYOR_RECORD_FILE");
  std::string metrics_listen;
  app.add_option("--metrics-listen", metrics_listen,
                 "host:port for HTTP /metrics, /healthz, /readyz (empty: off)")
      ->envname("CONVEYOR_METRICS_LISTEN");
  std::string metrics_port_file;
  app.add_option("--metrics-port-file", metrics_port_file,
                 "write the bound metrics port here once serving")
      ->envname("CONVEYOR_METRICS_PORT_FILE");
  conveyor::ConnectionOptions connection;
  conveyor::cli::AddConnectionFlags(app, connection);
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "trace, debug (one line per job), info, warn, error")
      ->envname("CONVEYOR_LOG_LEVEL")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  // Lock-order checking (on in Debian's Abseil) takes a process-wide lock on
  // every lock and mutex destruction; tests and the clang thread-safety
  // analysis cover lock order instead.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Job commands (--exec) inherit the environment: keep the token out of it.
  unsetenv("CONVEYOR_TOKEN");
  spdlog::set_level(spdlog::level::from_str(log_level));

  spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%f%z level=%l %v");

  conveyor::WorkerOptions options;
  options.coordinator = coordinator;
  options.connection = connection;
  options.queues = SplitList(queues);
  options.types = SplitList(types);
  options.concurrency = concurrency;
  options.prefetch = prefetch;
  absl::ParseDuration(drain_timeout, &options.drain_timeout);
  options.name = name;
  for (const auto& label : labels) {
    std::vector<std::string> kv = absl::StrSplit(label, absl::MaxSplits('=', 1));
    if (kv.size() != 2 || kv[0].empty()) {
      std::fprintf(stderr, "--label %s: want key=value\n", label.c_str());
      return 2;
    }
    options.labels[kv[0]] = kv[1];
  }

  // SIGTERM/SIGINT go to one signal thread (blocked everywhere else, so
  // every thread started below inherits the mask); SIGUSR1 ends that thread.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  auto worker = conveyor::Worker::Create(options);
  if (!worker.ok()) {
    std::fprintf(stderr, "conveyor-worker: %s\n", worker.status().ToString().c_str());
    return 2;
  }
  absl::Status registered = exec.empty()
                                ? conveyor::RegisterBuiltinHandlers(**worker)
                                : (*worker)->SetDefaultHandler(conveyor::MakeExecHandler({exec}));
  if (registered.ok() && !record_file.empty()) {
    absl::StatusOr<conveyor::Handler> record = conveyor::MakeRecordHandler(record_file);
    registered = record.ok() ? (*worker)->RegisterHandler("record", *std::move(record))
                             : record.status();
  }
  if (!registered.ok()) {
    std::fprintf(stderr, "conveyor-worker: %s\n", registered.ToString().c_str());
    return 2;
  }

  conveyor::Worker* w = worker->get();
  conveyor::WorkerMetrics metrics(w);
  std::unique_ptr<conveyor::metrics::OpsServer> ops;
  if (!metrics_listen.empty()) {
    auto started = conveyor::metrics::OpsServer::Start(
        metrics_listen, {&metrics}, [w]() -> absl::Status {
          return w->state() == conveyor::StreamState::kConnected
                     ? absl::OkStatus()
                     : absl::UnavailableError("not connected to a coordinator");
        });
    if (!started.ok()) {
      std::fprintf(stderr, "conveyor-worker: %s\n", started.status().ToString().c_str());
      return 2;
    }
    ops = *std::move(started);
    spdlog::info("event=metrics listen={} port={}", metrics_listen, ops->port());
    if (!metrics_port_file.empty()) {
      const std::string tmp = metrics_port_file + ".tmp";
      std::FILE* f = std::fopen(tmp.c_str(), "w");
      if (f == nullptr || std::fprintf(f, "%d\n", ops->port()) < 0 || std::fclose(f) != 0 ||
          std::rename(tmp.c_str(), metrics_port_file.c_str()) != 0) {
        std::fprintf(stderr, "conveyor-worker: cannot write --metrics-port-file %s\n",
                     metrics_port_file.c_str());
        return 2;
      }
    }
  }
  std::thread signal_thread([w, &signals] {
    int received = 0;
    while (true) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0 || sig == SIGUSR1) return;
      if (++received == 1) {
        spdlog::info("event=signal signal={} action=drain", strsignal(sig));
        w->Drain();
      } else {
        spdlog::warn("event=signal signal={} action=exit_now", strsignal(sig));
        spdlog::default_logger()->flush();  // handlers may still log: keep the logger
        _exit(1);
      }
    }
  });

  absl::Status status = (*worker)->Run();
  pthread_kill(signal_thread.native_handle(), SIGUSR1);
  signal_thread.join();
  if (!status.ok()) {
    spdlog::error("event=exit status=\"{}\"", status.ToString());
    spdlog::shutdown();
    return 1;
  }
  if ((*worker)->running() > 0) {
    // Handlers that ignored cancellation: don't wait for them any longer.
    spdlog::warn("event=exit handlers_abandoned={}", (*worker)->running());
    spdlog::default_logger()->flush();  // abandoned handlers may still log
    _exit(0);
  }
  worker->reset();
  spdlog::shutdown();
  return 0;
}
