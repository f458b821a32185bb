#include "tests/testing/coordinator_process_test.h"

#include <filesystem>
#include <fstream>
#include <iostream>

#include "absl/time/clock.h"
#include "client/proto_time.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"
#include "tests/testing/wait_for.h"

namespace conveyor::testing {

void CoordinatorProcessTest::TearDown() {
  if (!HasFailure()) return;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir_.path())) {
    if (entry.path().extension() != ".log") continue;
    std::ifstream in(entry.path());
    std::cerr << "==== " << entry.path() << "\n" << in.rdbuf() << "\n";
  }
}

void CoordinatorProcessTest::StartCoordinator(const std::vector<std::string>& extra_args) {
  auto c = testing::StartCoordinator(conveyord_path_, dir_.path() + "/data", extra_args);
  ASSERT_TRUE(c.ok()) << c.status();
  coordinator_ = std::move(*c);
  auto channel = grpc::CreateChannel(coordinator_.address(), grpc::InsecureChannelCredentials());
  jobs_ = v1::JobService::NewStub(channel);
  admin_ = v1::AdminService::NewStub(channel);
}

v1::JobSpec CoordinatorProcessTest::Spec(const std::string& type, const std::string& payload) {
  v1::JobSpec spec;
  spec.set_queue("default");
  spec.set_type(type);
  spec.set_payload(payload);
  *spec.mutable_backoff()->mutable_initial() = ToProtoDuration(absl::Milliseconds(10));
  *spec.mutable_backoff()->mutable_max() = ToProtoDuration(absl::Milliseconds(50));
  return spec;
}

std::vector<uint64_t> CoordinatorProcessTest::SubmitAll(const std::vector<v1::JobSpec>& specs) {
  v1::SubmitRequest request;
  for (const v1::JobSpec& spec : specs) *request.add_jobs() = spec;
  v1::SubmitResponse response;
  grpc::ClientContext context;
  grpc::Status status = jobs_->Submit(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  std::vector<uint64_t> ids;
  for (const auto& result : response.results()) ids.push_back(result.id());
  EXPECT_EQ(ids.size(), specs.size());
  return ids;
}

uint64_t CoordinatorProcessTest::Submit(const v1::JobSpec& spec) {
  std::vector<uint64_t> ids = SubmitAll({spec});
  return ids.empty() ? 0 : ids[0];
}

v1::Job CoordinatorProcessTest::Get(uint64_t id) {
  v1::GetJobRequest request;
  request.set_id(id);
  v1::Job job;
  grpc::ClientContext context;
  grpc::Status status = jobs_->GetJob(&context, request, &job);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return job;
}

v1::Job CoordinatorProcessTest::WaitEnd(uint64_t id, absl::Duration timeout) {
  v1::WaitJobRequest request;
  request.set_id(id);
  v1::Job job;
  grpc::ClientContext context;
  context.set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  grpc::Status status = jobs_->WaitJob(&context, request, &job);
  EXPECT_TRUE(status.ok()) << "job " << id << ": " << status.error_message();
  return job;
}

bool CoordinatorProcessTest::WaitState(uint64_t id, v1::JobState state) {
  return WaitFor([&] { return Get(id).state() == state; }, absl::Seconds(20));
}

bool CoordinatorProcessTest::Cancel(uint64_t id) {
  v1::CancelJobRequest request;
  request.set_id(id);
  request.set_reason("test cancel");
  v1::Job reply;
  grpc::ClientContext context;
  grpc::Status status = jobs_->CancelJob(&context, request, &reply);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return status.ok();
}

std::unique_ptr<ChildProcess> CoordinatorProcessTest::StartWorkerProcess(
    std::vector<std::string> args, const std::string& log_name) {
  args.push_back("--coordinator=" + coordinator_.address());
  auto process = ChildProcess::Start(worker_path_, args, dir_.path() + "/" + log_name);
  EXPECT_TRUE(process.ok()) << process.status();
  return process.ok() ? std::move(*process) : nullptr;
}

}  // namespace conveyor::testing
