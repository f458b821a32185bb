// `conveyor get | wait | watch | cancel | jobs`.
#include <iostream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "client/cli/cli.h"
#include "client/cli/cli_args.h"
#include "client/cli/format.h"
#include "client/cli/job_pages.h"
#include "client/cli/json_output.h"
#include "client/cli/table.h"
#include "client/proto_time.h"

namespace conveyor::cli {
namespace {

// A --timeout flag: empty means no deadline.
absl::StatusOr<CallOptions> WaitCall(const std::string& timeout) {
  if (timeout.empty()) return CallOptions{};
  absl::StatusOr<absl::Duration> d = ParseNonNegativeDuration("--timeout", timeout);
  if (!d.ok()) return d.status();
  return WithTimeout(*d);
}

// A short one-line summary of where a job is.
std::string JobLine(const v1::Job& job) {
  std::string line = absl::StrCat("job ", job.id(), " ", StateName(job.state()), " attempt ",
                                  job.attempts(), "/", job.max_attempts());
  if (HasProgress(job)) {
    if (job.progress().percent() >= 0) absl::StrAppend(&line, " ", job.progress().percent(), "%");
    if (!job.progress().message().empty()) {
      absl::StrAppend(&line, " ", PrintableBytes(job.progress().message(), 80));
    }
  }
  if (!job.error().empty() && job.state() != v1::JOB_STATE_SUCCEEDED) {
    absl::StrAppend(&line, " error: ", PrintableBytes(job.error(), 120));
  }
  if (!job.cancel_reason().empty()) absl::StrAppend(&line, " (", job.cancel_reason(), ")");
  return line;
}

int RunGet(Cli& cli, uint64_t id) {
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  absl::StatusOr<v1::Job> job = (*client)->GetJob(id);
  if (!job.ok()) return cli.Fail(job.status());
  if (cli.json) {
    cli.PrintJson(JobToJson(*job));
  } else {
    std::cout << JobDetail(*job);
  }
  return kExitOk;
}

int RunWait(Cli& cli, const std::vector<uint64_t>& ids, const std::string& timeout) {
  absl::StatusOr<CallOptions> call = WaitCall(timeout);
  if (!call.ok()) return cli.Fail(call.status());
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  int exit_code = kExitOk;
  nlohmann::json jobs = nlohmann::json::array();
  Table table({"ID", "STATE", "ATTEMPTS", "RESULT/ERROR"});
  for (uint64_t id : ids) {
    absl::StatusOr<v1::Job> job = (*client)->WaitJob(id, *call);
    if (!job.ok()) {
      return cli.Fail(absl::Status(job.status().code(),
                                   absl::StrCat("job ", id, ": ", job.status().message())));
    }
    if (ExitCodeForState(job->state()) != kExitOk) exit_code = kExitJobFailed;
    jobs.push_back(JobToJson(*job));
    const std::string& detail =
        job->state() == v1::JOB_STATE_SUCCEEDED
            ? job->result()
            : (job->cancel_reason().empty() ? job->error() : job->cancel_reason());
    table.AddRow({absl::StrCat(job->id()), StateName(job->state()),
                  absl::StrCat(job->attempts(), "/", job->max_attempts()),
                  PrintableBytes(detail, 100)});
  }
  if (cli.json) {
    cli.PrintJson(ids.size() == 1 ? jobs[0] : jobs);
  } else {
    std::cout << table.Render();
  }
  return exit_code;
}

int RunWatch(Cli& cli, uint64_t id, const std::string& timeout) {
  absl::StatusOr<CallOptions> call = WaitCall(timeout);
  if (!call.ok()) return cli.Fail(call.status());
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  v1::JobState last = v1::JOB_STATE_UNSPECIFIED;
  absl::Status status = (*client)->WatchJob(
      id,
      [&](const v1::Job& job) {
        last = job.state();
        if (cli.json) {
          std::cout << JobToJson(job).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
                    << std::endl;
        } else {
          std::cout << absl::FormatTime("%H:%M:%S ", absl::Now(), absl::LocalTimeZone())
                    << JobLine(job) << std::endl;
        }
        return true;
      },
      *call);
  if (!status.ok()) return cli.Fail(status);
  return ExitCodeForState(last);
}

int RunCancel(Cli& cli, uint64_t id, const std::string& reason) {
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  absl::StatusOr<v1::Job> job = (*client)->CancelJob(id, reason);
  if (!job.ok()) return cli.Fail(job.status());
  if (cli.json) {
    cli.PrintJson(JobToJson(*job));
  } else {
    std::cout << JobLine(*job) << std::endl;
  }
  return kExitOk;
}

struct JobsFlags {
  std::string queue;
  std::string state;
  int limit = 50;
};

int RunJobs(Cli& cli, const JobsFlags& flags) {
  v1::ListJobsRequest request;
  request.set_queue(flags.queue);
  request.set_omit_payloads(true);
  if (!flags.state.empty()) {
    absl::StatusOr<v1::JobState> state = ParseJobState(flags.state);
    if (!state.ok()) return cli.Fail(state.status());
    request.set_state(*state);
  }
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  absl::StatusOr<JobPages> pages = FetchJobPages(
      request, flags.limit, [&](const v1::ListJobsRequest& r) { return (*client)->ListJobs(r); });
  if (!pages.ok()) return cli.Fail(pages.status());
  const std::vector<v1::Job>& jobs = pages->jobs;
  if (cli.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const v1::Job& job : jobs) out.push_back(JobToJson(job));
    cli.PrintJson(out);
    return kExitOk;
  }
  Table table({"ID", "QUEUE", "TYPE", "STATE", "PRI", "ATTEMPTS", "CREATED", "ERROR"});
  for (const v1::Job& job : jobs) {
    table.AddRow({absl::StrCat(job.id()), job.queue(), job.type(), StateName(job.state()),
                  absl::StrCat(job.priority()),
                  absl::StrCat(job.attempts(), "/", job.max_attempts()),
                  FormatTimestamp(job.created_at()), PrintableBytes(job.error(), 60)});
  }
  std::cout << table.Render();
  if (pages->more) std::cerr << "(more jobs: raise --limit, or 0 for all)" << std::endl;
  return kExitOk;
}

}  // namespace

void AddJobCommands(CLI::App& app, Cli& cli) {
  {
    auto id = std::make_shared<uint64_t>(0);
    CLI::App* cmd = app.add_subcommand("get", "Show a job: state, payload, result, history");
    cmd->add_option("id", *id, "Job id")->required();
    cmd->callback([&cli, id] { cli.exit_code = RunGet(cli, *id); });
  }
  {
    auto ids = std::make_shared<std::vector<uint64_t>>();
    auto timeout = std::make_shared<std::string>();
    CLI::App* cmd =
        app.add_subcommand("wait", "Wait until jobs end; exit 2 if any ended DEAD or CANCELLED");
    cmd->add_option("ids", *ids, "Job ids")->required();
    cmd->add_option("--timeout", *timeout,
                    "Give up (exit 1, jobs untouched) after this long, e.g. 30s");
    cmd->callback([&cli, ids, timeout] { cli.exit_code = RunWait(cli, *ids, *timeout); });
  }
  {
    auto id = std::make_shared<uint64_t>(0);
    auto timeout = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand(
        "watch",
        "Print a job's state and progress as they change until it ends; exit 2 if it ended "
        "DEAD or CANCELLED (--json: one object per line)");
    cmd->add_option("id", *id, "Job id")->required();
    cmd->add_option("--timeout", *timeout, "Stop watching (exit 1) after this long");
    cmd->callback([&cli, id, timeout] { cli.exit_code = RunWatch(cli, *id, *timeout); });
  }
  {
    auto id = std::make_shared<uint64_t>(0);
    auto reason = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand("cancel", "Cancel a job that has not ended");
    cmd->add_option("id", *id, "Job id")->required();
    cmd->add_option("--reason", *reason, "Recorded as the job's cancel reason");
    cmd->callback([&cli, id, reason] { cli.exit_code = RunCancel(cli, *id, *reason); });
  }
  {
    auto flags = std::make_shared<JobsFlags>();
    CLI::App* cmd = app.add_subcommand("jobs", "List jobs, oldest first");
    cmd->add_option("-q,--queue", flags->queue, "Only this queue");
    cmd->add_option("-s,--state", flags->state,
                    "Only this state: scheduled, queued, running, succeeded, dead, cancelled");
    cmd->add_option("-n,--limit", flags->limit, "Most jobs to list; 0 for all")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->callback([&cli, flags] { cli.exit_code = RunJobs(cli, *flags); });
  }
}

}  // namespace conveyor::cli
