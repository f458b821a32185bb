#ifndef CONVEYOR_CLIENT_CLI_CLI_H_
#define CONVEYOR_CLIENT_CLI_CLI_H_

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "client/client.h"

namespace conveyor::cli {

// Exit codes a script can rely on.
inline constexpr int kExitOk = 0;
// Any error: bad arguments, coordinator unreachable, call failed, timeout.
inline constexpr int kExitError = 1;
// wait / watch / submit --wait: the job ended DEAD or CANCELLED.
inline constexpr int kExitJobFailed = 2;

// What every command shares: the global flags, and the exit code the chosen
// command's callback leaves for main(). Not thread-safe.
struct Cli {
  std::string coordinator = "127.0.0.1:7070";
  bool json = false;
  std::string rpc_timeout = "10s";
  // --token, --tls, --tls-ca, --tls-cert, --tls-key.
  ConnectionOptions connection;
  int exit_code = kExitOk;

  // A Client for --coordinator with --rpc-timeout and `connection`.
  absl::StatusOr<std::unique_ptr<Client>> Connect() const;
  // Prints "conveyor: <status>" as one line on stderr; returns kExitError.
  int Fail(const absl::Status& status) const;
  // Prints `value` on stdout, pretty, with a newline.
  void PrintJson(const nlohmann::json& value) const;
};

// Adds the global flags (--coordinator, --json, --rpc-timeout, and the
// connection flags of connection_flags.h) to `app`.
void AddGlobalFlags(CLI::App& app, Cli& cli);

// Each adds its subcommand(s) to `app`; their callbacks set cli.exit_code.
// `cli` must outlive parsing.
void AddSubmitCommand(CLI::App& app, Cli& cli);
void AddJobCommands(CLI::App& app, Cli& cli);     // get, wait, watch, cancel, jobs
void AddQueueCommands(CLI::App& app, Cli& cli);   // queues, pause, resume, queue-settings
void AddWorkerCommands(CLI::App& app, Cli& cli);  // workers
void AddDlqCommands(CLI::App& app, Cli& cli);     // dlq list|redrive|purge

// Exit code for a job that reached `state`: kExitJobFailed for DEAD and
// CANCELLED, else kExitOk.
int ExitCodeForState(v1::JobState state);

}  // namespace conveyor::cli

#endif  // CONVEYOR_CLIENT_CLI_CLI_H_
