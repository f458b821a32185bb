#ifndef CONVEYOR_TESTS_TESTING_TEST_CERTIFICATES_H_
#define CONVEYOR_TESTS_TESTING_TEST_CERTIFICATES_H_

#include <string>

#include "absl/status/statusor.h"

namespace conveyor::testing {

// Paths of PEM files made for one test by the `openssl` CLI: a CA; a server
// certificate it signed for 127.0.0.1 and localhost; a client certificate it
// signed; and a client certificate signed by another CA (to be refused).
struct TestCertificates {
  std::string ca;
  std::string server_cert;
  std::string server_key;
  std::string client_cert;
  std::string client_key;
  std::string stranger_cert;
  std::string stranger_key;
};

// Writes the files into `dir` (which must exist). Takes a second or so.
absl::StatusOr<TestCertificates> MakeTestCertificates(const std::string& dir);

}  // namespace conveyor::testing

#endif  // CONVEYOR_TESTS_TESTING_TEST_CERTIFICATES_H_
