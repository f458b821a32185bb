// Who may do what: the access table, the tokens file, and a real Coordinator
// on 127.0.0.1:0 with a tokens file, called by every method with every kind
// of credential.

#include <google/protobuf/descriptor.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "client/channel.h"
#include "conveyor/v1/admin_service.grpc.pb.h"
#include "conveyor/v1/job_service.grpc.pb.h"
#include "conveyor/v1/worker_service.grpc.pb.h"
#include "server/rpc/access_policy.h"
#include "server/rpc/coordinator.h"
#include "server/rpc/token_table.h"
#include "server/rpc/transport_security.h"
#include "tests/testing/test_worker.h"
#include "tests/testing/process_harness.h"

namespace conveyor::testing {
namespace {

using rpc::Role;

constexpr char kProducerToken[] = "producer-token-0123456789";
constexpr char kWorkerToken[] = "worker-token-0123456789";
constexpr char kAdminToken[] = "admin-token-0123456789";

// Full names of every method of the Conveyor services, from the .proto
// descriptors.
std::set<std::string> ProtoMethods() {
  std::set<std::string> methods;
  for (const char* service :
       {"conveyor.v1.JobService", "conveyor.v1.WorkerService", "conveyor.v1.AdminService"}) {
    const google::protobuf::ServiceDescriptor* descriptor =
        google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
    EXPECT_NE(descriptor, nullptr) << service;
    if (descriptor == nullptr) continue;
    for (int i = 0; i < descriptor->method_count(); ++i) {
      methods.insert(absl::StrCat("/", service, "/", descriptor->method(i)->name()));
    }
  }
  return methods;
}

TEST(AccessPolicyTest, TableListsExactlyTheMethodsOfEveryService) {
  // Linking the stubs registers their descriptors.
  (void)v1::JobService::NewStub;
  (void)v1::WorkerService::NewStub;
  (void)v1::AdminService::NewStub;
  std::set<std::string> listed;
  for (absl::string_view method : rpc::MethodsWithRoles()) listed.emplace(method);
  EXPECT_EQ(listed, ProtoMethods());
  EXPECT_EQ(rpc::RequiredRole("/grpc.health.v1.Health/Check"), std::nullopt);
}

TEST(AccessPolicyTest, AdminGrantsEverythingOthersTheirOwn) {
  for (Role required : {Role::kProducer, Role::kWorker, Role::kAdmin}) {
    EXPECT_TRUE(rpc::Grants(Role::kAdmin, required));
    EXPECT_EQ(rpc::Grants(Role::kProducer, required), required == Role::kProducer);
    EXPECT_EQ(rpc::Grants(Role::kWorker, required), required == Role::kWorker);
  }
  EXPECT_EQ(rpc::ParseRole("worker"), Role::kWorker);
  EXPECT_EQ(rpc::ParseRole("Worker"), std::nullopt);
}

TEST(TokenTableTest, ParsesTokensSkippingCommentsAndBlankLines) {
  auto table = rpc::TokenTable::Parse(
      "# ops team\n\n  producer-token-0123456789   producer\n"
      "worker-token-0123456789\tworker\r\n   # indented comment\nadmin-token-0123456789 admin",
      "t");
  ASSERT_TRUE(table.ok()) << table.status();
  EXPECT_EQ(table->size(), 3u);
  EXPECT_EQ(table->Find(kProducerToken), Role::kProducer);
  EXPECT_EQ(table->Find(kWorkerToken), Role::kWorker);
  EXPECT_EQ(table->Find(kAdminToken), Role::kAdmin);
  EXPECT_EQ(table->Find("admin-token-012345678"), std::nullopt);  // A prefix.
  EXPECT_EQ(table->Find("admin-token-01234567890"), std::nullopt);
  EXPECT_EQ(table->Find(""), std::nullopt);
  EXPECT_EQ(rpc::TokenTable::Parse("", "t")->size(), 0u);
}

TEST(TokenTableTest, MalformedLinesNameTheLineButNeverTheToken) {
  const std::string secret = "s3cret-s3cret-s3cret";
  struct Case {
    std::string text;
    std::string expected;
  } cases[] = {
      {"# x\n" + secret + "\n", "t line 2: expected \"TOKEN ROLE\" (2 fields), found 1"},
      {secret + " admin extra\n", "t line 1: expected \"TOKEN ROLE\" (2 fields), found 3"},
      {"\n\nadmin " + secret + "\n", "t line 3: the role (2nd field) must be producer"},
      {secret + " Admin\n", "t line 1: the role (2nd field) must be producer"},
      {"short admin\n", "t line 1: a token has 16 to 4096 characters (found 5)"},
      {secret + " admin\n" + secret + " worker\n", "t line 2: the same token as line 1"},
  };
  for (const Case& c : cases) {
    auto table = rpc::TokenTable::Parse(c.text, "t");
    ASSERT_FALSE(table.ok()) << c.text;
    EXPECT_EQ(table.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(table.status().message().find(c.expected), std::string::npos)
        << table.status().message();
    EXPECT_EQ(table.status().message().find(secret), std::string::npos) << table.status().message();
  }
  auto missing = rpc::TokenTable::Load("/nonexistent/tokens");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("/nonexistent/tokens"), std::string::npos);
}

TEST(TransportSecurityTest, LoopbackAddresses) {
  for (const char* local : {"127.0.0.1:7070", "127.1.2.3:0", "localhost:7070", "[::1]:7070",
                            "unix:/tmp/conveyor.sock", "ipv4:127.0.0.1:1"}) {
    EXPECT_TRUE(rpc::IsLoopbackAddress(local)) << local;
  }
  for (const char* remote : {"0.0.0.0:7070", "[::]:7070", "10.0.0.1:7070", "example.com:7070",
                             "127.example.com:7070", ":7070"}) {
    EXPECT_FALSE(rpc::IsLoopbackAddress(remote)) << remote;
  }
}

TEST(TransportSecurityTest, RejectsHalfGivenTls) {
  rpc::TlsFiles files;
  files.cert = "cert.pem";
  EXPECT_EQ(rpc::ServerCredentialsFor(files).status().code(), absl::StatusCode::kInvalidArgument);
  files = {};
  files.client_ca = "ca.pem";
  EXPECT_EQ(rpc::ServerCredentialsFor(files).status().code(), absl::StatusCode::kInvalidArgument);
  files = {"/nonexistent/cert.pem", "/nonexistent/key.pem", ""};
  auto missing = rpc::ServerCredentialsFor(files);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("--tls-cert /nonexistent/cert.pem"), std::string::npos);
}

// Calls `method` with an empty request message (read as the default one) on
// `channel`, reads every reply, and returns the final status.
grpc::Status CallWithEmptyRequest(const std::shared_ptr<grpc::Channel>& channel,
                                  const std::string& method) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(&context, method, &cq);
  void* tag;
  bool ok;
  const auto step = [&](int id) {
    EXPECT_TRUE(cq.Next(&tag, &ok));
    EXPECT_EQ(tag, reinterpret_cast<void*>(id));
    return ok;
  };
  call->StartCall(reinterpret_cast<void*>(1));
  step(1);
  grpc::Slice empty("");
  grpc::ByteBuffer request(&empty, 1);
  call->Write(request, reinterpret_cast<void*>(2));
  step(2);
  call->WritesDone(reinterpret_cast<void*>(3));
  step(3);
  grpc::ByteBuffer reply;
  do {
    call->Read(&reply, reinterpret_cast<void*>(4));
  } while (step(4));
  grpc::Status status;
  call->Finish(&status, reinterpret_cast<void*>(5));
  step(5);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
  return status;
}

class AccessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tokens_file_ = dir_.path() + "/tokens";
    WriteTokens(absl::StrCat(kProducerToken, " producer\n", kWorkerToken, " worker\n", kAdminToken,
                             " admin\n"));
    rpc::CoordinatorOptions options;
    options.listen = "127.0.0.1:0";
    options.memory_store = true;
    options.tokens_file = tokens_file_;
    auto c = rpc::Coordinator::Start(options);
    ASSERT_TRUE(c.ok()) << c.status();
    coordinator_ = *std::move(c);
  }

  void WriteTokens(const std::string& text) {
    std::ofstream out(tokens_file_, std::ios::trunc);
    out << text;
  }

  // A channel that sends `token` (none when empty), as the client library's.
  std::shared_ptr<grpc::Channel> Channel(const std::string& token) {
    ConnectionOptions connection;
    connection.token = token;
    auto channel =
        CreateCoordinatorChannel(absl::StrCat("127.0.0.1:", coordinator_->port()), connection);
    EXPECT_TRUE(channel.ok()) << channel.status();
    return *channel;
  }

  // Admin's view: jobs, queues and workers the coordinator holds.
  void ExpectNothingChanged() {
    auto admin_channel = Channel(kAdminToken);
    auto jobs = v1::JobService::NewStub(admin_channel);
    auto admin = v1::AdminService::NewStub(admin_channel);
    grpc::ClientContext list_ctx;
    v1::ListJobsResponse listed;
    ASSERT_TRUE(jobs->ListJobs(&list_ctx, v1::ListJobsRequest(), &listed).ok());
    EXPECT_EQ(listed.jobs_size(), 0);
    grpc::ClientContext queues_ctx;
    v1::ListQueuesResponse queues;
    ASSERT_TRUE(admin->ListQueues(&queues_ctx, v1::ListQueuesRequest(), &queues).ok());
    EXPECT_EQ(queues.queues_size(), 0);
    grpc::ClientContext workers_ctx;
    v1::ListWorkersResponse workers;
    ASSERT_TRUE(admin->ListWorkers(&workers_ctx, v1::ListWorkersRequest(), &workers).ok());
    EXPECT_EQ(workers.workers_size(), 0);
  }

  TempDir dir_;
  std::string tokens_file_;
  std::unique_ptr<rpc::Coordinator> coordinator_;
};

TEST_F(AccessTest, EveryMethodRefusesCallersWithoutTheRole) {
  struct Caller {
    std::string name;
    std::shared_ptr<grpc::Channel> channel;
    std::optional<Role> role;  // nullopt: no valid token.
  };
  std::vector<Caller> callers = {
      {"no token", Channel(""), std::nullopt},
      {"unknown token", Channel("unknown-token-0123456789"), std::nullopt},
      {"producer", Channel(kProducerToken), Role::kProducer},
      {"worker", Channel(kWorkerToken), Role::kWorker},
      {"admin", Channel(kAdminToken), Role::kAdmin},
  };
  for (absl::string_view name : rpc::MethodsWithRoles()) {
    const std::string method(name);
    const Role required = *rpc::RequiredRole(method);
    for (const Caller& caller : callers) {
      const grpc::Status status = CallWithEmptyRequest(caller.channel, method);
      SCOPED_TRACE(absl::StrCat(method, " by ", caller.name, ": ", int{status.error_code()}, " ",
                                status.error_message()));
      if (!caller.role) {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
      } else if (!rpc::Grants(*caller.role, required)) {
        EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
        EXPECT_NE(status.error_message().find(method), std::string::npos);
      } else {
        EXPECT_NE(status.error_code(), grpc::StatusCode::UNAUTHENTICATED);
        EXPECT_NE(status.error_code(), grpc::StatusCode::PERMISSION_DENIED);
        EXPECT_NE(status.error_code(), grpc::StatusCode::INTERNAL);
      }
    }
  }
}

TEST_F(AccessTest, RefusedCallsChangeNothing) {
  // A worker token submitting, cancelling, updating queues; a producer
  // connecting as a worker and purging; an unknown token submitting.
  v1::SubmitRequest submit;
  v1::JobSpec* spec = submit.add_jobs();
  spec->set_queue("q");
  spec->set_type("echo");
  for (const char* token : {kWorkerToken, "unknown-token-0123456789"}) {
    auto jobs = v1::JobService::NewStub(Channel(token));
    grpc::ClientContext ctx;
    v1::SubmitResponse submitted;
    const grpc::Status s = jobs->Submit(&ctx, submit, &submitted);
    EXPECT_EQ(s.error_code(), token == kWorkerToken ? grpc::StatusCode::PERMISSION_DENIED
                                                    : grpc::StatusCode::UNAUTHENTICATED)
        << s.error_message();
    grpc::ClientContext run_ctx;
    v1::RunJobRequest run;
    *run.mutable_job() = *spec;
    v1::Job ran;
    EXPECT_FALSE(jobs->RunJob(&run_ctx, run, &ran).ok());
  }
  for (const char* token : {kProducerToken, kWorkerToken}) {
    auto admin = v1::AdminService::NewStub(Channel(token));
    grpc::ClientContext ctx;
    v1::UpdateQueueRequest update;
    update.set_name("q");
    update.mutable_settings()->set_paused(true);
    v1::QueueInfo info;
    EXPECT_EQ(admin->UpdateQueue(&ctx, update, &info).error_code(),
              grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    TestWorker worker(Channel(kProducerToken));
    EXPECT_EQ(worker.Hello("w", "q", 1), 0u);
    auto closed = worker.WaitClosed();
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->error_code(), grpc::StatusCode::PERMISSION_DENIED);
  }
  {
    TestWorker worker(Channel(""));
    EXPECT_EQ(worker.Hello("w", "q", 1), 0u);
    auto closed = worker.WaitClosed();
    ASSERT_TRUE(closed.has_value());
    EXPECT_EQ(closed->error_code(), grpc::StatusCode::UNAUTHENTICATED);
  }
  ExpectNothingChanged();
}

TEST_F(AccessTest, AdminDoesEverythingAndEachRoleItsOwn) {
  auto producer = v1::JobService::NewStub(Channel(kProducerToken));
  v1::SubmitRequest submit;
  v1::JobSpec* spec = submit.add_jobs();
  spec->set_queue("q");
  spec->set_type("echo");
  spec->set_payload_text("hi");
  grpc::ClientContext submit_ctx;
  v1::SubmitResponse submitted;
  ASSERT_TRUE(producer->Submit(&submit_ctx, submit, &submitted).ok());
  TestWorker worker(Channel(kWorkerToken));
  ASSERT_NE(worker.Hello("w", "q", 1), 0u);
  auto admin_channel = Channel(kAdminToken);
  auto admin = v1::AdminService::NewStub(admin_channel);
  grpc::ClientContext workers_ctx;
  v1::ListWorkersResponse workers;
  ASSERT_TRUE(admin->ListWorkers(&workers_ctx, v1::ListWorkersRequest(), &workers).ok());
  EXPECT_EQ(workers.workers_size(), 1);
  auto admin_jobs = v1::JobService::NewStub(admin_channel);
  grpc::ClientContext get_ctx;
  v1::GetJobRequest get;
  get.set_id(submitted.results(0).id());
  v1::Job job;
  EXPECT_TRUE(admin_jobs->GetJob(&get_ctx, get, &job).ok());
  TestWorker admin_worker(admin_channel);
  EXPECT_NE(admin_worker.Hello("admin-as-worker", "other", 1), 0u);
}

TEST_F(AccessTest, MalformedAuthorizationIsUnauthenticated) {
  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", coordinator_->port()),
                                     grpc::InsecureChannelCredentials());
  auto jobs = v1::JobService::NewStub(channel);
  for (const std::string& value : {std::string("Basic ") + kAdminToken, std::string(kAdminToken),
                                   std::string("Bearer "), std::string("bearer") + kAdminToken}) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", value);
    v1::GetJobRequest get;
    v1::Job job;
    EXPECT_EQ(jobs->GetJob(&ctx, get, &job).error_code(), grpc::StatusCode::UNAUTHENTICATED)
        << value;
  }
  grpc::ClientContext lower_ctx;  // The scheme is case-insensitive.
  lower_ctx.AddMetadata("authorization", std::string("bearer ") + kAdminToken);
  v1::GetJobRequest get;
  v1::Job job;
  EXPECT_EQ(jobs->GetJob(&lower_ctx, get, &job).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AccessTest, HealthAndReflectionNeedNoToken) {
  auto channel = Channel("");
  EXPECT_TRUE(CallWithEmptyRequest(channel, "/grpc.health.v1.Health/Check").ok());
  // ServerReflectionRequest{list_services: ""}.
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  grpc::CompletionQueue cq;
  auto call = stub.PrepareCall(
      &context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  void* tag;
  bool ok;
  call->StartCall(nullptr);
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::Slice list_services(std::string("\x3a\x00", 2));
  call->Write(grpc::ByteBuffer(&list_services, 1), nullptr);
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  grpc::ByteBuffer reply;
  call->Read(&reply, nullptr);
  ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(reply.Dump(&slices).ok());
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  EXPECT_NE(bytes.find("conveyor.v1.AdminService"), std::string::npos);
  context.TryCancel();
  grpc::Status status;
  call->Finish(&status, nullptr);
  cq.Next(&tag, &ok);
  cq.Shutdown();
  while (cq.Next(&tag, &ok)) {
  }
}

TEST_F(AccessTest, ReloadAddsAndRemovesTokensAndKeepsThemOnABadFile) {
  const std::string added = "added-token-0123456789";
  auto get_status = [&](const std::string& token) {
    auto jobs = v1::JobService::NewStub(Channel(token));
    grpc::ClientContext ctx;
    v1::GetJobRequest get;
    get.set_id(1);
    v1::Job job;
    return jobs->GetJob(&ctx, get, &job).error_code();
  };
  EXPECT_EQ(get_status(added), grpc::StatusCode::UNAUTHENTICATED);
  WriteTokens(absl::StrCat(added, " producer\n"));
  auto reloaded = coordinator_->ReloadTokens();
  ASSERT_TRUE(reloaded.ok()) << reloaded.status();
  EXPECT_EQ(*reloaded, 1u);
  EXPECT_EQ(get_status(added), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(get_status(kProducerToken), grpc::StatusCode::UNAUTHENTICATED);
  WriteTokens(absl::StrCat(kAdminToken, " superuser\n"));
  EXPECT_EQ(coordinator_->ReloadTokens().status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(get_status(added), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(get_status(kAdminToken), grpc::StatusCode::UNAUTHENTICATED);
}

TEST(AccessStartupTest, MalformedTokensFileStopsStartNamingTheLine) {
  TempDir dir;
  const std::string path = dir.path() + "/tokens";
  {
    std::ofstream out(path);
    out << "# comment\nsecret-token-0123456789 admn\n";
  }
  rpc::CoordinatorOptions options;
  options.listen = "127.0.0.1:0";
  options.memory_store = true;
  options.tokens_file = path;
  auto c = rpc::Coordinator::Start(options);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find(path + " line 2"), std::string::npos) << c.status();
  EXPECT_EQ(c.status().message().find("secret-token"), std::string::npos) << c.status();
}

}  // namespace
}  // namespace conveyor::testing
