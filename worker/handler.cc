#include "worker/handler.h"

#include "absl/strings/cord.h"

namespace conveyor {
namespace {

constexpr absl::string_view kPermanentUrl = "type.conveyor.dev/conveyor.worker.Permanent";

}  // namespace

absl::Status PermanentError(std::string_view message) {
  return MakePermanent(absl::FailedPreconditionError(absl::string_view(message.data(), message.size())));
}

absl::Status MakePermanent(absl::Status status) {
  if (status.ok()) status = absl::UnknownError("permanent failure");
  status.SetPayload(kPermanentUrl, absl::Cord("1"));
  return status;
}

bool IsPermanent(const absl::Status& status) {
  return !status.ok() && status.GetPayload(kPermanentUrl).has_value();
}

}  // namespace conveyor
