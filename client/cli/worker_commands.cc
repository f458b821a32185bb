// `conveyor workers`.
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "client/cli/cli.h"
#include "client/cli/format.h"
#include "client/cli/json_output.h"
#include "client/cli/table.h"
#include "client/proto_time.h"

namespace conveyor::cli {
namespace {

int RunWorkers(Cli& cli) {
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  absl::StatusOr<v1::ListWorkersResponse> workers = (*client)->ListWorkers();
  if (!workers.ok()) return cli.Fail(workers.status());
  if (cli.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const v1::WorkerInfo& w : workers->workers()) out.push_back(MessageToJson(w));
    cli.PrintJson(out);
    return kExitOk;
  }
  const absl::Time now = absl::Now();
  Table table({"ID", "NAME", "QUEUES", "TYPES", "RUNNING", "HEARTBEAT", "STATE", "JOBS"});
  for (const v1::WorkerInfo& w : workers->workers()) {
    std::vector<std::string> jobs;
    for (const v1::Lease& lease : w.leases()) {
      jobs.push_back(absl::StrCat(lease.job_id(),
                                  lease.attempt() > 1 ? absl::StrCat("#", lease.attempt()) : ""));
    }
    table.AddRow(
        {absl::StrCat(w.id()), w.name(), absl::StrJoin(w.queues(), ","),
         w.types().empty() ? "*" : absl::StrJoin(w.types(), ","),
         // Held / slots, and "+N" for a prefetch.
         absl::StrCat(w.leases_size(), "/", w.concurrency(),
                      w.prefetch() > 0 ? absl::StrCat("+", w.prefetch()) : ""),
         w.last_heartbeat().seconds() != 0
             ? absl::StrCat(FormatAge(now - FromProtoTimestamp(w.last_heartbeat())), " ago")
             : "-",
         w.draining() ? "draining" : "active", absl::StrJoin(jobs, ",")});
  }
  std::cout << table.Render();
  return kExitOk;
}

}  // namespace

void AddWorkerCommands(CLI::App& app, Cli& cli) {
  CLI::App* cmd = app.add_subcommand(
      "workers", "List connected workers and the jobs they run (JOBS: id, #attempt if > 1)");
  cmd->callback([&cli] { cli.exit_code = RunWorkers(cli); });
}

}  // namespace conveyor::cli
