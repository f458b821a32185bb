// conveyor::Client against a real conveyord.
#include "client/client.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "client/proto_time.h"
#include "tests/client/shared_coordinator.h"
#include "tests/testing/test_worker.h"
#include "tests/testing/wait_for.h"

namespace conveyor::testing {
namespace {

class ClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    coordinator_ = SharedCoordinator();
    ASSERT_NE(coordinator_, nullptr);
    ClientOptions options;
    options.target = coordinator_->address();
    auto client = Client::Create(options);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    queue_ = UniqueQueue();
  }

  v1::JobSpec Spec(const std::string& payload = "p") const {
    v1::JobSpec spec;
    spec.set_queue(queue_);
    spec.set_type("echo");
    spec.set_payload(payload);
    return spec;
  }

  uint64_t MustSubmit(const v1::JobSpec& spec) {
    absl::StatusOr<v1::SubmitResult> result = client_->Submit(spec);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? result->id() : 0;
  }

  const Coordinator* coordinator_ = nullptr;
  std::unique_ptr<Client> client_;
  std::string queue_;
};

TEST_F(ClientTest, SubmitThenGetReturnsTheSpec) {
  v1::JobSpec spec = Spec("hello");
  spec.set_priority(7);
  (*spec.mutable_labels())["team"] = "core";
  const uint64_t id = MustSubmit(spec);
  absl::StatusOr<v1::Job> job = client_->GetJob(id);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->id(), id);
  EXPECT_EQ(job->queue(), queue_);
  EXPECT_EQ(job->type(), "echo");
  EXPECT_EQ(job->payload(), "hello");
  EXPECT_EQ(job->priority(), 7);
  EXPECT_EQ(job->labels().at("team"), "core");
  EXPECT_EQ(job->state(), v1::JOB_STATE_QUEUED);
}

TEST_F(ClientTest, SubmitBatchReturnsIdsInOrder) {
  std::vector<v1::JobSpec> specs = {Spec("a"), Spec("b"), Spec("c")};
  absl::StatusOr<v1::SubmitResponse> response = client_->SubmitBatch(specs);
  ASSERT_TRUE(response.ok()) << response.status();
  ASSERT_EQ(response->results_size(), 3);
  EXPECT_LT(response->results(0).id(), response->results(1).id());
  EXPECT_LT(response->results(1).id(), response->results(2).id());
  EXPECT_EQ(client_->GetJob(response->results(2).id())->payload(), "c");
}

TEST_F(ClientTest, InvalidSpecIsInvalidArgumentAndNothingIsSubmitted) {
  v1::JobSpec bad = Spec();
  bad.set_queue("no spaces allowed");
  std::vector<v1::JobSpec> specs = {Spec(), bad};
  EXPECT_TRUE(absl::IsInvalidArgument(client_->SubmitBatch(specs).status()));
  v1::ListJobsRequest request;
  request.set_queue(queue_);
  EXPECT_EQ(client_->ListJobs(request)->jobs_size(), 0);
}

TEST_F(ClientTest, IdempotencyKeyReturnsTheSameJob) {
  v1::JobSpec spec = Spec();
  spec.set_idempotency_key("order-42");
  absl::StatusOr<v1::SubmitResult> first = client_->Submit(spec);
  absl::StatusOr<v1::SubmitResult> second = client_->Submit(spec);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(first->id(), second->id());
  EXPECT_FALSE(first->duplicate());
  EXPECT_TRUE(second->duplicate());
}

TEST_F(ClientTest, GetUnknownJobIsNotFound) {
  EXPECT_TRUE(absl::IsNotFound(client_->GetJob(999'999'999).status()));
}

TEST_F(ClientTest, WaitPassesTheDeadlineAndLeavesTheJob) {
  const uint64_t id = MustSubmit(Spec());
  const absl::Status s = client_->WaitJob(id, WithTimeout(absl::Milliseconds(200))).status();
  EXPECT_TRUE(absl::IsDeadlineExceeded(s)) << s;
  EXPECT_EQ(client_->GetJob(id)->state(), v1::JOB_STATE_QUEUED);
}

TEST_F(ClientTest, CancelEndsTheJobAndWaitReturnsIt) {
  const uint64_t id = MustSubmit(Spec());
  absl::StatusOr<v1::Job> cancelled = client_->CancelJob(id, "changed my mind");
  ASSERT_TRUE(cancelled.ok()) << cancelled.status();
  absl::StatusOr<v1::Job> waited = client_->WaitJob(id, WithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(waited.ok()) << waited.status();
  EXPECT_EQ(waited->state(), v1::JOB_STATE_CANCELLED);
  EXPECT_EQ(waited->cancel_reason(), "changed my mind");
  EXPECT_TRUE(absl::IsFailedPrecondition(client_->CancelJob(id).status()));
}

TEST_F(ClientTest, WaitReturnsTheResultAWorkerSent) {
  const uint64_t id = MustSubmit(Spec("in"));
  auto worker = TestWorker::Connect(coordinator_->address(), queue_);
  ASSERT_TRUE(worker.ok()) << worker.status();
  absl::StatusOr<v1::Assignment> a = (*worker)->NextAssignment();
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->job().id(), id);
  ASSERT_TRUE((*worker)->CompleteAcked(*a, "out").ok());
  absl::StatusOr<v1::Job> job = client_->WaitJob(id, WithTimeout(absl::Seconds(10)));
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state(), v1::JOB_STATE_SUCCEEDED);
  EXPECT_EQ(job->result(), "out");
}

TEST_F(ClientTest, WatchSeesProgressAndEndsAfterTheTerminalState) {
  const uint64_t id = MustSubmit(Spec());
  auto worker = TestWorker::Connect(coordinator_->address(), queue_);
  ASSERT_TRUE(worker.ok()) << worker.status();
  absl::StatusOr<v1::Assignment> a = (*worker)->NextAssignment();
  ASSERT_TRUE(a.ok()) << a.status();

  absl::Mutex mu;
  std::vector<v1::Job> updates;
  absl::Status watch_status;
  std::thread watcher([&] {
    absl::Status s = client_->WatchJob(
        id,
        [&](const v1::Job& job) {
          absl::MutexLock lock(&mu);
          updates.push_back(job);
          return true;
        },
        WithTimeout(absl::Seconds(20)));
    absl::MutexLock lock(&mu);
    watch_status = s;
  });
  auto count = [&] {
    absl::MutexLock lock(&mu);
    return updates.size();
  };
  ASSERT_TRUE(WaitFor([&] { return count() >= 1; }));  // the current state first
  ASSERT_TRUE((*worker)->Progress(*a, 50, "half").ok());
  ASSERT_TRUE(WaitFor([&] { return count() >= 2; }));
  ASSERT_TRUE((*worker)->CompleteAcked(*a, "done").ok());
  watcher.join();

  absl::MutexLock lock(&mu);
  EXPECT_TRUE(watch_status.ok()) << watch_status;
  EXPECT_EQ(updates.front().state(), v1::JOB_STATE_RUNNING);
  bool saw_progress = false;
  for (const v1::Job& j : updates) saw_progress |= j.progress().percent() == 50;
  EXPECT_TRUE(saw_progress);
  EXPECT_EQ(updates.back().state(), v1::JOB_STATE_SUCCEEDED);
}

TEST_F(ClientTest, WatchStopsWhenTheCallbackSaysSo) {
  const uint64_t id = MustSubmit(Spec());
  int calls = 0;
  absl::Status s = client_->WatchJob(
      id,
      [&](const v1::Job& job) {
        ++calls;
        EXPECT_EQ(job.state(), v1::JOB_STATE_QUEUED);
        return false;
      },
      WithTimeout(absl::Seconds(10)));
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(calls, 1);
}

TEST_F(ClientTest, CancellationEndsAWait) {
  const uint64_t id = MustSubmit(Spec());
  Cancellation cancellation;
  CallOptions call;
  call.cancellation = &cancellation;
  absl::Status status;
  std::thread waiter([&] { status = client_->WaitJob(id, call).status(); });
  // Cancel() also stops a call that has not started yet, so no sync needed.
  cancellation.Cancel();
  waiter.join();
  EXPECT_TRUE(absl::IsCancelled(status)) << status;
}

TEST_F(ClientTest, RunJobDeadlineCancelsTheJob) {
  const absl::Status s =
      client_->RunJob(Spec("run"), WithTimeout(absl::Milliseconds(300))).status();
  EXPECT_TRUE(absl::IsDeadlineExceeded(s) || absl::IsCancelled(s)) << s;
  v1::ListJobsRequest request;
  request.set_queue(queue_);
  EXPECT_TRUE(WaitFor([&] {
    absl::StatusOr<v1::ListJobsResponse> jobs = client_->ListJobs(request);
    return jobs.ok() && jobs->jobs_size() == 1 && jobs->jobs(0).state() == v1::JOB_STATE_CANCELLED;
  }));
}

TEST_F(ClientTest, RunJobReturnsTheTerminalJob) {
  std::thread worker_thread([&] {
    auto worker = TestWorker::Connect(coordinator_->address(), queue_);
    ASSERT_TRUE(worker.ok()) << worker.status();
    absl::StatusOr<v1::Assignment> a = (*worker)->NextAssignment();
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_TRUE((*worker)->FailAcked(*a, "bad input", /*permanent=*/true).ok());
  });
  absl::StatusOr<v1::Job> job = client_->RunJob(Spec(), WithTimeout(absl::Seconds(20)));
  worker_thread.join();
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->state(), v1::JOB_STATE_DEAD);  // a reply, not an error
  EXPECT_EQ(job->dead_reason(), v1::DEAD_REASON_PERMANENT_FAILURE);
  EXPECT_EQ(job->error(), "bad input");
}

TEST_F(ClientTest, ListJobsFiltersByState) {
  const uint64_t keep = MustSubmit(Spec());
  const uint64_t cancel = MustSubmit(Spec());
  ASSERT_TRUE(client_->CancelJob(cancel).ok());
  v1::ListJobsRequest request;
  request.set_queue(queue_);
  request.set_state(v1::JOB_STATE_QUEUED);
  absl::StatusOr<v1::ListJobsResponse> jobs = client_->ListJobs(request);
  ASSERT_TRUE(jobs.ok()) << jobs.status();
  ASSERT_EQ(jobs->jobs_size(), 1);
  EXPECT_EQ(jobs->jobs(0).id(), keep);
}

TEST_F(ClientTest, QueueSettingsAndCounts) {
  MustSubmit(Spec());
  v1::QueueSettings settings;
  settings.set_paused(true);
  settings.set_max_running(4);
  *settings.mutable_lease_duration() = ToProtoDuration(absl::Seconds(45));
  absl::StatusOr<v1::QueueInfo> updated = client_->UpdateQueue(queue_, settings);
  ASSERT_TRUE(updated.ok()) << updated.status();
  EXPECT_TRUE(updated->settings().paused());
  EXPECT_EQ(updated->settings().max_running(), 4);
  EXPECT_EQ(FromProtoDuration(updated->settings().lease_duration()), absl::Seconds(45));

  absl::StatusOr<v1::QueueInfo> queue = client_->GetQueue(queue_);
  ASSERT_TRUE(queue.ok()) << queue.status();
  EXPECT_EQ(queue->queued(), 1);
  EXPECT_TRUE(queue->settings().paused());

  v1::QueueSettings bad;
  bad.set_max_attempts(0);
  EXPECT_TRUE(absl::IsInvalidArgument(client_->UpdateQueue(queue_, bad).status()));
  EXPECT_TRUE(absl::IsNotFound(client_->GetQueue(queue_ + ".none").status()));

  absl::StatusOr<v1::ListQueuesResponse> all = client_->ListQueues();
  ASSERT_TRUE(all.ok()) << all.status();
  bool found = false;
  for (const v1::QueueInfo& q : all->queues()) found |= q.name() == queue_;
  EXPECT_TRUE(found);
}

TEST_F(ClientTest, WorkersListTheirLeases) {
  const uint64_t id = MustSubmit(Spec());
  auto worker = TestWorker::Connect(coordinator_->address(), queue_);
  ASSERT_TRUE(worker.ok()) << worker.status();
  ASSERT_TRUE((*worker)->NextAssignment().ok());
  absl::StatusOr<v1::ListWorkersResponse> workers = client_->ListWorkers();
  ASSERT_TRUE(workers.ok()) << workers.status();
  bool found = false;
  for (const v1::WorkerInfo& w : workers->workers()) {
    for (const v1::Lease& lease : w.leases()) found |= lease.job_id() == id;
  }
  EXPECT_TRUE(found);
}

TEST_F(ClientTest, DeadJobsCanBeListedRedrivenAndPurged) {
  const uint64_t id = MustSubmit(Spec());
  {
    auto worker = TestWorker::Connect(coordinator_->address(), queue_);
    ASSERT_TRUE(worker.ok()) << worker.status();
    absl::StatusOr<v1::Assignment> a = (*worker)->NextAssignment();
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE((*worker)->FailAcked(*a, "boom", /*permanent=*/true).ok());
    // Leave cleanly: once the stream's status is back, the coordinator has
    // disconnected the worker, so the redriven job cannot go to it.
    ASSERT_TRUE((*worker)->Finish().ok());
  }
  v1::ListDeadJobsRequest request;
  request.set_queue(queue_);
  absl::StatusOr<v1::ListDeadJobsResponse> dead = client_->ListDeadJobs(request);
  ASSERT_TRUE(dead.ok()) << dead.status();
  ASSERT_EQ(dead->jobs_size(), 1);
  EXPECT_EQ(dead->jobs(0).id(), id);

  const std::vector<uint64_t> ids = {id};
  EXPECT_EQ(*client_->RedriveJobs(queue_, ids), 1);
  EXPECT_EQ(client_->GetJob(id)->state(), v1::JOB_STATE_QUEUED);
  EXPECT_TRUE(absl::IsFailedPrecondition(client_->RedriveJobs(queue_, ids).status()));

  {
    auto worker = TestWorker::Connect(coordinator_->address(), queue_);
    ASSERT_TRUE(worker.ok()) << worker.status();
    absl::StatusOr<v1::Assignment> a = (*worker)->NextAssignment();
    ASSERT_TRUE(a.ok()) << a.status();
    ASSERT_TRUE((*worker)->FailAcked(*a, "boom again", /*permanent=*/true).ok());
  }
  EXPECT_EQ(*client_->PurgeDeadJobs(queue_, {}), 1);
  EXPECT_EQ(client_->ListDeadJobs(request)->jobs_size(), 0);
}

}  // namespace
}  // namespace conveyor::testing
