#ifndef CONVEYOR_SERVER_STORE_JOB_CODEC_H_
#define CONVEYOR_SERVER_STORE_JOB_CODEC_H_

// Compact binary encodings of the parts of a Job (and of QueueSettings) that
// SqliteStore keeps in blob columns, and the integer forms of times and
// durations it keeps in integer columns. Each blob starts with a format
// byte; decoders reject unknown formats, truncated or trailing bytes with
// DATA_LOSS. Stateless and thread-safe.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/engine/job.h"
#include "server/engine/queue_settings.h"

namespace conveyor {

// Nanoseconds since the Unix epoch; InfinitePast is INT64_MIN and
// InfiniteFuture INT64_MAX (finite times beyond +-292 years saturate to
// those). Sub-nanosecond parts are truncated.
int64_t TimeToNanos(absl::Time time);
absl::Time NanosToTime(int64_t nanos);

// Nanoseconds; -InfiniteDuration is INT64_MIN and InfiniteDuration INT64_MAX.
int64_t DurationToNanos(absl::Duration duration);
absl::Duration NanosToDuration(int64_t nanos);

std::string EncodeLabels(const Labels& labels);
absl::StatusOr<Labels> DecodeLabels(std::string_view data);

std::string EncodeBackoff(const Backoff& backoff);
absl::StatusOr<Backoff> DecodeBackoff(std::string_view data);

std::string EncodeHistory(const std::vector<Attempt>& history);
absl::StatusOr<std::vector<Attempt>> DecodeHistory(std::string_view data);

std::string EncodeQueueSettings(const QueueSettings& settings);
absl::StatusOr<QueueSettings> DecodeQueueSettings(std::string_view data);

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_STORE_JOB_CODEC_H_
