// Creates jobs in a SqliteStore from several threads until killed, and
// appends to an ack file, one per line, what the store acknowledged:
//   c <id>   job <id> created, payload "crash-payload-<id>-..." (see Payload)
//   u <id>   job <id> then updated to RUNNING with attempts 1 and one attempt
//            by worker "w-<id>" in its history (the update carries no payload)
// Usage: store_crash_child <db path> <ack file> <threads>
// Exits 1 when the store fails; runs at most 10 minutes.

#include <stdio.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "server/store/sqlite_store.h"

namespace conveyor {
namespace {

std::string Payload(uint64_t id) {
  return absl::StrCat("crash-payload-", id, std::string(100, 'x'));
}

class Producer {
 public:
  Producer(Store* store, FILE* acks) : store_(store), acks_(acks) {}

  // Creates and updates jobs until the deadline; false when the store failed.
  bool Run(absl::Time deadline) {
    while (absl::Now() < deadline) {
      Job job;
      uint64_t seq;
      {
        absl::MutexLock lock(&engine_mu_);
        job.id = JobId{++next_id_};
        job.queue = "crash";
        job.type = "t";
        job.payload = Payload(job.id.value);
        job.created_at = absl::Now();
        seq = ++seq_;
        store_->OnJobCreated(seq, job);
      }
      if (!AwaitAndAck(seq, absl::StrCat("c ", job.id.value, "\n"))) return false;
      {
        absl::MutexLock lock(&engine_mu_);
        job.payload.clear();  // Updates write the lifecycle only.
        job.state = JobState::kRunning;
        job.attempts = 1;
        Attempt& attempt = job.history.emplace_back();
        attempt.number = 1;
        attempt.worker = WorkerId{job.id.value};
        attempt.worker_name = absl::StrCat("w-", job.id.value);
        attempt.started_at = job.created_at;
        seq = ++seq_;
        store_->OnJobUpdated(seq, job);
      }
      if (!AwaitAndAck(seq, absl::StrCat("u ", job.id.value, "\n"))) return false;
    }
    return true;
  }

 private:
  // Waits until `seq` is durable, then writes `line` to the ack file.
  bool AwaitAndAck(uint64_t seq, const std::string& line) {
    absl::Notification done;
    bool ok = false;
    store_->WhenDurable(seq, [&](absl::Status status) {
      ok = status.ok();
      if (ok) {
        absl::MutexLock lock(&ack_mu_);
        fputs(line.c_str(), acks_);
        fflush(acks_);  // Into the kernel: survives SIGKILL of this process.
      } else {
        fprintf(stderr, "store failed: %s\n", status.ToString().c_str());
      }
      done.Notify();
    });
    done.WaitForNotification();
    return ok;
  }

  Store* store_;
  FILE* acks_;
  absl::Mutex engine_mu_;  // Orders seqs as Engine::mu_ does.
  uint64_t next_id_ ABSL_GUARDED_BY(engine_mu_) = 0;
  uint64_t seq_ ABSL_GUARDED_BY(engine_mu_) = 0;
  absl::Mutex ack_mu_;
};

int Main(int argc, char** argv) {
  int threads = 0;
  if (argc != 4 || !absl::SimpleAtoi(argv[3], &threads) || threads < 1) {
    fprintf(stderr, "usage: %s <db path> <ack file> <threads>\n", argv[0]);
    return 2;
  }
  absl::StatusOr<std::unique_ptr<SqliteStore>> store = SqliteStore::Open(argv[1]);
  if (!store.ok()) {
    fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    return 1;
  }
  if (absl::StatusOr<RecoveredState> state = (*store)->Recover(); !state.ok()) {
    fprintf(stderr, "recover: %s\n", state.status().ToString().c_str());
    return 1;
  }
  FILE* acks = fopen(argv[2], "a");
  if (acks == nullptr) {
    perror("ack file");
    return 1;
  }
  Producer producer(store->get(), acks);
  const absl::Time deadline = absl::Now() + absl::Minutes(10);
  std::atomic<bool> failed{false};
  std::vector<std::thread> workers;
  for (int i = 0; i < threads; ++i) {
    workers.emplace_back([&] {
      if (!producer.Run(deadline)) failed = true;
    });
  }
  for (std::thread& t : workers) t.join();
  (*store)->Close();
  fclose(acks);
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace conveyor

int main(int argc, char** argv) { return conveyor::Main(argc, argv); }
