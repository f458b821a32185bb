// `conveyor queues | pause | resume | queue-settings`.
#include <iostream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "client/cli/cli.h"
#include "client/cli/cli_args.h"
#include "client/cli/format.h"
#include "client/cli/json_output.h"
#include "client/cli/table.h"
#include "client/proto_time.h"

namespace conveyor::cli {
namespace {

int PrintQueue(Cli& cli, const v1::QueueInfo& queue) {
  if (cli.json) {
    cli.PrintJson(MessageToJson(queue));
  } else {
    std::cout << QueueDetail(queue);
  }
  return kExitOk;
}

int RunQueues(Cli& cli, const std::string& name) {
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  if (!name.empty()) {
    absl::StatusOr<v1::QueueInfo> queue = (*client)->GetQueue(name);
    if (!queue.ok()) return cli.Fail(queue.status());
    return PrintQueue(cli, *queue);
  }
  absl::StatusOr<v1::ListQueuesResponse> queues = (*client)->ListQueues();
  if (!queues.ok()) return cli.Fail(queues.status());
  if (cli.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const v1::QueueInfo& q : queues->queues()) out.push_back(MessageToJson(q));
    cli.PrintJson(out);
    return kExitOk;
  }
  Table table({"QUEUE", "SCHEDULED", "QUEUED", "RUNNING", "SUCCEEDED", "DEAD", "CANCELLED",
               "OLDEST_QUEUED", "PAUSED"});
  for (const v1::QueueInfo& q : queues->queues()) {
    table.AddRow({q.name(), absl::StrCat(q.scheduled()), absl::StrCat(q.queued()),
                  absl::StrCat(q.running()), absl::StrCat(q.succeeded()), absl::StrCat(q.dead()),
                  absl::StrCat(q.cancelled()),
                  q.queued() > 0 ? FormatAge(FromProtoDuration(q.oldest_queued_age())) : "-",
                  q.settings().paused() ? "yes" : "no"});
  }
  std::cout << table.Render();
  return kExitOk;
}

int RunUpdate(Cli& cli, const std::string& name, const v1::QueueSettings& settings) {
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  absl::StatusOr<v1::QueueInfo> queue = (*client)->UpdateQueue(name, settings);
  if (!queue.ok()) return cli.Fail(queue.status());
  return PrintQueue(cli, *queue);
}

int RunPause(Cli& cli, const std::string& name, bool paused) {
  v1::QueueSettings settings;
  settings.set_paused(paused);
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  absl::StatusOr<v1::QueueInfo> queue = (*client)->UpdateQueue(name, settings);
  if (!queue.ok()) return cli.Fail(queue.status());
  if (cli.json) {
    cli.PrintJson(MessageToJson(*queue));
  } else {
    std::cout << "queue " << queue->name() << (queue->settings().paused() ? " paused" : " resumed")
              << std::endl;
  }
  return kExitOk;
}

struct SettingsFlags {
  std::string queue;
  CLI::Option* max_attempts_opt = nullptr;
  int max_attempts = 0;
  std::string lease;
  CLI::Option* max_depth_opt = nullptr;
  int64_t max_depth = 0;
  CLI::Option* max_running_opt = nullptr;
  int max_running = 0;
  CLI::Option* rate_limit_opt = nullptr;
  double rate_limit = 0;
  std::string retention;
  std::string backoff_initial;
  std::string backoff_max;
  double backoff_multiplier = 0;
};

// Parses `text` into `*out` unless it is empty (the flag was not given).
absl::Status SetDuration(absl::string_view flag, const std::string& text,
                         google::protobuf::Duration* out) {
  absl::StatusOr<absl::Duration> d = ParseNonNegativeDuration(flag, text);
  if (!d.ok()) return d.status();
  *out = ToProtoDuration(*d);
  return absl::OkStatus();
}

// The settings named on the command line; `any` says whether there were any.
absl::StatusOr<v1::QueueSettings> SettingsFromFlags(const SettingsFlags& f, bool& any) {
  v1::QueueSettings s;
  if (f.max_attempts_opt->count() > 0) s.set_max_attempts(f.max_attempts);
  if (f.max_depth_opt->count() > 0) s.set_max_depth(f.max_depth);
  if (f.max_running_opt->count() > 0) s.set_max_running(f.max_running);
  if (f.rate_limit_opt->count() > 0) s.set_rate_limit(f.rate_limit);
  if (f.backoff_multiplier != 0) s.mutable_backoff()->set_multiplier(f.backoff_multiplier);
  absl::Status status;
  if (status.ok() && !f.lease.empty()) {
    status = SetDuration("--lease", f.lease, s.mutable_lease_duration());
  }
  if (status.ok() && !f.retention.empty()) {
    status = SetDuration("--retention", f.retention, s.mutable_retention());
  }
  if (status.ok() && !f.backoff_initial.empty()) {
    status =
        SetDuration("--backoff-initial", f.backoff_initial, s.mutable_backoff()->mutable_initial());
  }
  if (status.ok() && !f.backoff_max.empty()) {
    status = SetDuration("--backoff-max", f.backoff_max, s.mutable_backoff()->mutable_max());
  }
  if (!status.ok()) return status;
  any = s.ByteSizeLong() > 0;
  return s;
}

}  // namespace

void AddQueueCommands(CLI::App& app, Cli& cli) {
  {
    auto name = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand(
        "queues", "List queues with job counts and oldest queued age, or show one queue");
    cmd->add_option("name", *name, "Show this queue and its settings");
    cmd->callback([&cli, name] { cli.exit_code = RunQueues(cli, *name); });
  }
  for (bool pause : {true, false}) {
    auto name = std::make_shared<std::string>();
    CLI::App* cmd =
        app.add_subcommand(pause ? "pause" : "resume",
                           pause ? "Stop dispatching a queue's jobs (submits are still accepted)"
                                 : "Dispatch a paused queue's jobs again");
    cmd->add_option("queue", *name, "Queue name")->required();
    cmd->callback([&cli, name, pause] { cli.exit_code = RunPause(cli, *name, pause); });
  }
  {
    auto f = std::make_shared<SettingsFlags>();
    CLI::App* cmd = app.add_subcommand(
        "queue-settings", "Show a queue's settings, or change those given (others keep theirs)");
    cmd->add_option("queue", f->queue, "Queue name")->required();
    f->max_attempts_opt = cmd->add_option("--max-attempts", f->max_attempts,
                                          "Default attempts for jobs that set none, 1 to 1000");
    cmd->add_option("--lease", f->lease, "Lease duration without a heartbeat, 1s to 1h");
    f->max_depth_opt = cmd->add_option("--max-depth", f->max_depth,
                                       "Most unfinished jobs the queue holds; 0: unlimited");
    f->max_running_opt =
        cmd->add_option("--max-running", f->max_running, "Most jobs running at once; 0: unlimited");
    f->rate_limit_opt =
        cmd->add_option("--rate-limit", f->rate_limit, "Most dispatches per second; 0: unlimited");
    cmd->add_option("--retention", f->retention, "How long ended jobs are kept, e.g. 24h");
    cmd->add_option("--backoff-initial", f->backoff_initial, "Retry delay cap for the 1st retry");
    cmd->add_option("--backoff-max", f->backoff_max, "Largest retry delay");
    cmd->add_option("--backoff-multiplier", f->backoff_multiplier,
                    "Retry delay growth per attempt, >= 1");
    cmd->callback([&cli, f] {
      bool any = false;
      absl::StatusOr<v1::QueueSettings> settings = SettingsFromFlags(*f, any);
      if (!settings.ok()) {
        cli.exit_code = cli.Fail(settings.status());
      } else if (!any) {
        cli.exit_code = RunQueues(cli, f->queue);
      } else {
        cli.exit_code = RunUpdate(cli, f->queue, *settings);
      }
    });
  }
}

}  // namespace conveyor::cli
