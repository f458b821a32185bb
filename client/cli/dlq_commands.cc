// `conveyor dlq list | redrive | purge`.
#include <iostream>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli/cli.h"
#include "client/cli/format.h"
#include "client/cli/job_pages.h"
#include "client/cli/json_output.h"
#include "client/cli/table.h"

namespace conveyor::cli {
namespace {

struct ListFlags {
  std::string queue;
  int limit = 50;
};

int RunList(Cli& cli, const ListFlags& flags) {
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  v1::ListDeadJobsRequest request;
  request.set_queue(flags.queue);
  absl::StatusOr<JobPages> pages =
      FetchJobPages(request, flags.limit,
                    [&](const v1::ListDeadJobsRequest& r) { return (*client)->ListDeadJobs(r); });
  if (!pages.ok()) return cli.Fail(pages.status());
  const std::vector<v1::Job>& jobs = pages->jobs;
  if (cli.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const v1::Job& job : jobs) out.push_back(JobToJson(job));
    cli.PrintJson(out);
    return kExitOk;
  }
  Table table({"ID", "QUEUE", "TYPE", "ATTEMPTS", "REASON", "DIED", "ERROR"});
  for (const v1::Job& job : jobs) {
    table.AddRow({absl::StrCat(job.id()), job.queue(), job.type(),
                  absl::StrCat(job.attempts(), "/", job.max_attempts()),
                  DeadReasonName(job.dead_reason()), FormatTimestamp(job.finished_at()),
                  PrintableBytes(job.error(), 80)});
  }
  std::cout << table.Render();
  if (pages->more) std::cerr << "(more dead jobs: raise --limit, or 0 for all)" << std::endl;
  return kExitOk;
}

struct ChangeFlags {
  std::string queue;
  std::vector<uint64_t> ids;
  bool all = false;
};

int RunChange(Cli& cli, const ChangeFlags& flags, bool redrive) {
  if (flags.ids.empty() == !flags.all) {
    return cli.Fail(absl::InvalidArgumentError("name job ids or give --all (not both)"));
  }
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  absl::StatusOr<int64_t> count = redrive ? (*client)->RedriveJobs(flags.queue, flags.ids)
                                          : (*client)->PurgeDeadJobs(flags.queue, flags.ids);
  if (!count.ok()) return cli.Fail(count.status());
  if (cli.json) {
    cli.PrintJson({{redrive ? "redriven" : "purged", *count}});
  } else {
    std::cout << (redrive ? "redrove " : "purged ") << *count << " dead jobs of queue "
              << flags.queue << std::endl;
  }
  return kExitOk;
}

}  // namespace

void AddDlqCommands(CLI::App& app, Cli& cli) {
  CLI::App* dlq = app.add_subcommand("dlq", "The dead-letter queue: list, redrive, purge");
  dlq->require_subcommand(1);
  {
    auto flags = std::make_shared<ListFlags>();
    CLI::App* cmd = dlq->add_subcommand("list", "List dead jobs, oldest first");
    cmd->add_option("-q,--queue", flags->queue, "Only this queue");
    cmd->add_option("-n,--limit", flags->limit, "Most jobs to list; 0 for all")
        ->check(CLI::NonNegativeNumber)
        ->capture_default_str();
    cmd->callback([&cli, flags] { cli.exit_code = RunList(cli, *flags); });
  }
  for (bool redrive : {true, false}) {
    auto flags = std::make_shared<ChangeFlags>();
    CLI::App* cmd = dlq->add_subcommand(
        redrive ? "redrive" : "purge",
        redrive ? "Queue dead jobs again with a fresh attempt count" : "Delete dead jobs for good");
    cmd->add_option("-q,--queue", flags->queue, "Queue name")->required();
    cmd->add_option("ids", flags->ids, "Job ids");
    cmd->add_flag("--all", flags->all, "Every dead job of the queue");
    cmd->callback([&cli, flags, redrive] { cli.exit_code = RunChange(cli, *flags, redrive); });
  }
}

}  // namespace conveyor::cli
