#ifndef CONVEYOR_BENCH_PROCESS_H_
#define CONVEYOR_BENCH_PROCESS_H_

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace conveyor::bench {

// A fresh directory under $TMPDIR (or /tmp), removed recursively on
// destruction unless Keep() was called.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  void Keep() { keep_ = true; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
  bool keep_ = false;
};

// A child process started with fork/exec in its own process group, stdout
// and stderr to `log_path` (appended; "/dev/null" to drop them). The
// destructor SIGKILLs it by PID if it still runs, and reaps it. Not
// thread-safe.
class ChildProcess {
 public:
  static absl::StatusOr<std::unique_ptr<ChildProcess>> Start(const std::string& binary,
                                                             const std::vector<std::string>& args,
                                                             const std::string& log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int signal);
  // Waits up to `timeout` for the child to exit; its wait status, or
  // DEADLINE_EXCEEDED.
  absl::StatusOr<int> Wait(absl::Duration timeout);
  // SIGTERM, then SIGKILL if it has not exited within `grace`.
  void Stop(absl::Duration grace);

 private:
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  pid_t pid_;
  bool reaped_ = false;
  int wait_status_ = 0;
};

// Waits up to `timeout` for `path` to hold a complete line with a port.
absl::StatusOr<int> ReadPortFile(const std::string& path, absl::Duration timeout);

// Resident set size of `pid` in bytes, from /proc/PID/status (VmRSS, or
// VmHWM for the peak).
absl::StatusOr<int64_t> ReadRssBytes(pid_t pid, const char* field = "VmRSS:");

// User + system CPU time `pid` used so far (0: this process), from
// /proc/PID/stat.
absl::StatusOr<double> ReadCpuSeconds(pid_t pid);

// The 1-minute load average, from /proc/loadavg.
double LoadAverage();

// Directory of the running executable (from /proc/self/exe).
std::string SelfDir();

}  // namespace conveyor::bench

#endif  // CONVEYOR_BENCH_PROCESS_H_
