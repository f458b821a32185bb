#include "server/store/job_codec.h"

#include <cstring>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace conveyor {
namespace {

constexpr uint8_t kFormat = 1;
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();

// Appends little-endian varints, zigzag signed values, fixed 8-byte doubles
// and length-prefixed strings.
class Encoder {
 public:
  Encoder() { U8(kFormat); }
  void U8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void Varint(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void I64(int64_t v) { Varint((static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63)); }
  void Double(double d) {
    uint64_t bits;
    std::memcpy(&bits, &d, sizeof bits);
    for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((bits >> (8 * i)) & 0xff));
  }
  void String(std::string_view s) {
    Varint(s.size());
    out_.append(s);
  }
  void Time(absl::Time t) { I64(TimeToNanos(t)); }
  void Duration(absl::Duration d) { I64(DurationToNanos(d)); }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what Encoder wrote. After the first failure every read returns a
// zero value and Finish() reports DATA_LOSS.
class Decoder {
 public:
  Decoder(std::string_view in, absl::string_view what) : in_(in), size_(in.size()), what_(what) {
    if (U8() != kFormat && ok_) Fail("unknown format");
  }
  uint8_t U8() {
    if (!Need(1)) return 0;
    uint8_t v = static_cast<uint8_t>(in_[0]);
    in_.remove_prefix(1);
    return v;
  }
  uint64_t Varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (!Need(1)) return 0;
      uint8_t byte = static_cast<uint8_t>(in_[0]);
      in_.remove_prefix(1);
      v |= static_cast<uint64_t>(byte & 0x7f) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    Fail("varint too long");
    return 0;
  }
  int64_t I64() {
    uint64_t z = Varint();
    return static_cast<int64_t>((z >> 1) ^ (~(z & 1) + 1));
  }
  double Double() {
    if (!Need(8)) return 0;
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i)
      bits |= static_cast<uint64_t>(static_cast<uint8_t>(in_[i])) << (8 * i);
    in_.remove_prefix(8);
    double d;
    std::memcpy(&d, &bits, sizeof d);
    return d;
  }
  std::string String() {
    uint64_t n = Varint();
    if (!Need(n)) return "";
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }
  absl::Time Time() { return NanosToTime(I64()); }
  absl::Duration Duration() { return NanosToDuration(I64()); }
  // A count of items that each take at least one byte; rejects counts the
  // remaining input cannot hold, so corrupt data can't ask for huge vectors.
  uint64_t Count() {
    uint64_t n = Varint();
    if (ok_ && n > in_.size()) Fail("count exceeds remaining bytes");
    return ok_ ? n : 0;
  }
  template <typename E>
  E Enum(int lo, int hi) {
    int64_t v = I64();
    if (ok_ && (v < lo || v > hi)) Fail(absl::StrCat("enum value ", v, " out of range"));
    return static_cast<E>(ok_ ? v : lo);
  }
  bool ok() const { return ok_; }
  absl::Status Finish() {
    if (ok_ && !in_.empty()) Fail("trailing bytes");
    return status_;
  }

 private:
  bool Need(uint64_t n) {
    if (ok_ && in_.size() < n) Fail("truncated");
    return ok_;
  }
  void Fail(absl::string_view why) {
    if (!ok_) return;
    ok_ = false;
    status_ = absl::DataLossError(
        absl::StrCat(what_, " blob: ", why, " at byte ", size_ - in_.size(), " of ", size_));
  }

  std::string_view in_;
  size_t size_;
  absl::string_view what_;
  bool ok_ = true;
  absl::Status status_;
};

void PutBackoff(Encoder& e, const Backoff& b) {
  e.Duration(b.initial);
  e.Duration(b.max);
  e.Double(b.multiplier);
}

Backoff GetBackoff(Decoder& d) {
  Backoff b;
  b.initial = d.Duration();
  b.max = d.Duration();
  b.multiplier = d.Double();
  return b;
}

}  // namespace

int64_t TimeToNanos(absl::Time time) {
  if (time == absl::InfinitePast()) return kMin;
  if (time == absl::InfiniteFuture()) return kMax;
  return absl::ToUnixNanos(time);
}

absl::Time NanosToTime(int64_t nanos) {
  if (nanos == kMin) return absl::InfinitePast();
  if (nanos == kMax) return absl::InfiniteFuture();
  return absl::FromUnixNanos(nanos);
}

int64_t DurationToNanos(absl::Duration duration) {
  if (duration == absl::InfiniteDuration()) return kMax;
  if (duration == -absl::InfiniteDuration()) return kMin;
  return absl::ToInt64Nanoseconds(duration);
}

absl::Duration NanosToDuration(int64_t nanos) {
  if (nanos == kMax) return absl::InfiniteDuration();
  if (nanos == kMin) return -absl::InfiniteDuration();
  return absl::Nanoseconds(nanos);
}

std::string EncodeLabels(const Labels& labels) {
  Encoder e;
  e.Varint(labels.size());
  for (const auto& [key, value] : labels) {
    e.String(key);
    e.String(value);
  }
  return e.Take();
}

absl::StatusOr<Labels> DecodeLabels(std::string_view data) {
  Decoder d(data, "labels");
  Labels labels;
  for (uint64_t n = d.Count(); n > 0 && d.ok(); --n) {
    std::string key = d.String();
    labels[std::move(key)] = d.String();
  }
  if (absl::Status s = d.Finish(); !s.ok()) return s;
  return labels;
}

std::string EncodeBackoff(const Backoff& backoff) {
  Encoder e;
  PutBackoff(e, backoff);
  return e.Take();
}

absl::StatusOr<Backoff> DecodeBackoff(std::string_view data) {
  Decoder d(data, "backoff");
  Backoff b = GetBackoff(d);
  if (absl::Status s = d.Finish(); !s.ok()) return s;
  return b;
}

std::string EncodeHistory(const std::vector<Attempt>& history) {
  Encoder e;
  e.Varint(history.size());
  for (const Attempt& a : history) {
    e.I64(a.number);
    e.Varint(a.worker.value);
    e.String(a.worker_name);
    e.Time(a.started_at);
    e.Time(a.ended_at);
    e.I64(static_cast<int>(a.outcome));
    e.String(a.error);
  }
  return e.Take();
}

absl::StatusOr<std::vector<Attempt>> DecodeHistory(std::string_view data) {
  Decoder d(data, "history");
  std::vector<Attempt> history;
  for (uint64_t n = d.Count(); n > 0 && d.ok(); --n) {
    Attempt a;
    a.number = static_cast<int32_t>(d.I64());
    a.worker.value = d.Varint();
    a.worker_name = d.String();
    a.started_at = d.Time();
    a.ended_at = d.Time();
    a.outcome = d.Enum<AttemptOutcome>(static_cast<int>(AttemptOutcome::kRunning),
                                       static_cast<int>(AttemptOutcome::kReleased));
    a.error = d.String();
    history.push_back(std::move(a));
  }
  if (absl::Status s = d.Finish(); !s.ok()) return s;
  return history;
}

std::string EncodeQueueSettings(const QueueSettings& settings) {
  Encoder e;
  e.I64(settings.max_attempts);
  PutBackoff(e, settings.backoff);
  e.Duration(settings.lease_duration);
  e.I64(settings.max_depth);
  e.I64(settings.max_running);
  e.Double(settings.rate_limit);
  e.U8(settings.paused ? 1 : 0);
  e.Duration(settings.retention);
  return e.Take();
}

absl::StatusOr<QueueSettings> DecodeQueueSettings(std::string_view data) {
  Decoder d(data, "queue settings");
  QueueSettings s;
  s.max_attempts = static_cast<int32_t>(d.I64());
  s.backoff = GetBackoff(d);
  s.lease_duration = d.Duration();
  s.max_depth = d.I64();
  s.max_running = static_cast<int32_t>(d.I64());
  s.rate_limit = d.Double();
  s.paused = d.U8() != 0;
  s.retention = d.Duration();
  if (absl::Status status = d.Finish(); !status.ok()) return status;
  return s;
}

}  // namespace conveyor
