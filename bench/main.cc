// conveyor-bench: throughput, latency, scale and capacity figures of a
// Conveyor coordinator with worker processes on this machine (issue 7).
// Flags and wiring here; scenarios in scenarios.cc.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/process.h"
#include "bench/report.h"
#include "bench/scenarios.h"
#include "spdlog/spdlog.h"

namespace {

using conveyor::bench::BenchConfig;
using conveyor::bench::JsonString;

std::string DefaultBinary(const char* built, const std::string& name) {
  if (access(built, X_OK) == 0) return built;
  return conveyor::bench::SelfDir() + "/" + name;
}

std::string ConfigJson(const BenchConfig& c, const std::vector<std::string>& scenarios) {
  std::vector<std::string> scenario_json;
  for (const auto& s : scenarios) scenario_json.push_back(JsonString(s));
  return absl::StrCat(
      "{\"scenarios\": [", absl::StrJoin(scenario_json, ", "), "], \"smoke\": ",
      c.smoke ? "true" : "false", ", \"fsync\": ", c.cluster.fsync ? "true" : "false",
      ", \"external_coordinator\": ", JsonString(c.cluster.external), ", \"workers\": ", c.workers,
      ", \"concurrency\": ", c.concurrency, ", \"prefetch\": ", c.prefetch,
      ", \"e2e_prefetch\": ", c.e2e_prefetch,
      ", \"jobs\": ", c.jobs,
      ", \"payload_bytes\": ", c.payload_bytes, ", \"batch\": ", c.batch,
      ", \"batch_inflight\": ", c.batch_inflight, ", \"callers\": ", c.callers,
      ", \"channels\": ", c.channels, ", \"rate\": ", c.rate,
      ", \"duration_s\": ", absl::ToDoubleSeconds(c.duration),
      ", \"latency_runs\": ", c.latency_runs, ", \"scale_workers\": [",
      absl::StrJoin(c.scale_workers, ", "), "], \"scale_jobs\": ", c.scale_jobs,
      ", \"many_workers\": ", c.many_workers, ", \"many_jobs\": ", c.many_jobs,
      ", \"capacity_jobs\": ", c.capacity_jobs, ", \"deep_jobs\": ", c.deep_jobs,
      ", \"cpus\": ", sysconf(_SC_NPROCESSORS_ONLN), "}");
}

}  // namespace

int main(int argc, char** argv) {
  // Lock-order checking (on in Debian's Abseil) would tax the load
  // generator's every lock; it is not what the bench measures.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  CLI::App app{
      "conveyor-bench: Conveyor throughput, latency, scale and capacity on this machine.\n"
      "Scenarios: throughput latency scale capacity all (default all)."};
  BenchConfig config;
  std::vector<std::string> scenarios;
  std::string duration = "10s";
  std::string scale_workers = "1,2,4,8";
  std::string json_out;
  config.cluster.conveyord = DefaultBinary(CONVEYORD_PATH, "conveyord");
  config.cluster.worker = DefaultBinary(CONVEYOR_WORKER_PATH, "conveyor-worker");

  app.add_option("scenario", scenarios, "scenarios to run, in order");
  app.add_option("--scenario", scenarios, "a scenario to run (repeatable)");
  app.add_option("--coordinator", config.cluster.external,
                 "use this running coordinator (host:port) instead of starting one");
  app.add_option("--conveyord", config.cluster.conveyord, "conveyord binary")
      ->capture_default_str();
  app.add_option("--worker-bin", config.cluster.worker, "conveyor-worker binary")
      ->capture_default_str();
  app.add_flag("--fsync", config.cluster.fsync, "start the coordinator with --fsync");
  app.add_option("-k,--workers", config.workers, "worker processes (K)")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("-c,--concurrency", config.concurrency, "slots per worker process (C)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("-p,--prefetch", config.prefetch,
                 "jobs each worker process may hold beyond C, waiting for a slot")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("--e2e-prefetch", config.e2e_prefetch,
                 "throughput: also run end-to-end with this prefetch per worker (0: not)")
      ->check(CLI::Range(0, 10000))
      ->capture_default_str();
  app.add_option("-n,--jobs", config.jobs, "jobs per throughput phase (N)")
      ->check(CLI::Range(int64_t{1}, int64_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--payload-bytes", config.payload_bytes)->capture_default_str();
  app.add_option("--batch", config.batch, "jobs per batched Submit")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  app.add_option("--batch-inflight", config.batch_inflight, "batched Submits outstanding")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  app.add_option("--callers", config.callers, "concurrent single-job Submit callers")
      ->check(CLI::Range(1, 4096))
      ->capture_default_str();
  app.add_option("--channels", config.channels, "client connections")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--rate", config.rate, "latency: jobs/s, open loop")->capture_default_str();
  app.add_option("--duration", duration, "latency: measured time, e.g. 10s")
      ->capture_default_str();
  app.add_option("--wait-every", config.wait_every,
                 "latency: also WaitJob on one job in this many (completion-seen)")
      ->check(CLI::Range(1, 1000000))
      ->capture_default_str();
  app.add_option("--latency-runs", config.latency_runs,
                 "latency: runs, each on a fresh coordinator; with more than one, the targets "
                 "apply to the median run")
      ->check(CLI::Range(1, 100))
      ->capture_default_str();
  app.add_option("--scale-workers", scale_workers, "scale: worker process counts")
      ->capture_default_str();
  app.add_option("--scale-jobs", config.scale_jobs, "scale: jobs per worker count")
      ->capture_default_str();
  app.add_option("--many-workers", config.many_workers,
                 "scale: in-process workers of concurrency 1 (0: skip)")
      ->capture_default_str();
  app.add_option("--many-jobs", config.many_jobs, "scale: jobs for the many workers")
      ->capture_default_str();
  app.add_option("--capacity-jobs", config.capacity_jobs, "capacity: jobs queued first")
      ->capture_default_str();
  app.add_option("--deep-jobs", config.deep_jobs, "capacity: batched jobs submitted when deep")
      ->capture_default_str();
  app.add_option("--deep-single-jobs", config.deep_single_jobs,
                 "capacity: single-call jobs submitted when deep")
      ->capture_default_str();
  app.add_flag("--keep-logs", config.cluster.keep_logs,
               "keep the temp dirs with coordinator and worker logs");
  app.add_option("--json-out", json_out, "write the figures as JSON here");
  bool smoke = false;
  app.add_flag("--smoke", smoke,
               "tiny sizes for CI: N=2000, 2 latency runs of 2s, K=2 C=8, 50 workers, 20k deep");
  CLI11_PARSE(app, argc, argv);

  if (smoke) {
    // Tiny defaults; flags given explicitly still win.
    config.smoke = true;
    auto unset = [&](const char* flag) { return app.count(flag) == 0; };
    if (unset("--jobs")) config.jobs = 2000;
    if (unset("--duration")) duration = "2s";
    if (unset("--rate")) config.rate = 500;
    if (unset("--latency-runs")) config.latency_runs = 2;
    if (unset("--workers")) config.workers = 2;
    if (unset("--concurrency")) config.concurrency = 8;
    if (unset("--scale-workers")) scale_workers = "1,2";
    if (unset("--scale-jobs")) config.scale_jobs = 2000;
    if (unset("--many-workers")) config.many_workers = 50;
    if (unset("--many-jobs")) config.many_jobs = 500;
    if (unset("--capacity-jobs")) config.capacity_jobs = 20'000;
    if (unset("--deep-jobs")) config.deep_jobs = 2000;
    if (unset("--deep-single-jobs")) config.deep_single_jobs = 500;
  }
  if (!absl::ParseDuration(duration, &config.duration) || config.duration <= absl::ZeroDuration()) {
    std::fprintf(stderr, "--duration %s: want a positive duration like 10s\n", duration.c_str());
    return 2;
  }
  config.scale_workers.clear();
  for (absl::string_view part : absl::StrSplit(scale_workers, ',', absl::SkipWhitespace())) {
    int k = 0;
    if (!absl::SimpleAtoi(part, &k) || k < 1) {
      std::fprintf(stderr, "--scale-workers %s: want counts like 1,2,4,8\n",
                   scale_workers.c_str());
      return 2;
    }
    config.scale_workers.push_back(k);
  }
  if (scenarios.empty() || (scenarios.size() == 1 && scenarios[0] == "all")) {
    scenarios = {"throughput", "latency", "scale", "capacity"};
  }
  for (const auto& s : scenarios) {
    if (s != "throughput" && s != "latency" && s != "scale" && s != "capacity") {
      std::fprintf(stderr, "unknown scenario %s: want throughput, latency, scale, capacity or all\n",
                   s.c_str());
      return 2;
    }
  }

  signal(SIGPIPE, SIG_IGN);
  // The in-process workers of `scale` log each job at info, and each stream
  // they end at warn.
  spdlog::set_level(spdlog::level::err);

  conveyor::bench::Report report;
  for (const auto& s : scenarios) {
    std::fprintf(stderr, "conveyor-bench: running %s...\n", s.c_str());
    const absl::Time start = absl::Now();
    // Other processes' load skews every figure: keep it next to them.
    report.Add(s == "throughput" && config.cluster.fsync ? "throughput --fsync" : s,
               "machine load average (1 min) at start", conveyor::bench::LoadAverage(), "");
    absl::Status status;
    if (s == "throughput") status = conveyor::bench::RunThroughput(config, report);
    if (s == "latency") status = conveyor::bench::RunLatency(config, report);
    if (s == "scale") status = conveyor::bench::RunScale(config, report);
    if (s == "capacity") status = conveyor::bench::RunCapacity(config, report);
    if (!status.ok()) report.Fail(absl::StrCat(s, ": ", status.ToString()));
    std::fprintf(stderr, "conveyor-bench: %s took %s%s\n", s.c_str(),
                 absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))
                     .c_str(),
                 status.ok() ? "" : " (failed)");
  }

  std::printf("%s", report.Table().c_str());
  if (!json_out.empty()) {
    std::ofstream out(json_out);
    out << report.Json(ConfigJson(config, scenarios));
    if (!out) {
      std::fprintf(stderr, "cannot write %s\n", json_out.c_str());
      return 1;
    }
  }
  return report.failed() ? 1 : 0;
}
