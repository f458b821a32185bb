#ifndef CONVEYOR_SERVER_ENGINE_QUEUE_SETTINGS_H_
#define CONVEYOR_SERVER_ENGINE_QUEUE_SETTINGS_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/engine/job.h"

namespace conveyor {

// Per-queue settings, the meanings of admin_service.proto QueueSettings.
struct QueueSettings {
  int32_t max_attempts = 3;
  Backoff backoff;
  absl::Duration lease_duration = absl::Seconds(30);
  int64_t max_depth = 0;    // 0: unlimited.
  int32_t max_running = 0;  // 0: unlimited.
  double rate_limit = 0;    // Dispatches per second; 0: unlimited.
  bool paused = false;
  absl::Duration retention = absl::Hours(24);
  friend bool operator==(const QueueSettings&, const QueueSettings&) = default;
};

// A partial update: unset fields keep their value.
struct QueueSettingsUpdate {
  std::optional<int32_t> max_attempts;
  std::optional<Backoff> backoff;
  std::optional<absl::Duration> lease_duration;
  std::optional<int64_t> max_depth;
  std::optional<int32_t> max_running;
  std::optional<double> rate_limit;
  std::optional<bool> paused;
  std::optional<absl::Duration> retention;
};

// OK if `b` is usable, else INVALID_ARGUMENT naming `field`.
absl::Status CheckBackoff(std::string_view field, const Backoff& b);

// Returns `base` with `update` applied, or INVALID_ARGUMENT naming the field
// that is out of range.
absl::StatusOr<QueueSettings> ApplyUpdate(const QueueSettings& base,
                                          const QueueSettingsUpdate& update);

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_QUEUE_SETTINGS_H_
