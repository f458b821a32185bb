#include "bench/scenarios.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <memory>
#include <optional>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bench/histogram.h"
#include "bench/load.h"
#include "bench/open_loop.h"
#include "bench/process.h"
#include "bench/store_metrics.h"
#include "worker/worker.h"

namespace conveyor::bench {
namespace {

#define BENCH_RETURN_IF_ERROR(expr)          \
  do {                                       \
    absl::Status _status = (expr);           \
    if (!_status.ok()) return _status;       \
  } while (false)

// One stub per connection, for spreading load.
struct Stubs {
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  std::vector<std::unique_ptr<v1::JobService::Stub>> owned;
  std::vector<v1::JobService::Stub*> stubs;
  Stubs(const std::string& address, int count) {
    for (int i = 0; i < std::max(1, count); ++i) {
      channels.push_back(MakeChannel(address));
      owned.push_back(v1::JobService::NewStub(channels.back()));
      stubs.push_back(owned.back().get());
    }
  }
};

double Millis(int64_t nanos) { return nanos / 1e6; }

// Adds a verification's figures; a loss fails the run.
void ReportVerification(Report& report, const std::string& scenario, const std::string& phase,
                        const Verification& v) {
  report.Add(scenario, phase + " jobs succeeded", v.succeeded, "jobs");
  report.Add(scenario, phase + " duplicates (attempts>1)", v.duplicates, "jobs",
             Target::AtMost(0));
  report.Add(scenario, phase + " lost", v.lost, "jobs", Target::AtMost(0));
  if (v.lost > 0) {
    report.Fail(absl::StrCat(scenario, " ", phase, ": ", v.lost, " of ", v.expected,
                             " jobs did not succeed"));
  }
}

// CPU seconds used so far by the coordinator, the worker processes and this
// process (the load generator, and in-process workers).
struct CpuSample {
  double coordinator = 0, workers = 0, bench = 0;
  CpuSample Since(const CpuSample& before) const {
    return {coordinator - before.coordinator, workers - before.workers, bench - before.bench};
  }
};
CpuSample SampleCpu(const Coordinator& coordinator, const WorkerFleet* fleet) {
  CpuSample s;
  if (coordinator.pid() != 0) s.coordinator = ReadCpuSeconds(coordinator.pid()).value_or(0);
  if (fleet != nullptr) {
    for (pid_t pid : fleet->pids()) s.workers += ReadCpuSeconds(pid).value_or(0);
  }
  s.bench = ReadCpuSeconds(0).value_or(0);
  return s;
}

// Reports `used` (CPU seconds over `wall`) per job of `jobs`, and as cores.
void ReportCpu(Report& report, const std::string& scenario, const CpuSample& used, double jobs,
               absl::Duration wall) {
  jobs = std::max(1.0, jobs);
  report.Add(scenario, "  CPU: coordinator, per job", used.coordinator / jobs * 1e6, "us");
  report.Add(scenario, "  CPU: K workers, per job", used.workers / jobs * 1e6, "us");
  report.Add(scenario, "  CPU: load generator, per job", used.bench / jobs * 1e6, "us");
  report.Add(scenario, "  CPU: all three / wall time",
             (used.coordinator + used.workers + used.bench) /
                 std::max(1e-9, absl::ToDoubleSeconds(wall)),
             "cores");
}

// Submits `count` jobs in batches while workers run, and waits until they
// all ended. Returns (submit outcome, time of the last completion seen).
struct EndToEnd {
  SubmitOutcome submit;
  absl::Time start;
  absl::Time end;
  CpuSample cpu;  // used during the run
  double rate() const { return submit.ids.size() / absl::ToDoubleSeconds(end - start); }
};
absl::StatusOr<EndToEnd> RunEndToEnd(const BenchConfig& config, Coordinator& coordinator,
                                     Stubs& stubs, int64_t count,
                                     const WorkerFleet* fleet = nullptr) {
  auto before = GetQueue(coordinator.admin(), config.queue);
  if (!before.ok()) return before.status();
  const CpuSample cpu_before = SampleCpu(coordinator, fleet);
  const v1::JobSpec spec = MakeSpec(config.queue, config.payload_bytes);
  EndToEnd out;
  absl::StatusOr<SubmitOutcome> submitted = absl::UnknownError("not run");
  out.start = absl::Now();
  std::thread producer([&] {
    submitted = SubmitJobs(stubs.stubs, spec, count, config.batch, config.batch_inflight);
  });
  auto ended = WaitForEnded(coordinator.admin(), config.queue, Terminal(*before), count);
  producer.join();
  if (!submitted.ok()) return submitted.status();
  if (!ended.ok()) return ended.status();
  out.submit = *std::move(submitted);
  out.end = *ended;
  out.cpu = SampleCpu(coordinator, fleet).Since(cpu_before);
  return out;
}

}  // namespace

// --- throughput --------------------------------------------------------------

absl::Status RunThroughput(const BenchConfig& config, Report& report) {
  const std::string name = config.cluster.fsync ? "throughput --fsync" : "throughput";
  auto coordinator = Coordinator::Start(config.cluster, "throughput");
  if (!coordinator.ok()) return coordinator.status();
  Coordinator& c = **coordinator;
  Stubs stubs(c.address(), config.channels);
  WorkerFleet fleet(config.cluster, &c);
  const int64_t n = config.jobs;
  const v1::JobSpec spec = MakeSpec(config.queue, config.payload_bytes);

  // End to end: workers connected, then N jobs submitted and run; once with
  // the workers' --prefetch, once with --e2e-prefetch (the target's row).
  const Target e2e_target = Target::AtLeast(config.cluster.fsync ? 20'000 : 50'000);
  auto end_to_end = [&](int prefetch, const std::string& label,
                        std::optional<Target> target) -> absl::Status {
    BENCH_RETURN_IF_ERROR(fleet.Start(config.workers, config.concurrency, prefetch, config.queue));
    auto e2e = RunEndToEnd(config, c, stubs, n, &fleet);
    if (!e2e.ok()) return e2e.status();
    report.Add(name,
               absl::StrCat(label, " (K=", config.workers, " C=", config.concurrency,
                            prefetch > 0 ? absl::StrCat(" P=", prefetch) : "", " N=", n, ")"),
               e2e->rate(), "jobs/s", target);
    report.Add(name, "  submit rate while workers run", e2e->submit.rate(), "jobs/s");
    ReportCpu(report, name, e2e->cpu, n, e2e->end - e2e->start);
    auto verified = VerifyJobs(c.jobs(), config.queue, e2e->submit.ids);
    if (!verified.ok()) return verified.status();
    ReportVerification(report, name, label, *verified);
    fleet.Stop();
    return absl::OkStatus();
  };
  const bool second = config.e2e_prefetch > 0 && config.e2e_prefetch != config.prefetch;
  BENCH_RETURN_IF_ERROR(
      end_to_end(config.prefetch, "end-to-end",
                 second ? std::nullopt : std::optional<Target>(e2e_target)));
  if (second) {
    BENCH_RETURN_IF_ERROR(end_to_end(config.e2e_prefetch, "end-to-end, prefetch", e2e_target));
  }

  // Submit only (no workers): batched, then one job per call.
  auto batched = SubmitJobs(stubs.stubs, spec, n, config.batch, config.batch_inflight);
  if (!batched.ok()) return batched.status();
  report.Add(name, absl::StrCat("submit-only, batches of ", config.batch, " x",
                                config.batch_inflight, " in flight"),
             batched->rate(), "jobs/s", Target::AtLeast(150'000));
  auto single = SubmitJobs(stubs.stubs, spec, n, 1, config.callers);
  if (!single.ok()) return single.status();
  report.Add(name, absl::StrCat("submit-only, 1 job/call, ", config.callers, " callers"),
             single->rate(), "jobs/s", Target::AtLeast(15'000));

  // Drain only: the 2N queued jobs, from the moment K workers are spawned.
  auto before = GetQueue(c.admin(), config.queue);
  if (!before.ok()) return before.status();
  const int64_t queued = static_cast<int64_t>(batched->ids.size() + single->ids.size());
  const absl::Time start = absl::Now();
  BENCH_RETURN_IF_ERROR(
      fleet.Start(config.workers, config.concurrency, config.prefetch, config.queue));
  auto ended = WaitForEnded(c.admin(), config.queue, Terminal(*before), queued);
  if (!ended.ok()) return ended.status();
  report.Add(name, absl::StrCat("drain-only (", queued, " queued, from worker spawn)"),
             queued / absl::ToDoubleSeconds(*ended - start), "jobs/s");
  std::vector<uint64_t> ids = batched->ids;
  ids.insert(ids.end(), single->ids.begin(), single->ids.end());
  std::sort(ids.begin(), ids.end());
  auto verified = VerifyJobs(c.jobs(), config.queue, ids);
  if (!verified.ok()) return verified.status();
  ReportVerification(report, name, "drain-only", *verified);
  fleet.Stop();
  c.Stop();
  return absl::OkStatus();
}

// --- latency -----------------------------------------------------------------

namespace {

void ReportPercentiles(Report& report, const std::string& scenario, const std::string& what,
                       const LogHistogram& h, std::optional<Target> p99 = std::nullopt,
                       std::optional<Target> p999 = std::nullopt) {
  report.Add(scenario, what + " p50", Millis(h.Percentile(50)), "ms");
  report.Add(scenario, what + " p99", Millis(h.Percentile(99)), "ms", p99);
  report.Add(scenario, what + " p99.9", Millis(h.Percentile(99.9)), "ms", p999);
  report.Add(scenario, what + " max", Millis(h.max()), "ms");
}

absl::StatusOr<StoreCommits> ScrapeStoreCommits(Coordinator& c) {
  absl::StatusOr<std::string> text = c.ScrapeMetrics();
  if (!text.ok()) return text.status();
  return ParseStoreCommits(*text);
}

// Issue 7's targets for submit->handler-start at 2,000 jobs/s, in ms.
constexpr double kHandlerStartP99Ms = 2;
constexpr double kHandlerStartP999Ms = 5;

// One latency run's tail, for the summary over runs.
struct LatencyRun {
  double p99_ms = 0;
  double p999_ms = 0;
};

// One run of the latency scenario, reported under `name`; the handler-start
// percentiles carry the targets when `targets`.
absl::StatusOr<LatencyRun> RunLatencyOnce(const BenchConfig& config, Report& report,
                                          const std::string& name, bool targets) {
  auto coordinator = Coordinator::Start(config.cluster, "latency");
  if (!coordinator.ok()) return coordinator.status();
  Coordinator& c = **coordinator;
  Stubs stubs(c.address(), config.channels);
  WorkerFleet fleet(config.cluster, &c);
  BENCH_RETURN_IF_ERROR(
      fleet.Start(config.workers, config.concurrency, config.prefetch, config.queue));

  v1::SubmitRequest request;
  // The started-at job's result is when its handler began.
  v1::JobSpec* spec = request.add_jobs();
  *spec = MakeSpec(config.queue, config.payload_bytes);
  spec->set_type("started-at");
  OpenLoop producer(stubs.stubs, request, config.wait_every);
  // The store's commit times over the whole run: how much of the tail is
  // commits that took long (the coordinator's own metrics; none from an
  // external coordinator). Scraped outside the run: building /metrics
  // holds the engine's lock for a moment.
  absl::StatusOr<StoreCommits> commits_before = ScrapeStoreCommits(c);
  // Warm-up (connections, allocator, SQLite pages), not recorded.
  const absl::Duration warmup = std::min(absl::Seconds(1), config.duration / 5);
  producer.Run(config.rate, warmup, /*record=*/false);
  // The CPU the measured phase cost: how busy the machine was, which is
  // what the tail mostly follows on a small machine.
  const int64_t sent_before = producer.sent();
  const CpuSample cpu_before = SampleCpu(c, &fleet);
  const absl::Time measured_start = absl::Now();
  const absl::Duration lag = producer.Run(config.rate, config.duration, /*record=*/true);
  const CpuSample measured_cpu = SampleCpu(c, &fleet).Since(cpu_before);
  const absl::Duration measured_wall = absl::Now() - measured_start;
  const int64_t sent = producer.sent();
  const int64_t measured_jobs = sent - sent_before;
  if (!producer.AwaitQuiet(absl::Now() + absl::Seconds(120))) {
    return absl::InternalError("latency: calls still open 120 s after the last send");
  }
  OpenLoopResults& state = producer.results();
  if (state.errors != 0) {
    return absl::InternalError(absl::StrCat("latency: ", state.errors,
                                            " calls failed; first: ", state.first_error));
  }
  // Every job's handler start and grant, from its listing once all ended.
  auto ended = WaitForEnded(c.admin(), config.queue, /*before_terminal=*/0, sent);
  if (!ended.ok()) return ended.status();
  absl::StatusOr<StoreCommits> commits_after = ScrapeStoreCommits(c);
  LogHistogram to_grant, to_start;
  int64_t measured = 0;
  std::sort(state.ids.begin(), state.ids.end());
  auto verified = VerifyJobs(c.jobs(), config.queue, state.ids, [&](const v1::Job& job) {
    auto it = state.sent_at.find(job.id());
    int64_t handler_start_ns = 0;
    if (it == state.sent_at.end() || job.history_size() == 0 ||
        !absl::SimpleAtoi(job.result(), &handler_start_ns)) {
      return;
    }
    // The started-at handler's result: when it began, on this machine's clock.
    ++measured;
    to_grant.Record(absl::ToInt64Nanoseconds(FromProto(job.history(0).started_at()) - it->second));
    to_start.Record(absl::ToInt64Nanoseconds(absl::FromUnixNanos(handler_start_ns) - it->second));
  });
  if (!verified.ok()) return verified.status();
  report.Add(name, absl::StrCat("open loop, 1 job/call, ", absl::FormatDuration(config.duration)),
             config.rate, "jobs/s");
  report.Add(name, "worst send lag behind schedule", absl::ToDoubleMilliseconds(lag), "ms");
  ReportCpu(report, name, measured_cpu, measured_jobs, measured_wall);
  const int64_t unmeasured = static_cast<int64_t>(state.sent_at.size()) - measured;
  if (unmeasured != 0) {
    return absl::InternalError(
        absl::StrCat("latency: ", unmeasured, " jobs did not succeed with a started-at result"));
  }
  if (commits_before.ok() && commits_after.ok()) {
    const StoreCommits during = commits_after->Since(*commits_before);
    report.Add(name, "store commits per job (warm-up included)",
               during.count / std::max<double>(1, static_cast<double>(sent)), "commits");
    report.Add(name, "store commits over 2 ms (warm-up included)", during.Over(0.002),
               "commits");
    report.Add(name, "store commits over 5 ms (warm-up included)", during.Over(0.005),
               "commits");
  }
  ReportPercentiles(report, name, "submit->lease granted (coordinator)", to_grant);
  ReportPercentiles(report, name, "submit->handler-start", to_start,
                    targets ? std::optional(Target::AtMost(kHandlerStartP99Ms)) : std::nullopt,
                    targets ? std::optional(Target::AtMost(kHandlerStartP999Ms)) : std::nullopt);
  ReportPercentiles(report, name,
                    absl::StrCat("submit->completion-seen (WaitJob, 1 job in ",
                                 config.wait_every, ")"),
                    state.to_done);
  ReportPercentiles(report, name, "submit->ack (durable)", state.to_ack);
  verified->expected = sent;
  verified->lost = sent - verified->succeeded;
  ReportVerification(report, name, "all", *verified);
  fleet.Stop();
  c.Stop();
  return LatencyRun{Millis(to_start.Percentile(99)), Millis(to_start.Percentile(99.9))};
}

}  // namespace

absl::Status RunLatency(const BenchConfig& config, Report& report) {
  const int n = std::max(1, config.latency_runs);
  if (n == 1) return RunLatencyOnce(config, report, "latency", /*targets=*/true).status();
  std::vector<double> p99, p999;
  for (int k = 1; k <= n; ++k) {
    absl::StatusOr<LatencyRun> run =
        RunLatencyOnce(config, report, absl::StrCat("latency ", k, "/", n), /*targets=*/false);
    if (!run.ok()) return run.status();
    p99.push_back(run->p99_ms);
    p999.push_back(run->p999_ms);
  }
  const std::string name = "latency";
  auto met = [](const std::vector<double>& values, double bound) {
    return static_cast<double>(
        std::count_if(values.begin(), values.end(), [bound](double v) { return v <= bound; }));
  };
  // The median run's (the upper middle one for an even count).
  auto median = [](std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  };
  report.Add(name, "runs, each on a fresh coordinator and workers", n, "runs");
  report.Add(name, "submit->handler-start p99, median run", median(p99), "ms",
             Target::AtMost(kHandlerStartP99Ms));
  report.Add(name, "submit->handler-start p99.9, median run", median(p999), "ms",
             Target::AtMost(kHandlerStartP999Ms));
  report.Add(name, "  runs with p99 <= 2 ms", met(p99, kHandlerStartP99Ms), "runs");
  report.Add(name, "  runs with p99.9 <= 5 ms", met(p999, kHandlerStartP999Ms), "runs");
  report.Add(name, "  p99, best run", *std::min_element(p99.begin(), p99.end()), "ms");
  report.Add(name, "  p99, worst run", *std::max_element(p99.begin(), p99.end()), "ms");
  return absl::OkStatus();
}

// --- scale -------------------------------------------------------------------

absl::Status RunScale(const BenchConfig& config, Report& report) {
  const std::string name = "scale";
  for (int k : config.scale_workers) {
    auto coordinator = Coordinator::Start(config.cluster, absl::StrCat("scale-", k));
    if (!coordinator.ok()) return coordinator.status();
    Coordinator& c = **coordinator;
    Stubs stubs(c.address(), config.channels);
    WorkerFleet fleet(config.cluster, &c);
    BENCH_RETURN_IF_ERROR(fleet.Start(k, config.concurrency, config.prefetch, config.queue));
    auto e2e = RunEndToEnd(config, c, stubs, config.scale_jobs, &fleet);
    if (!e2e.ok()) return e2e.status();
    auto verified = VerifyJobs(c.jobs(), config.queue, e2e->submit.ids);
    if (!verified.ok()) return verified.status();
    const std::string label =
        absl::StrCat("K=", k, " C=", config.concurrency,
                     config.prefetch > 0 ? absl::StrCat(" P=", config.prefetch) : "");
    report.Add(name, label + " end-to-end", e2e->rate(), "jobs/s");
    report.Add(name, label + " fairness max/min per worker", Fairness(*verified, k), "x");
    if (verified->lost > 0 || verified->duplicates > 0) {
      ReportVerification(report, name, label, *verified);
    }
    fleet.Stop();
    c.Stop();
  }

  // Many workers of one slot each, in this process (the worker SDK), over a
  // few connections.
  if (config.many_workers <= 0) return absl::OkStatus();
  auto coordinator = Coordinator::Start(config.cluster, "scale-many");
  if (!coordinator.ok()) return coordinator.status();
  Coordinator& c = **coordinator;
  Stubs stubs(c.address(), config.channels);
  auto before = CountWorkers(c.admin(), config.queue);
  if (!before.ok()) return before.status();
  constexpr int kWorkersPerChannel = 100;
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  // One thread runs every worker's stream reactions (declared first: it
  // outlives the workers).
  std::shared_ptr<StreamPoller> poller = StreamPoller::Start();
  std::vector<std::unique_ptr<Worker>> workers;
  const absl::Time connect_start = absl::Now();
  for (int i = 0; i < config.many_workers; ++i) {
    if (i % kWorkersPerChannel == 0) channels.push_back(MakeChannel(c.address()));
    WorkerOptions options;
    options.channel = channels.back();
    options.poller = poller;
    options.name = absl::StrCat("many-", i);
    options.queues = {config.queue};
    options.concurrency = 1;
    options.drain_timeout = absl::Seconds(5);
    auto w = Worker::Create(options);
    if (!w.ok()) return w.status();
    BENCH_RETURN_IF_ERROR((*w)->RegisterHandler(
        "echo", [](JobContext& job) -> absl::StatusOr<std::string> { return job.payload(); }));
    BENCH_RETURN_IF_ERROR((*w)->Start());
    workers.push_back(*std::move(w));
  }
  BENCH_RETURN_IF_ERROR(
      WaitForWorkers(c.admin(), config.queue, *before + config.many_workers, absl::Seconds(120)));
  const std::string label = absl::StrCat(config.many_workers, " workers x C=1");
  report.Add(name, label + " connect time", absl::ToDoubleSeconds(absl::Now() - connect_start),
             "s");
  auto e2e = RunEndToEnd(config, c, stubs, config.many_jobs);
  absl::Status status = e2e.status();
  if (e2e.ok()) {
    auto verified = VerifyJobs(c.jobs(), config.queue, e2e->submit.ids);
    if (verified.ok()) {
      int64_t min = INT64_MAX, max = 0;
      for (const auto& [n, count] : verified->per_worker) {
        min = std::min(min, count);
        max = std::max(max, count);
      }
      if (static_cast<int>(verified->per_worker.size()) < config.many_workers) min = 0;
      report.Add(name, label + " end-to-end (N=" + std::to_string(config.many_jobs) + ")",
                 e2e->rate(), "jobs/s");
      report.Add(name, label + " fairness max/min per worker", Fairness(*verified,
                                                                      config.many_workers),
                 "x");
      report.Add(name, label + " jobs per worker min", min, "jobs");
      report.Add(name, label + " jobs per worker max", max, "jobs");
      ReportVerification(report, name, label, *verified);
    } else {
      status = verified.status();
    }
  }
  for (auto& w : workers) w->Stop();
  for (auto& w : workers) (void)w->Wait();
  workers.clear();
  c.Stop();
  return status;
}

// --- capacity ----------------------------------------------------------------

absl::Status RunCapacity(const BenchConfig& config, Report& report) {
  const std::string name = "capacity";
  auto coordinator = Coordinator::Start(config.cluster, "capacity");
  if (!coordinator.ok()) return coordinator.status();
  Coordinator& c = **coordinator;
  Stubs stubs(c.address(), config.channels);
  const v1::JobSpec spec = MakeSpec(config.queue, config.payload_bytes);
  auto before = GetQueue(c.admin(), config.queue);
  if (!before.ok()) return before.status();

  auto rss = [&](const std::string& when, std::optional<Target> target = std::nullopt) {
    if (c.pid() == 0) return;
    auto bytes = ReadRssBytes(c.pid());
    if (bytes.ok()) report.Add(name, "coordinator RSS " + when, *bytes / 1048576.0, "MB", target);
  };
  rss("empty");
  auto fill = SubmitJobs(stubs.stubs, spec, config.capacity_jobs, config.batch,
                         config.batch_inflight);
  if (!fill.ok()) return fill.status();
  const std::string depth = absl::StrCat(config.capacity_jobs);
  report.Add(name, "fill " + depth + " jobs, batched", fill->rate(), "jobs/s");
  rss("with " + depth + " queued", Target::AtMost(600));

  auto deep = SubmitJobs(stubs.stubs, spec, config.deep_jobs, config.batch, config.batch_inflight);
  if (!deep.ok()) return deep.status();
  report.Add(name, "submit while deep, batched", deep->rate(), "jobs/s");
  auto deep_single = SubmitJobs(stubs.stubs, spec, config.deep_single_jobs, 1, config.callers);
  if (!deep_single.ok()) return deep_single.status();
  report.Add(name, absl::StrCat("submit while deep, 1 job/call, ", config.callers, " callers"),
             deep_single->rate(), "jobs/s");
  rss("after deep submits");
  if (c.pid() != 0) {
    auto peak = ReadRssBytes(c.pid(), "VmHWM:");
    if (peak.ok()) report.Add(name, "coordinator peak RSS (VmHWM)", *peak / 1048576.0, "MB");
  }
  const int64_t total =
      static_cast<int64_t>(fill->ids.size() + deep->ids.size() + deep_single->ids.size());

  if (c.external()) {
    report.Note("capacity: external coordinator, restart not measured");
    return absl::OkStatus();
  }
  const absl::Time killed = absl::Now();
  auto port_time = c.KillAndRestart();
  if (!port_time.ok()) return port_time.status();
  const uint64_t probe = fill->ids.front();
  while (true) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(5)));
    v1::GetJobRequest req;
    req.set_id(probe);
    v1::Job job;
    if (c.jobs().GetJob(&ctx, req, &job).ok()) break;
    if (absl::Now() - killed > absl::Seconds(300)) {
      return absl::DeadlineExceededError("GetJob still failing 300 s after restart");
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  const absl::Duration serving = absl::Now() - killed;
  report.Add(name, "restart after SIGKILL: port file", absl::ToDoubleSeconds(*port_time), "s");
  report.Add(name, "restart after SIGKILL: GetJob served", absl::ToDoubleSeconds(serving), "s",
             Target::AtMost(10));
  rss("after restart");
  auto after = GetQueue(c.admin(), config.queue);
  if (!after.ok()) return after.status();
  const int64_t kept = after->queued() - before->queued();
  report.Add(name, "jobs queued after kill -9 + restart", kept, "jobs");
  if (kept != total) {
    report.Fail(absl::StrCat("capacity: ", total, " jobs submitted, ", kept,
                             " queued after restart"));
  }
  c.Stop();
  return absl::OkStatus();
}

}  // namespace conveyor::bench
