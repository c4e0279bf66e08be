// The events Lambda's event source mappings invoke memberflow's functions with (shapes as the
// Lambda developer guide documents them: "Using Lambda with self-managed Apache Kafka", "Using
// Lambda with Amazon SQS"), the answer read back for partial batch failures, and the input
// queue of an SQS-invoked stage. The functions themselves run under the runtime interface
// emulator in tests/e2e/test_lambda.py.
#include "adapters/aws/lambda_events.h"

#include <gtest/gtest.h>

#include "adapters/aws/event_batch_queue.h"
#include "adapters/aws/sqs_json.h"

namespace memberflow::aws {
namespace {

json::value J(const char* text) { return json::parse(text); }

TEST(KafkaEvent, ReadsTheSelfManagedShape) {
  // Two partitions, listed out of order; partition and offset as numbers and as strings; base64
  // key and value; a null value (tombstone) and an absent key; headers as byte values, signed
  // as Java sends them.
  auto recs = parseKafkaEvent(J(R"({
    "eventSource": "SelfManagedKafka", "bootstrapServers": "b1:9092",
    "records": {
      "members-1": [{"topic": "members", "partition": "1", "offset": "7", "timestamp": 1767225600000,
                     "timestampType": "CREATE_TIME", "value": null}],
      "members-0": [
        {"topic": "members", "partition": 0, "offset": 16, "timestamp": 1767225600002,
         "key": "TTE=", "value": "eyJhIjoxfQ==", "headers": [{"h": [104, 105]}, {"s": [-1, 0]}]},
        {"topic": "members", "partition": 0, "offset": 15, "timestamp": 1767225600001,
         "key": "TTI=", "value": "e30="}]}})"));
  ASSERT_TRUE(recs.isOk()) << recs.status().message();
  ASSERT_EQ(recs->size(), 3u);
  const auto& a = (*recs)[0];
  EXPECT_EQ(a.topic, "members");
  EXPECT_EQ(a.partition, 0);
  EXPECT_EQ(a.offset, 15);
  EXPECT_EQ(a.key, "M2");
  EXPECT_EQ(a.value, "{}");
  const auto& b = (*recs)[1];
  EXPECT_EQ(b.offset, 16);
  EXPECT_EQ(b.timestampMs, 1767225600002);
  EXPECT_EQ(b.value, R"({"a":1})");
  ASSERT_EQ(b.headers.size(), 2u);
  EXPECT_EQ(b.headers[0], (std::pair<std::string, std::string>{"h", "hi"}));
  EXPECT_EQ(b.headers[1].second, std::string("\xff\x00", 2));
  const auto& c = (*recs)[2];
  EXPECT_EQ(c.partition, 1);
  EXPECT_EQ(c.offset, 7);
  EXPECT_FALSE(c.key.has_value());
  EXPECT_FALSE(c.value.has_value());  // a tombstone
}

TEST(KafkaEvent, RefusesTheWholeEventForOneBadRecordWithoutItsContent) {
  for (
      const char* bad : {
          R"({"records": {"t-0": [{"topic": "t", "partition": 0, "offset": 1, "value": "%%%secret"}]}})",
          R"({"records": {"t-0": [{"topic": "t", "partition": 0, "value": "e30="}]}})",
          R"({"records": {"t-0": [{"topic": "t", "partition": "x", "offset": 1}]}})",
          R"({"records": {"t-0": [{"topic": "t", "partition": 0, "offset": 1, "headers": [{"h": [300]}]}]}})",
          R"({"records": {"t-0": [{"topic": "t", "partition": 0, "offset": 1, "headers": {"h": "v"}}]}})",
          R"({"records": {"t-0": [17]}})",
          R"({"records": {"t-0": {}}})",
          R"({"records": []})",
          R"({"Records": [{"messageId": "m"}]})",
          R"([])",
      }) {
    auto r = parseKafkaEvent(J(bad));
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument) << bad;
    EXPECT_EQ(r.status().message().find("secret"), std::string::npos) << bad;
  }
  // No records at all is an empty batch, not an error.
  auto empty = parseKafkaEvent(J(R"({"eventSource": "aws:kafka", "records": {}})"));
  ASSERT_TRUE(empty.isOk());
  EXPECT_TRUE(empty->empty());
}

TEST(SqsEvent, ReadsRecordsAsReceivedMessages) {
  auto msgs = parseSqsEvent(J(R"({"Records": [{
      "messageId": "m1", "receiptHandle": "r1", "body": "{}", "md5OfBody": "x",
      "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1767225600000",
                     "MessageGroupId": "M1", "MessageDeduplicationId": "d1", "SequenceNumber": "1"},
      "messageAttributes": {"reason": {"stringValue": "why", "dataType": "String"}},
      "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:1:changes.fifo"}]})"));
  ASSERT_TRUE(msgs.isOk());
  ASSERT_EQ(msgs->size(), 1u);
  const auto& m = msgs->front();
  EXPECT_EQ(m.messageId, "m1");
  EXPECT_EQ(m.receiptHandle, "r1");
  EXPECT_EQ(m.groupId, "M1");
  EXPECT_EQ(m.dedupId, "d1");
  EXPECT_EQ(m.receiveCount, 2);
  EXPECT_EQ(m.sentAtMs, 1767225600000);
  EXPECT_EQ(m.attributes, (std::map<std::string, std::string>{{"reason", "why"}}));
  for (const char* bad : {R"({})", R"({"Records": {}})", R"({"Records": [1]})",
                          R"({"Records": [{"body": "x"}]})", R"({"records": {}})"}) {
    EXPECT_EQ(parseSqsEvent(J(bad)).status().code(), Code::kInvalidArgument) << bad;
  }
}

TEST(BatchItemFailures, ListsTheIdsInOrder) {
  EXPECT_EQ(batchItemFailures({}), R"({"batchItemFailures":[]})");
  EXPECT_EQ(batchItemFailures({"b", "a"}),
            R"({"batchItemFailures":[{"itemIdentifier":"b"},{"itemIdentifier":"a"}]})");
}

// The queue the mapping reads, recording what the decorator passes on.
class RecordingQueue final : public Queue {
 public:
  const std::string& name() const override { return name_; }
  Status send(const std::vector<OutgoingMessage>& m) override {
    sent += m.size();
    return Status::ok();
  }
  Result<std::vector<ReceivedMessage>> receive(size_t, int64_t, int64_t) override {
    return Status::internal("the mapping receives, not the function");
  }
  Status remove(const std::vector<std::string>&) override {
    return Status::internal("the mapping deletes, not the function");
  }
  Status changeVisibility(const std::string& h, int64_t ms) override {
    visibility.emplace_back(h, ms);
    return Status::unavailable("best effort");
  }
  Result<QueueStats> stats() override { return QueueStats{}; }
  Result<std::vector<ReceivedMessage>> peek(size_t) override {
    return std::vector<ReceivedMessage>{};
  }
  std::string name_ = "changes";
  size_t sent = 0;
  std::vector<std::pair<std::string, int64_t>> visibility;
};

std::vector<ReceivedMessage> batchOf(int n) {
  std::vector<ReceivedMessage> b;
  for (int i = 1; i <= n; ++i) {
    ReceivedMessage m;
    m.messageId = "m" + std::to_string(i);
    m.receiptHandle = "r" + std::to_string(i);
    m.groupId = "g" + std::to_string(i % 2);
    b.push_back(m);
  }
  return b;
}

TEST(EventBatchQueue, ReportsWhatWasNotRemovedAndOnFifoEverythingAfterTheFirst) {
  RecordingQueue real;
  EventBatchQueue q(real, batchOf(5));
  EXPECT_EQ(q.name(), "changes");
  ASSERT_TRUE(q.remove({"r1", "r3", "r5"}).isOk());
  // A retry: the backoff goes to the real queue (its failure does not matter), the message
  // stays failed.
  EXPECT_TRUE(q.changeVisibility("r2", 4000).isOk());
  EXPECT_EQ(real.visibility, (std::vector<std::pair<std::string, int64_t>>{{"r2", 4000}}));
  EXPECT_EQ(q.failures(false), (std::vector<std::string>{"m2", "m4"}));
  // FIFO: m3 and m5 were done, but they follow the first failure in the batch.
  EXPECT_EQ(q.failures(true), (std::vector<std::string>{"m2", "m3", "m4", "m5"}));
  ASSERT_TRUE(q.remove({"r2", "r4"}).isOk());
  EXPECT_TRUE(q.failures(true).empty());
  // It receives nothing itself; sends go to the real queue.
  auto got = q.receive(10, 1000, 0);
  ASSERT_TRUE(got.isOk());
  EXPECT_TRUE(got->empty());
  ASSERT_TRUE(q.send({OutgoingMessage{}}).isOk());
  EXPECT_EQ(real.sent, 1u);
}

TEST(EventBatchQueue, NothingTakenIsEveryMessageFailed) {
  RecordingQueue real;
  EventBatchQueue q(real, batchOf(3));
  EXPECT_EQ(q.failures(false), (std::vector<std::string>{"m1", "m2", "m3"}));
  EXPECT_EQ(q.failures(true), (std::vector<std::string>{"m1", "m2", "m3"}));
}

}  // namespace
}  // namespace memberflow::aws
