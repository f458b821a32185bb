#ifndef CONVEYOR_TESTS_CLIENT_CLI_RUNNER_H_
#define CONVEYOR_TESTS_CLIENT_CLI_RUNNER_H_

#include <string>
#include <vector>

#include "absl/time/time.h"

namespace conveyor::testing {

// What one run of the `conveyor` binary did.
struct CliResult {
  // The exit status; -1 if it was killed (signal or timeout).
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs the CLI built as CONVEYOR_CLI_PATH with `args`, feeding `stdin_data`
// on stdin, with `extra_env` ("K=V") added to the environment. Kills it after
// `timeout`. Thread-compatible.
CliResult RunCli(const std::vector<std::string>& args, const std::string& stdin_data = "",
                 const std::vector<std::string>& extra_env = {},
                 absl::Duration timeout = absl::Seconds(60));

}  // namespace conveyor::testing

#endif  // CONVEYOR_TESTS_CLIENT_CLI_RUNNER_H_
