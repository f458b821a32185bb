#include "worker/exec_handler.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

extern char** environ;

namespace conveyor {
namespace {

// A file descriptor closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Close(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void Reset(int fd) {
    Close();
    fd_ = fd;
  }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

absl::Status MakePipe(Fd* read_end, Fd* write_end) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::UnavailableError(absl::StrCat("exec: pipe: ", std::strerror(errno)));
  }
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  return absl::OkStatus();
}

std::string EnvName(std::string_view key) {
  std::string out = "CONVEYOR_LABEL_";
  for (char c : key) {
    out.push_back(std::isalnum(static_cast<unsigned char>(c))
                      ? static_cast<char>(std::toupper(static_cast<unsigned char>(c)))
                      : '_');
  }
  return out;
}

bool IsJobVariable(std::string_view entry) {
  for (std::string_view prefix : {"CONVEYOR_JOB_ID=", "CONVEYOR_JOB_TYPE=", "CONVEYOR_QUEUE=",
                                  "CONVEYOR_ATTEMPT=", "CONVEYOR_DEADLINE=", "CONVEYOR_LABEL_"}) {
    if (entry.starts_with(prefix)) return true;
  }
  return false;
}

std::vector<std::string> ChildEnvironment(const JobContext& job) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!IsJobVariable(*e)) env.emplace_back(*e);
  }
  env.push_back(absl::StrCat("CONVEYOR_JOB_ID=", job.job_id()));
  env.push_back(absl::StrCat("CONVEYOR_JOB_TYPE=", job.type()));
  env.push_back(absl::StrCat("CONVEYOR_QUEUE=", job.queue()));
  env.push_back(absl::StrCat("CONVEYOR_ATTEMPT=", job.attempt()));
  env.push_back(absl::StrCat(
      "CONVEYOR_DEADLINE=",
      job.has_deadline() ? absl::FormatTime(absl::RFC3339_full, job.deadline(), absl::UTCTimeZone())
                         : ""));
  for (const auto& [k, v] : job.labels()) env.push_back(absl::StrCat(EnvName(k), "=", v));
  return env;
}

void AppendTail(std::string* tail, std::string_view data, size_t limit) {
  tail->append(data);
  if (tail->size() > 2 * limit) tail->erase(0, tail->size() - limit);
}

std::string Tail(std::string text, size_t limit) {
  if (text.size() > limit) text.erase(0, text.size() - limit);
  return std::string(absl::StripAsciiWhitespace(text));
}

// Reads what is available from `fd`; false at end of file or on error.
bool ReadSome(int fd, std::string* sink, size_t limit, bool keep_tail) {
  char buf[16384];
  while (true) {
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
      if (keep_tail) {
        AppendTail(sink, std::string_view(buf, n), limit);
      } else if (sink->size() < limit) {
        sink->append(buf, std::min<size_t>(n, limit - sink->size()));
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return true;
    return false;
  }
}

absl::StatusOr<std::string> RunCommand(const ExecOptions& options, JobContext& job) {
  Fd stdin_read, stdin_write, stdout_read, stdout_write, stderr_read, stderr_write;
  for (auto [r, w] : {std::pair{&stdin_read, &stdin_write}, std::pair{&stdout_read, &stdout_write},
                      std::pair{&stderr_read, &stderr_write}}) {
    absl::Status s = MakePipe(r, w);
    if (!s.ok()) return s;
  }

  // Everything the child needs is built before spawning.
  std::string shell = "/bin/sh", dash_c = "-c", command = options.command;
  std::vector<char*> argv = {shell.data(), dash_c.data(), command.data(), nullptr};
  std::vector<std::string> env_storage = ChildEnvironment(job);
  std::vector<char*> envp;
  for (auto& e : env_storage) envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, stdin_read.get(), 0);
  posix_spawn_file_actions_adddup2(&actions, stdout_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, stderr_write.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group, so cancel reaches grandchildren
  sigset_t none, defaults;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);  // the worker blocks SIGTERM/SIGINT
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGHUP, SIGQUIT, SIGUSR1}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, shell.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (spawned != 0) {
    return absl::UnavailableError(absl::StrCat("exec: spawn /bin/sh: ", std::strerror(spawned)));
  }
  stdin_read.Close();
  stdout_write.Close();
  stderr_write.Close();
  for (int fd : {stdin_write.get(), stdout_read.get(), stderr_read.get()}) {
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  }

  const std::string& payload = job.payload();
  size_t written = 0;
  if (payload.empty()) stdin_write.Close();
  std::string out, err;
  bool exited = false;
  int wait_status = 0;
  absl::Time term_at = absl::InfiniteFuture();
  absl::Time exited_at = absl::InfiniteFuture();
  bool killed = false;
  while (true) {
    std::vector<pollfd> fds;
    if (stdout_read.get() >= 0) fds.push_back({stdout_read.get(), POLLIN, 0});
    if (stderr_read.get() >= 0) fds.push_back({stderr_read.get(), POLLIN, 0});
    if (stdin_write.get() >= 0) fds.push_back({stdin_write.get(), POLLOUT, 0});
    // A short tick: cancellation is polled, and must reach the child fast.
    if (!fds.empty()) poll(fds.data(), fds.size(), 20);
    for (const pollfd& p : fds) {
      if (p.revents == 0) continue;
      if (p.fd == stdout_read.get()) {
        if (!ReadSome(p.fd, &out, options.max_result_bytes, false)) stdout_read.Close();
      } else if (p.fd == stderr_read.get()) {
        if (!ReadSome(p.fd, &err, options.stderr_tail_bytes, true)) stderr_read.Close();
      } else if (p.fd == stdin_write.get()) {
        ssize_t n = write(p.fd, payload.data() + written, payload.size() - written);
        if (n > 0) written += n;
        if ((n < 0 && errno != EAGAIN && errno != EINTR) || written == payload.size()) {
          stdin_write.Close();  // done, or the child closed its stdin (EPIPE)
        }
      }
    }
    if (!exited) {
      pid_t r = waitpid(pid, &wait_status, WNOHANG);
      if (r == pid) {
        exited = true;
        exited_at = absl::Now();
      }
    }
    const absl::Time now = absl::Now();
    if (!exited && job.cancelled()) {
      if (term_at == absl::InfiniteFuture()) {
        term_at = now;
        kill(-pid, SIGTERM);
      } else if (!killed && now >= term_at + options.kill_grace) {
        killed = true;
        kill(-pid, SIGKILL);
      }
    }
    if (fds.empty() && !exited) {
      // Pipes closed but the child runs on: wait for it without spinning.
      absl::SleepFor(absl::Milliseconds(10));  // a poll interval, not synchronisation
    }
    const bool pipes_done = stdout_read.get() < 0 && stderr_read.get() < 0;
    // A grandchild may hold the pipes open: stop reading shortly after exit.
    if (exited && (pipes_done || now >= exited_at + absl::Milliseconds(200))) break;
  }
  if (job.cancelled()) kill(-pid, SIGKILL);  // leave nothing of a cancelled job behind

  const std::string tail = Tail(std::move(err), options.stderr_tail_bytes);
  const std::string detail = tail.empty() ? "" : absl::StrCat(": ", tail);
  if (term_at != absl::InfiniteFuture()) {
    return absl::CancelledError(absl::StrCat("cancelled: ", job.cancel_reason(), detail));
  }
  if (WIFEXITED(wait_status)) {
    const int code = WEXITSTATUS(wait_status);
    if (code == 0) return out;
    if (code == kExecRetryableExitCode) {
      return absl::UnavailableError(absl::StrCat("exit ", code, detail));
    }
    return PermanentError(absl::StrCat("exit ", code, detail));
  }
  if (WIFSIGNALED(wait_status)) {
    return PermanentError(absl::StrCat("killed by signal ", WTERMSIG(wait_status), detail));
  }
  return PermanentError(absl::StrCat("exec: unexpected wait status ", wait_status, detail));
}

}  // namespace

Handler MakeExecHandler(ExecOptions options) {
  signal(SIGPIPE, SIG_IGN);
  return [options = std::move(options)](JobContext& job) { return RunCommand(options, job); };
}

}  // namespace conveyor
