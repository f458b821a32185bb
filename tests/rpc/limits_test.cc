// Limits that keep one bad client from hurting the rest: each over real gRPC
// against an in-process Coordinator on 127.0.0.1:0, each checking the status
// code, its message, and that the refused call changed nothing.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "client/status_conversion.h"
#include "conveyor/v1/admin_service.grpc.pb.h"
#include "conveyor/v1/job_service.grpc.pb.h"
#include "server/rpc/coordinator.h"
#include "tests/testing/test_worker.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/wait_for.h"

namespace conveyor::testing {
namespace {

using v1::CoordinatorMessage;

std::chrono::system_clock::time_point In(absl::Duration d) {
  return absl::ToChronoTime(absl::Now() + d);
}

// `status` has `code` and a message containing `text`.
::testing::AssertionResult HasStatus(const grpc::Status& status, grpc::StatusCode code,
                                     const std::string& text) {
  if (status.error_code() == code && status.error_message().find(text) != std::string::npos) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "got code " << status.error_code() << " \""
                                       << status.error_message() << "\"; want code " << code
                                       << " with \"" << text << "\"";
}

class LimitsTest : public ::testing::Test {
 protected:
  // Starts the coordinator with options changed by `configure`.
  void Start(const std::function<void(rpc::CoordinatorOptions&)>& configure) {
    rpc::CoordinatorOptions options;
    options.listen = "127.0.0.1:0";
    options.data_dir = dir_.path() + "/data";
    configure(options);
    auto c = rpc::Coordinator::Start(options);
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = *std::move(c);
    channel_ = NewChannel();
    jobs_ = v1::JobService::NewStub(channel_);
    admin_ = v1::AdminService::NewStub(channel_);
  }

  std::shared_ptr<grpc::Channel> NewChannel() {
    grpc::ChannelArguments args;
    args.SetMaxReceiveMessageSize(64 << 20);
    // Separate channels get separate connections, as separate clients would.
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    return grpc::CreateCustomChannel("127.0.0.1:" + std::to_string(coordinator_->port()),
                                     grpc::InsecureChannelCredentials(), args);
  }

  static v1::JobSpec Spec(const std::string& queue, std::string payload = "x") {
    v1::JobSpec spec;
    spec.set_queue(queue);
    spec.set_type("echo");
    spec.set_payload(std::move(payload));
    return spec;
  }

  grpc::Status SubmitAll(const std::vector<v1::JobSpec>& specs,
                         v1::SubmitResponse* response = nullptr) {
    v1::SubmitRequest req;
    for (const auto& s : specs) *req.add_jobs() = s;
    v1::SubmitResponse ignored;
    grpc::ClientContext ctx;
    // A hang guard only: 10 MB batches take over 10 s under ASan on 2 busy cores.
    ctx.set_deadline(In(absl::Seconds(60)));
    return jobs_->Submit(&ctx, req, response != nullptr ? response : &ignored);
  }

  uint64_t SubmitOne(const std::string& queue, std::string payload = "x") {
    v1::SubmitResponse resp;
    grpc::Status s = SubmitAll({Spec(queue, std::move(payload))}, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return s.ok() ? resp.results(0).id() : 0;
  }

  int JobCount() {
    v1::ListJobsRequest req;
    req.set_page_size(1000);
    req.set_omit_payloads(true);
    v1::ListJobsResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(jobs_->ListJobs(&ctx, req, &resp).ok());
    return resp.jobs_size();
  }

  std::vector<std::string> QueueNames() {
    v1::ListQueuesResponse resp;
    grpc::ClientContext ctx;
    EXPECT_TRUE(admin_->ListQueues(&ctx, v1::ListQueuesRequest(), &resp).ok());
    std::vector<std::string> names;
    for (const auto& q : resp.queues()) names.push_back(q.name());
    return names;
  }

  std::vector<v1::WorkerInfo> Workers() {
    v1::ListWorkersResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(5)));
    EXPECT_TRUE(admin_->ListWorkers(&ctx, v1::ListWorkersRequest(), &resp).ok());
    return {resp.workers().begin(), resp.workers().end()};
  }

  v1::JobState StateOf(uint64_t id) {
    v1::GetJobRequest req;
    req.set_id(id);
    v1::Job job;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(absl::Seconds(5)));
    grpc::Status s = jobs_->GetJob(&ctx, req, &job);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return job.state();
  }

  // A raw worker stream that only ever writes: Hello as "stuck", then
  // (FloodUntilEnded) results for jobs it does not hold, each answered with
  // an ack it never reads.
  struct StuckWorker {
    std::shared_ptr<grpc::Channel> channel;
    std::unique_ptr<v1::WorkerService::Stub> stub;
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReaderWriter<v1::WorkerMessage, v1::CoordinatorMessage>> stream;
    uint64_t bogus = 1'000'000;
  };
  std::unique_ptr<StuckWorker> ConnectStuck(const std::string& queue, int concurrency) {
    auto w = std::make_unique<StuckWorker>();
    w->channel = NewChannel();
    w->stub = v1::WorkerService::NewStub(w->channel);
    w->context.set_deadline(In(absl::Seconds(120)));
    w->stream = w->stub->Connect(&w->context);
    v1::WorkerMessage hello;
    hello.mutable_hello()->set_name("stuck");
    hello.mutable_hello()->add_queues(queue);
    hello.mutable_hello()->set_concurrency(concurrency);
    EXPECT_TRUE(w->stream->Write(hello));
    return w;
  }
  // The stuck worker's leases; -1 once the coordinator dropped it.
  int StuckLeases() {
    for (const auto& w : Workers()) {
      if (w.name() == "stuck") return w.leases_size();
    }
    return -1;
  }
  // Writes until the coordinator ends the stuck worker; false if it never does.
  bool FloodUntilEnded(StuckWorker& w) {
    return WaitFor(
        [&] {
          for (int i = 0; i < 50; ++i) {
            v1::WorkerMessage m;
            m.mutable_complete()->set_job_id(++w.bogus);
            m.mutable_complete()->set_fencing_token(1);
            if (!w.stream->Write(m)) break;
          }
          return StuckLeases() == -1;
        },
        absl::Seconds(30));
  }

  // A WatchJob held open: admitted once its first update arrived.
  struct OpenWatch {
    grpc::ClientContext context;
    std::unique_ptr<grpc::ClientReader<v1::JobUpdate>> reader;
  };
  std::unique_ptr<OpenWatch> Watch(uint64_t id) {
    auto w = std::make_unique<OpenWatch>();
    w->context.set_deadline(In(absl::Seconds(60)));
    v1::WatchJobRequest req;
    req.set_id(id);
    w->reader = jobs_->WatchJob(&w->context, req);
    return w;
  }

  grpc::Status WaitJob(uint64_t id, absl::Duration timeout = absl::Seconds(10)) {
    v1::WaitJobRequest req;
    req.set_id(id);
    v1::Job job;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(timeout));
    return jobs_->WaitJob(&ctx, req, &job);
  }

  TempDir dir_;
  std::unique_ptr<rpc::Coordinator> coordinator_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::JobService::Stub> jobs_;
  std::unique_ptr<v1::AdminService::Stub> admin_;
};

TEST_F(LimitsTest, MessageOverMaxMessageBytesIsRefusedWholeAndNamesTheFlag) {
  Start([](rpc::CoordinatorOptions& o) {
    o.max_message_bytes = 64 << 10;
    o.engine.max_payload_bytes = 16 << 10;
  });
  // Each payload is under --max-payload-bytes; the request is not.
  std::vector<v1::JobSpec> specs(8, Spec("q", std::string(10 << 10, 'p')));
  grpc::Status s = SubmitAll(specs);
  EXPECT_TRUE(HasStatus(s, grpc::StatusCode::RESOURCE_EXHAUSTED, "larger than max"));
  absl::Status mapped = FromGrpcStatus(s);
  EXPECT_NE(mapped.message().find("--max-message-bytes"), std::string::npos) << mapped;
  EXPECT_EQ(JobCount(), 0);
  EXPECT_TRUE(QueueNames().empty());
  // Half of it passes.
  specs.resize(4);
  EXPECT_TRUE(SubmitAll(specs).ok());
  EXPECT_EQ(JobCount(), 4);
}

TEST_F(LimitsTest, MaxMessageBytesMustExceedMaxPayloadBytes) {
  rpc::CoordinatorOptions options;
  options.listen = "127.0.0.1:0";
  options.memory_store = true;
  options.max_message_bytes = 1 << 20;
  options.engine.max_payload_bytes = 1 << 20;
  auto c = rpc::Coordinator::Start(options);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("--max-message-bytes"), std::string::npos) << c.status();
}

TEST_F(LimitsTest, WorkerSendQueueMustFitWhatAReadingWorkerGets) {
  rpc::CoordinatorOptions options;
  options.listen = "127.0.0.1:0";
  options.memory_store = true;
  options.engine.max_worker_concurrency = 100;
  options.max_worker_send_queue = 415;
  auto c = rpc::Coordinator::Start(options);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("--max-worker-concurrency"), std::string::npos)
      << c.status();
}

TEST_F(LimitsTest, PayloadAndBatchLimits) {
  Start([](rpc::CoordinatorOptions& o) {
    o.engine.max_payload_bytes = 1000;
    o.engine.max_batch = 10;
  });
  EXPECT_TRUE(HasStatus(SubmitAll({Spec("q", std::string(1001, 'p'))}),
                        grpc::StatusCode::INVALID_ARGUMENT, "the limit is 1000"));
  EXPECT_TRUE(HasStatus(SubmitAll(std::vector<v1::JobSpec>(11, Spec("q"))),
                        grpc::StatusCode::RESOURCE_EXHAUSTED, "limit of 10"));
  EXPECT_EQ(JobCount(), 0);
  EXPECT_TRUE(QueueNames().empty());
  EXPECT_TRUE(SubmitAll(std::vector<v1::JobSpec>(10, Spec("q", std::string(1000, 'p')))).ok());
  EXPECT_EQ(JobCount(), 10);
}

TEST_F(LimitsTest, QueueDepthDefaultAndQueueCount) {
  Start([](rpc::CoordinatorOptions& o) {
    o.engine.max_queue_depth = 3;
    o.engine.max_queues = 2;
  });
  for (int i = 0; i < 3; ++i) SubmitOne("a");
  EXPECT_TRUE(HasStatus(SubmitAll({Spec("a")}), grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "--max-queue-depth"));
  // A batch that would overflow a new queue creates neither jobs nor queue.
  EXPECT_TRUE(HasStatus(SubmitAll(std::vector<v1::JobSpec>(4, Spec("b"))),
                        grpc::StatusCode::RESOURCE_EXHAUSTED, "--max-queue-depth"));
  EXPECT_EQ(QueueNames(), std::vector<std::string>{"a"});
  SubmitOne("b");
  EXPECT_TRUE(HasStatus(SubmitAll({Spec("c")}), grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "--max-queues"));
  v1::UpdateQueueRequest update;
  update.set_name("d");
  update.mutable_settings()->set_paused(true);
  v1::QueueInfo info;
  grpc::ClientContext ctx;
  EXPECT_TRUE(HasStatus(admin_->UpdateQueue(&ctx, update, &info),
                        grpc::StatusCode::RESOURCE_EXHAUSTED, "--max-queues"));
  EXPECT_EQ(JobCount(), 4);
  EXPECT_EQ(QueueNames(), (std::vector<std::string>{"a", "b"}));
}

TEST_F(LimitsTest, HugeWorkerConcurrencyIsCappedAndWelcomeSaysSo) {
  Start([](rpc::CoordinatorOptions& o) { o.engine.max_worker_concurrency = 5; });
  TestWorker worker(channel_);
  v1::WorkerMessage hello;
  hello.mutable_hello()->set_name("greedy");
  hello.mutable_hello()->add_queues("q");
  hello.mutable_hello()->set_concurrency(2'000'000'000);
  ASSERT_TRUE(worker.Send(hello));
  auto welcome = worker.NextOf(CoordinatorMessage::kWelcome);
  ASSERT_TRUE(welcome);
  EXPECT_EQ(welcome->welcome().concurrency(), 5);
  for (int i = 0; i < 8; ++i) SubmitOne("q");
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(worker.NextOf(CoordinatorMessage::kAssignment));
  EXPECT_FALSE(worker.NextOf(CoordinatorMessage::kAssignment, absl::Milliseconds(200)));

  v1::WorkerMessage more;
  more.mutable_set_concurrency()->set_concurrency(1'000'000);
  ASSERT_TRUE(worker.Send(more));
  ASSERT_TRUE(WaitFor([&] {
    auto ws = Workers();
    return ws.size() == 1 && ws[0].concurrency() == 5 && ws[0].leases_size() == 5;
  }));
  EXPECT_FALSE(worker.NextOf(CoordinatorMessage::kAssignment, absl::Milliseconds(200)));
}

TEST_F(LimitsTest, StreamsPerPeerCountWorkersAndWaits) {
  Start([](rpc::CoordinatorOptions& o) { o.call_limits.max_streams_per_peer = 3; });
  const uint64_t id = SubmitOne("other");
  TestWorker w1(channel_);
  ASSERT_NE(w1.Hello("w1", "q", 1), 0u);
  TestWorker w2(NewChannel());  // Another connection, the same host.
  ASSERT_NE(w2.Hello("w2", "q", 1), 0u);
  auto watch = Watch(id);
  v1::JobUpdate update;
  ASSERT_TRUE(watch->reader->Read(&update));  // Admitted: the third.

  TestWorker w3(NewChannel());
  auto closed = w3.WaitClosed();
  ASSERT_TRUE(closed);
  EXPECT_TRUE(HasStatus(*closed, grpc::StatusCode::RESOURCE_EXHAUSTED, "--max-streams-per-peer"));
  EXPECT_TRUE(HasStatus(WaitJob(id), grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "--max-streams-per-peer"));
  EXPECT_EQ(Workers().size(), 2u);
  // Short calls are not counted.
  EXPECT_EQ(StateOf(id), v1::JOB_STATE_QUEUED);

  // A stream that ends gives its place back.
  EXPECT_TRUE(w1.Finish().ok());
  ASSERT_TRUE(WaitFor([&] {
    TestWorker w4(NewChannel());
    return w4.Hello("w4", "q", 1) != 0;
  }));
}

TEST_F(LimitsTest, PendingWaitsAreCappedAndARefusedRunJobSubmitsNothing) {
  Start([](rpc::CoordinatorOptions& o) { o.call_limits.max_pending_waits = 2; });
  const uint64_t a = SubmitOne("q");
  const uint64_t b = SubmitOne("q");
  auto wa = Watch(a);
  auto wb = Watch(b);
  v1::JobUpdate update;
  ASSERT_TRUE(wa->reader->Read(&update));
  ASSERT_TRUE(wb->reader->Read(&update));

  EXPECT_TRUE(HasStatus(WaitJob(a), grpc::StatusCode::RESOURCE_EXHAUSTED, "--max-pending-waits"));
  auto wc = Watch(a);
  EXPECT_FALSE(wc->reader->Read(&update));
  EXPECT_TRUE(HasStatus(wc->reader->Finish(), grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "--max-pending-waits"));
  v1::RunJobRequest run;
  *run.mutable_job() = Spec("fresh");
  v1::Job job;
  grpc::ClientContext run_ctx;
  run_ctx.set_deadline(In(absl::Seconds(10)));
  EXPECT_TRUE(HasStatus(jobs_->RunJob(&run_ctx, run, &job), grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "--max-pending-waits"));
  EXPECT_EQ(JobCount(), 2) << "the refused RunJob submitted nothing";
  EXPECT_EQ(QueueNames(), std::vector<std::string>{"q"});

  // When a watched job ends, its watch ends and its place is free again.
  v1::CancelJobRequest cancel;
  cancel.set_id(a);
  grpc::ClientContext cancel_ctx;
  ASSERT_TRUE(jobs_->CancelJob(&cancel_ctx, cancel, &job).ok());
  while (wa->reader->Read(&update)) {
  }
  EXPECT_TRUE(wa->reader->Finish().ok());
  ASSERT_TRUE(WaitFor([&] { return WaitJob(a).ok(); }));  // An ended job answers at once.
}

// A worker that never reads its stream holds leases and fills its outgoing
// queue; the coordinator ends that stream alone and keeps serving the rest.
TEST_F(LimitsTest, WorkerThatNeverReadsIsEndedAndItsJobsGoToOthers) {
  Start([](rpc::CoordinatorOptions& o) {
    o.engine.max_worker_concurrency = 100;
    o.max_worker_send_queue = 416;  // The least that allows.
  });
  constexpr int kJobs = 150;
  constexpr int kStuckConcurrency = 100;
  std::vector<v1::JobSpec> specs(kJobs, Spec("q", std::string(64 << 10, 'p')));
  v1::SubmitResponse submitted;
  ASSERT_TRUE(SubmitAll(specs, &submitted).ok());

  auto stuck = ConnectStuck("q", kStuckConcurrency);
  ASSERT_TRUE(WaitFor([&] { return StuckLeases() == kStuckConcurrency; }));

  // Meanwhile another worker gets the other jobs done, and the coordinator
  // answers at once.
  TestWorker good(NewChannel());
  ASSERT_NE(good.Hello("good", "q", 4), 0u);
  int done = 0;
  auto work = [&](int n) {
    for (int i = 0; i < n; ++i) {
      auto m = good.NextOf(CoordinatorMessage::kAssignment);
      if (!m) return false;
      good.Complete(m->assignment().job().id(), m->assignment().fencing_token(), "ok");
      ++done;
    }
    return true;
  };
  ASSERT_TRUE(work(kJobs - kStuckConcurrency));
  EXPECT_EQ(StateOf(submitted.results(0).id()), v1::JOB_STATE_RUNNING);

  // The stuck worker keeps talking until the coordinator ends it.
  ASSERT_TRUE(FloodUntilEnded(*stuck)) << "the stuck worker was never ended";

  // Its jobs went to the good worker.
  ASSERT_TRUE(work(kStuckConcurrency));
  for (const auto& r : submitted.results()) {
    ASSERT_TRUE(WaitFor([&] { return StateOf(r.id()) == v1::JOB_STATE_SUCCEEDED; }))
        << "job " << r.id();
  }
  EXPECT_EQ(done, kJobs);

  // When it finally reads (within --worker-unread-grace), it learns why.
  stuck->stream->WritesDone();
  v1::CoordinatorMessage m;
  while (stuck->stream->Read(&m)) {
  }
  EXPECT_TRUE(HasStatus(stuck->stream->Finish(), grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "--max-worker-send-queue"));
}

// gRPC finishes a stream only after its write in flight, which a worker that
// never reads never lets end: once the grace passes the coordinator cancels
// the call, and the stream's place among its peer's comes back.
TEST_F(LimitsTest, EndedStreamThatNeverReadsGivesBackItsPlaceAfterTheGrace) {
  Start([](rpc::CoordinatorOptions& o) {
    o.engine.max_worker_concurrency = 100;
    o.max_worker_send_queue = 416;
    o.call_limits.max_streams_per_peer = 1;
    o.worker_unread_grace = absl::Milliseconds(200);
  });
  std::vector<v1::JobSpec> specs(100, Spec("q", std::string(64 << 10, 'p')));
  ASSERT_TRUE(SubmitAll(specs).ok());
  auto stuck = ConnectStuck("q", 100);
  ASSERT_TRUE(WaitFor([&] { return StuckLeases() == 100; }));
  ASSERT_TRUE(FloodUntilEnded(*stuck)) << "the stuck worker was never ended";
  // The one place this host has is free again although the stuck worker
  // still reads nothing.
  EXPECT_TRUE(WaitFor([&] {
    TestWorker next(NewChannel());
    return next.Hello("next", "q", 1) != 0;
  }));
}

}  // namespace
}  // namespace conveyor::testing
