#include "bench/cluster.h"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <httplib.h>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "grpcpp/support/channel_arguments.h"

namespace conveyor::bench {
namespace {

absl::Status FromGrpc(const grpc::Status& s, const std::string& what) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(what, ": ", s.error_message()));
}

}  // namespace

std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

absl::StatusOr<std::unique_ptr<Coordinator>> Coordinator::Start(const ClusterOptions& options,
                                                                 const std::string& name) {
  std::unique_ptr<Coordinator> c(new Coordinator());
  c->options_ = options;
  auto dir = TempDir::Create(absl::StrCat("conveyor-bench-", name));
  if (!dir.ok()) return dir.status();
  c->dir_ = *std::move(dir);
  if (options.keep_logs) c->dir_->Keep();
  if (!options.external.empty()) {
    c->external_ = true;
    c->address_ = options.external;
  } else {
    absl::Status s = c->Launch();
    if (!s.ok()) return s;
  }
  c->Connect();
  // The coordinator answers once its store is open: wait for a first reply.
  const absl::Time deadline = absl::Now() + absl::Seconds(30);
  while (true) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(2)));
    v1::ListQueuesRequest req;
    v1::ListQueuesResponse resp;
    grpc::Status s = c->admin_->ListQueues(&ctx, req, &resp);
    if (s.ok()) break;
    if (absl::Now() > deadline) return FromGrpc(s, absl::StrCat("coordinator ", c->address_));
    absl::SleepFor(absl::Milliseconds(10));
  }
  return c;
}

absl::Status Coordinator::Launch() {
  const std::string port_file = absl::StrCat(dir_->path(), "/port.", ++launches_);
  const std::string metrics_port_file = absl::StrCat(dir_->path(), "/metrics-port.", launches_);
  std::vector<std::string> args = {"--listen=127.0.0.1:0", "--port-file=" + port_file,
                                   "--metrics-listen=127.0.0.1:0",
                                   "--metrics-port-file=" + metrics_port_file,
                                   "--data-dir=" + dir_->path() + "/data", "--log-level=warn",
                                   // capacity queues more than the default depth limit
                                   "--max-queue-depth=100000000"};
  if (options_.fsync) args.push_back("--fsync");
  auto process = ChildProcess::Start(options_.conveyord, args, dir_->path() + "/conveyord.log");
  if (!process.ok()) return process.status();
  process_ = *std::move(process);
  auto port = ReadPortFile(port_file, absl::Seconds(120));
  if (!port.ok()) return port.status();
  address_ = absl::StrCat("127.0.0.1:", *port);
  auto metrics_port = ReadPortFile(metrics_port_file, absl::Seconds(30));
  if (!metrics_port.ok()) return metrics_port.status();
  metrics_port_ = *metrics_port;
  return absl::OkStatus();
}

absl::StatusOr<std::string> Coordinator::ScrapeMetrics() {
  if (metrics_port_ == 0) {
    return absl::FailedPreconditionError("no metrics port (an external coordinator)");
  }
  httplib::Client http("127.0.0.1", metrics_port_);
  http.set_read_timeout(10, 0);
  auto res = http.Get("/metrics");
  if (!res || res->status != 200) {
    return absl::UnavailableError(absl::StrCat("GET /metrics on port ", metrics_port_, ": ",
                                               res ? absl::StrCat("HTTP ", res->status)
                                                   : httplib::to_string(res.error())));
  }
  return res->body;
}

void Coordinator::Connect() {
  channel_ = MakeChannel(address_);
  jobs_ = v1::JobService::NewStub(channel_);
  admin_ = v1::AdminService::NewStub(channel_);
}

absl::StatusOr<absl::Duration> Coordinator::KillAndRestart() {
  if (process_ == nullptr) return absl::FailedPreconditionError("external coordinator");
  process_->Signal(SIGKILL);
  (void)process_->Wait(absl::Seconds(30));
  process_.reset();
  const absl::Time start = absl::Now();
  absl::Status s = Launch();
  if (!s.ok()) return s;
  const absl::Duration took = absl::Now() - start;
  Connect();
  return took;
}

void Coordinator::Stop() {
  if (process_ != nullptr) process_->Stop(absl::Seconds(20));
  process_.reset();
}

Coordinator::~Coordinator() { Stop(); }

absl::Status WorkerFleet::Start(int count, int concurrency, int prefetch,
                                const std::string& queue) {
  auto before = CountWorkers(coordinator_->admin(), queue);
  if (!before.ok()) return before.status();
  ++generation_;
  for (int i = 0; i < count; ++i) {
    const std::string log = options_.keep_logs
                                ? absl::StrCat(coordinator_->dir(), "/worker-", generation_, "-",
                                               i, ".log")
                                : "/dev/null";
    auto p = ChildProcess::Start(
        options_.worker,
        {"--coordinator", coordinator_->address(), "--queues", queue, "--concurrency",
         absl::StrCat(concurrency), "--prefetch", absl::StrCat(prefetch), "--name",
         absl::StrCat("bench-", generation_, "-", i), "--drain-timeout", "5s"},
        log);
    if (!p.ok()) return p.status();
    processes_.push_back(*std::move(p));
  }
  return WaitForWorkers(coordinator_->admin(), queue, *before + count, absl::Seconds(30));
}

void WorkerFleet::Stop() {
  for (auto& p : processes_) p->Signal(SIGTERM);
  for (auto& p : processes_) {
    if (!p->Wait(absl::Seconds(10)).ok()) {
      p->Signal(SIGKILL);
      (void)p->Wait(absl::Seconds(10));
    }
  }
  processes_.clear();
}

std::vector<pid_t> WorkerFleet::pids() const {
  std::vector<pid_t> out;
  for (const auto& p : processes_) out.push_back(p->pid());
  return out;
}

absl::StatusOr<int> CountWorkers(v1::AdminService::Stub& admin, const std::string& queue) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::ListWorkersRequest req;
  v1::ListWorkersResponse resp;
  grpc::Status s = admin.ListWorkers(&ctx, req, &resp);
  if (!s.ok()) return FromGrpc(s, "ListWorkers");
  int n = 0;
  for (const auto& w : resp.workers()) {
    if (std::find(w.queues().begin(), w.queues().end(), queue) != w.queues().end()) ++n;
  }
  return n;
}

absl::Status WaitForWorkers(v1::AdminService::Stub& admin, const std::string& queue, int count,
                            absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  int seen = 0;
  while (absl::Now() < deadline) {
    auto n = CountWorkers(admin, queue);
    if (!n.ok()) return n.status();
    seen = *n;
    if (seen >= count) return absl::OkStatus();
    absl::SleepFor(absl::Milliseconds(20));
  }
  return absl::DeadlineExceededError(
      absl::StrCat("only ", seen, " of ", count, " workers connected after ",
                   absl::FormatDuration(timeout)));
}

absl::StatusOr<v1::QueueInfo> GetQueue(v1::AdminService::Stub& admin, const std::string& queue) {
  grpc::ClientContext ctx;
  ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(10)));
  v1::GetQueueRequest req;
  req.set_name(queue);
  v1::QueueInfo resp;
  grpc::Status s = admin.GetQueue(&ctx, req, &resp);
  if (s.error_code() == grpc::StatusCode::NOT_FOUND) {
    v1::QueueInfo empty;
    empty.set_name(queue);
    return empty;
  }
  if (!s.ok()) return FromGrpc(s, "GetQueue");
  return resp;
}

}  // namespace conveyor::bench
