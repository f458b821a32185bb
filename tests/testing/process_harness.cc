#include "tests/testing/process_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "tests/testing/wait_for.h"

namespace conveyor::testing {

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "conveyor-XXXXXX").string();
  char* made = mkdtemp(tmpl.data());
  if (made == nullptr) abort();
  path_ = made;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

absl::StatusOr<std::unique_ptr<ChildProcess>> ChildProcess::Start(
    const std::string& binary, const std::vector<std::string>& args,
    const std::string& log_path, const std::vector<std::string>& extra_env) {
  std::vector<std::string> argv_storage;
  argv_storage.push_back(binary);
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_storage) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_storage;
  for (char** e = environ; *e != nullptr; ++e) env_storage.emplace_back(*e);
  env_storage.insert(env_storage.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  const pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
  if (pid == 0) {
    setpgid(0, 0);
    // Die with the test: a test killed by its timeout leaves no process.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    if (!log_path.empty()) {
      int fd = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
    }
    execve(binary.c_str(), argv.data(), envp.data());
    _exit(127);
  }
  setpgid(pid, pid);
  return std::unique_ptr<ChildProcess>(new ChildProcess(pid));
}

ChildProcess::~ChildProcess() {
  if (!reaped_) {
    kill(-pid_, SIGKILL);
    kill(pid_, SIGKILL);
    int status;
    waitpid(pid_, &status, 0);
  }
}

void ChildProcess::Signal(int signal) {
  if (!reaped_) kill(pid_, signal);
}

bool ChildProcess::Running() {
  if (reaped_) return false;
  int status;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    reaped_ = true;
    wait_status_ = status;
    return false;
  }
  return true;
}

absl::StatusOr<int> ChildProcess::Wait(absl::Duration timeout) {
  if (!WaitFor([this] { return !Running(); }, timeout)) {
    return absl::DeadlineExceededError(absl::StrCat("pid ", pid_, " still running"));
  }
  return wait_status_;
}

absl::StatusOr<int> ReadPortFile(const std::string& port_file, absl::Duration timeout) {
  int port = 0;
  bool ok = WaitFor(
      [&] {
        std::ifstream in(port_file);
        std::string line;
        if (!std::getline(in, line) || in.eof()) return false;  // need the newline
        return absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &port) && port > 0;
      },
      timeout);
  if (!ok) return absl::DeadlineExceededError(absl::StrCat("no port in ", port_file));
  return port;
}

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

int ThreadsNamed(pid_t pid, const std::string& name) {
  int n = 0;
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  for (const auto& task : std::filesystem::directory_iterator(tasks)) {
    std::ifstream comm(task.path() / "comm");
    std::string line;
    if (std::getline(comm, line) && line == name) ++n;
  }
  return n;
}

absl::StatusOr<Coordinator> StartCoordinator(const std::string& binary,
                                             const std::string& data_dir,
                                             const std::vector<std::string>& extra_args,
                                             int port) {
  std::filesystem::create_directories(data_dir);
  const std::string port_file = data_dir + "/port";
  std::filesystem::remove(port_file);
  std::vector<std::string> args = {absl::StrCat("--listen=127.0.0.1:", port),
                                   "--port-file=" + port_file,
                                   "--data-dir=" + data_dir};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  auto process = ChildProcess::Start(binary, args, data_dir + "/conveyord.log");
  if (!process.ok()) return process.status();
  // A coordinator that cannot start (bad flag, port taken) exits: say so at
  // once rather than after ReadPortFile's timeout.
  WaitFor([&] { return std::filesystem::exists(port_file) || !(*process)->Running(); },
          absl::Seconds(20));
  if (!(*process)->Running()) {
    return absl::FailedPreconditionError(
        absl::StrCat(binary, " exited at start-up; see ", data_dir, "/conveyord.log"));
  }
  auto bound = ReadPortFile(port_file);
  if (!bound.ok()) return bound.status();
  Coordinator c;
  c.process = std::move(*process);
  c.port = *bound;
  return c;
}

}  // namespace conveyor::testing
