// conveyor: the command-line client of a Conveyor coordinator.
#include <CLI/CLI.hpp>
#include <iostream>

#include "client/cli/cli.h"

namespace {

constexpr char kFooter[] = R"(Exit codes:
  0  success
  1  error (bad arguments, coordinator unreachable, call failed, timeout);
     one line on stderr says why
  2  wait, watch or submit --wait: the job ended DEAD or CANCELLED

Environment:
  CONVEYOR_COORDINATOR  default for --coordinator
  CONVEYOR_TOKEN        default for --token
  CONVEYOR_TLS_CA, CONVEYOR_TLS_CERT, CONVEYOR_TLS_KEY  defaults for --tls-ca, --tls-cert,
                        --tls-key)";

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Submit, inspect and manage jobs on a Conveyor coordinator.", "conveyor"};
  app.fallthrough();  // Global flags may follow the command: `conveyor get 7 --json`.
  app.require_subcommand(1);
  app.footer(kFooter);
  conveyor::cli::Cli cli;
  conveyor::cli::AddGlobalFlags(app, cli);
  conveyor::cli::AddSubmitCommand(app, cli);
  conveyor::cli::AddJobCommands(app, cli);
  conveyor::cli::AddQueueCommands(app, cli);
  conveyor::cli::AddWorkerCommands(app, cli);
  conveyor::cli::AddDlqCommands(app, cli);
  // CLI11 reports parse errors and --help by throwing; this is the one catch.
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);
    std::cerr << "conveyor: " << e.what() << " (see --help)" << std::endl;
    return conveyor::cli::kExitError;
  }
  return cli.exit_code;
}
