#ifndef CONVEYOR_SERVER_RPC_PROTO_CONVERT_H_
#define CONVEYOR_SERVER_RPC_PROTO_CONVERT_H_

// Conversions between conveyor.v1 messages and engine types. The only place
// proto Timestamp/Duration meet absl::Time/Duration on the server.

#include "absl/status/statusor.h"
#include "conveyor/v1/admin_service.pb.h"
#include "conveyor/v1/job.pb.h"
#include "conveyor/v1/worker_service.pb.h"
#include "server/engine/engine.h"

namespace conveyor::rpc {

void ToProtoDuration(absl::Duration d, google::protobuf::Duration* out);

// INVALID_ARGUMENT (naming `field`, e.g. "jobs[2]") for values no engine
// spec can hold (e.g. a malformed Duration).
absl::StatusOr<JobSpec> FromProto(const v1::JobSpec& spec, const std::string& field);
void ToProto(const Job& job, v1::Job* out);
absl::StatusOr<QueueSettingsUpdate> FromProto(const v1::QueueSettings& settings);
void ToProto(const QueueStats& stats, v1::QueueInfo* out);
void ToProto(const WorkerStats& stats, v1::WorkerInfo* out);
WorkerHello FromProto(const v1::Hello& hello);
// Durations the worker acts on are measured from `now` (clock skew). Sets
// the job fields Assignment.job documents, moving its strings.
void ToProto(Assignment assignment, absl::Time now, v1::Assignment* out);

}  // namespace conveyor::rpc

#endif  // CONVEYOR_SERVER_RPC_PROTO_CONVERT_H_
