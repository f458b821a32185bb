// TLS, mutual TLS and access tokens with the real binaries: conveyord,
// conveyor-worker and the conveyor CLI, plus the client library. Certificates
// are made for each test with the openssl CLI.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/client.h"
#include "tests/client/cli_runner.h"
#include "tests/testing/process_harness.h"
#include "tests/testing/test_certificates.h"
#include "tests/testing/wait_for.h"

namespace conveyor::testing {
namespace {

constexpr char kProducerToken[] = "producer-token-0123456789";
constexpr char kWorkerToken[] = "worker-token-0123456789";
constexpr char kAdminToken[] = "admin-token-0123456789";
constexpr char kWarning[] = "reachable from other machines with neither TLS nor access tokens";

void WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path + ".tmp", std::ios::trunc);
  out << text;
  out.close();
  std::rename((path + ".tmp").c_str(), path.c_str());
}

std::string AllTokens() {
  return absl::StrCat("# test tokens\n", kProducerToken, " producer\n", kWorkerToken, " worker\n",
                      kAdminToken, " admin\n");
}

std::unique_ptr<Client> MakeClient(const std::string& address, ConnectionOptions connection) {
  ClientOptions options;
  options.target = address;
  options.timeout = absl::Seconds(5);
  options.connection = std::move(connection);
  auto client = Client::Create(options);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

class SecurityTest : public ::testing::Test {
 protected:
  std::string log() const { return ReadWholeFile(dir_.path() + "/data/conveyord.log"); }
  TempDir dir_;
};

TEST_F(SecurityTest, MutualTlsAndTokensWithCliWorkerAndClient) {
  auto certs = MakeTestCertificates(dir_.path());
  ASSERT_TRUE(certs.ok()) << certs.status();
  const std::string tokens = dir_.path() + "/tokens";
  WriteFile(tokens, AllTokens());
  auto c = StartCoordinator(
      CONVEYORD_PATH, dir_.path() + "/data",
      {"--metrics-listen", "", "--tls-cert=" + certs->server_cert, "--tls-key=" + certs->server_key,
       "--tls-client-ca=" + certs->ca, "--tokens-file=" + tokens});
  ASSERT_TRUE(c.ok()) << c.status() << log();
  const std::vector<std::string> tls = {"--coordinator", c->address(),     "--tls-ca",
                                        certs->ca,       "--tls-cert",     certs->client_cert,
                                        "--tls-key",     certs->client_key};
  const auto with_tls = [&](std::vector<std::string> args) {
    args.insert(args.begin(), tls.begin(), tls.end());
    return args;
  };

  CliResult submitted = RunCli(with_tls({"submit", "--queue", "q", "--type", "echo", "hello"}), "",
                               {absl::StrCat("CONVEYOR_TOKEN=", kProducerToken)});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string id(absl::StripAsciiWhitespace(submitted.out));

  auto worker = ChildProcess::Start(
      CONVEYOR_WORKER_PATH,
      {"--coordinator", c->address(), "--queues", "q", "--tls-ca", certs->ca, "--tls-cert",
       certs->client_cert, "--tls-key", certs->client_key},
      dir_.path() + "/worker.log", {absl::StrCat("CONVEYOR_TOKEN=", kWorkerToken)});
  ASSERT_TRUE(worker.ok()) << worker.status();
  CliResult waited = RunCli(with_tls({"wait", id, "--json", "--token", kProducerToken}));
  ASSERT_EQ(waited.exit_code, 0) << waited.err << ReadWholeFile(dir_.path() + "/worker.log");
  EXPECT_TRUE(absl::StrContains(waited.out, "JOB_STATE_SUCCEEDED")) << waited.out;

  // The client library, as admin: every service.
  ConnectionOptions admin;
  admin.token = kAdminToken;
  admin.tls_ca_file = certs->ca;
  admin.tls_cert_file = certs->client_cert;
  admin.tls_key_file = certs->client_key;
  auto client = MakeClient(c->address(), admin);
  ASSERT_NE(client, nullptr);
  auto workers = client->ListWorkers();
  ASSERT_TRUE(workers.ok()) << workers.status();
  EXPECT_EQ(workers->workers_size(), 1);
  uint64_t job_id = 0;
  ASSERT_TRUE(absl::SimpleAtoi(id, &job_id)) << id;
  auto job = client->GetJob(job_id);
  ASSERT_TRUE(job.ok()) << job.status();
  EXPECT_EQ(job->result(), "hello");

  // A producer token may not administer; no token is refused.
  CliResult producer_admin = RunCli(with_tls({"queues", "--token", kProducerToken}));
  EXPECT_EQ(producer_admin.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(producer_admin.err, "PERMISSION_DENIED")) << producer_admin.err;
  CliResult no_token = RunCli(with_tls({"get", id}));
  EXPECT_EQ(no_token.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(no_token.err, "UNAUTHENTICATED")) << no_token.err;

  // Transport failures: plaintext, TLS without a client certificate, and a
  // certificate from a CA the coordinator does not trust.
  const std::string token = absl::StrCat("CONVEYOR_TOKEN=", kAdminToken);
  CliResult plaintext =
      RunCli({"--coordinator", c->address(), "--rpc-timeout", "2s", "get", id}, "", {token});
  EXPECT_EQ(plaintext.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(plaintext.err, "UNAVAILABLE")) << plaintext.err;
  CliResult no_cert = RunCli(
      {"--coordinator", c->address(), "--rpc-timeout", "2s", "--tls-ca", certs->ca, "get", id}, "",
      {token});
  EXPECT_EQ(no_cert.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(no_cert.err, "UNAVAILABLE")) << no_cert.err;
  CliResult stranger =
      RunCli({"--coordinator", c->address(), "--rpc-timeout", "2s", "--tls-ca", certs->ca,
              "--tls-cert", certs->stranger_cert, "--tls-key", certs->stranger_key, "get", id},
             "", {token});
  EXPECT_EQ(stranger.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(stranger.err, "UNAVAILABLE")) << stranger.err;
  ConnectionOptions anonymous;
  anonymous.tls_ca_file = certs->ca;
  anonymous.token = kAdminToken;
  auto anonymous_client = MakeClient(c->address(), anonymous);
  ASSERT_NE(anonymous_client, nullptr);
  EXPECT_EQ(anonymous_client->ListQueues(WithTimeout(absl::Seconds(2))).status().code(),
            absl::StatusCode::kUnavailable);

  (*worker)->Signal(SIGTERM);
  EXPECT_TRUE((*worker)->Wait(absl::Seconds(30)).ok());
  const std::string logs = log() + ReadWholeFile(dir_.path() + "/worker.log");
  for (const char* secret : {kProducerToken, kWorkerToken, kAdminToken}) {
    EXPECT_FALSE(absl::StrContains(logs, secret)) << secret;
  }
  EXPECT_FALSE(absl::StrContains(logs, kWarning));
}

TEST_F(SecurityTest, TlsWithoutClientCertificates) {
  auto certs = MakeTestCertificates(dir_.path());
  ASSERT_TRUE(certs.ok()) << certs.status();
  auto c = StartCoordinator(
      CONVEYORD_PATH, dir_.path() + "/data",
      {"--metrics-listen", "", "--tls-cert=" + certs->server_cert, "--tls-key=" + certs->server_key});
  ASSERT_TRUE(c.ok()) << c.status() << log();
  CliResult submitted = RunCli({"--coordinator", c->address(), "--tls-ca", certs->ca, "submit",
                                "--queue", "q", "--type", "echo", "x"});
  EXPECT_EQ(submitted.exit_code, 0) << submitted.err;
  // Without --tls-ca gRPC's default roots do not know the test CA.
  CliResult untrusted =
      RunCli({"--coordinator", c->address(), "--rpc-timeout", "2s", "--tls", "queues"});
  EXPECT_EQ(untrusted.exit_code, 1);
  CliResult plaintext = RunCli({"--coordinator", c->address(), "--rpc-timeout", "2s", "queues"});
  EXPECT_EQ(plaintext.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(plaintext.err, "UNAVAILABLE")) << plaintext.err;
}

TEST_F(SecurityTest, SighupReloadsTheTokensFile) {
  const std::string tokens = dir_.path() + "/tokens";
  const std::string added = "added-token-0123456789";
  WriteFile(tokens, absl::StrCat(kAdminToken, " admin\n"));
  auto c = StartCoordinator(CONVEYORD_PATH, dir_.path() + "/data",
                            {"--metrics-listen", "", "--tokens-file=" + tokens});
  ASSERT_TRUE(c.ok()) << c.status() << log();
  auto code_for = [&](const std::string& token) {
    ConnectionOptions connection;
    connection.token = token;
    auto client = MakeClient(c->address(), connection);
    return client == nullptr ? absl::StatusCode::kUnknown : client->GetJob(1).status().code();
  };
  EXPECT_EQ(code_for(kAdminToken), absl::StatusCode::kNotFound);
  EXPECT_EQ(code_for(added), absl::StatusCode::kUnauthenticated);

  WriteFile(tokens, absl::StrCat(kAdminToken, " admin\n", added, " producer\n"));
  c->process->Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return code_for(added) == absl::StatusCode::kNotFound; })) << log();

  WriteFile(tokens, absl::StrCat(added, " producer\n"));
  c->process->Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return code_for(kAdminToken) == absl::StatusCode::kUnauthenticated; }))
      << log();

  // A bad file is refused: the tokens in force stay, and the error says why.
  WriteFile(tokens, absl::StrCat(added, " producer\n", kAdminToken, " root\n"));
  c->process->Signal(SIGHUP);
  EXPECT_TRUE(WaitFor([&] { return absl::StrContains(log(), "tokens not reloaded"); })) << log();
  EXPECT_TRUE(absl::StrContains(log(), tokens + " line 2")) << log();
  EXPECT_EQ(code_for(added), absl::StatusCode::kNotFound);
  EXPECT_EQ(code_for(kAdminToken), absl::StatusCode::kUnauthenticated);
  EXPECT_TRUE(c->process->Running());
  for (const std::string& secret : {std::string(kAdminToken), added}) {
    EXPECT_FALSE(absl::StrContains(log(), secret)) << secret;
  }
}

TEST_F(SecurityTest, MalformedTokensFileStopsStartup) {
  const std::string tokens = dir_.path() + "/tokens";
  WriteFile(tokens, absl::StrCat("# ok\n", kAdminToken, "\n"));
  const std::string log_path = dir_.path() + "/conveyord.log";
  auto process = ChildProcess::Start(
      CONVEYORD_PATH, {"--listen=127.0.0.1:0", "--memory-store", "--tokens-file=" + tokens},
      log_path);
  ASSERT_TRUE(process.ok()) << process.status();
  auto status = (*process)->Wait(absl::Seconds(30));
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) != 0);
  const std::string log = ReadWholeFile(log_path);
  EXPECT_TRUE(absl::StrContains(log, tokens + " line 2: expected \"TOKEN ROLE\"")) << log;
  EXPECT_FALSE(absl::StrContains(log, kAdminToken)) << log;
}

TEST_F(SecurityTest, OpenNonLoopbackListenWarnsOnce) {
  const std::string port_file = dir_.path() + "/port";
  const std::string log_path = dir_.path() + "/conveyord.log";
  auto process = ChildProcess::Start(
      CONVEYORD_PATH,
      {"--listen=0.0.0.0:0", "--memory-store", "--metrics-listen", "", "--port-file=" + port_file},
      log_path);
  ASSERT_TRUE(process.ok()) << process.status();
  ASSERT_TRUE(ReadPortFile(port_file).ok()) << ReadWholeFile(log_path);
  const std::string log = ReadWholeFile(log_path);
  const size_t first = log.find(kWarning);
  ASSERT_NE(first, std::string::npos) << log;
  EXPECT_EQ(log.find(kWarning, first + 1), std::string::npos) << log;
  (*process)->Signal(SIGTERM);
  EXPECT_TRUE((*process)->Wait(absl::Seconds(30)).ok());
}

}  // namespace
}  // namespace conveyor::testing
