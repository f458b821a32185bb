// chaos_run: proves that a durable coordinator and its workers lose no job
// while processes die. It starts the real conveyord (SQLite store in a
// temporary directory) and --workers conveyor-worker processes, submits
// --jobs `record` jobs (each appends "<id> <attempt> <pid>" to a file when it
// ends) plus a few poisoned ones (fail, fail-permanent, crash) over
// --duration, and meanwhile SIGKILLs a random worker every
// --worker-kill-interval (restarting it), SIGKILLs the coordinator
// --coordinator-kills times (restarting it on the same data dir and port),
// and drains one worker with SIGTERM. Submits retry with their idempotency
// keys until acknowledged. Then it waits until nothing is scheduled, queued
// or running and checks the ledger (tests/chaos/ledger_check.h). Exit 0 iff
// nothing was lost; the counts go to stdout, the problems to stderr.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "client/client.h"
#include "client/proto_time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tests/chaos/ledger_check.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"

namespace conveyor::chaos {
namespace {

using testing::ChildProcess;
using testing::Coordinator;

constexpr char kQueue[] = "chaos";

struct Options {
  int jobs = 2000;
  int poison = 6;
  int workers = 4;
  int concurrency = 8;
  int prefetch = 0;
  int batch = 50;
  int coordinator_kills = 2;
  absl::Duration duration = absl::Seconds(20);
  absl::Duration worker_kill_interval = absl::Seconds(1);
  absl::Duration max_work = absl::Milliseconds(20);
  absl::Duration settle_timeout = absl::Seconds(90);
  uint64_t seed = 0;
  std::string dir;  // empty: a temporary directory, removed at the end
  std::string conveyord = CONVEYORD_PATH;
  std::string worker = CONVEYOR_WORKER_PATH;
};

struct Counts {
  std::atomic<int64_t> submitted{0};
  std::atomic<int64_t> submit_calls{0};
  std::atomic<int64_t> submit_retries{0};
  std::atomic<int64_t> duplicate_acks{0};
  std::atomic<int64_t> unacknowledged{0};
  int64_t worker_kills = 0;
  int64_t worker_crashes = 0;
  int64_t worker_drains = 0;
  int64_t coordinator_kills = 0;
  int64_t worker_restarts = 0;
  int64_t coordinator_restarts = 0;
};

// Reads a whole file; empty if it does not exist.
std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// The last `n` lines of `path`, for failure reports.
std::string Tail(const std::string& path, int n) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  std::string out;
  for (size_t i = lines.size() > static_cast<size_t>(n) ? lines.size() - n : 0; i < lines.size();
       ++i) {
    absl::StrAppend(&out, lines[i], "\n");
  }
  return out;
}

std::string Describe(int wait_status) {
  if (WIFEXITED(wait_status)) return absl::StrCat("exit ", WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) return absl::StrCat("signal ", strsignal(WTERMSIG(wait_status)));
  return absl::StrCat("status ", wait_status);
}

// The processes under test, started, killed and restarted by PID.
// Only the chaos (main) thread touches it.
class Cluster {
 public:
  Cluster(const Options& options, std::string dir, Counts& counts)
      : options_(options), dir_(std::move(dir)), counts_(counts) {}

  std::string data_dir() const { return dir_ + "/data"; }
  std::string records_path() const { return dir_ + "/records"; }
  std::string address() const { return coordinator_.address(); }

  // Starts conveyord on `port` (0: any), retrying briefly if the port of a
  // killed coordinator is not free yet.
  absl::Status StartCoordinator(int port) {
    const std::vector<std::string> args = {"--metrics-listen", "", "--lease-duration=10s",
                                           "--summary-interval=0s"};
    absl::Status last;
    for (int i = 0; i < 5; ++i) {
      auto c = testing::StartCoordinator(options_.conveyord, data_dir(), args, port);
      if (c.ok()) {
        coordinator_ = *std::move(c);
        return absl::OkStatus();
      }
      last = c.status();
    }
    return last;
  }

  absl::Status KillAndRestartCoordinator() {
    const int port = coordinator_.port;
    coordinator_.process->Signal(SIGKILL);
    absl::StatusOr<int> status = coordinator_.process->Wait(absl::Seconds(10));
    if (!status.ok()) return status.status();
    ++counts_.coordinator_kills;
    std::printf("[%s] coordinator SIGKILLed; restarting on port %d\n", Elapsed().c_str(), port);
    absl::Status started = StartCoordinator(port);
    if (started.ok()) ++counts_.coordinator_restarts;
    return started;
  }

  absl::Status StartWorker(int i) {
    const std::string name = absl::StrCat("w", i);
    auto process = ChildProcess::Start(
        options_.worker,
        {"--coordinator=" + address(), "--name=" + name, std::string("--queues=") + kQueue,
         absl::StrCat("--concurrency=", options_.concurrency),
         absl::StrCat("--prefetch=", options_.prefetch), "--record-file=" + records_path(),
         "--drain-timeout=10s"},
        dir_ + "/" + name + ".log");
    if (!process.ok()) return process.status();
    if (workers_.size() <= static_cast<size_t>(i)) workers_.resize(i + 1);
    workers_[i] = {*std::move(process), false, absl::Now()};
    return absl::OkStatus();
  }

  absl::Status KillRandomWorker(std::mt19937_64& random) {
    std::vector<int> candidates;
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (!workers_[i].draining && workers_[i].process->Running()) candidates.push_back(i);
    }
    if (candidates.empty()) return absl::OkStatus();
    const int i = candidates[random() % candidates.size()];
    workers_[i].process->Signal(SIGKILL);
    absl::StatusOr<int> status = workers_[i].process->Wait(absl::Seconds(10));
    if (!status.ok()) return status.status();
    ++counts_.worker_kills;
    absl::Status started = StartWorker(i);
    if (started.ok()) ++counts_.worker_restarts;
    return started;
  }

  // Drains one worker that has run for a while (a process SIGTERMed before
  // it installed its handler just dies). False if none has yet.
  bool DrainRandomWorker(std::mt19937_64& random) {
    std::vector<int> candidates;
    for (size_t i = 0; i < workers_.size(); ++i) {
      if (absl::Now() - workers_[i].started > absl::Seconds(1)) candidates.push_back(i);
    }
    if (candidates.empty()) return false;
    const int i = candidates[random() % candidates.size()];
    workers_[i].process->Signal(SIGTERM);
    workers_[i].draining = true;
    std::printf("[%s] worker w%d SIGTERMed to drain\n", Elapsed().c_str(), i);
    return true;
  }

  bool AnyDraining() const {
    for (const auto& w : workers_) {
      if (w.draining) return true;
    }
    return false;
  }

  // Whether worker `i` ended as a poisoned `crash` job ends it: SIGABRT,
  // with the crash logged since its last start. A drain lets running jobs
  // finish, so a crash job that started just before SIGTERM ends it so too.
  bool CrashedOnPoison(size_t i, int wait_status) const {
    if (!WIFSIGNALED(wait_status) || WTERMSIG(wait_status) != SIGABRT) return false;
    const std::string log = ReadFile(absl::StrCat(dir_, "/w", i, ".log"));
    const size_t start = log.rfind("event=worker_start");
    return start != std::string::npos && log.find("event=crash", start) != std::string::npos;
  }

  // Restarts every process that ended without being killed here: a drained
  // worker (which must have exited 0), a worker a poisoned `crash` job
  // aborted, or the coordinator (a bug). Problems are kept for the verdict.
  absl::Status RestartEnded() {
    if (!coordinator_.process->Running()) {
      absl::StatusOr<int> status = coordinator_.process->Wait(absl::ZeroDuration());
      problems_.push_back(absl::StrCat("coordinator exited by itself: ",
                                       status.ok() ? Describe(*status) : status.status().ToString()));
      absl::Status started = StartCoordinator(coordinator_.port);
      if (!started.ok()) return started;
      ++counts_.coordinator_restarts;
    }
    for (size_t i = 0; i < workers_.size(); ++i) {
      Worker& w = workers_[i];
      if (w.process->Running()) continue;
      absl::StatusOr<int> status = w.process->Wait(absl::ZeroDuration());
      if (!status.ok()) return status.status();
      if (w.draining && !CrashedOnPoison(i, *status)) {
        ++counts_.worker_drains;
        std::printf("[%s] worker w%zu drained: %s\n", Elapsed().c_str(), i,
                    Describe(*status).c_str());
        if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
          problems_.push_back(absl::StrCat("drained worker w", i, " ended with ",
                                           Describe(*status), ", want exit 0"));
        }
      } else {
        ++counts_.worker_crashes;
        if (!CrashedOnPoison(i, *status)) {
          problems_.push_back(absl::StrCat("worker w", i, " ended unexpectedly with ",
                                           Describe(*status)));
        }
      }
      absl::Status started = StartWorker(static_cast<int>(i));
      if (!started.ok()) return started;
      ++counts_.worker_restarts;
    }
    return absl::OkStatus();
  }

  const std::vector<std::string>& problems() const { return problems_; }

  void DumpLogs() const {
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_)) {
      if (entry.path().extension() != ".log") continue;
      std::cerr << "==== last lines of " << entry.path().string() << "\n"
                << Tail(entry.path().string(), 25);
    }
  }

  std::string Elapsed() const {
    return absl::StrFormat("%6.2fs", absl::ToDoubleSeconds(absl::Now() - start_));
  }

 private:
  struct Worker {
    std::unique_ptr<ChildProcess> process;
    bool draining = false;
    absl::Time started;
  };

  const Options options_;
  const std::string dir_;
  Counts& counts_;
  const absl::Time start_ = absl::Now();
  Coordinator coordinator_;
  std::vector<Worker> workers_;
  std::vector<std::string> problems_;
};

// Submits the jobs in keyed batches, paced over `spread`; retries each batch
// with the same keys until the coordinator acknowledges it or `give_up`.
class Submitter {
 public:
  Submitter(const Options& options, Client& client, Counts& counts)
      : options_(options), client_(client), counts_(counts) {}

  void Run(absl::Duration spread, absl::Time give_up) {
    std::mt19937_64 random(options_.seed + 1);
    const int total = options_.jobs + options_.poison;
    const int batches = (total + options_.batch - 1) / options_.batch;
    const absl::Time start = absl::Now();
    for (int b = 0; b < batches; ++b) {
      // Pacing, not synchronisation: spread the submits over the chaos.
      const absl::Time due = start + spread * b / batches;
      if (absl::Now() < due) absl::SleepFor(due - absl::Now());
      std::vector<v1::JobSpec> specs;
      std::vector<Expect> expects;
      for (int k = b * options_.batch; k < std::min(total, (b + 1) * options_.batch); ++k) {
        specs.push_back(Spec(k, random));
        expects.push_back(specs.back().type() == "record" ? Expect::kSucceeded : Expect::kDead);
      }
      counts_.submitted += static_cast<int64_t>(specs.size());
      SubmitUntilAcknowledged(specs, expects, give_up);
    }
  }

  std::map<uint64_t, Expect> acknowledged() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return acknowledged_;
  }
  std::vector<std::string> problems() const ABSL_LOCKS_EXCLUDED(mu_) {
    absl::MutexLock lock(&mu_);
    return problems_;
  }

 private:
  // Job k: poisoned ones are spread evenly over the run, cycling through
  // fail (retryable until its attempts run out), fail-permanent and crash
  // (aborts the worker on every attempt).
  v1::JobSpec Spec(int k, std::mt19937_64& random) {
    const int total = options_.jobs + options_.poison;
    v1::JobSpec spec;
    spec.set_queue(kQueue);
    spec.set_idempotency_key(absl::StrCat("chaos-", k));
    *spec.mutable_backoff()->mutable_initial() = ToProtoDuration(absl::Milliseconds(10));
    *spec.mutable_backoff()->mutable_max() = ToProtoDuration(absl::Milliseconds(100));
    int poison_index = -1;
    for (int p = 0; p < options_.poison; ++p) {
      if (k == static_cast<int>((int64_t{p} + 1) * total / (options_.poison + 1))) poison_index = p;
    }
    if (poison_index < 0) {
      // Enough attempts that the kills (each may cost a running job one)
      // cannot exhaust them.
      spec.set_max_attempts(100);
      spec.set_type("record");
      const int64_t max_us = absl::ToInt64Microseconds(options_.max_work);
      spec.set_payload(absl::StrCat(max_us > 0 ? random() % max_us : 0, "us"));
      return spec;
    }
    static constexpr const char* kPoisons[] = {"fail", "fail-permanent", "crash"};
    spec.set_type(kPoisons[poison_index % 3]);
    spec.set_payload(absl::StrCat("poison ", k));
    return spec;
  }

  void SubmitUntilAcknowledged(const std::vector<v1::JobSpec>& specs,
                               const std::vector<Expect>& expects, absl::Time give_up)
      ABSL_LOCKS_EXCLUDED(mu_) {
    for (int attempt = 0;; ++attempt) {
      if (attempt > 0) ++counts_.submit_retries;
      ++counts_.submit_calls;
      absl::StatusOr<v1::SubmitResponse> response =
          client_.SubmitBatch(specs, WithTimeout(absl::Seconds(5)));
      if (response.ok()) {
        absl::MutexLock lock(&mu_);
        int duplicates = 0;
        for (int i = 0; i < response->results_size(); ++i) {
          acknowledged_[response->results(i).id()] = expects[i];
          if (response->results(i).duplicate()) ++duplicates;
        }
        counts_.duplicate_acks += duplicates;
        // A batch is all or none: after failed tries, either every key was
        // already there (the commit's answer was lost) or none.
        if (duplicates != 0 && duplicates != response->results_size()) {
          problems_.push_back(absl::StrCat(
              "torn batch: keys ", specs.front().idempotency_key(), "..",
              specs.back().idempotency_key(), " (ids ", response->results(0).id(), "..",
              response->results(response->results_size() - 1).id(), "): ", duplicates, " of ",
              response->results_size(), " were already stored after ", attempt,
              " failed Submit calls (Submit must be all or none)"));
        }
        return;
      }
      if (absl::Now() > give_up) {
        std::fprintf(stderr, "batch of keys %s..: never acknowledged: %s\n",
                     specs.front().idempotency_key().c_str(),
                     response.status().ToString().c_str());
        counts_.unacknowledged += static_cast<int64_t>(specs.size());
        return;
      }
      // The client already backed off within its call; a short pause
      // before trying the same keys again.
      absl::SleepFor(absl::Milliseconds(50));
    }
  }

  const Options options_;
  Client& client_;
  Counts& counts_;
  mutable absl::Mutex mu_;
  std::map<uint64_t, Expect> acknowledged_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> problems_ ABSL_GUARDED_BY(mu_);
};

// Every job of the queue, with its history, page by page.
absl::StatusOr<std::vector<v1::Job>> ListAllJobs(Client& client) {
  std::vector<v1::Job> jobs;
  v1::ListJobsRequest request;
  request.set_queue(kQueue);
  request.set_page_size(1000);
  request.set_omit_payloads(true);
  while (true) {
    absl::StatusOr<v1::ListJobsResponse> page = client.ListJobs(request);
    if (!page.ok()) return page.status();
    for (const v1::Job& job : page->jobs()) jobs.push_back(job);
    if (page->next_page_token().empty()) return jobs;
    request.set_page_token(page->next_page_token());
  }
}

int Run(const Options& options) {
  std::optional<testing::TempDir> temp;
  std::string dir = options.dir;
  if (dir.empty()) {
    temp.emplace();
    dir = temp->path();
  } else {
    std::error_code ec;
    if (std::filesystem::exists(dir, ec) && !std::filesystem::is_empty(dir, ec)) {
      std::fprintf(stderr, "--dir %s: must be a new or empty directory\n", dir.c_str());
      return 2;
    }
    std::filesystem::create_directories(dir);
  }
  const uint64_t seed = options.seed != 0 ? options.seed : std::random_device{}();
  Options opts = options;
  opts.seed = seed;
  std::printf(
      "chaos: %d jobs + %d poisoned, %d workers x %d slots (+%d prefetch), chaos for %s, "
      "seed %llu, dir %s\n",
      opts.jobs, opts.poison, opts.workers, opts.concurrency, opts.prefetch,
      absl::FormatDuration(opts.duration).c_str(), static_cast<unsigned long long>(seed),
      dir.c_str());
  std::fflush(stdout);
  Counts counts;
  Cluster cluster(opts, dir, counts);
  auto fail = [&](const std::string& why) {
    std::fprintf(stderr, "chaos: FAILED: %s\n", why.c_str());
    cluster.DumpLogs();
    return 1;
  };

  if (absl::Status s = cluster.StartCoordinator(0); !s.ok()) return fail(s.ToString());
  for (int i = 0; i < opts.workers; ++i) {
    if (absl::Status s = cluster.StartWorker(i); !s.ok()) return fail(s.ToString());
  }
  grpc::ChannelArguments channel_args;
  // Find a restarted coordinator quickly (the default waits up to 2 min).
  channel_args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  channel_args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  channel_args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  ClientOptions client_options;
  client_options.timeout = absl::Seconds(10);
  client_options.retry.max_attempts = 20;
  client_options.retry.max_backoff = absl::Milliseconds(500);
  client_options.jitter_seed = seed;
  auto client = Client::Create(
      grpc::CreateCustomChannel(cluster.address(), grpc::InsecureChannelCredentials(),
                                channel_args),
      client_options);
  if (!client.ok()) return fail(client.status().ToString());
  if (!testing::WaitFor(
          [&] {
            auto workers = (*client)->ListWorkers(WithTimeout(absl::Seconds(1)));
            return workers.ok() && workers->workers_size() == opts.workers;
          },
          absl::Seconds(30))) {
    return fail("workers did not connect within 30s");
  }

  std::printf("[%s] %d workers connected; chaos starts\n", cluster.Elapsed().c_str(),
              opts.workers);
  std::fflush(stdout);

  // Chaos: submits spread over 80% of it, kills and a drain meanwhile.
  Submitter submitter(opts, **client, counts);
  const absl::Time start = absl::Now();
  const absl::Time chaos_end = start + opts.duration;
  std::thread submit_thread(
      [&] { submitter.Run(opts.duration * 0.8, chaos_end + opts.settle_timeout / 2); });
  std::mt19937_64 random(seed);
  std::vector<absl::Time> coordinator_kills;
  for (int i = 1; i <= opts.coordinator_kills; ++i) {
    coordinator_kills.push_back(start + opts.duration * i / (opts.coordinator_kills + 1) -
                                opts.duration / (4 * (opts.coordinator_kills + 1)));
  }
  absl::Time drain_at = start + opts.duration / 2;
  absl::Time next_worker_kill = start + opts.worker_kill_interval;
  absl::Status chaos = absl::OkStatus();
  while (chaos.ok() && absl::Now() < chaos_end) {
    // A tick of the chaos schedule (pacing, not synchronisation).
    absl::SleepFor(absl::Milliseconds(20));
    chaos = cluster.RestartEnded();
    if (!chaos.ok()) break;
    const absl::Time now = absl::Now();
    if (now >= next_worker_kill) {
      chaos = cluster.KillRandomWorker(random);
      next_worker_kill += opts.worker_kill_interval;
    } else if (!coordinator_kills.empty() && now >= coordinator_kills.front()) {
      coordinator_kills.erase(coordinator_kills.begin());
      chaos = cluster.KillAndRestartCoordinator();
    } else if (now >= drain_at && cluster.DrainRandomWorker(random)) {
      drain_at = absl::InfiniteFuture();
    }
  }
  if (!chaos.ok()) {
    submit_thread.join();
    return fail(absl::StrCat("chaos step: ", chaos.ToString()));
  }
  std::printf("[%s] chaos over; waiting for the submits and the queue to settle\n",
              cluster.Elapsed().c_str());
  std::fflush(stdout);

  // Settle: every worker up (a drain may still be ending, poisoned crashes
  // go on), submits acknowledged, nothing scheduled, queued or running.
  const absl::Time settle_deadline = absl::Now() + opts.settle_timeout;
  bool settled = false;
  bool submits_done = false;
  std::string last_state = "no answer";
  while (absl::Now() < settle_deadline) {
    if (absl::Status s = cluster.RestartEnded(); !s.ok()) {
      submit_thread.join();
      return fail(s.ToString());
    }
    if (!submits_done && counts.submitted.load() == opts.jobs + opts.poison &&
        submitter.acknowledged().size() + counts.unacknowledged.load() >=
            static_cast<size_t>(opts.jobs + opts.poison)) {
      submits_done = true;
    }
    auto queue = (*client)->GetQueue(kQueue, WithTimeout(absl::Seconds(2)));
    if (queue.ok()) {
      last_state = absl::StrCat("scheduled ", queue->scheduled(), ", queued ", queue->queued(),
                                ", running ", queue->running());
      if (submits_done && !cluster.AnyDraining() &&
          queue->scheduled() + queue->queued() + queue->running() == 0) {
        settled = true;
        break;
      }
    }
    absl::SleepFor(absl::Milliseconds(200));  // poll interval
  }
  submit_thread.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);

  auto jobs = ListAllJobs(**client);
  if (!jobs.ok()) return fail(absl::StrCat("listing the jobs: ", jobs.status().ToString()));
  const Records records = ParseRecords(ReadFile(cluster.records_path()));
  Verdict verdict = CheckLedger(submitter.acknowledged(), *jobs, records);
  if (!settled) {
    verdict.failures.insert(verdict.failures.begin(),
                            absl::StrCat("queue not settled within ",
                                         absl::FormatDuration(opts.settle_timeout), ": ",
                                         last_state));
  }
  for (const std::string& p : cluster.problems()) verdict.failures.push_back(p);
  for (const std::string& p : submitter.problems()) verdict.failures.push_back(p);

  std::printf(
      "chaos: %.1fs\n"
      "  submitted            %lld (%lld calls, %lld retried, %lld acknowledged as duplicates)\n"
      "  acknowledged         %lld (never acknowledged: %lld; in the queue unacknowledged: %lld)\n"
      "  succeeded            %lld\n"
      "  dead (poisoned)      %lld\n"
      "  recorded             %lld lines\n"
      "  duplicate records    %lld over %lld jobs (each of an earlier attempt that lost its\n"
      "                       lease)\n"
      "  jobs retried         %lld (ran more than one attempt)\n"
      "  worker SIGKILLs      %lld\n"
      "  worker crashes       %lld (poisoned crash jobs)\n"
      "  worker drains        %lld (SIGTERM)\n"
      "  coordinator SIGKILLs %lld\n"
      "  restarts             %lld workers, %lld coordinator\n",
      elapsed, static_cast<long long>(counts.submitted.load()),
      static_cast<long long>(counts.submit_calls.load()),
      static_cast<long long>(counts.submit_retries.load()),
      static_cast<long long>(counts.duplicate_acks.load()),
      static_cast<long long>(verdict.acknowledged),
      static_cast<long long>(counts.unacknowledged.load()),
      static_cast<long long>(verdict.unacknowledged_jobs),
      static_cast<long long>(verdict.succeeded), static_cast<long long>(verdict.dead),
      static_cast<long long>(verdict.records), static_cast<long long>(verdict.duplicate_records),
      static_cast<long long>(verdict.duplicated_jobs),
      static_cast<long long>(verdict.retried_jobs), static_cast<long long>(counts.worker_kills),
      static_cast<long long>(counts.worker_crashes),
      static_cast<long long>(counts.worker_drains),
      static_cast<long long>(counts.coordinator_kills),
      static_cast<long long>(counts.worker_restarts),
      static_cast<long long>(counts.coordinator_restarts));
  std::fflush(stdout);
  if (!verdict.failures.empty()) {
    const size_t shown = std::min<size_t>(verdict.failures.size(), 100);
    for (size_t i = 0; i < shown; ++i) std::fprintf(stderr, "  %s\n", verdict.failures[i].c_str());
    return fail(absl::StrCat(verdict.failures.size(), " problems (first ", shown, " above)"));
  }
  std::printf("chaos: PASSED, nothing lost\n");
  return 0;
}

}  // namespace
}  // namespace conveyor::chaos

int main(int argc, char** argv) {
  conveyor::chaos::Options options;
  CLI::App app{"chaos_run: kill workers and the coordinator under load; prove no job is lost"};
  auto duration_flag = [&app](const std::string& name, absl::Duration& out,
                              const std::string& help) {
    app.add_option_function<std::string>(
           name,
           [&out](const std::string& text) {
             if (!absl::ParseDuration(text, &out) || out < absl::ZeroDuration()) {
               throw CLI::ValidationError(text, "not a duration like 20s or 500ms");
             }
           },
           help)
        ->default_str(absl::FormatDuration(out));
  };
  app.add_option("--jobs", options.jobs, "record jobs to submit")->check(CLI::Range(1, 10000000))
      ->capture_default_str();
  app.add_option("--poison", options.poison, "poisoned jobs (fail, fail-permanent, crash in turn)")
      ->check(CLI::Range(0, 1000))->capture_default_str();
  app.add_option("--workers", options.workers, "conveyor-worker processes")
      ->check(CLI::Range(2, 64))->capture_default_str();
  app.add_option("--concurrency", options.concurrency, "slots per worker")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--prefetch", options.prefetch, "jobs per worker leased beyond its slots")
      ->check(CLI::Range(0, 1000))->capture_default_str();
  app.add_option("--batch", options.batch, "jobs per Submit call")
      ->check(CLI::Range(1, 1000))->capture_default_str();
  app.add_option("--coordinator-kills", options.coordinator_kills,
                 "coordinator SIGKILLs during the chaos")
      ->check(CLI::Range(0, 100))->capture_default_str();
  duration_flag("--duration", options.duration, "how long the chaos lasts");
  duration_flag("--worker-kill-interval", options.worker_kill_interval,
                "one random worker SIGKILLed this often");
  duration_flag("--max-work", options.max_work, "each job works a random time up to this");
  duration_flag("--settle-timeout", options.settle_timeout,
                "after the chaos, how long the queue may take to empty");
  app.add_option("--seed", options.seed, "random seed (0: a random one, printed)");
  app.add_option("--dir", options.dir,
                 "work in this new directory and keep it (default: a removed temp dir)");
  app.add_option("--conveyord", options.conveyord, "conveyord binary")->capture_default_str();
  app.add_option("--conveyor-worker", options.worker, "conveyor-worker binary")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (options.worker_kill_interval <= absl::ZeroDuration()) {
    std::fprintf(stderr, "--worker-kill-interval must be positive\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  return conveyor::chaos::Run(options);
}
