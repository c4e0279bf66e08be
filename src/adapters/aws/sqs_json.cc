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

namespace {

// The field names of a message: the SQS API's (ReceiveMessage) and a Lambda SQS event's differ
// only in case.
struct MessageFields {
  const char *id, *receipt, *body, *attributes, *messageAttributes, *stringValue;
};
constexpr MessageFields kApiFields{"MessageId",  "ReceiptHandle",     "Body",
                                   "Attributes", "MessageAttributes", "StringValue"};
constexpr MessageFields kEventFields{"messageId",  "receiptHandle",     "body",
                                     "attributes", "messageAttributes", "stringValue"};

ReceivedMessage readMessage(const json::object& m, const MessageFields& f) {
  ReceivedMessage rm;
  rm.messageId = stringField(m, f.id).value_or("");
  rm.receiptHandle = stringField(m, f.receipt).value_or("");
  rm.body = stringField(m, f.body).value_or("");
  if (const json::value* a = field(m, f.attributes); a && a->is_object()) {
    const auto& ao = a->get_object();
    rm.groupId = stringField(ao, "MessageGroupId").value_or("");
    rm.dedupId = stringField(ao, "MessageDeduplicationId").value_or("");
    rm.receiveCount = std::atoi(stringField(ao, "ApproximateReceiveCount").value_or("1").c_str());
    rm.sentAtMs = std::atoll(stringField(ao, "SentTimestamp").value_or("0").c_str());
  }
  if (const json::value* a = field(m, f.messageAttributes); a && a->is_object()) {
    for (const auto& kv : a->get_object()) {
      if (kv.value().is_object()) {
        rm.attributes[std::string(kv.key())] =
            stringField(kv.value().get_object(), f.stringValue).value_or("");
      }
    }
  }
  if (auto d = rm.attributes.find(kSqsDedupAttribute); d != rm.attributes.end()) {
    if (rm.dedupId.empty()) rm.dedupId = d->second;
    rm.attributes.erase(d);
  }
  return rm;
}

// The messages of the array `name` of `doc`; a missing array is no message. Not a message: the
// whole document is refused (its messages come back after the visibility timeout, and one that
// never reads goes to the dead-letter queue).
Result<std::vector<ReceivedMessage>> readMessages(const json::value& doc, const char* name,
                                                  const MessageFields& f, const char* what) {
  std::vector<ReceivedMessage> out;
  if (!doc.is_object()) return malformed(what);
  const json::value* msgs = field(doc.get_object(), name);
  if (!msgs || !msgs->is_array()) return out;
  for (const auto& mv : msgs->get_array()) {
    if (!mv.is_object()) return malformed(what);
    out.push_back(readMessage(mv.get_object(), f));
  }
  return out;
}

}  // namespace

Result<std::vector<ReceivedMessage>> parseSqsMessages(const json::value& response) {
  return readMessages(response, "Messages", kApiFields, "ReceiveMessage");
}

Result<std::vector<ReceivedMessage>> parseSqsEvent(const json::value& event) {
  const json::value* records = event.is_object() ? field(event.get_object(), "Records") : nullptr;
  if (!records || !records->is_array())
    return Status::invalidArgument("not an SQS event: no Records array");
  auto got = readMessages(event, "Records", kEventFields, "SQS event");
  if (!got.isOk()) return Status::invalidArgument("not an SQS event: a record is no object");
  for (const auto& m : *got) {
    // Without its id a failure cannot be reported; without its receipt it cannot be deleted.
    if (m.messageId.empty() || m.receiptHandle.empty())
      return Status::invalidArgument(
          "not an SQS event: a record has no messageId or receiptHandle");
  }
  return got;
}

}  // namespace memberflow::aws
