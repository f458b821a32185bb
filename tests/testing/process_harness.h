#ifndef CONVEYOR_TESTS_TESTING_PROCESS_HARNESS_H_
#define CONVEYOR_TESTS_TESTING_PROCESS_HARNESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace conveyor::testing {

// A fresh temporary directory, removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A child process started from a binary, in its own process group. The
// destructor kills it (SIGKILL) if it still runs, and so does the kernel
// when the thread that started it ends (PR_SET_PDEATHSIG): start children
// from a thread that outlives them. Not thread-safe.
class ChildProcess {
 public:
  // Starts `binary` with `args` (argv[1..]); stdout and stderr go to
  // `log_path` (appended) when it is not empty, else to the test's own.
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(
      const std::string& binary, const std::vector<std::string>& args,
      const std::string& log_path = "",
      const std::vector<std::string>& extra_env = {});
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  // Sends `signal` to the child.
  void Signal(int signal);
  // Waits up to `timeout` for the child to exit; returns its wait status
  // (as from waitpid), or DEADLINE_EXCEEDED.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  // True while the child has not exited.
  bool Running();

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
  int wait_status_ = 0;
};

// The whole content of the file at `path`; empty if it cannot be read.
std::string ReadWholeFile(const std::string& path);

// Threads of process `pid` named `name` (/proc/<pid>/task/*/comm).
int ThreadsNamed(pid_t pid, const std::string& name);

// Reads a port number that a server wrote to `port_file` (waiting up to
// `timeout` for the file to hold a complete line).
absl::StatusOr<int> ReadPortFile(const std::string& port_file,
                                 absl::Duration timeout = absl::Seconds(20));

// A conveyord started on 127.0.0.1:`port` (0: any free port, read back from
// its port file), its data under `data_dir`. `binary` is the path of
// conveyord (tests get it from CMake as CONVEYORD_PATH). `extra_args` are
// appended to its flags. Pass the port of a coordinator that was killed to
// restart it where its clients reconnect.
struct Coordinator {
  std::unique_ptr<ChildProcess> process;
  int port = 0;
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
};
absl::StatusOr<Coordinator> StartCoordinator(
    const std::string& binary, const std::string& data_dir,
    const std::vector<std::string>& extra_args = {}, int port = 0);

}  // namespace conveyor::testing

#endif  // CONVEYOR_TESTS_TESTING_PROCESS_HARNESS_H_
