#include "worker/record_handler.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/time/time.h"

namespace conveyor {
namespace {

// Owns the append-only descriptor shared by every run of the handler.
class RecordFile {
 public:
  explicit RecordFile(int fd) : fd_(fd) {}
  ~RecordFile() { close(fd_); }
  RecordFile(const RecordFile&) = delete;
  RecordFile& operator=(const RecordFile&) = delete;
  int fd() const { return fd_; }

 private:
  const int fd_;
};

absl::StatusOr<std::string> Record(const RecordFile& file, const std::string& path,
                                   JobContext& job) {
  const std::string text(absl::StripAsciiWhitespace(job.payload()));
  absl::Duration work = absl::ZeroDuration();
  if (!text.empty() && (!absl::ParseDuration(text, &work) || work < absl::ZeroDuration())) {
    return PermanentError(
        absl::StrCat("record: payload \"", text, "\" is not a duration like 20ms (or empty)"));
  }
  if (work > absl::ZeroDuration() && job.WaitForCancel(work)) {
    return absl::CancelledError(absl::StrCat("cancelled: ", job.cancel_reason()));
  }
  const std::string line = absl::StrCat(job.job_id(), " ", job.attempt(), " ", getpid(), "\n");
  const ssize_t written = write(file.fd(), line.data(), line.size());
  if (written != static_cast<ssize_t>(line.size())) {
    return absl::InternalError(absl::StrCat("record: write to ", path, ": ",
                                            written < 0 ? strerror(errno) : "short write"));
  }
  return std::string("recorded");
}

}  // namespace

absl::StatusOr<Handler> MakeRecordHandler(const std::string& path) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("record file ", path, ": cannot open for appending: ", strerror(errno)));
  }
  auto file = std::make_shared<RecordFile>(fd);
  return Handler([file, path](JobContext& job) { return Record(*file, path, job); });
}

}  // namespace conveyor
