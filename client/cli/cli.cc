#include "client/cli/cli.h"

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "client/cli/cli_args.h"
#include "client/cli/connection_flags.h"

namespace conveyor::cli {

absl::StatusOr<std::unique_ptr<Client>> Cli::Connect() const {
  absl::StatusOr<absl::Duration> timeout = ParseNonNegativeDuration("--rpc-timeout", rpc_timeout);
  if (!timeout.ok()) return timeout.status();
  ClientOptions options;
  options.target = coordinator;
  options.timeout = *timeout;
  options.connection = connection;
  return Client::Create(options);
}

int Cli::Fail(const absl::Status& status) const {
  std::string line = absl::StrCat("conveyor: ", status.ToString());
  line = absl::StrReplaceAll(line, {{"\n", " "}});
  std::cerr << line << std::endl;
  return kExitError;
}

void Cli::PrintJson(const nlohmann::json& value) const {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << std::endl;
}

void AddGlobalFlags(CLI::App& app, Cli& cli) {
  app.add_option("--coordinator", cli.coordinator, "Coordinator address, host:port")
      ->envname("CONVEYOR_COORDINATOR")
      ->capture_default_str();
  app.add_flag("--json", cli.json, "Print JSON (the protobuf JSON mapping) instead of tables");
  app.add_option("--rpc-timeout", cli.rpc_timeout,
                 "Deadline of each short call, retries included (e.g. 500ms, 10s)")
      ->capture_default_str();
  AddConnectionFlags(app, cli.connection);
}

int ExitCodeForState(v1::JobState state) {
  return state == v1::JOB_STATE_DEAD || state == v1::JOB_STATE_CANCELLED ? kExitJobFailed : kExitOk;
}

}  // namespace conveyor::cli
