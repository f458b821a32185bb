#include "server/rpc/proto_convert.h"

#include "absl/strings/str_cat.h"

namespace conveyor::rpc {
namespace {

absl::Duration FromProtoDuration(const google::protobuf::Duration& d) {
  return absl::Seconds(d.seconds()) + absl::Nanoseconds(d.nanos());
}

absl::Time FromProtoTime(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Sets the field `mutable_field()` returns, leaving it unset (not even
// created) for the infinite sentinels, which mean "none".
template <typename MutableField>
void SetTime(absl::Time t, MutableField mutable_field) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return;
  google::protobuf::Timestamp* out = mutable_field();
  const timespec ts = absl::ToTimespec(t);
  out->set_seconds(ts.tv_sec);
  out->set_nanos(static_cast<int32_t>(ts.tv_nsec));
}

absl::Status CheckDuration(const google::protobuf::Duration& d, const std::string& field) {
  // google.protobuf.Duration's documented range and sign rule.
  if (d.seconds() < -315576000000 || d.seconds() > 315576000000 || d.nanos() <= -1000000000 ||
      d.nanos() >= 1000000000 || (d.seconds() > 0 && d.nanos() < 0) ||
      (d.seconds() < 0 && d.nanos() > 0)) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not a valid Duration"));
  }
  return absl::OkStatus();
}

absl::Status CheckTime(const google::protobuf::Timestamp& t, const std::string& field) {
  // google.protobuf.Timestamp's documented range: years 1 to 9999.
  if (t.seconds() < -62135596800 || t.seconds() > 253402300799 || t.nanos() < 0 ||
      t.nanos() >= 1000000000) {
    return absl::InvalidArgumentError(absl::StrCat(field, " is not a valid Timestamp"));
  }
  return absl::OkStatus();
}

absl::StatusOr<Backoff> FromProto(const v1::BackoffPolicy& b, const Backoff& defaults,
                                  const std::string& field) {
  Backoff out = defaults;
  if (b.has_initial()) {
    absl::Status s = CheckDuration(b.initial(), field + ".initial");
    if (!s.ok()) return s;
    out.initial = FromProtoDuration(b.initial());
  }
  if (b.has_max()) {
    absl::Status s = CheckDuration(b.max(), field + ".max");
    if (!s.ok()) return s;
    out.max = FromProtoDuration(b.max());
  }
  if (b.multiplier() != 0) out.multiplier = b.multiplier();
  if (out.max < out.initial && !b.has_max()) out.max = out.initial;
  return out;
}

void ToProto(const Backoff& b, v1::BackoffPolicy* out) {
  ToProtoDuration(b.initial, out->mutable_initial());
  ToProtoDuration(b.max, out->mutable_max());
  out->set_multiplier(b.multiplier);
}

v1::Attempt::Outcome ToProto(AttemptOutcome o) {
  return static_cast<v1::Attempt::Outcome>(static_cast<int>(o));
}

}  // namespace

void ToProtoDuration(absl::Duration d, google::protobuf::Duration* out) {
  const int64_t seconds = absl::IDivDuration(d, absl::Seconds(1), &d);
  out->set_seconds(seconds);
  out->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(d)));
}

absl::StatusOr<JobSpec> FromProto(const v1::JobSpec& in, const std::string& field) {
  JobSpec spec;
  spec.queue = in.queue();
  spec.type = in.type();
  spec.payload = in.has_payload_text() ? in.payload_text() : in.payload();
  spec.priority = in.priority();
  if (in.has_delay()) {
    absl::Status s = CheckDuration(in.delay(), field + ".delay");
    if (!s.ok()) return s;
    spec.delay = FromProtoDuration(in.delay());
  }
  if (in.has_run_at()) {
    absl::Status s = CheckTime(in.run_at(), field + ".run_at");
    if (!s.ok()) return s;
    spec.run_at = FromProtoTime(in.run_at());
  }
  spec.max_attempts = in.max_attempts();
  if (in.has_backoff()) {
    auto b = FromProto(in.backoff(), Backoff{}, field + ".backoff");
    if (!b.ok()) return b.status();
    spec.backoff = *b;
  }
  if (in.has_attempt_timeout()) {
    absl::Status s = CheckDuration(in.attempt_timeout(), field + ".attempt_timeout");
    if (!s.ok()) return s;
    spec.attempt_timeout = FromProtoDuration(in.attempt_timeout());
  }
  if (in.has_deadline()) {
    absl::Status s = CheckTime(in.deadline(), field + ".deadline");
    if (!s.ok()) return s;
    spec.deadline = FromProtoTime(in.deadline());
  }
  if (in.has_timeout()) {
    absl::Status s = CheckDuration(in.timeout(), field + ".timeout");
    if (!s.ok()) return s;
    spec.timeout = FromProtoDuration(in.timeout());
  }
  spec.idempotency_key = in.idempotency_key();
  spec.labels = Labels(in.labels().begin(), in.labels().end());
  return spec;
}

void ToProto(const Job& job, v1::Job* out) {
  out->set_id(job.id.value);
  out->set_queue(job.queue);
  out->set_type(job.type);
  out->set_payload(job.payload);
  out->set_priority(job.priority);
  out->mutable_labels()->insert(job.labels.begin(), job.labels.end());
  out->set_idempotency_key(job.idempotency_key);
  out->set_max_attempts(job.max_attempts);
  ToProto(job.backoff, out->mutable_backoff());
  ToProtoDuration(job.attempt_timeout, out->mutable_attempt_timeout());
  SetTime(job.deadline, [&] { return out->mutable_deadline(); });
  out->set_state(static_cast<v1::JobState>(static_cast<int>(job.state)));
  out->set_attempts(job.attempts);
  SetTime(job.created_at, [&] { return out->mutable_created_at(); });
  SetTime(job.run_at, [&] { return out->mutable_run_at(); });
  SetTime(job.finished_at, [&] { return out->mutable_finished_at(); });
  SetTime(job.expires_at, [&] { return out->mutable_expires_at(); });
  out->set_result(job.result);
  out->set_error(job.error);
  out->set_dead_reason(static_cast<v1::DeadReason>(static_cast<int>(job.dead_reason)));
  out->set_cancel_reason(job.cancel_reason);
  out->mutable_progress()->set_percent(job.progress.percent);
  out->mutable_progress()->set_message(job.progress.message);
  for (const Attempt& a : job.history) {
    v1::Attempt* p = out->add_history();
    p->set_number(a.number);
    p->set_worker_id(a.worker.value);
    p->set_worker_name(a.worker_name);
    SetTime(a.started_at, [&] { return p->mutable_started_at(); });
    SetTime(a.ended_at, [&] { return p->mutable_ended_at(); });
    p->set_outcome(ToProto(a.outcome));
    p->set_error(a.error);
  }
}

absl::StatusOr<QueueSettingsUpdate> FromProto(const v1::QueueSettings& in) {
  QueueSettingsUpdate u;
  if (in.has_max_attempts()) u.max_attempts = in.max_attempts();
  if (in.has_backoff()) {
    auto b = FromProto(in.backoff(), Backoff{}, "settings.backoff");
    if (!b.ok()) return b.status();
    u.backoff = *b;
  }
  if (in.has_lease_duration()) {
    absl::Status s = CheckDuration(in.lease_duration(), "settings.lease_duration");
    if (!s.ok()) return s;
    u.lease_duration = FromProtoDuration(in.lease_duration());
  }
  if (in.has_max_depth()) u.max_depth = in.max_depth();
  if (in.has_max_running()) u.max_running = in.max_running();
  if (in.has_rate_limit()) u.rate_limit = in.rate_limit();
  if (in.has_paused()) u.paused = in.paused();
  if (in.has_retention()) {
    absl::Status s = CheckDuration(in.retention(), "settings.retention");
    if (!s.ok()) return s;
    u.retention = FromProtoDuration(in.retention());
  }
  return u;
}

void ToProto(const QueueStats& s, v1::QueueInfo* out) {
  out->set_name(s.name);
  v1::QueueSettings* settings = out->mutable_settings();
  settings->set_max_attempts(s.settings.max_attempts);
  ToProto(s.settings.backoff, settings->mutable_backoff());
  ToProtoDuration(s.settings.lease_duration, settings->mutable_lease_duration());
  settings->set_max_depth(s.settings.max_depth);
  settings->set_max_running(s.settings.max_running);
  settings->set_rate_limit(s.settings.rate_limit);
  settings->set_paused(s.settings.paused);
  ToProtoDuration(s.settings.retention, settings->mutable_retention());
  out->set_scheduled(s.scheduled);
  out->set_queued(s.queued);
  out->set_running(s.running);
  out->set_succeeded(s.succeeded);
  out->set_dead(s.dead);
  out->set_cancelled(s.cancelled);
  ToProtoDuration(s.oldest_queued_age, out->mutable_oldest_queued_age());
}

void ToProto(const WorkerStats& s, v1::WorkerInfo* out) {
  out->set_id(s.id.value);
  out->set_name(s.hello.name);
  for (const auto& q : s.hello.queues) out->add_queues(q);
  for (const auto& t : s.hello.types) out->add_types(t);
  out->set_concurrency(s.hello.concurrency);
  out->set_prefetch(s.hello.prefetch);
  out->mutable_labels()->insert(s.hello.labels.begin(), s.hello.labels.end());
  SetTime(s.connected_at, [&] { return out->mutable_connected_at(); });
  SetTime(s.last_heartbeat, [&] { return out->mutable_last_heartbeat(); });
  out->set_draining(s.draining);
  for (const LeaseInfo& l : s.leases) {
    v1::Lease* p = out->add_leases();
    p->set_job_id(l.job.value);
    p->set_fencing_token(l.token.value);
    p->set_attempt(l.attempt);
    SetTime(l.expires_at, [&] { return p->mutable_expires_at(); });
  }
}

WorkerHello FromProto(const v1::Hello& in) {
  WorkerHello h;
  h.name = in.name();
  h.queues.assign(in.queues().begin(), in.queues().end());
  h.types.assign(in.types().begin(), in.types().end());
  h.concurrency = in.concurrency();
  h.prefetch = in.prefetch();
  h.labels = Labels(in.labels().begin(), in.labels().end());
  return h;
}

void ToProto(Assignment a, absl::Time now, v1::Assignment* out) {
  // Only the fields Assignment.job documents; strings moved, not copied.
  Job& job = a.job;
  v1::Job* j = out->mutable_job();
  j->set_id(job.id.value);
  j->set_queue(std::move(job.queue));
  j->set_type(std::move(job.type));
  j->set_payload(std::move(job.payload));
  j->set_priority(job.priority);
  if (!job.labels.empty()) {
    auto* labels = j->mutable_labels();
    for (auto& [k, v] : job.labels) (*labels)[k] = std::move(v);
  }
  j->set_idempotency_key(std::move(job.idempotency_key));
  j->set_max_attempts(job.max_attempts);
  SetTime(job.deadline, [&] { return j->mutable_deadline(); });
  j->set_state(v1::JOB_STATE_RUNNING);
  j->set_attempts(job.attempts);
  SetTime(job.created_at, [&] { return j->mutable_created_at(); });
  out->set_attempt(a.attempt);
  out->set_fencing_token(a.token.value);
  ToProtoDuration(std::max(absl::ZeroDuration(), a.lease_expires_at - now),
                  out->mutable_lease_duration());
  SetTime(a.lease_expires_at, [&] { return out->mutable_lease_expires_at(); });
  if (a.deadline != absl::InfiniteFuture()) {
    ToProtoDuration(std::max(absl::ZeroDuration(), a.deadline - now),
                    out->mutable_deadline_in());
    SetTime(a.deadline, [&] { return out->mutable_deadline(); });
  }
}

}  // namespace conveyor::rpc
