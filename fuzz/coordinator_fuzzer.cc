// libFuzzer target over the coordinator's request handling. An input decodes
// (FuzzedDataProvider) to a sequence of operations on a fresh
// InProcessCoordinator: JobService and AdminService calls with random
// fields, WorkerService streams sending random message sequences (reports
// for real leases or made-up ones), and clock advances. After the sequence
// every stream is closed and the engine/store invariants are checked.
//
// Build: a clang asan build (scripts/sanitize.sh). Run over the corpus:
//   build-asan/fuzz/coordinator_fuzzer fuzz/corpus/coordinator fuzz/regression
// Every crash it finds goes into fuzz/regression/ (the ctest runs those).

#include <fuzzer/FuzzedDataProvider.h>
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "fuzz/in_process_coordinator.h"
#include "fuzz/worker_stream.h"

namespace conveyor::fuzz {
namespace {

constexpr int kMaxOperations = 64;
constexpr size_t kMaxStreams = 3;

// Names that mean something to the coordinator, and some that break rules.
constexpr std::array<const char*, 10> kNames = {
    "default", "q1", "q2", "echo", "", "a b", "bad/name", "-", "q.x_y-z", "caf\xc3\xa9"};

class Session {
 public:
  explicit Session(FuzzedDataProvider& in) : in_(in) {}

  void Run() {
    for (int i = 0; i < kMaxOperations && in_.remaining_bytes() > 0; ++i) Step();
    for (auto& w : workers_) w->Close(/*cancel=*/in_.ConsumeBool());
    coordinator_.CheckInvariants(/*live_workers=*/0);
  }

 private:
  std::string Name() {
    if (in_.ConsumeIntegralInRange(0, 7) != 0) {
      return kNames[in_.ConsumeIntegralInRange<size_t>(0, kNames.size() - 1)];
    }
    if (in_.ConsumeBool()) return std::string(in_.ConsumeIntegralInRange(120, 140), 'n');
    return Text(24);
  }

  std::string Bytes(size_t max) { return in_.ConsumeRandomLengthString(max); }

  // For proto string fields, which must be UTF-8 (else gRPC refuses the
  // message before our code sees it): any ASCII, control bytes included.
  std::string Text(size_t max) {
    std::string s = in_.ConsumeRandomLengthString(max);
    for (char& c : s) c = static_cast<char>(c & 0x7f);
    return s;
  }

  // A job id: one handed out so far (mostly), or any.
  uint64_t JobId() {
    if (!ids_.empty() && in_.ConsumeIntegralInRange(0, 3) != 0) {
      return ids_[in_.ConsumeIntegralInRange<size_t>(0, ids_.size() - 1)];
    }
    return in_.ConsumeBool() ? in_.ConsumeIntegralInRange<uint64_t>(0, 40)
                             : in_.ConsumeIntegral<uint64_t>();
  }

  void Duration(google::protobuf::Duration* d) {
    switch (in_.ConsumeIntegralInRange(0, 3)) {
      case 0:  // Plausible.
        d->set_seconds(in_.ConsumeIntegralInRange<int64_t>(0, 7200));
        d->set_nanos(in_.ConsumeIntegralInRange(0, 999'999'999));
        break;
      case 1:  // Tiny.
        d->set_nanos(in_.ConsumeIntegralInRange(-1000, 1'000'000));
        break;
      case 2:  // Anything at all.
        d->set_seconds(in_.ConsumeIntegral<int64_t>());
        d->set_nanos(in_.ConsumeIntegral<int32_t>());
        break;
      default:  // The edges of the documented range.
        d->set_seconds(in_.ConsumeBool() ? 315576000000 : -315576000000);
        d->set_nanos(in_.ConsumeBool() ? 999'999'999 : -999'999'999);
        break;
    }
  }

  void Timestamp(google::protobuf::Timestamp* t) {
    const int64_t now = absl::ToUnixSeconds(coordinator_.Now());
    if (in_.ConsumeBool()) {
      t->set_seconds(now + in_.ConsumeIntegralInRange<int64_t>(-3600, 3600));
      t->set_nanos(in_.ConsumeIntegralInRange(0, 999'999'999));
    } else {
      t->set_seconds(in_.ConsumeIntegral<int64_t>());
      t->set_nanos(in_.ConsumeIntegral<int32_t>());
    }
  }

  void Backoff(v1::BackoffPolicy* b) {
    if (in_.ConsumeBool()) Duration(b->mutable_initial());
    if (in_.ConsumeBool()) Duration(b->mutable_max());
    if (in_.ConsumeBool()) {
      b->set_multiplier(in_.ConsumeBool() ? in_.ConsumeFloatingPointInRange(-2.0, 10.0)
                                          : in_.ConsumeFloatingPoint<double>());
    }
  }

  void Spec(v1::JobSpec* spec) {
    spec->set_queue(Name());
    spec->set_type(Name());
    if (in_.ConsumeBool()) {
      spec->set_payload(Bytes(80));
    } else if (in_.ConsumeBool()) {
      spec->set_payload_text(Text(80));
    }
    if (in_.ConsumeBool()) spec->set_priority(in_.ConsumeIntegral<int32_t>());
    switch (in_.ConsumeIntegralInRange(0, 2)) {
      case 1: Duration(spec->mutable_delay()); break;
      case 2: Timestamp(spec->mutable_run_at()); break;
      default: break;
    }
    if (in_.ConsumeBool()) spec->set_max_attempts(in_.ConsumeIntegralInRange(-1, 4));
    if (in_.ConsumeBool()) Backoff(spec->mutable_backoff());
    if (in_.ConsumeBool()) Duration(spec->mutable_attempt_timeout());
    switch (in_.ConsumeIntegralInRange(0, 2)) {
      case 1: Timestamp(spec->mutable_deadline()); break;
      case 2: Duration(spec->mutable_timeout()); break;
      default: break;
    }
    if (in_.ConsumeBool()) spec->set_idempotency_key(Text(8));
    const int labels = in_.ConsumeIntegralInRange(0, 2);
    for (int i = 0; i < labels; ++i) (*spec->mutable_labels())[Text(8)] = Text(8);
  }

  // A context for a unary call; waiting calls get a deadline of a few ms.
  std::unique_ptr<grpc::ClientContext> Context(bool waits = false) {
    auto context = std::make_unique<grpc::ClientContext>();
    if (waits) {
      context->set_deadline(std::chrono::system_clock::now() +
                            std::chrono::milliseconds(in_.ConsumeIntegralInRange(0, 3)));
    }
    return context;
  }

  WorkerStream* Stream() {
    if (workers_.empty()) return nullptr;
    return workers_[in_.ConsumeIntegralInRange<size_t>(0, workers_.size() - 1)].get();
  }

  // Lets every stream catch up, so the next step sees what they were sent.
  void SyncAll() {
    for (auto& w : workers_) w->Sync();
  }

  // Streams the coordinator should hold a worker for (after SyncAll).
  size_t LiveWorkers() const {
    return std::count_if(workers_.begin(), workers_.end(),
                         [](const auto& w) { return w->hello_sent() && !w->ended(); });
  }

  // Job id and token for a report: a real lease (mostly) or made up.
  void Lease(WorkerStream& w, uint64_t* job_id, uint64_t* token) {
    WorkerStream::Lease lease;
    if (in_.ConsumeIntegralInRange(0, 4) != 0 &&
        w.PickLease(in_.ConsumeIntegral<uint64_t>(), &lease)) {
      *job_id = lease.job_id;
      *token = lease.token + (in_.ConsumeIntegralInRange(0, 7) == 0 ? 1 : 0);
    } else {
      *job_id = JobId();
      *token = in_.ConsumeIntegralInRange<uint64_t>(0, 50);
    }
  }

  void WorkerStep() {
    if (workers_.empty() || (workers_.size() < kMaxStreams && in_.ConsumeIntegralInRange(0, 5) == 0)) {
      workers_.push_back(std::make_unique<WorkerStream>(coordinator_.workers()));
    }
    WorkerStream* w = Stream();
    SyncAll();
    v1::WorkerMessage m;
    switch (in_.ConsumeIntegralInRange(0, 9)) {
      case 0: {
        v1::Hello* h = m.mutable_hello();
        h->set_name(Text(16));
        const int queues = in_.ConsumeIntegralInRange(0, 3);
        for (int i = 0; i < queues; ++i) h->add_queues(Name());
        const int types = in_.ConsumeIntegralInRange(0, 2);
        for (int i = 0; i < types; ++i) h->add_types(Name());
        h->set_concurrency(in_.ConsumeBool() ? in_.ConsumeIntegralInRange(-1, 6)
                                             : in_.ConsumeIntegral<int32_t>());
        if (in_.ConsumeBool()) (*h->mutable_labels())[Text(8)] = Text(8);
        break;
      }
      case 1:
        m.mutable_set_concurrency()->set_concurrency(in_.ConsumeBool()
                                                         ? in_.ConsumeIntegralInRange(-1, 6)
                                                         : in_.ConsumeIntegral<int32_t>());
        break;
      case 2:
        m.mutable_heartbeat();
        break;
      case 3: {
        v1::ReportProgress* p = m.mutable_progress();
        uint64_t job_id, token;
        Lease(*w, &job_id, &token);
        p->set_job_id(job_id);
        p->set_fencing_token(token);
        p->mutable_progress()->set_percent(in_.ConsumeIntegralInRange(-5, 105));
        p->mutable_progress()->set_message(Text(80));
        break;
      }
      case 4:
      case 5: {
        v1::CompleteJob* c = m.mutable_complete();
        uint64_t job_id, token;
        Lease(*w, &job_id, &token);
        c->set_job_id(job_id);
        c->set_fencing_token(token);
        c->set_result(Bytes(80));
        break;
      }
      case 6:
      case 7: {
        v1::FailJob* f = m.mutable_fail();
        uint64_t job_id, token;
        Lease(*w, &job_id, &token);
        f->set_job_id(job_id);
        f->set_fencing_token(token);
        f->set_error(Text(40));
        f->set_permanent(in_.ConsumeBool());
        break;
      }
      case 8: {
        v1::ReleaseJob* r = m.mutable_release();
        uint64_t job_id, token;
        Lease(*w, &job_id, &token);
        r->set_job_id(job_id);
        r->set_fencing_token(token);
        break;
      }
      default:
        if (in_.ConsumeBool()) {
          w->Close(/*cancel=*/in_.ConsumeBool());
          return;
        }
        break;  // An empty message.
    }
    w->Write(m);
  }

  void Step() {
    switch (in_.ConsumeIntegralInRange(0, 17)) {
      case 0:
      case 1: {
        v1::SubmitRequest req;
        const int n = in_.ConsumeIntegralInRange(0, 9);
        for (int i = 0; i < n; ++i) Spec(req.add_jobs());
        v1::SubmitResponse resp;
        if (coordinator_.jobs().Submit(Context().get(), req, &resp).ok()) {
          for (const auto& r : resp.results()) ids_.push_back(r.id());
        }
        break;
      }
      case 2: {
        v1::GetJobRequest req;
        req.set_id(JobId());
        v1::Job resp;
        (void)coordinator_.jobs().GetJob(Context().get(), req, &resp);
        break;
      }
      case 3: {
        v1::ListJobsRequest req;
        if (in_.ConsumeBool()) req.set_queue(Name());
        req.set_state(static_cast<v1::JobState>(in_.ConsumeIntegralInRange(-1, 7)));
        req.set_page_size(in_.ConsumeBool() ? in_.ConsumeIntegralInRange(-2, 3)
                                            : in_.ConsumeIntegral<int32_t>());
        if (in_.ConsumeBool()) {
          req.set_page_token(in_.ConsumeBool() ? std::to_string(JobId()) : Text(24));
        }
        req.set_omit_payloads(in_.ConsumeBool());
        v1::ListJobsResponse resp;
        const grpc::Status s = coordinator_.jobs().ListJobs(Context().get(), req, &resp);
        if (s.ok() && !v1::JobState_IsValid(req.state())) {
          std::fprintf(stderr, "ListJobs took state %d, which no JobState names\n", req.state());
          std::abort();
        }
        break;
      }
      case 4: {
        v1::CancelJobRequest req;
        req.set_id(JobId());
        req.set_reason(Text(40));
        v1::Job resp;
        (void)coordinator_.jobs().CancelJob(Context().get(), req, &resp);
        break;
      }
      case 5: {
        v1::WaitJobRequest req;
        req.set_id(JobId());
        v1::Job resp;
        (void)coordinator_.jobs().WaitJob(Context(/*waits=*/true).get(), req, &resp);
        break;
      }
      case 6: {
        v1::RunJobRequest req;
        Spec(req.mutable_job());
        v1::Job resp;
        (void)coordinator_.jobs().RunJob(Context(/*waits=*/true).get(), req, &resp);
        break;
      }
      case 7: {
        v1::WatchJobRequest req;
        req.set_id(JobId());
        auto context = Context(/*waits=*/true);
        auto reader = coordinator_.jobs().WatchJob(context.get(), req);
        v1::JobUpdate update;
        for (int i = in_.ConsumeIntegralInRange(0, 3); i > 0 && reader->Read(&update); --i) {
        }
        context->TryCancel();
        while (reader->Read(&update)) {
        }
        (void)reader->Finish();
        break;
      }
      case 8: {
        if (in_.ConsumeBool()) {
          v1::ListQueuesResponse resp;
          (void)coordinator_.admin().ListQueues(Context().get(), v1::ListQueuesRequest(), &resp);
        } else {
          v1::GetQueueRequest req;
          req.set_name(Name());
          v1::QueueInfo resp;
          (void)coordinator_.admin().GetQueue(Context().get(), req, &resp);
        }
        break;
      }
      case 9: {
        v1::UpdateQueueRequest req;
        req.set_name(Name());
        v1::QueueSettings* s = req.mutable_settings();
        if (in_.ConsumeBool()) s->set_max_attempts(in_.ConsumeIntegralInRange(-1, 5));
        if (in_.ConsumeBool()) Backoff(s->mutable_backoff());
        if (in_.ConsumeBool()) Duration(s->mutable_lease_duration());
        if (in_.ConsumeBool()) s->set_max_depth(in_.ConsumeIntegralInRange<int64_t>(-1, 5));
        if (in_.ConsumeBool()) s->set_max_running(in_.ConsumeIntegralInRange(-1, 3));
        if (in_.ConsumeBool()) {
          s->set_rate_limit(in_.ConsumeBool() ? in_.ConsumeFloatingPointInRange(-1.0, 5.0)
                                              : in_.ConsumeFloatingPoint<double>());
        }
        if (in_.ConsumeBool()) s->set_paused(in_.ConsumeBool());
        if (in_.ConsumeBool()) Duration(s->mutable_retention());
        v1::QueueInfo resp;
        (void)coordinator_.admin().UpdateQueue(Context().get(), req, &resp);
        break;
      }
      case 10: {
        SyncAll();
        v1::ListWorkersResponse resp;
        (void)coordinator_.admin().ListWorkers(Context().get(), v1::ListWorkersRequest(), &resp);
        break;
      }
      case 11: {
        v1::ListDeadJobsRequest req;
        if (in_.ConsumeBool()) req.set_queue(Name());
        req.set_page_size(in_.ConsumeIntegralInRange(-2, 3));
        if (in_.ConsumeBool()) req.set_page_token(Text(24));
        v1::ListDeadJobsResponse resp;
        (void)coordinator_.admin().ListDeadJobs(Context().get(), req, &resp);
        break;
      }
      case 12: {
        const bool redrive = in_.ConsumeBool();
        std::string queue = Name();
        std::vector<uint64_t> ids;
        for (int i = in_.ConsumeIntegralInRange(0, 3); i > 0; --i) ids.push_back(JobId());
        if (redrive) {
          v1::RedriveJobsRequest req;
          req.set_queue(queue);
          for (uint64_t id : ids) req.add_job_ids(id);
          v1::RedriveJobsResponse resp;
          (void)coordinator_.admin().RedriveJobs(Context().get(), req, &resp);
        } else {
          v1::PurgeDeadJobsRequest req;
          req.set_queue(queue);
          for (uint64_t id : ids) req.add_job_ids(id);
          v1::PurgeDeadJobsResponse resp;
          (void)coordinator_.admin().PurgeDeadJobs(Context().get(), req, &resp);
        }
        break;
      }
      case 13: {
        SyncAll();
        // Seconds to days: leases expire, delayed jobs come due, retention ends.
        const int64_t ms = in_.ConsumeBool() ? in_.ConsumeIntegralInRange<int64_t>(0, 60'000)
                                             : in_.ConsumeIntegralInRange<int64_t>(0, 2 * 86'400'000);
        coordinator_.Advance(absl::Milliseconds(ms));
        break;
      }
      case 14:
        if (in_.ConsumeIntegralInRange(0, 15) == 0) {
          coordinator_.engine().BeginDrain(absl::Seconds(in_.ConsumeIntegralInRange(0, 30)));
        }
        break;
      default:
        WorkerStep();
        break;
    }
    if (in_.ConsumeIntegralInRange(0, 7) == 0) {
      SyncAll();
      coordinator_.CheckInvariants(LiveWorkers());
    }
  }

  FuzzedDataProvider& in_;
  InProcessCoordinator coordinator_;
  std::vector<uint64_t> ids_;
  std::vector<std::unique_ptr<WorkerStream>> workers_;
};

}  // namespace
}  // namespace conveyor::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  conveyor::fuzz::Session(in).Run();
  return 0;
}
