// gRPC integration tests: a real Coordinator (SQLite store in a temp dir) on
// 127.0.0.1:0, real stubs and real worker streams.

#include <grpcpp/grpcpp.h>
#include <grpcpp/generic/generic_stub.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <thread>

#include "absl/time/clock.h"
#include "conveyor/v1/admin_service.grpc.pb.h"
#include "conveyor/v1/job_service.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "server/rpc/coordinator.h"
#include "tests/testing/test_worker.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"

namespace conveyor::testing {
namespace {

using v1::CoordinatorMessage;

class CoordinatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    rpc::CoordinatorOptions options;
    options.listen = "127.0.0.1:0";
    options.data_dir = dir_.path() + "/data";
    options.engine.max_batch = 100;
    auto c = rpc::Coordinator::Start(options);
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = *std::move(c);
    channel_ = grpc::CreateChannel("127.0.0.1:" + std::to_string(coordinator_->port()),
                                   grpc::InsecureChannelCredentials());
    jobs_ = v1::JobService::NewStub(channel_);
    admin_ = v1::AdminService::NewStub(channel_);
  }

  uint64_t Submit(const std::string& queue, const std::string& payload,
                  int max_attempts = 0) {
    v1::SubmitRequest req;
    v1::JobSpec* spec = req.add_jobs();
    spec->set_queue(queue);
    spec->set_type("echo");
    spec->set_payload_text(payload);
    spec->set_max_attempts(max_attempts);
    spec->mutable_backoff()->mutable_initial()->set_nanos(10'000'000);  // 10ms
    spec->mutable_backoff()->mutable_max()->set_nanos(20'000'000);
    v1::SubmitResponse resp;
    grpc::ClientContext ctx;
    grpc::Status s = jobs_->Submit(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return s.ok() ? resp.results(0).id() : 0;
  }

  v1::Job Get(uint64_t id) {
    v1::GetJobRequest req;
    req.set_id(id);
    v1::Job job;
    grpc::ClientContext ctx;
    EXPECT_TRUE(jobs_->GetJob(&ctx, req, &job).ok());
    return job;
  }

  TempDir dir_;
  std::unique_ptr<rpc::Coordinator> coordinator_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(CoordinatorTest, SubmitDispatchCompleteWait) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w1", "q", 1), 0u);
  const uint64_t id = Submit("q", "hello");
  auto m = worker.NextOf(CoordinatorMessage::kAssignment);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->assignment().job().id(), id);
  EXPECT_EQ(m->assignment().job().payload(), "hello");
  EXPECT_EQ(m->assignment().attempt(), 1);
  EXPECT_GT(m->assignment().lease_duration().seconds(), 0);
  ASSERT_TRUE(worker.Complete(id, m->assignment().fencing_token(), "HELLO"));
  auto ack = worker.NextOf(CoordinatorMessage::kAck);
  ASSERT_TRUE(ack);
  EXPECT_TRUE(ack->ack().accepted());

  v1::WaitJobRequest req;
  req.set_id(id);
  v1::Job job;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  ASSERT_TRUE(jobs_->WaitJob(&ctx, req, &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.result(), "HELLO");
}

TEST_F(CoordinatorTest, WaitJobReturnsWhenJobEnds) {
  const uint64_t id = Submit("q", "x");
  v1::Job job;
  grpc::Status status;
  std::thread waiter([&] {
    v1::WaitJobRequest req;
    req.set_id(id);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    status = jobs_->WaitJob(&ctx, req, &job);
  });
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w1", "q", 1), 0u);
  auto m = worker.NextOf(CoordinatorMessage::kAssignment);
  ASSERT_TRUE(m);
  worker.Complete(id, m->assignment().fencing_token(), "done");
  waiter.join();
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
}

TEST_F(CoordinatorTest, WaitJobDeadlineExceeded) {
  const uint64_t id = Submit("q", "x");
  v1::WaitJobRequest req;
  req.set_id(id);
  v1::Job job;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  grpc::Status s = jobs_->WaitJob(&ctx, req, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_EQ(Get(id).state(), v1::JOB_STATE_QUEUED);  // Untouched.
}

TEST_F(CoordinatorTest, FailRetriesThenDeadLettersThenRedrives) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w1", "q", 1), 0u);
  const uint64_t id = Submit("q", "boom", /*max_attempts=*/2);
  for (int attempt = 1; attempt <= 2; ++attempt) {
    auto m = worker.NextOf(CoordinatorMessage::kAssignment);
    ASSERT_TRUE(m) << "attempt " << attempt;
    EXPECT_EQ(m->assignment().attempt(), attempt);
    worker.Fail(id, m->assignment().fencing_token(), "kaput " + std::to_string(attempt));
    auto ack = worker.NextOf(CoordinatorMessage::kAck);
    ASSERT_TRUE(ack && ack->ack().accepted());
  }
  ASSERT_TRUE(WaitFor([&] { return Get(id).state() == v1::JOB_STATE_DEAD; }));
  v1::Job dead = Get(id);
  EXPECT_EQ(dead.dead_reason(), v1::DEAD_REASON_ATTEMPTS_EXHAUSTED);
  EXPECT_EQ(dead.error(), "kaput 2");
  ASSERT_EQ(dead.history_size(), 2);

  v1::ListDeadJobsRequest list_req;
  list_req.set_queue("q");
  v1::ListDeadJobsResponse list;
  grpc::ClientContext list_ctx;
  ASSERT_TRUE(admin_->ListDeadJobs(&list_ctx, list_req, &list).ok());
  ASSERT_EQ(list.jobs_size(), 1);

  v1::RedriveJobsRequest redrive;
  redrive.set_queue("q");
  v1::RedriveJobsResponse redriven;
  grpc::ClientContext redrive_ctx;
  ASSERT_TRUE(admin_->RedriveJobs(&redrive_ctx, redrive, &redriven).ok());
  EXPECT_EQ(redriven.redriven(), 1);
  auto m = worker.NextOf(CoordinatorMessage::kAssignment);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->assignment().attempt(), 1);
  worker.Complete(id, m->assignment().fencing_token(), "ok");
  ASSERT_TRUE(WaitFor([&] { return Get(id).state() == v1::JOB_STATE_SUCCEEDED; }));

  // Redriving a job that is not dead says so.
  v1::RedriveJobsRequest again;
  again.set_queue("q");
  again.add_job_ids(id);
  grpc::ClientContext again_ctx;
  EXPECT_EQ(admin_->RedriveJobs(&again_ctx, again, &redriven).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(CoordinatorTest, TheAnswerToAResultComesBeforeTheNextAssignmentOfItsSlot) {
  // A released job goes straight back to the only worker: the worker must
  // hear that its release was taken before it gets the job again.
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w1", "q", 1), 0u);
  const uint64_t id = Submit("q", "x");
  auto first = worker.NextOf(CoordinatorMessage::kAssignment);
  ASSERT_TRUE(first);
  v1::WorkerMessage release;
  release.mutable_release()->set_job_id(id);
  release.mutable_release()->set_fencing_token(first->assignment().fencing_token());
  ASSERT_TRUE(worker.Send(release));
  auto ack = worker.Next();
  ASSERT_TRUE(ack);
  ASSERT_EQ(ack->kind_case(), CoordinatorMessage::kAck) << ack->ShortDebugString();
  EXPECT_TRUE(ack->ack().accepted());
  EXPECT_EQ(ack->ack().fencing_token(), first->assignment().fencing_token());
  auto again = worker.Next();
  ASSERT_TRUE(again);
  ASSERT_EQ(again->kind_case(), CoordinatorMessage::kAssignment) << again->ShortDebugString();
  EXPECT_EQ(again->assignment().job().id(), id);
  EXPECT_GT(again->assignment().fencing_token(), first->assignment().fencing_token());
}

TEST_F(CoordinatorTest, CancelOfRunningJobReachesWorker) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w1", "q", 1), 0u);
  const uint64_t id = Submit("q", "x");
  auto m = worker.NextOf(CoordinatorMessage::kAssignment);
  ASSERT_TRUE(m);
  v1::CancelJobRequest req;
  req.set_id(id);
  req.set_reason("changed my mind");
  v1::Job job;
  grpc::ClientContext ctx;
  ASSERT_TRUE(jobs_->CancelJob(&ctx, req, &job).ok());
  EXPECT_EQ(job.state(), v1::JOB_STATE_CANCELLED);
  auto cancel = worker.NextOf(CoordinatorMessage::kCancel);
  ASSERT_TRUE(cancel);
  EXPECT_EQ(cancel->cancel().job_id(), id);
  EXPECT_EQ(cancel->cancel().fencing_token(), m->assignment().fencing_token());
  EXPECT_EQ(cancel->cancel().reason(), "changed my mind");
  // Its late result is rejected, and the worker learns so.
  worker.Complete(id, m->assignment().fencing_token(), "late");
  auto ack = worker.NextOf(CoordinatorMessage::kAck);
  ASSERT_TRUE(ack);
  EXPECT_FALSE(ack->ack().accepted());
  EXPECT_EQ(Get(id).state(), v1::JOB_STATE_CANCELLED);
  // Cancelling again: already ended.
  grpc::ClientContext again;
  EXPECT_EQ(jobs_->CancelJob(&again, req, &job).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(CoordinatorTest, RunJobDeadlineCancelsTheJobOnItsWorker) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w1", "q", 1), 0u);
  v1::RunJobRequest req;
  req.mutable_job()->set_queue("q");
  req.mutable_job()->set_type("slow");
  v1::Job job;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
  grpc::Status s = jobs_->RunJob(&ctx, req, &job);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  auto m = worker.NextOf(CoordinatorMessage::kAssignment);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->assignment().has_deadline_in());
  EXPECT_LE(m->assignment().deadline_in().seconds(), 1);
  auto cancel = worker.NextOf(CoordinatorMessage::kCancel);
  ASSERT_TRUE(cancel);
  const uint64_t id = m->assignment().job().id();
  ASSERT_TRUE(WaitFor([&] { return Get(id).state() == v1::JOB_STATE_CANCELLED; }));
}

TEST_F(CoordinatorTest, RunJobCompletes) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w1", "q", 1), 0u);
  std::thread run_worker([&] {
    auto m = worker.NextOf(CoordinatorMessage::kAssignment);
    if (m) worker.Complete(m->assignment().job().id(), m->assignment().fencing_token(), "r");
  });
  v1::RunJobRequest req;
  req.mutable_job()->set_queue("q");
  req.mutable_job()->set_type("t");
  v1::Job job;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::Status s = jobs_->RunJob(&ctx, req, &job);
  run_worker.join();
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(job.state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job.result(), "r");
  EXPECT_TRUE(job.has_deadline());  // The call's deadline became the job's.
}

TEST_F(CoordinatorTest, DisconnectedWorkerLeasesGoToAnotherWorkerAtOnce) {
  auto first = std::make_unique<TestWorker>(channel_);
  ASSERT_NE(first->Hello("w1", "q", 1), 0u);
  const uint64_t id = Submit("q", "x", /*max_attempts=*/5);
  ASSERT_TRUE(first->NextOf(CoordinatorMessage::kAssignment));
  TestWorker second(channel_);
  ASSERT_NE(second.Hello("w2", "q", 1), 0u);
  first->Abort();  // The connection drops; the lease (30s) has not expired.
  auto m = second.NextOf(CoordinatorMessage::kAssignment, absl::Seconds(5));
  ASSERT_TRUE(m);
  EXPECT_EQ(m->assignment().job().id(), id);
  EXPECT_EQ(m->assignment().attempt(), 2);  // The lost attempt counted.
}

TEST_F(CoordinatorTest, WorkerNeverHoldsMoreThanItsConcurrency) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w1", "q", 3), 0u);
  for (int i = 0; i < 10; ++i) Submit("q", std::to_string(i));
  std::vector<v1::Assignment> held;
  while (auto m = worker.NextOf(CoordinatorMessage::kAssignment, absl::Milliseconds(500))) {
    held.push_back(m->assignment());
  }
  EXPECT_EQ(held.size(), 3u);
  // Completing one frees exactly one slot.
  worker.Complete(held[0].job().id(), held[0].fencing_token(), "");
  auto next = worker.NextOf(CoordinatorMessage::kAssignment);
  ASSERT_TRUE(next);
  EXPECT_FALSE(worker.NextOf(CoordinatorMessage::kAssignment, absl::Milliseconds(300)));
}

TEST_F(CoordinatorTest, PrefetchingWorkerHoldsConcurrencyPlusPrefetch) {
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w1", "q", 2, /*max_batch=*/0, /*prefetch=*/3), 0u);
  EXPECT_EQ(worker.welcome().concurrency(), 2);
  EXPECT_EQ(worker.welcome().prefetch(), 3);
  for (int i = 0; i < 10; ++i) Submit("q", std::to_string(i));
  std::vector<v1::Assignment> held;
  while (auto m = worker.NextOf(CoordinatorMessage::kAssignment, absl::Milliseconds(500))) {
    held.push_back(m->assignment());
  }
  EXPECT_EQ(held.size(), 5u);
  worker.Complete(held[0].job().id(), held[0].fencing_token(), "");
  EXPECT_TRUE(worker.NextOf(CoordinatorMessage::kAssignment));
  EXPECT_FALSE(worker.NextOf(CoordinatorMessage::kAssignment, absl::Milliseconds(300)));

  TestWorker negative(channel_);
  EXPECT_EQ(negative.Hello("w2", "q", 1, /*max_batch=*/0, /*prefetch=*/-1), 0u);
  grpc::Status status = negative.Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("hello.prefetch"), std::string::npos)
      << status.error_message();
}

TEST_F(CoordinatorTest, ProtocolErrorsCloseOnlyTheOffendingStream) {
  TestWorker good(channel_);
  ASSERT_NE(good.Hello("good", "q", 1), 0u);
  const uint64_t id = Submit("q", "x");
  auto m = good.NextOf(CoordinatorMessage::kAssignment);
  ASSERT_TRUE(m);

  TestWorker early(channel_);  // Complete before Hello.
  early.Complete(id, m->assignment().fencing_token(), "x");
  auto s = early.WaitClosed();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  TestWorker thief(channel_);  // Another worker's lease token.
  ASSERT_NE(thief.Hello("thief", "other", 1), 0u);
  thief.Complete(id, m->assignment().fencing_token(), "stolen");
  s = thief.WaitClosed();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->error_code(), grpc::StatusCode::PERMISSION_DENIED);

  TestWorker garbage(channel_);  // An empty message after Hello.
  ASSERT_NE(garbage.Hello("garbage", "other", 1), 0u);
  garbage.Send(v1::WorkerMessage());
  s = garbage.WaitClosed();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  // The good worker is undisturbed.
  good.Complete(id, m->assignment().fencing_token(), "fine");
  auto ack = good.NextOf(CoordinatorMessage::kAck);
  ASSERT_TRUE(ack);
  EXPECT_TRUE(ack->ack().accepted());
  EXPECT_EQ(Get(id).result(), "fine");
}

TEST_F(CoordinatorTest, BadInputGetsClearStatus) {
  v1::SubmitRequest req;
  req.add_jobs()->set_queue("a b");
  req.mutable_jobs(0)->set_type("t");
  v1::SubmitResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = jobs_->Submit(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("jobs[0].queue"), std::string::npos) << s.error_message();

  v1::GetJobRequest get;
  get.set_id(424242);
  v1::Job job;
  grpc::ClientContext get_ctx;
  EXPECT_EQ(jobs_->GetJob(&get_ctx, get, &job).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::SubmitRequest big;
  for (int i = 0; i < 101; ++i) {
    big.add_jobs()->set_queue("q");
    big.mutable_jobs(i)->set_type("t");
  }
  grpc::ClientContext big_ctx;
  EXPECT_EQ(jobs_->Submit(&big_ctx, big, &resp).error_code(),
            grpc::StatusCode::RESOURCE_EXHAUSTED);

  // proto3 enums are open: a state no JobState names is refused, not an
  // empty list.
  v1::ListJobsRequest list;
  list.set_state(static_cast<v1::JobState>(42));
  v1::ListJobsResponse listed;
  grpc::ClientContext list_ctx;
  grpc::Status ls = jobs_->ListJobs(&list_ctx, list, &listed);
  EXPECT_EQ(ls.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(ls.error_message().find("state 42"), std::string::npos) << ls.error_message();
}

TEST_F(CoordinatorTest, HealthServes) {
  auto health = grpc::CreateChannel("127.0.0.1:" + std::to_string(coordinator_->port()),
                                    grpc::InsecureChannelCredentials());
  grpc::Slice empty("");  // An empty HealthCheckRequest: the server as a whole.
  grpc::ByteBuffer request_bytes(&empty, 1);
  grpc::GenericStub stub(health);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::ByteBuffer response;
  grpc::Status status;
  absl::Mutex mu;
  bool done = false;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request_bytes,
                 &response, [&](grpc::Status s) {
                   absl::MutexLock lock(&mu);
                   status = s;
                   done = true;
                 });
  ASSERT_TRUE(WaitFor([&] {
    absl::MutexLock lock(&mu);
    return done;
  }));
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
}

TEST_F(CoordinatorTest, HealthKnowsEachServiceAndWatchersHearTheServerStop) {
  auto health = grpc::health::v1::Health::NewStub(channel_);
  for (const std::string service : {"", "conveyor.v1.WorkerService"}) {
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::ClientContext ctx;
    ASSERT_TRUE(health->Check(&ctx, req, &resp).ok()) << service;
    EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING) << service;
  }
  grpc::health::v1::HealthCheckRequest unknown;
  unknown.set_service("no.such.Service");
  grpc::health::v1::HealthCheckResponse resp;
  grpc::ClientContext check_ctx;
  EXPECT_EQ(health->Check(&check_ctx, unknown, &resp).error_code(), grpc::StatusCode::NOT_FOUND);

  grpc::ClientContext watch_ctx;
  watch_ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto watch = health->Watch(&watch_ctx, grpc::health::v1::HealthCheckRequest());
  ASSERT_TRUE(watch->Read(&resp));
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::SERVING);
  std::thread stop([this] { coordinator_->Shutdown(absl::ZeroDuration()); });
  ASSERT_TRUE(watch->Read(&resp));
  EXPECT_EQ(resp.status(), grpc::health::v1::HealthCheckResponse::NOT_SERVING);
  EXPECT_FALSE(watch->Read(&resp));  // The server ended the stream as it stopped.
  EXPECT_FALSE(watch->Finish().ok());
  stop.join();
}

TEST_F(CoordinatorTest, WatchJobStreamsStatesUntilTheEnd) {
  const uint64_t id = Submit("q", "x");
  v1::WatchJobRequest req;
  req.set_id(id);
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  auto reader = jobs_->WatchJob(&ctx, req);
  v1::JobUpdate update;
  ASSERT_TRUE(reader->Read(&update));
  EXPECT_EQ(update.job().state(), v1::JOB_STATE_QUEUED);
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("w1", "q", 1), 0u);
  auto m = worker.NextOf(CoordinatorMessage::kAssignment);
  ASSERT_TRUE(m);
  worker.Complete(id, m->assignment().fencing_token(), "r");
  std::vector<v1::JobState> states;
  while (reader->Read(&update)) states.push_back(update.job().state());
  EXPECT_TRUE(reader->Finish().ok());
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.front(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(states.back(), v1::JOB_STATE_SUCCEEDED);
}

// What a worker read until it held `n` assignments: the assignments and the
// stream messages that carried them.
struct Received {
  std::vector<v1::Assignment> assignments;
  int messages = 0;
  int largest_batch = 0;
};

Received ReadAssignments(TestWorker& worker, size_t n) {
  Received r;
  while (r.assignments.size() < n) {
    auto m = worker.Next();
    if (!m) break;
    if (m->has_assignment()) {
      ++r.messages;
      r.assignments.push_back(m->assignment());
    } else if (m->has_batch()) {
      ++r.messages;
      r.largest_batch = std::max(r.largest_batch, m->batch().messages_size());
      for (const auto& inner : m->batch().messages()) {
        EXPECT_TRUE(inner.has_assignment()) << inner.DebugString();
        if (inner.has_assignment()) r.assignments.push_back(inner.assignment());
      }
    }
  }
  return r;
}

// The ResultAcks in the next messages until `n` of them came, batches unpacked.
std::vector<v1::ResultAck> ReadAcks(TestWorker& worker, size_t n, int* batches = nullptr) {
  std::vector<v1::ResultAck> acks;
  while (acks.size() < n) {
    auto m = worker.Next();
    if (!m) break;
    if (m->has_ack()) acks.push_back(m->ack());
    if (m->has_batch()) {
      if (batches != nullptr) ++*batches;
      for (const auto& inner : m->batch().messages()) {
        if (inner.has_ack()) acks.push_back(inner.ack());
      }
    }
  }
  return acks;
}

TEST_F(CoordinatorTest, BatchingWorkerGetsWhatPiledUpInOneMessage) {
  // Jobs wait before the worker connects: the engine assigns all ten while
  // Welcome is being written, so they pile up behind it.
  std::vector<uint64_t> ids;
  for (int i = 0; i < 10; ++i) ids.push_back(Submit("q", "p" + std::to_string(i)));
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("batcher", "q", 10, /*max_batch=*/64), 0u);
  EXPECT_EQ(worker.welcome().max_batch(), 64);
  EXPECT_EQ(worker.welcome().max_worker_batch(), 1000);
  Received r = ReadAssignments(worker, 10);
  ASSERT_EQ(r.assignments.size(), 10u);
  EXPECT_LT(r.messages, 10);
  EXPECT_GT(r.largest_batch, 1);
  // Assignments carry what a worker needs, not the job's history.
  EXPECT_EQ(r.assignments[0].job().payload(), "p0");
  EXPECT_EQ(r.assignments[0].job().state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(r.assignments[0].job().history_size(), 0);
  EXPECT_EQ(r.assignments[0].attempt(), 1);

  // One WorkerBatch of results: each is acked, stale ones rejected.
  v1::WorkerMessage batch;
  for (size_t i = 0; i < r.assignments.size(); ++i) {
    const v1::Assignment& a = r.assignments[i];
    v1::WorkerMessage* inner = batch.mutable_batch()->add_messages();
    if (i == 9) {
      inner->mutable_fail()->set_job_id(a.job().id());
      inner->mutable_fail()->set_fencing_token(a.fencing_token());
      inner->mutable_fail()->set_error("no");
      inner->mutable_fail()->set_permanent(true);
    } else {
      inner->mutable_complete()->set_job_id(a.job().id());
      inner->mutable_complete()->set_fencing_token(a.fencing_token());
      inner->mutable_complete()->set_result("r" + std::to_string(a.job().id()));
    }
  }
  // A second report of job 0 in the same batch: its lease is already gone.
  *batch.mutable_batch()->add_messages() = batch.batch().messages(0);
  ASSERT_TRUE(worker.Send(batch));
  std::vector<v1::ResultAck> acks = ReadAcks(worker, 11);
  ASSERT_EQ(acks.size(), 11u);
  int accepted = 0;
  for (const auto& ack : acks) accepted += ack.accepted() ? 1 : 0;
  EXPECT_EQ(accepted, 10);
  for (size_t i = 0; i < 9; ++i) {
    const uint64_t id = r.assignments[i].job().id();
    EXPECT_EQ(Get(id).state(), v1::JOB_STATE_SUCCEEDED);
    EXPECT_EQ(Get(id).result(), "r" + std::to_string(id));
  }
  EXPECT_EQ(Get(r.assignments[9].job().id()).state(), v1::JOB_STATE_DEAD);
}

TEST_F(CoordinatorTest, WorkerBatchAnswersEachResultByItsOwnLease) {
  std::vector<uint64_t> ids;
  for (int i = 0; i < 4; ++i) ids.push_back(Submit("q", "p" + std::to_string(i)));
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("mixed", "q", 4, /*max_batch=*/64), 0u);
  Received r = ReadAssignments(worker, 4);
  ASSERT_EQ(r.assignments.size(), 4u);
  const v1::Assignment& a0 = r.assignments[0];
  const v1::Assignment& a1 = r.assignments[1];
  const v1::Assignment& a2 = r.assignments[2];
  const v1::Assignment& a3 = r.assignments[3];

  auto complete = [](v1::WorkerMessage* m, uint64_t job, uint64_t token, std::string result) {
    m->mutable_complete()->set_job_id(job);
    m->mutable_complete()->set_fencing_token(token);
    m->mutable_complete()->set_result(std::move(result));
  };
  const int32_t a3_percent = Get(a3.job().id()).progress().percent();
  v1::WorkerMessage batch;
  auto* messages = batch.mutable_batch();
  complete(messages->add_messages(), a0.job().id(), a0.fencing_token(), "r0");
  // A token that was never granted: rejected, the others go on.
  complete(messages->add_messages(), a1.job().id(), a1.fencing_token() + 7, "stale");
  messages->add_messages()->mutable_heartbeat();
  complete(messages->add_messages(), 987654, 1, "unknown job");
  v1::WorkerMessage* progress = messages->add_messages();
  progress->mutable_progress()->set_job_id(a3.job().id());
  progress->mutable_progress()->set_fencing_token(a3.fencing_token() + 1);  // Stale: no answer.
  progress->mutable_progress()->mutable_progress()->set_percent(10);
  v1::WorkerMessage* release = messages->add_messages();
  release->mutable_release()->set_job_id(a2.job().id());
  release->mutable_release()->set_fencing_token(a2.fencing_token());
  complete(messages->add_messages(), a1.job().id(), a1.fencing_token(), "r1");
  ASSERT_TRUE(worker.Send(batch));

  // Five answers: progress gets none. The released job comes back to this
  // worker (it has room), as an assignment.
  std::map<std::pair<uint64_t, uint64_t>, v1::ResultAck> acks;
  for (const v1::ResultAck& ack : ReadAcks(worker, 5)) {
    acks[{ack.job_id(), ack.fencing_token()}] = ack;
  }
  ASSERT_EQ(acks.size(), 5u);
  auto ack_of = [&](uint64_t job, uint64_t token) {
    auto it = acks.find({job, token});
    return it == acks.end() ? v1::ResultAck() : it->second;
  };
  EXPECT_TRUE(ack_of(a0.job().id(), a0.fencing_token()).accepted());
  EXPECT_TRUE(ack_of(a1.job().id(), a1.fencing_token()).accepted());
  EXPECT_TRUE(ack_of(a2.job().id(), a2.fencing_token()).accepted());
  const v1::ResultAck stale = ack_of(a1.job().id(), a1.fencing_token() + 7);
  EXPECT_EQ(stale.job_id(), a1.job().id());
  EXPECT_FALSE(stale.accepted());
  EXPECT_NE(stale.reason().find("no longer current"), std::string::npos) << stale.reason();
  const v1::ResultAck unknown = ack_of(987654, 1);
  EXPECT_EQ(unknown.job_id(), 987654u);
  EXPECT_FALSE(unknown.accepted());
  EXPECT_NE(unknown.reason().find("987654"), std::string::npos) << unknown.reason();

  EXPECT_EQ(Get(a0.job().id()).result(), "r0");
  EXPECT_EQ(Get(a1.job().id()).result(), "r1");
  EXPECT_EQ(Get(a3.job().id()).state(), v1::JOB_STATE_RUNNING);
  EXPECT_EQ(Get(a3.job().id()).progress().percent(), a3_percent)
      << "a stale progress changed nothing";
  EXPECT_EQ(Get(a2.job().id()).attempts(), 1) << "released, then assigned again";
}

TEST_F(CoordinatorTest, WorkerBatchWithAnotherWorkersLeaseEndsTheStreamAfterWhatCameBefore) {
  TestWorker other(channel_);
  ASSERT_NE(other.Hello("other", "q", 1), 0u);
  const uint64_t theirs_id = Submit("q", "theirs");
  auto theirs = other.NextOf(CoordinatorMessage::kAssignment);
  ASSERT_TRUE(theirs);
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("thief", "q", 2, /*max_batch=*/64), 0u);
  Submit("q", "a");
  Submit("q", "b");
  Received r = ReadAssignments(worker, 2);
  ASSERT_EQ(r.assignments.size(), 2u);

  v1::WorkerMessage batch;
  auto add = [&](uint64_t job, uint64_t token) {
    v1::WorkerMessage* m = batch.mutable_batch()->add_messages();
    m->mutable_complete()->set_job_id(job);
    m->mutable_complete()->set_fencing_token(token);
  };
  add(r.assignments[0].job().id(), r.assignments[0].fencing_token());
  add(theirs_id, theirs->assignment().fencing_token());
  add(r.assignments[1].job().id(), r.assignments[1].fencing_token());
  ASSERT_TRUE(worker.Send(batch));
  auto s = worker.WaitClosed();
  ASSERT_TRUE(s);
  EXPECT_EQ(s->error_code(), grpc::StatusCode::PERMISSION_DENIED);
  // The result before the bad one stands; the one after it was not applied
  // (its lease went back to the queue with the stream).
  EXPECT_EQ(Get(r.assignments[0].job().id()).state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_NE(Get(r.assignments[1].job().id()).state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(Get(theirs_id).state(), v1::JOB_STATE_RUNNING);
}

TEST_F(CoordinatorTest, BatchesRespectTheWorkersMaxBatch) {
  for (int i = 0; i < 12; ++i) Submit("q", "x");
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("small", "q", 12, /*max_batch=*/4), 0u);
  EXPECT_EQ(worker.welcome().max_batch(), 4);
  Received r = ReadAssignments(worker, 12);
  ASSERT_EQ(r.assignments.size(), 12u);
  EXPECT_LE(r.largest_batch, 4);
  EXPECT_GE(r.messages, 3);
}

TEST_F(CoordinatorTest, OldStyleWorkerGetsSingleMessagesAndMaySendBatches) {
  for (int i = 0; i < 10; ++i) Submit("q", "x");
  TestWorker worker(channel_);
  ASSERT_NE(worker.Hello("old", "q", 10), 0u);  // No max_batch: it predates batching.
  EXPECT_EQ(worker.welcome().max_batch(), 0);
  Received r = ReadAssignments(worker, 10);
  ASSERT_EQ(r.assignments.size(), 10u);
  EXPECT_EQ(r.messages, 10);
  EXPECT_EQ(r.largest_batch, 0);
  // The coordinator still accepts a WorkerBatch from it; acks come singly.
  v1::WorkerMessage batch;
  for (const auto& a : r.assignments) {
    v1::WorkerMessage* inner = batch.mutable_batch()->add_messages();
    inner->mutable_complete()->set_job_id(a.job().id());
    inner->mutable_complete()->set_fencing_token(a.fencing_token());
  }
  ASSERT_TRUE(worker.Send(batch));
  int batches = 0;
  std::vector<v1::ResultAck> acks = ReadAcks(worker, 10, &batches);
  ASSERT_EQ(acks.size(), 10u);
  EXPECT_EQ(batches, 0);
  for (const auto& ack : acks) EXPECT_TRUE(ack.accepted()) << ack.reason();
}

TEST_F(CoordinatorTest, MalformedWorkerBatchesCloseTheStream) {
  {
    TestWorker early(channel_);  // A batch before Hello.
    v1::WorkerMessage m;
    m.mutable_batch()->add_messages()->mutable_heartbeat();
    early.Send(m);
    auto s = early.WaitClosed();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
  {
    TestWorker empty(channel_);
    ASSERT_NE(empty.Hello("empty", "q", 1, 8), 0u);
    v1::WorkerMessage m;
    m.mutable_batch();
    empty.Send(m);
    auto s = empty.WaitClosed();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s->error_message().find("WorkerBatch holds 0 messages"), std::string::npos)
        << s->error_message();
  }
  {
    TestWorker nested(channel_);
    ASSERT_NE(nested.Hello("nested", "q", 1, 8), 0u);
    v1::WorkerMessage m;
    m.mutable_batch()->add_messages()->mutable_heartbeat();
    m.mutable_batch()->add_messages()->mutable_hello()->set_name("again");
    nested.Send(m);
    auto s = nested.WaitClosed();
    ASSERT_TRUE(s);
    EXPECT_EQ(s->error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(s->error_message().find("WorkerBatch.messages[1] is a Hello"), std::string::npos)
        << s->error_message();
  }
}

}  // namespace
}  // namespace conveyor::testing
