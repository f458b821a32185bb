// Bad input: each is refused with the right code and a message naming the
// field, and nothing is submitted.

#include "tests/engine/engine_fixture.h"

namespace conveyor::testing {
namespace {

class ValidationTest : public EngineTest {
 protected:
  // Expects a one-spec Submit of `spec` to fail with INVALID_ARGUMENT naming
  // `field`, and to create nothing.
  void ExpectInvalid(const JobSpec& spec, const std::string& field) {
    const uint64_t seq = observer_.last_seq();
    EXPECT_STATUS(engine().Submit({spec}), absl::StatusCode::kInvalidArgument, field);
    EXPECT_EQ(observer_.last_seq(), seq) << "nothing submitted";
  }
};

TEST_F(ValidationTest, QueueNames) {
  JobSpec s = Spec("");
  ExpectInvalid(s, "queue");
  s.queue = "a b";
  ExpectInvalid(s, "queue");
  ExpectInvalid(s, "a b");
  s.queue = std::string(129, 'x');
  ExpectInvalid(s, "queue");
  s.queue = "caf\xc3\xa9";
  ExpectInvalid(s, "queue");
  s.queue = std::string(128, 'x');
  EXPECT_OK(engine().Submit({s}));
  s.queue = "A-z_0.9";
  EXPECT_OK(engine().Submit({s}));
}

TEST_F(ValidationTest, TypeNames) {
  JobSpec s = Spec("q", "");
  ExpectInvalid(s, "type");
  s.type = "a b";
  ExpectInvalid(s, "type");
  s.type = std::string(129, 't');
  ExpectInvalid(s, "type");
  s.type = "send/email";
  ExpectInvalid(s, "type");
  s.type = std::string(128, 't');
  EXPECT_OK(engine().Submit({s}));
}

TEST_F(ValidationTest, PayloadLimit) {
  options_.max_payload_bytes = 100;
  JobSpec s = Spec();
  s.payload = std::string(101, 'p');
  ExpectInvalid(s, "payload");
  s.payload = std::string(100, 'p');
  EXPECT_OK(engine().Submit({s}));
}

TEST_F(ValidationTest, DefaultPayloadLimitIsOneMebibyte) {
  JobSpec s = Spec();
  s.payload = std::string((1 << 20) + 1, 'p');
  ExpectInvalid(s, "payload");
  s.payload = std::string(1 << 20, 'p');
  EXPECT_OK(engine().Submit({s}));
}

TEST_F(ValidationTest, Delays) {
  JobSpec s = Spec();
  s.delay = absl::Seconds(-1);
  ExpectInvalid(s, "delay");
  s.delay = absl::Seconds(1);
  s.run_at = Now() + absl::Seconds(1);
  const uint64_t seq = observer_.last_seq();
  absl::Status both = StatusOf(engine().Submit({s}));
  EXPECT_EQ(both.code(), absl::StatusCode::kInvalidArgument) << both;
  EXPECT_TRUE(absl::StrContains(both.message(), "delay") ||
              absl::StrContains(both.message(), "run_at"))
      << both;
  EXPECT_EQ(observer_.last_seq(), seq);
  s.run_at.reset();
  s.delay = absl::ZeroDuration();
  EXPECT_OK(engine().Submit({s}));
}

TEST_F(ValidationTest, Deadlines) {
  JobSpec s = Spec();
  s.timeout = absl::Seconds(5);
  s.deadline = Now() + absl::Seconds(5);
  const uint64_t seq = observer_.last_seq();
  absl::Status both = StatusOf(engine().Submit({s}));
  EXPECT_EQ(both.code(), absl::StatusCode::kInvalidArgument) << both;
  EXPECT_TRUE(absl::StrContains(both.message(), "deadline") ||
              absl::StrContains(both.message(), "timeout"))
      << both;
  EXPECT_EQ(observer_.last_seq(), seq);
  s.deadline.reset();
  s.timeout = absl::ZeroDuration();
  ExpectInvalid(s, "timeout");
  s.timeout = absl::Seconds(-3);
  ExpectInvalid(s, "timeout");
  s.timeout.reset();
  s.attempt_timeout = absl::Seconds(-1);
  ExpectInvalid(s, "attempt_timeout");
}

TEST_F(ValidationTest, PriorityRange) {
  JobSpec s = Spec();
  s.priority = 1001;
  ExpectInvalid(s, "priority");
  s.priority = -1001;
  ExpectInvalid(s, "priority");
  s.priority = 1000;
  EXPECT_OK(engine().Submit({s}));
  s.priority = -1000;
  EXPECT_OK(engine().Submit({s}));
}

TEST_F(ValidationTest, MaxAttemptsRange) {
  JobSpec s = Spec();
  s.max_attempts = -1;
  ExpectInvalid(s, "max_attempts");
  s.max_attempts = 1001;
  ExpectInvalid(s, "max_attempts");
  s.max_attempts = 1000;
  EXPECT_OK(engine().Submit({s}));
  s.max_attempts = 0;  // The queue's default.
  ASSERT_OK_AND_ASSIGN(auto r, engine().Submit({s}));
  EXPECT_EQ(Get(r.value[0].id).max_attempts, 3);
}

TEST_F(ValidationTest, BackoffPolicy) {
  JobSpec s = Spec();
  s.backoff = Backoff{absl::ZeroDuration(), absl::Seconds(1), 2.0};
  ExpectInvalid(s, "backoff");
  s.backoff = Backoff{absl::Seconds(2), absl::Seconds(1), 2.0};
  ExpectInvalid(s, "backoff");
  s.backoff = Backoff{absl::Seconds(1), absl::Seconds(2), 0.5};
  ExpectInvalid(s, "multiplier");
}

TEST_F(ValidationTest, IdempotencyKeyAndLabelLimits) {
  JobSpec s = Spec();
  s.idempotency_key = std::string(257, 'k');
  ExpectInvalid(s, "idempotency_key");
  s.idempotency_key = std::string(256, 'k');
  EXPECT_OK(engine().Submit({s}));
  JobSpec l = Spec();
  for (int i = 0; i < 65; ++i) l.labels[absl::StrCat("k", i)] = "v";
  ExpectInvalid(l, "labels");
}

TEST_F(ValidationTest, MessageNamesTheSpecIndex) {
  JobSpec bad = Spec("bad queue");
  const uint64_t seq = observer_.last_seq();
  absl::Status st = StatusOf(engine().Submit({Spec(), Spec(), Spec(), bad}));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument) << st;
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("3")) << st;
  EXPECT_THAT(std::string(st.message()), ::testing::HasSubstr("queue")) << st;
  EXPECT_EQ(observer_.last_seq(), seq) << "one bad spec rejects the whole batch";
  JobFilter all;
  EXPECT_TRUE(engine().ListJobs(all).empty());
}

TEST_F(ValidationTest, BatchSize) {
  options_.max_batch = 5;
  EXPECT_EQ(StatusOf(engine().Submit({})).code(), absl::StatusCode::kInvalidArgument);
  std::vector<JobSpec> six(6, Spec());
  EXPECT_STATUS(engine().Submit(six), absl::StatusCode::kResourceExhausted, "5");
  EXPECT_EQ(observer_.last_seq(), 0u);
  std::vector<JobSpec> five(5, Spec());
  ASSERT_OK_AND_ASSIGN(auto r, engine().Submit(five));
  EXPECT_EQ(r.value.size(), 5u);
}

TEST_F(ValidationTest, QueueSettingsOutOfRange) {
  QueueSettingsUpdate u;
  u.lease_duration = absl::Milliseconds(10);
  EXPECT_STATUS(engine().UpdateQueue("q", u), absl::StatusCode::kInvalidArgument, "lease_duration");
  u = QueueSettingsUpdate{};
  u.max_depth = -1;
  EXPECT_STATUS(engine().UpdateQueue("q", u), absl::StatusCode::kInvalidArgument, "max_depth");
  u = QueueSettingsUpdate{};
  u.rate_limit = -1;
  EXPECT_STATUS(engine().UpdateQueue("q", u), absl::StatusCode::kInvalidArgument, "rate_limit");
  // A refused update creates nothing.
  EXPECT_STATUS(engine().GetQueue("q"), absl::StatusCode::kNotFound, "");
}

TEST_F(ValidationTest, TooManyQueues) {
  options_.max_queues = 2;
  SubmitOne(Spec("q1"));
  SubmitOne(Spec("q2"));
  absl::Status st = StatusOf(engine().Submit({Spec("q3")}));
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(st.code(), absl::StatusCode::kResourceExhausted) << st;
}

}  // namespace
}  // namespace conveyor::testing
