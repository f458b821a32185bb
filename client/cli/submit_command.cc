// `conveyor submit`: one job (payload from an argument, --file or stdin) or
// many (--batch-file, one payload per line, sent in batches).
#include <unistd.h>

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "client/cli/cli.h"
#include "client/cli/cli_args.h"
#include "client/cli/format.h"
#include "client/cli/json_output.h"
#include "client/proto_time.h"

namespace conveyor::cli {
namespace {

struct SubmitFlags {
  std::string payload;
  std::string file;
  std::string batch_file;
  int batch_size = 500;
  std::string queue;
  std::string type;
  int priority = 0;
  std::string delay;
  int max_attempts = 0;
  std::string idempotency_key;
  std::vector<std::string> labels;
  std::string job_timeout;
  std::string attempt_timeout;
  bool wait = false;
  std::string timeout;
};

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  std::stringstream content;
  if (path == "-") {
    content << std::cin.rdbuf();
    if (std::cin.bad()) return absl::DataLossError("reading stdin failed");
    return content.str();
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  content << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("reading ", path, " failed"));
  return content.str();
}

// The spec every job of this command shares (all but payload and key).
absl::StatusOr<v1::JobSpec> BaseSpec(const SubmitFlags& flags) {
  v1::JobSpec spec;
  spec.set_queue(flags.queue);
  spec.set_type(flags.type);
  spec.set_priority(flags.priority);
  spec.set_max_attempts(flags.max_attempts);
  if (!flags.delay.empty()) {
    absl::StatusOr<absl::Duration> d = ParseNonNegativeDuration("--delay", flags.delay);
    if (!d.ok()) return d.status();
    *spec.mutable_delay() = ToProtoDuration(*d);
  }
  if (!flags.job_timeout.empty()) {
    absl::StatusOr<absl::Duration> d = ParseNonNegativeDuration("--job-timeout", flags.job_timeout);
    if (!d.ok()) return d.status();
    *spec.mutable_timeout() = ToProtoDuration(*d);
  }
  if (!flags.attempt_timeout.empty()) {
    absl::StatusOr<absl::Duration> d =
        ParseNonNegativeDuration("--attempt-timeout", flags.attempt_timeout);
    if (!d.ok()) return d.status();
    *spec.mutable_attempt_timeout() = ToProtoDuration(*d);
  }
  absl::StatusOr<std::map<std::string, std::string>> labels = ParseLabels(flags.labels);
  if (!labels.ok()) return labels.status();
  spec.mutable_labels()->insert(labels->begin(), labels->end());
  return spec;
}

int WaitAndReport(Cli& cli, Client& client, uint64_t id, const SubmitFlags& flags) {
  CallOptions call;
  if (!flags.timeout.empty()) {
    absl::StatusOr<absl::Duration> d = ParseNonNegativeDuration("--timeout", flags.timeout);
    if (!d.ok()) return cli.Fail(d.status());
    call = WithTimeout(*d);
  }
  absl::StatusOr<v1::Job> job = client.WaitJob(id, call);
  if (!job.ok()) {
    return cli.Fail(absl::Status(
        job.status().code(), absl::StrCat("waiting for job ", id, ": ", job.status().message())));
  }
  if (cli.json) {
    cli.PrintJson(JobToJson(*job));
  } else {
    std::cout << JobDetail(*job);
  }
  return ExitCodeForState(job->state());
}

int SubmitOne(Cli& cli, Client& client, const SubmitFlags& flags, v1::JobSpec spec) {
  if (!flags.file.empty() || flags.payload == "-") {
    absl::StatusOr<std::string> payload = ReadAll(flags.file.empty() ? "-" : flags.file);
    if (!payload.ok()) return cli.Fail(payload.status());
    spec.set_payload(*payload);
  } else {
    spec.set_payload(flags.payload);
  }
  spec.set_idempotency_key(flags.idempotency_key);
  absl::StatusOr<v1::SubmitResult> result = client.Submit(spec);
  if (!result.ok()) return cli.Fail(result.status());
  if (flags.wait) {
    if (!cli.json) std::cerr << "submitted job " << result->id() << ", waiting" << std::endl;
    return WaitAndReport(cli, client, result->id(), flags);
  }
  if (cli.json) {
    cli.PrintJson(MessageToJson(*result));
  } else {
    std::cout << result->id() << std::endl;
    if (result->duplicate()) {
      std::cerr << "job " << result->id() << " already exists with this idempotency key"
                << std::endl;
    }
  }
  return kExitOk;
}

int SubmitBatchFile(Cli& cli, Client& client, const SubmitFlags& flags, const v1::JobSpec& base) {
  absl::StatusOr<std::string> content = ReadAll(flags.batch_file);
  if (!content.ok()) return cli.Fail(content.status());
  const std::vector<std::string> payloads = SplitPayloadLines(*content);
  const bool progress = isatty(STDERR_FILENO) == 1;
  std::vector<uint64_t> ids;
  ids.reserve(payloads.size());
  int duplicates = 0;
  int batches = 0;
  for (const auto& [begin, end] : BatchRanges(payloads.size(), flags.batch_size)) {
    std::vector<v1::JobSpec> specs(end - begin, base);
    for (size_t i = begin; i < end; ++i) {
      specs[i - begin].set_payload(payloads[i]);
      // Line-numbered keys make re-running the same file safe (and retryable).
      if (!flags.idempotency_key.empty()) {
        specs[i - begin].set_idempotency_key(absl::StrCat(flags.idempotency_key, "-", i + 1));
      }
    }
    absl::StatusOr<v1::SubmitResponse> response = client.SubmitBatch(specs);
    if (!response.ok()) {
      if (progress) std::cerr << std::endl;
      return cli.Fail(
          absl::Status(response.status().code(),
                       absl::StrCat("lines after the first ", begin, " of ", payloads.size(),
                                    " were not submitted: ", response.status().message())));
    }
    ++batches;
    for (const v1::SubmitResult& r : response->results()) {
      ids.push_back(r.id());
      duplicates += r.duplicate() ? 1 : 0;
    }
    if (progress) std::cerr << "\rsubmitted " << end << "/" << payloads.size() << std::flush;
  }
  if (progress) std::cerr << std::endl;
  if (cli.json) {
    cli.PrintJson({{"submitted", ids.size()},
                   {"duplicates", duplicates},
                   {"batches", batches},
                   {"ids", ids}});
  } else {
    std::cout << "submitted " << ids.size() << " jobs in " << batches << " batches";
    if (!ids.empty()) std::cout << ", ids " << ids.front() << " to " << ids.back();
    if (duplicates > 0) std::cout << " (" << duplicates << " duplicates)";
    std::cout << std::endl;
  }
  return kExitOk;
}

int RunSubmit(Cli& cli, const SubmitFlags& flags) {
  absl::StatusOr<v1::JobSpec> base = BaseSpec(flags);
  if (!base.ok()) return cli.Fail(base.status());
  absl::StatusOr<std::unique_ptr<Client>> client = cli.Connect();
  if (!client.ok()) return cli.Fail(client.status());
  if (!flags.batch_file.empty()) return SubmitBatchFile(cli, **client, flags, *base);
  return SubmitOne(cli, **client, flags, *base);
}

}  // namespace

void AddSubmitCommand(CLI::App& app, Cli& cli) {
  auto flags = std::make_shared<SubmitFlags>();
  CLI::App* cmd = app.add_subcommand("submit", "Submit a job, or one job per line of a file");
  cmd->footer(
      "Prints the job id (--json: {\"id\", \"duplicate\"}). With --wait, waits for the job to\n"
      "end and prints it; exits 2 if it ended DEAD or CANCELLED, 1 on timeout.\n"
      "With --batch-file, payloads are sent --batch-size at a time, each batch atomic; with\n"
      "--idempotency-key K, line N gets key K-N so the same file can be submitted again.\n\n" +
      app.get_footer());
  CLI::Option* payload =
      cmd->add_option("payload", flags->payload, "The payload text; - reads stdin");
  CLI::Option* file = cmd->add_option("-f,--file", flags->file, "Read the payload from a file");
  CLI::Option* batch = cmd->add_option("--batch-file", flags->batch_file,
                                       "Submit one job per non-empty line of this file (- for "
                                       "stdin)");
  file->excludes(payload);
  batch->excludes(payload)->excludes(file);
  cmd->add_option("--batch-size", flags->batch_size, "Jobs per Submit call with --batch-file")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("-q,--queue", flags->queue, "Queue name")->required();
  cmd->add_option("-t,--type", flags->type, "Job type (the worker's handler name)")->required();
  cmd->add_option("-p,--priority", flags->priority, "Higher runs first, -1000 to 1000")
      ->capture_default_str();
  cmd->add_option("--delay", flags->delay, "Run no earlier than this from now, e.g. 30s");
  cmd->add_option("--max-attempts", flags->max_attempts,
                  "Attempts before the job is dead-lettered (0: the queue's default)");
  cmd->add_option("--idempotency-key", flags->idempotency_key,
                  "Submitting again with this key returns the same job");
  cmd->add_option("-l,--label", flags->labels, "A key=value label; repeat for more");
  cmd->add_option("--job-timeout", flags->job_timeout,
                  "Cancel the job if it has not ended this long after submission");
  cmd->add_option("--attempt-timeout", flags->attempt_timeout, "Longest one attempt may run");
  CLI::Option* wait =
      cmd->add_flag("-w,--wait", flags->wait, "Wait for the job to end and print it");
  cmd->add_option("--timeout", flags->timeout, "With --wait: stop waiting after this long")
      ->needs(wait);
  batch->excludes(wait);
  cmd->callback([&cli, flags] { cli.exit_code = RunSubmit(cli, *flags); });
}

}  // namespace conveyor::cli
