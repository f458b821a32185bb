#include "server/engine/queue_settings.h"

#include "absl/strings/str_cat.h"

namespace conveyor {

absl::Status CheckBackoff(std::string_view field, const Backoff& b) {
  if (b.initial <= absl::ZeroDuration() || b.max < b.initial) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field), ": initial must be positive and max at least initial (got initial ",
        absl::FormatDuration(b.initial), ", max ", absl::FormatDuration(b.max), ")"));
  }
  if (!(b.multiplier >= 1.0 && b.multiplier <= 100.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ".multiplier must be between 1 and 100 (got ", b.multiplier, ")"));
  }
  return absl::OkStatus();
}

absl::StatusOr<QueueSettings> ApplyUpdate(const QueueSettings& base,
                                          const QueueSettingsUpdate& u) {
  QueueSettings s = base;
  if (u.max_attempts) {
    if (*u.max_attempts < 1 || *u.max_attempts > 1000) {
      return absl::InvalidArgumentError(
          absl::StrCat("max_attempts must be 1 to 1000 (got ", *u.max_attempts, ")"));
    }
    s.max_attempts = *u.max_attempts;
  }
  if (u.backoff) {
    absl::Status st = CheckBackoff("backoff", *u.backoff);
    if (!st.ok()) return st;
    s.backoff = *u.backoff;
  }
  if (u.lease_duration) {
    if (*u.lease_duration < absl::Seconds(1) || *u.lease_duration > absl::Hours(1)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "lease_duration must be 1s to 1h (got ", absl::FormatDuration(*u.lease_duration), ")"));
    }
    s.lease_duration = *u.lease_duration;
  }
  if (u.max_depth) {
    if (*u.max_depth < 0) {
      return absl::InvalidArgumentError("max_depth must be >= 0 (0: unlimited)");
    }
    s.max_depth = *u.max_depth;
  }
  if (u.max_running) {
    if (*u.max_running < 0) {
      return absl::InvalidArgumentError("max_running must be >= 0 (0: unlimited)");
    }
    s.max_running = *u.max_running;
  }
  if (u.rate_limit) {
    if (!(*u.rate_limit >= 0 && *u.rate_limit <= 1e9)) {
      return absl::InvalidArgumentError("rate_limit must be 0 (unlimited) to 1e9 per second");
    }
    s.rate_limit = *u.rate_limit;
  }
  if (u.paused) s.paused = *u.paused;
  if (u.retention) {
    if (*u.retention < absl::ZeroDuration() || *u.retention > absl::Hours(24 * 366)) {
      return absl::InvalidArgumentError("retention must be 0 to 366 days");
    }
    s.retention = *u.retention;
  }
  return s;
}

}  // namespace conveyor
