#ifndef CONVEYOR_SERVER_ENGINE_JOB_OBSERVER_H_
#define CONVEYOR_SERVER_ENGINE_JOB_OBSERVER_H_

#include <cstdint>
#include <string>

#include "server/engine/job.h"
#include "server/engine/queue_settings.h"

namespace conveyor {

// Receives every durable state change of the engine, in the order the
// engine made them; replaying the calls in that order onto an empty store
// rebuilds the engine's state. Each call carries a sequence number one
// greater than the previous call's (the first is 1).
//
// Calls are made under the engine's lock: implementations must only record
// the change in memory (no I/O, no blocking, no logging) and must not call
// back into the engine.
class JobObserver {
 public:
  virtual ~JobObserver() = default;
  // A new job, payload included.
  virtual void OnJobCreated(uint64_t seq, const Job& job) = 0;
  // A job changed. Only its lifecycle fields (state through last_token in
  // job.h) differ from when it was created, so a store writes only those;
  // the payload and the rest of the spec are written once, at creation.
  virtual void OnJobUpdated(uint64_t seq, const Job& job) = 0;
  // A job was removed for good (retention, purge).
  virtual void OnJobDeleted(uint64_t seq, JobId id) = 0;
  // A queue's settings changed (created with non-default settings).
  virtual void OnQueueSettingsChanged(uint64_t seq, const std::string& queue,
                                      const QueueSettings& settings) = 0;
  // Bracket the changes of one engine operation (e.g. every job of one
  // Submit batch): Begin comes before its first change, End after its last.
  // A store must make such a group durable all or none: a crash must never
  // keep part of an operation. Changes outside a bracket stand alone.
  virtual void OnOperationBegin() {}
  virtual void OnOperationEnd() {}
};

}  // namespace conveyor

#endif  // CONVEYOR_SERVER_ENGINE_JOB_OBSERVER_H_
