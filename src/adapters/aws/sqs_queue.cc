#include "adapters/aws/sqs_queue.h"

#include <algorithm>

#include "adapters/aws/sqs_json.h"

namespace memberflow::aws {
namespace {

int64_t seconds(int64_t ms) { return std::max<int64_t>(0, (ms + 999) / 1000); }

}  // namespace

Result<json::value> SqsQueue::call(const std::string& action, json::object body) {
  body["QueueUrl"] = url_;
  return client_.json("sqs", "AmazonSQS." + action, body, "application/x-amz-json-1.0");
}

Result<std::unique_ptr<SqsQueue>> SqsQueue::open(AwsClient& client, const std::string& name,
                                                 bool create, const SqsQueueOptions& opts) {
  if (create) {
    json::object attrs;
    if (opts.fifo) {
      attrs["FifoQueue"] = "true";
      attrs["ContentBasedDeduplication"] = opts.contentBasedDedup ? "true" : "false";
    }
    if (opts.deadLetterQueueArn) {
      attrs["RedrivePolicy"] =
          json::serialize(json::object{{"deadLetterTargetArn", *opts.deadLetterQueueArn},
                                       {"maxReceiveCount", opts.maxReceiveCount}});
    }
    auto r = client.json("sqs", "AmazonSQS.CreateQueue",
                         json::object{{"QueueName", name}, {"Attributes", attrs}},
                         "application/x-amz-json-1.0");
    // Creating is idempotent: a queue that exists (even with other attributes) is used as is.
    if (!r.isOk() && r.status().reason().find("QueueNameExists") == std::string::npos)
      return r.status();
  }
  auto r = client.json("sqs", "AmazonSQS.GetQueueUrl", json::object{{"QueueName", name}},
                       "application/x-amz-json-1.0");
  if (!r.isOk()) return r.status();
  auto url = parseSqsQueueUrl(*r);
  if (!url.isOk()) return url.status();
  return std::unique_ptr<SqsQueue>(
      new SqsQueue(client, opts.displayName.empty() ? name : opts.displayName, *url, opts.fifo));
}

Result<std::string> SqsQueue::arn() {
  auto r = call("GetQueueAttributes", json::object{{"AttributeNames", json::array{"QueueArn"}}});
  if (!r.isOk()) return r.status();
  return parseSqsQueueArn(*r);
}

Status SqsQueue::send(const std::vector<OutgoingMessage>& messages) {
  for (size_t i = 0; i < messages.size(); i += 10) {
    json::array entries;
    for (size_t j = i; j < std::min(messages.size(), i + 10); ++j) {
      const auto& m = messages[j];
      json::object e{{"Id", std::to_string(j)}, {"MessageBody", m.body}};
      if (fifo_) {
        e["MessageGroupId"] = m.groupId;
        e["MessageDeduplicationId"] = m.dedupId;
      }
      json::object attrs;
      for (const auto& [k, v] : m.attributes)
        attrs[k] = json::object{{"DataType", "String"}, {"StringValue", v}};
      // A standard queue has no dedup ids and delivers at least once: the id travels as an
      // attribute, so readers (dlq list, redrive) can drop the copies a retried send left.
      if (!fifo_ && !m.dedupId.empty()) {
        attrs[kSqsDedupAttribute] =
            json::object{{"DataType", "String"}, {"StringValue", m.dedupId}};
      }
      if (!attrs.empty()) e["MessageAttributes"] = std::move(attrs);
      entries.push_back(std::move(e));
    }
    auto r = call("SendMessageBatch", json::object{{"Entries", entries}});
    if (!r.isOk()) return r.status();
    auto failed = parseSqsFailedCount(*r);
    if (!failed.isOk()) return failed.status();
    if (*failed > 0) {
      // Retrying the whole batch is safe: the dedup ids drop what was accepted.
      return Status::unavailable("sqs SendMessageBatch: " + std::to_string(*failed) +
                                 " entries failed");
    }
  }
  return Status::ok();
}

Result<std::vector<ReceivedMessage>> SqsQueue::receive(size_t max, int64_t visibilityMs,
                                                       int64_t waitMs) {
  std::vector<ReceivedMessage> out;
  while (out.size() < max) {
    auto r = call(
        "ReceiveMessage",
        json::object{
            {"MaxNumberOfMessages", static_cast<int64_t>(std::min<size_t>(10, max - out.size()))},
            {"VisibilityTimeout", seconds(visibilityMs)},
            {"WaitTimeSeconds", out.empty() ? std::min<int64_t>(20, waitMs / 1000) : 0},
            {"MessageSystemAttributeNames", json::array{"All"}},
            {"AttributeNames", json::array{"All"}},
            {"MessageAttributeNames", json::array{"All"}}});
    if (!r.isOk()) return r.status();
    auto got = parseSqsMessages(*r);
    if (!got.isOk()) return got.status();
    if (got->empty()) break;
    size_t n = got->size();
    for (auto& m : *got) out.push_back(std::move(m));
    if (n < 10) break;
  }
  return out;
}

Status SqsQueue::remove(const std::vector<std::string>& receiptHandles) {
  for (size_t i = 0; i < receiptHandles.size(); i += 10) {
    json::array entries;
    for (size_t j = i; j < std::min(receiptHandles.size(), i + 10); ++j) {
      entries.push_back(
          json::object{{"Id", std::to_string(j)}, {"ReceiptHandle", receiptHandles[j]}});
    }
    auto r = call("DeleteMessageBatch", json::object{{"Entries", entries}});
    if (!r.isOk()) return r.status();
  }
  return Status::ok();
}

Status SqsQueue::changeVisibility(const std::string& receiptHandle, int64_t visibilityMs) {
  auto r = call(
      "ChangeMessageVisibility",
      json::object{{"ReceiptHandle", receiptHandle}, {"VisibilityTimeout", seconds(visibilityMs)}});
  if (!r.isOk() && r.status().code() == Code::kInvalidArgument) {
    return Status::notFound("receipt handle is stale or the message is gone");
  }
  return r.status();
}

Result<QueueStats> SqsQueue::stats() {
  auto r =
      call("GetQueueAttributes",
           json::object{{"AttributeNames", json::array{"ApproximateNumberOfMessages",
                                                       "ApproximateNumberOfMessagesNotVisible"}}});
  if (!r.isOk()) return r.status();
  return parseSqsQueueStats(*r);
}

Result<std::vector<ReceivedMessage>> SqsQueue::peek(size_t max) {
  // SQS may answer with fewer messages than it holds: read until a receive comes back empty.
  std::vector<ReceivedMessage> out;
  while (out.size() < max) {
    auto got = receive(std::min<size_t>(10, max - out.size()), 30000, 0);
    if (!got.isOk()) return got;
    if (got->empty()) break;
    for (auto& m : *got) out.push_back(std::move(m));
  }
  for (const auto& m : out) (void)changeVisibility(m.receiptHandle, 0);
  return out;
}

}  // namespace memberflow::aws
