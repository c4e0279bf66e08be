#include "adapters/aws/sqs_json.h"

#include <cstdlib>

namespace memberflow::aws {
namespace {

// A 2xx body that is not what the protocol says (a proxy's page, a truncated answer) is an
// error of the call, never an exception: the adapters' callers only know Status.
Status malformed(const char* action) {
  return Status::internal(std::string("sqs ") + action + ": malformed response");
}

// The response's Attributes object, or nullptr.
const json::object* attributesOf(const json::value& response) {
  if (!response.is_object()) return nullptr;
  const json::value* a = field(response.get_object(), "Attributes");
  return a && a->is_object() ? &a->get_object() : nullptr;
}

}  // namespace

Result<std::string> parseSqsQueueUrl(const json::value& response) {
  if (!response.is_object()) return malformed("GetQueueUrl");
  auto url = stringField(response.get_object(), "QueueUrl");
  if (!url) return Status::internal("sqs GetQueueUrl: no QueueUrl");
  return *url;
}

Result<std::string> parseSqsQueueArn(const json::value& response) {
  const json::object* attrs = attributesOf(response);
  auto a = attrs ? stringField(*attrs, "QueueArn") : std::nullopt;
  if (!a) return Status::internal("sqs: no QueueArn");
  return *a;
}

Result<QueueStats> parseSqsQueueStats(const json::value& response) {
  const json::object* attrs = attributesOf(response);
  if (!attrs) return malformed("GetQueueAttributes");
  const json::object& a = *attrs;
  QueueStats s;
  s.visible = std::atoll(stringField(a, "ApproximateNumberOfMessages").value_or("0").c_str());
  s.inFlight =
      std::atoll(stringField(a, "ApproximateNumberOfMessagesNotVisible").value_or("0").c_str());
  return s;
}

Result<size_t> parseSqsFailedCount(const json::value& response) {
  if (!response.is_object()) return malformed("SendMessageBatch");
  const json::value* failed = field(response.get_object(), "Failed");
  if (failed && failed->is_array()) return failed->get_array().size();
  return size_t{0};
}

Result<std::vector<ReceivedMessage>> parseSqsMessages(const json::value& response) {
  std::vector<ReceivedMessage> out;
  if (!response.is_object()) return malformed("ReceiveMessage");
  const json::value* msgs = field(response.get_object(), "Messages");
  if (!msgs || !msgs->is_array()) return out;
  for (const auto& mv : msgs->get_array()) {
    // Not a message: the whole answer is refused (its messages come back after the
    // visibility timeout, and one that never reads goes to the dead-letter queue).
    if (!mv.is_object()) return malformed("ReceiveMessage");
    const auto& m = mv.get_object();
    ReceivedMessage rm;
    rm.messageId = stringField(m, "MessageId").value_or("");
    rm.receiptHandle = stringField(m, "ReceiptHandle").value_or("");
    rm.body = stringField(m, "Body").value_or("");
    if (const json::value* a = field(m, "Attributes"); a && a->is_object()) {
      const auto& ao = a->get_object();
      rm.groupId = stringField(ao, "MessageGroupId").value_or("");
      rm.dedupId = stringField(ao, "MessageDeduplicationId").value_or("");
      rm.receiveCount = std::atoi(stringField(ao, "ApproximateReceiveCount").value_or("1").c_str());
      rm.sentAtMs = std::atoll(stringField(ao, "SentTimestamp").value_or("0").c_str());
    }
    if (const json::value* a = field(m, "MessageAttributes"); a && a->is_object()) {
      for (const auto& kv : a->get_object()) {
        if (kv.value().is_object()) {
          rm.attributes[std::string(kv.key())] =
              stringField(kv.value().get_object(), "StringValue").value_or("");
        }
      }
    }
    if (auto d = rm.attributes.find(kSqsDedupAttribute); d != rm.attributes.end()) {
      if (rm.dedupId.empty()) rm.dedupId = d->second;
      rm.attributes.erase(d);
    }
    out.push_back(std::move(rm));
  }
  return out;
}

}  // namespace memberflow::aws
