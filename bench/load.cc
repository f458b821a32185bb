#include "bench/load.h"

#include <algorithm>
#include <limits>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "bench/cluster.h"

namespace conveyor::bench {

v1::JobSpec MakeSpec(const std::string& queue, int payload_bytes) {
  v1::JobSpec spec;
  spec.set_queue(queue);
  spec.set_type("echo");
  std::string payload(payload_bytes, 'x');
  for (int i = 0; i < payload_bytes; ++i) payload[i] = static_cast<char>('a' + i % 26);
  spec.set_payload(payload);
  return spec;
}

namespace {

// Shared by the calls of one SubmitJobs.
struct SubmitState {
  absl::Mutex mu;
  int inflight ABSL_GUARDED_BY(mu) = 0;
  int limit = 1;
  std::vector<uint64_t> ids ABSL_GUARDED_BY(mu);
  grpc::Status error ABSL_GUARDED_BY(mu);
};

struct SubmitCall {
  grpc::ClientContext context;
  v1::SubmitResponse response;
};

}  // namespace

absl::StatusOr<SubmitOutcome> SubmitJobs(const std::vector<v1::JobService::Stub*>& stubs,
                                         const v1::JobSpec& spec, int64_t count, int batch,
                                         int inflight) {
  batch = std::max(1, batch);
  inflight = std::max(1, inflight);
  // Requests are built once and shared read-only by every call: the load
  // generator spends its CPU on gRPC, not on building protos.
  v1::SubmitRequest full;
  for (int i = 0; i < batch; ++i) *full.add_jobs() = spec;
  v1::SubmitRequest rest;
  for (int64_t i = 0; i < count % batch; ++i) *rest.add_jobs() = spec;
  const int64_t calls = count / batch + (count % batch != 0 ? 1 : 0);

  SubmitState state;
  state.limit = inflight;
  {
    absl::MutexLock lock(&state.mu);
    state.ids.reserve(count);
  }
  SubmitOutcome out;
  out.started = absl::Now();
  for (int64_t i = 0; i < calls; ++i) {
    {
      absl::MutexLock lock(&state.mu);
      state.mu.Await(absl::Condition(
          +[](SubmitState* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->inflight < s->limit; },
          &state));
      if (!state.error.ok()) break;
      ++state.inflight;
    }
    auto* call = new SubmitCall;
    call->context.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(120)));
    const v1::SubmitRequest* request = (i == calls - 1 && count % batch != 0) ? &rest : &full;
    stubs[i % stubs.size()]->async()->Submit(
        &call->context, request, &call->response, [&state, call](grpc::Status status) {
          absl::MutexLock lock(&state.mu);
          --state.inflight;
          if (status.ok()) {
            for (const auto& r : call->response.results()) state.ids.push_back(r.id());
          } else if (state.error.ok()) {
            state.error = status;
          }
          delete call;
        });
  }
  absl::MutexLock lock(&state.mu);
  state.mu.Await(absl::Condition(
      +[](SubmitState* s) ABSL_NO_THREAD_SAFETY_ANALYSIS { return s->inflight == 0; }, &state));
  out.elapsed = absl::Now() - out.started;
  if (!state.error.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(state.error.error_code()),
                        absl::StrCat("Submit: ", state.error.error_message()));
  }
  out.ids = std::move(state.ids);
  std::sort(out.ids.begin(), out.ids.end());
  return out;
}

int64_t Terminal(const v1::QueueInfo& info) {
  return info.succeeded() + info.dead() + info.cancelled();
}

absl::StatusOr<absl::Time> WaitForEnded(v1::AdminService::Stub& admin, const std::string& queue,
                                        int64_t before_terminal, int64_t count,
                                        absl::Duration stall_timeout) {
  int64_t last = -1;
  absl::Time last_progress = absl::Now();
  while (true) {
    auto info = GetQueue(admin, queue);
    const absl::Time now = absl::Now();
    if (!info.ok()) return info.status();
    const int64_t ended = Terminal(*info) - before_terminal;
    if (ended >= count) return now;
    if (ended != last) {
      last = ended;
      last_progress = now;
    } else if (now - last_progress > stall_timeout) {
      return absl::DeadlineExceededError(absl::StrCat(
          "stalled: ", ended, " of ", count, " jobs ended; queued=", info->queued(),
          " running=", info->running(), " scheduled=", info->scheduled()));
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
}

absl::StatusOr<Verification> VerifyJobs(v1::JobService::Stub& jobs, const std::string& queue,
                                        const std::vector<uint64_t>& ids,
                                        const std::function<void(const v1::Job&)>& visit) {
  Verification v;
  v.expected = static_cast<int64_t>(ids.size());
  if (ids.empty()) return v;
  std::vector<bool> seen(ids.size(), false);
  v1::ListJobsRequest req;
  req.set_queue(queue);
  req.set_state(v1::JOB_STATE_SUCCEEDED);
  req.set_page_size(1000);
  req.set_omit_payloads(visit == nullptr);
  req.set_page_token(absl::StrCat(ids.front() - 1));
  while (true) {
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
    v1::ListJobsResponse resp;
    grpc::Status s = jobs.ListJobs(&ctx, req, &resp);
    if (!s.ok()) {
      return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                          absl::StrCat("ListJobs: ", s.error_message()));
    }
    bool past_end = false;
    for (const auto& job : resp.jobs()) {
      if (job.id() > ids.back()) {
        past_end = true;
        break;
      }
      auto it = std::lower_bound(ids.begin(), ids.end(), job.id());
      if (it == ids.end() || *it != job.id()) continue;
      const size_t index = it - ids.begin();
      if (seen[index]) continue;
      seen[index] = true;
      ++v.succeeded;
      if (job.attempts() > 1) ++v.duplicates;
      std::string worker = "?";
      for (const auto& attempt : job.history()) {
        if (attempt.outcome() == v1::Attempt::OUTCOME_SUCCEEDED) worker = attempt.worker_name();
      }
      ++v.per_worker[worker];
      if (visit) visit(job);
    }
    if (past_end || resp.next_page_token().empty()) break;
    req.set_page_token(resp.next_page_token());
  }
  v.lost = v.expected - v.succeeded;
  return v;
}

double Fairness(const Verification& v, int workers) {
  if (v.per_worker.empty()) return 0;
  int64_t max = 0;
  int64_t min = std::numeric_limits<int64_t>::max();
  for (const auto& [name, n] : v.per_worker) {
    max = std::max(max, n);
    min = std::min(min, n);
  }
  if (static_cast<int>(v.per_worker.size()) < workers) min = 0;
  if (min == 0) return std::numeric_limits<double>::infinity();
  return static_cast<double>(max) / min;
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

}  // namespace conveyor::bench
