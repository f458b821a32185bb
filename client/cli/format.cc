#include "client/cli/format.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "client/cli/table.h"
#include "client/proto_time.h"

namespace conveyor::cli {
namespace {

std::string OutcomeName(v1::Attempt::Outcome outcome) {
  std::string name = v1::Attempt::Outcome_Name(outcome);
  if (name.empty()) return absl::StrCat(static_cast<int>(outcome));
  return absl::AsciiStrToLower(name.substr(std::string("OUTCOME_").size()));
}

bool IsSet(const google::protobuf::Timestamp& t) { return t.seconds() != 0 || t.nanos() != 0; }

void AddField(std::string& out, absl::string_view name, absl::string_view value) {
  absl::StrAppendFormat(&out, "%-14s %s\n", absl::StrCat(name, ":"), value);
}

}  // namespace

bool HasProgress(const v1::Job& job) {
  return job.progress().percent() > 0 || !job.progress().message().empty();
}

std::string StateName(v1::JobState state) {
  const std::string& name = v1::JobState_Name(state);
  if (name.empty()) return absl::StrCat(static_cast<int>(state));
  return absl::AsciiStrToLower(name.substr(std::string("JOB_STATE_").size()));
}

std::string DeadReasonName(v1::DeadReason reason) {
  if (reason == v1::DEAD_REASON_UNSPECIFIED) return "";
  std::string name = v1::DeadReason_Name(reason);
  if (name.empty()) return absl::StrCat(static_cast<int>(reason));
  name = absl::AsciiStrToLower(name.substr(std::string("DEAD_REASON_").size()));
  for (char& c : name) {
    if (c == '_') c = ' ';
  }
  return name;
}

std::string FormatTimestamp(const google::protobuf::Timestamp& t, absl::TimeZone zone) {
  if (!IsSet(t)) return "-";
  return absl::FormatTime("%Y-%m-%d %H:%M:%S", FromProtoTimestamp(t), zone);
}

std::string FormatAge(absl::Duration d) {
  if (d < absl::Hours(1))
    d = absl::Trunc(d, absl::Seconds(1));
  else
    d = absl::Trunc(d, absl::Minutes(1));
  return d == absl::ZeroDuration() ? "0s" : absl::FormatDuration(d);
}

std::string FormatDuration(const google::protobuf::Duration& d) {
  return absl::FormatDuration(FromProtoDuration(d));
}

std::string PrintableBytes(absl::string_view bytes, size_t max_len) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\n')
      out += "\\n";
    else if (c == '\t')
      out += "\\t";
    else if (c == '\\')
      out += "\\\\";
    else if (c < 0x20 || c >= 0x7f)
      out += absl::StrFormat("\\x%02x", c);
    else
      out += static_cast<char>(c);
    if (out.size() > max_len) break;
  }
  if (out.size() > max_len) {
    out.resize(max_len > 3 ? max_len - 3 : 0);
    out += "...";
  }
  return out;
}

std::string JobDetail(const v1::Job& job) {
  constexpr size_t kMaxBytes = 2000;
  std::string out;
  AddField(out, "id", absl::StrCat(job.id()));
  AddField(out, "queue", job.queue());
  AddField(out, "type", job.type());
  AddField(out, "state", StateName(job.state()));
  AddField(out, "priority", absl::StrCat(job.priority()));
  AddField(out, "attempts", absl::StrCat(job.attempts(), " of ", job.max_attempts()));
  AddField(out, "created", FormatTimestamp(job.created_at()));
  if (job.state() == v1::JOB_STATE_SCHEDULED)
    AddField(out, "run at", FormatTimestamp(job.run_at()));
  if (IsSet(job.deadline())) AddField(out, "deadline", FormatTimestamp(job.deadline()));
  if (IsSet(job.finished_at())) AddField(out, "finished", FormatTimestamp(job.finished_at()));
  if (!job.idempotency_key().empty()) AddField(out, "idempotency", job.idempotency_key());
  if (!job.labels().empty()) {
    std::vector<std::string> labels;
    for (const auto& [k, v] : job.labels()) labels.push_back(absl::StrCat(k, "=", v));
    std::sort(labels.begin(), labels.end());
    AddField(out, "labels", absl::StrJoin(labels, " "));
  }
  AddField(out, "payload", PrintableBytes(job.payload(), kMaxBytes));
  if (job.state() == v1::JOB_STATE_SUCCEEDED) {
    AddField(out, "result", PrintableBytes(job.result(), kMaxBytes));
  }
  if (!job.error().empty()) AddField(out, "error", PrintableBytes(job.error(), kMaxBytes));
  if (job.dead_reason() != v1::DEAD_REASON_UNSPECIFIED) {
    AddField(out, "dead reason", DeadReasonName(job.dead_reason()));
  }
  if (!job.cancel_reason().empty()) AddField(out, "cancel reason", job.cancel_reason());
  if (HasProgress(job)) {
    std::string progress =
        job.progress().percent() >= 0 ? absl::StrCat(job.progress().percent(), "%") : "";
    if (!job.progress().message().empty()) {
      absl::StrAppend(&progress, progress.empty() ? "" : " ", job.progress().message());
    }
    AddField(out, "progress", progress);
  }
  if (!job.history().empty()) {
    Table history({"  ATTEMPT", "WORKER", "STARTED", "ENDED", "OUTCOME", "ERROR"});
    for (const v1::Attempt& a : job.history()) {
      history.AddRow({absl::StrCat("  ", a.number()),
                      a.worker_name().empty() ? absl::StrCat(a.worker_id()) : a.worker_name(),
                      FormatTimestamp(a.started_at()), FormatTimestamp(a.ended_at()),
                      OutcomeName(a.outcome()), PrintableBytes(a.error(), 60)});
    }
    out += "history:\n";
    out += history.Render();
  }
  return out;
}

std::string QueueDetail(const v1::QueueInfo& queue) {
  const v1::QueueSettings& s = queue.settings();
  auto limit = [](auto v) { return v == 0 ? std::string("unlimited") : absl::StrCat(v); };
  std::string out;
  AddField(out, "queue", queue.name());
  AddField(out, "paused", s.paused() ? "yes" : "no");
  AddField(out, "scheduled", absl::StrCat(queue.scheduled()));
  AddField(out, "queued", absl::StrCat(queue.queued()));
  AddField(out, "running", absl::StrCat(queue.running()));
  AddField(out, "succeeded", absl::StrCat(queue.succeeded()));
  AddField(out, "dead", absl::StrCat(queue.dead()));
  AddField(out, "cancelled", absl::StrCat(queue.cancelled()));
  AddField(out, "oldest queued", FormatAge(FromProtoDuration(queue.oldest_queued_age())));
  AddField(out, "max attempts", absl::StrCat(s.max_attempts()));
  AddField(out, "lease", FormatDuration(s.lease_duration()));
  AddField(out, "backoff",
           absl::StrCat(FormatDuration(s.backoff().initial()), " to ",
                        FormatDuration(s.backoff().max()), ", x", s.backoff().multiplier()));
  AddField(out, "max depth", limit(s.max_depth()));
  AddField(out, "max running", limit(s.max_running()));
  AddField(out, "rate limit",
           s.rate_limit() == 0 ? "unlimited" : absl::StrCat(s.rate_limit(), "/s"));
  AddField(out, "retention", FormatDuration(s.retention()));
  return out;
}

}  // namespace conveyor::cli
