#include "server/rpc/coordinator.h"

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_builder.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <random>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "server/engine/clock.h"
#include "server/engine/ticker.h"
#include "server/metrics/engine_collector.h"
#include "server/metrics/ops_server.h"
#include "server/metrics/summary_logger.h"
#include "server/rpc/admin_service.h"
#include "server/rpc/authorizer.h"
#include "server/rpc/health_service.h"
#include "server/rpc/job_service.h"
#include "server/rpc/server_loop.h"
#include "server/rpc/worker_service.h"
#include "server/store/memory_store.h"
#include "server/store/sqlite_store.h"

namespace conveyor::rpc {

// Declared in the order they must be built; destroyed in reverse.
struct Coordinator::Parts {
  RealClock clock;
  SeededRandom random{std::random_device{}()};
  std::unique_ptr<Store> store;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<Ticker> ticker;
  std::unique_ptr<Authorizer> authorizer;
  std::unique_ptr<CallLimits> call_limits;
  std::unique_ptr<JobService> job_service;
  std::unique_ptr<WorkerService> worker_service;
  std::unique_ptr<AdminService> admin_service;
  std::unique_ptr<HealthService> health;
  std::unique_ptr<ServerLoop> server;
  std::unique_ptr<metrics::EngineCollector> collector;
  std::unique_ptr<metrics::OpsServer> ops;
  std::unique_ptr<metrics::SummaryLogger> summary;
  int port = 0;
  bool shut_down = false;
};

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(CoordinatorOptions options) {
  if (options.max_message_bytes <= 0 ||
      static_cast<size_t>(options.max_message_bytes) <= options.engine.max_payload_bytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-message-bytes (", options.max_message_bytes, ") must exceed --max-payload-bytes (",
        options.engine.max_payload_bytes, "): a request carries a payload and more"));
  }
  const size_t min_send_queue = 4 * static_cast<size_t>(options.engine.max_worker_concurrency) + 16;
  if (options.max_worker_send_queue > 0 && options.max_worker_send_queue < min_send_queue) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--max-worker-send-queue (", options.max_worker_send_queue, ") must be at least ",
        min_send_queue, " (4 x --max-worker-concurrency + 16): a worker that reads its stream "
        "may have an assignment and an ack waiting per job it may hold (concurrency and "
        "prefetch, each up to --max-worker-concurrency)"));
  }
  auto parts = std::make_unique<Parts>();
  auto credentials = ServerCredentialsFor(options.tls);
  if (!credentials.ok()) return credentials.status();
  if (options.tokens_file.empty()) {
    parts->authorizer = std::make_unique<Authorizer>();
  } else {
    auto authorizer = Authorizer::FromFile(options.tokens_file);
    if (!authorizer.ok()) return authorizer.status();
    parts->authorizer = *std::move(authorizer);
  }
  if (options.memory_store) {
    parts->store = std::make_unique<MemoryStore>();
  } else {
    std::error_code ec;
    std::filesystem::create_directories(options.data_dir, ec);
    if (ec) {
      return absl::FailedPreconditionError(absl::StrCat(
          "--data-dir ", options.data_dir, ": cannot create it: ", ec.message()));
    }
    SqliteStoreOptions store_options;
    store_options.fsync = options.fsync;
    auto store = SqliteStore::Open(options.data_dir + "/conveyor.db", store_options);
    if (!store.ok()) return store.status();
    parts->store = *std::move(store);
  }
  const absl::Time recover_start = absl::Now();
  parts->engine = std::make_unique<Engine>(&parts->clock, &parts->random, parts->store.get(),
                                           options.engine);
  Store* store = parts->store.get();
  absl::StatusOr<size_t> recovered_jobs =
      parts->engine->RestoreFrom([store](RecoverySink& sink) { return store->RecoverTo(sink); });
  if (!recovered_jobs.ok()) return recovered_jobs.status();
  spdlog::info("store recovered jobs={} took_ms={}", *recovered_jobs,
               absl::ToInt64Milliseconds(absl::Now() - recover_start));
  parts->ticker = std::make_unique<Ticker>(parts->engine.get());

  const Authorizer* authorizer = parts->authorizer.get();
  parts->call_limits = std::make_unique<CallLimits>(options.call_limits);
  parts->job_service = std::make_unique<JobService>(parts->engine.get(), parts->store.get(),
                                                    &parts->clock, parts->call_limits.get(),
                                                    authorizer);
  parts->worker_service = std::make_unique<WorkerService>(
      parts->engine.get(), parts->store.get(), &parts->clock, parts->call_limits.get(),
      WorkerStreamLimits{options.max_worker_send_queue, options.worker_unread_grace}, authorizer);
  parts->admin_service =
      std::make_unique<AdminService>(parts->engine.get(), parts->store.get(), authorizer);

  parts->health = std::make_unique<HealthService>(std::set<std::string>{
      v1::JobService::service_full_name(), v1::WorkerService::service_full_name(),
      v1::AdminService::service_full_name()});

  // Reflection is gRPC's own service, on gRPC's threads (which do not poll:
  // see ServerLoop).
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(options.listen, *credentials, &parts->port);
  builder.SetMaxReceiveMessageSize(options.max_message_bytes);
  auto server = ServerLoop::Start(builder, {parts->job_service.get(), parts->worker_service.get(),
                                            parts->admin_service.get(), parts->health.get()});
  if (!server.ok() || parts->port == 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", options.listen, " (in use, or not a host:port?)"));
  }
  parts->server = *std::move(server);
  const bool tls = !options.tls.cert.empty();
  spdlog::info("security tls={} client_certificates={} tokens={}", tls,
               !options.tls.client_ca.empty(),
               options.tokens_file.empty() ? "off" : options.tokens_file);
  if (!tls && options.tokens_file.empty() && !IsLoopbackAddress(options.listen)) {
    spdlog::warn(
        "listen={} is reachable from other machines with neither TLS nor access tokens: "
        "anyone who can connect may submit, run and purge jobs. Set --tls-cert/--tls-key "
        "and --tokens-file, or listen on 127.0.0.1",
        options.listen);
  }
  if (!options.metrics_listen.empty()) {
    parts->collector = std::make_unique<metrics::EngineCollector>(
        parts->engine.get(), parts->store.get(), &parts->clock);
    Engine* engine = parts->engine.get();
    Store* store = parts->store.get();
    auto ops = metrics::OpsServer::Start(options.metrics_listen, {parts->collector.get()},
                                         [engine, store]() -> absl::Status {
                                           if (engine->draining()) {
                                             return absl::UnavailableError("draining");
                                           }
                                           absl::Status s = store->stats().error;
                                           if (!s.ok()) {
                                             return absl::UnavailableError(absl::StrCat(
                                                 "store failed: ", s.message()));
                                           }
                                           return absl::OkStatus();
                                         });
    if (!ops.ok()) return ops.status();
    parts->ops = *std::move(ops);
  }
  if (options.summary_interval > absl::ZeroDuration()) {
    parts->summary = std::make_unique<metrics::SummaryLogger>(parts->engine.get(),
                                                              options.summary_interval);
  }
  return std::unique_ptr<Coordinator>(new Coordinator(std::move(parts)));
}

Coordinator::Coordinator(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Coordinator::~Coordinator() { Shutdown(absl::ZeroDuration()); }

int Coordinator::port() const { return parts_->port; }

int Coordinator::metrics_port() const { return parts_->ops ? parts_->ops->port() : 0; }

absl::StatusOr<size_t> Coordinator::ReloadTokens() { return parts_->authorizer->Reload(); }

void Coordinator::Shutdown(absl::Duration grace) {
  if (parts_->shut_down) return;
  parts_->shut_down = true;
  parts_->health->SetServing(false);
  parts_->engine->BeginDrain(grace);
  const absl::Time deadline = absl::Now() + grace;
  spdlog::info("draining running={} grace={}", parts_->engine->RunningCount(),
               absl::FormatDuration(grace));
  // Running jobs report over their streams; poll the count until done.
  while (parts_->engine->RunningCount() > 0 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  // Give results that just arrived a moment to be acknowledged, then stop.
  parts_->server->Shutdown(absl::Now() + absl::Milliseconds(500));
  parts_->ticker.reset();
  parts_->summary.reset();
  absl::Status flushed = parts_->store->Flush();
  if (!flushed.ok()) spdlog::error("store flush failed: {}", flushed.ToString());
  parts_->store->Close();
  spdlog::info("stopped running_left={}", parts_->engine->RunningCount());
}

}  // namespace conveyor::rpc
