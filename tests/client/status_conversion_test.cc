#include "client/status_conversion.h"

#include <gtest/gtest.h>

namespace conveyor {
namespace {

TEST(StatusConversionTest, OkIsOk) { EXPECT_TRUE(FromGrpcStatus(grpc::Status::OK).ok()); }

TEST(StatusConversionTest, EveryCanonicalCodeKeepsCodeAndMessage) {
  for (int code = 1; code <= 16; ++code) {
    const absl::Status s =
        FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(code), "queue \"a b\": bad"));
    EXPECT_EQ(static_cast<int>(s.code()), code);
    EXPECT_EQ(s.message(), "queue \"a b\": bad");
  }
  EXPECT_TRUE(absl::IsUnavailable(FromGrpcStatus(grpc::Status(grpc::UNAVAILABLE, "draining"))));
  EXPECT_TRUE(
      absl::IsFailedPrecondition(FromGrpcStatus(grpc::Status(grpc::FAILED_PRECONDITION, "ended"))));
}

TEST(StatusConversionTest, UnknownCodeBecomesUnknown) {
  // 31: no StatusCode names it, yet it is inside the enum's value range
  // (0..31); a larger value would be undefined behaviour (UBSan: enum).
  const absl::Status s = FromGrpcStatus(grpc::Status(static_cast<grpc::StatusCode>(31), "odd"));
  EXPECT_TRUE(absl::IsUnknown(s));
  EXPECT_NE(s.message().find("odd"), absl::string_view::npos);
}

}  // namespace
}  // namespace conveyor
