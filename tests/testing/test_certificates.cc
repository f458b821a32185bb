#include "tests/testing/test_certificates.h"

#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "tests/testing/process_harness.h"

namespace conveyor::testing {
namespace {

// Creates KEY.key and a certificate request for `cn`, then CA-signs it into
// NAME.pem with the extensions `ext`.
std::string SignedCertificate(const std::string& name, const std::string& cn, const std::string& ca,
                              const std::string& ext) {
  return absl::StrCat("openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ",
                      name, ".key -out ", name, ".csr -subj /CN=", cn, "\n",  //
                      "printf '", ext, "\\n' > ", name, ".ext\n",             //
                      "openssl x509 -req -in ", name, ".csr -CA ", ca, ".pem -CAkey ", ca,
                      ".key -CAcreateserial -days 2 -sha256 -extfile ", name, ".ext -out ", name,
                      ".pem\n");
}

std::string SelfSignedCa(const std::string& name) {
  return absl::StrCat(
      "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout ", name,
      ".key -out ", name, ".pem -subj /CN=", name, "\n");
}

}  // namespace

absl::StatusOr<TestCertificates> MakeTestCertificates(const std::string& dir) {
  const std::string script = absl::StrCat(
      "set -e\ncd '", dir, "'\n", SelfSignedCa("ca"), SelfSignedCa("stranger-ca"),
      SignedCertificate("server", "localhost", "ca",
                        "subjectAltName=IP:127.0.0.1,DNS:localhost\\nextendedKeyUsage=serverAuth"),
      SignedCertificate("client", "conveyor-test-client", "ca", "extendedKeyUsage=clientAuth"),
      SignedCertificate("stranger", "conveyor-test-stranger", "stranger-ca",
                        "extendedKeyUsage=clientAuth"));
  const std::string log = dir + "/openssl.log";
  auto openssl = ChildProcess::Start("/bin/sh", {"-c", script}, log);
  if (!openssl.ok()) return openssl.status();
  absl::StatusOr<int> status = (*openssl)->Wait(absl::Seconds(60));
  if (!status.ok()) return status.status();
  if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    return absl::InternalError(absl::StrCat("openssl failed; see ", log));
  }
  TestCertificates certs;
  certs.ca = dir + "/ca.pem";
  certs.server_cert = dir + "/server.pem";
  certs.server_key = dir + "/server.key";
  certs.client_cert = dir + "/client.pem";
  certs.client_key = dir + "/client.key";
  certs.stranger_cert = dir + "/stranger.pem";
  certs.stranger_key = dir + "/stranger.key";
  return certs;
}

}  // namespace conveyor::testing
