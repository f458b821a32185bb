#ifndef CONVEYOR_CLIENT_CLI_JSON_OUTPUT_H_
#define CONVEYOR_CLIENT_CLI_JSON_OUTPUT_H_

#include <google/protobuf/message.h>

#include <nlohmann/json.hpp>

#include "absl/strings/string_view.h"
#include "conveyor/v1/job.pb.h"

// The CLI's --json output: the protobuf JSON mapping (what grpcurl prints),
// with the .proto field names, enums as names ("JOB_STATE_QUEUED"), every
// scalar present, uint64/int64 as strings and bytes as base64.
namespace conveyor::cli {

// True for well-formed UTF-8 (no overlong forms, surrogates or values past
// U+10FFFF).
bool IsValidUtf8(absl::string_view s);

nlohmann::json MessageToJson(const google::protobuf::Message& message);
// MessageToJson plus, when the bytes are valid UTF-8, "payload_text" and
// "result_text" holding them as text.
nlohmann::json JobToJson(const v1::Job& job);

}  // namespace conveyor::cli

#endif  // CONVEYOR_CLIENT_CLI_JSON_OUTPUT_H_
