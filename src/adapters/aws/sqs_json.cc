#include "adapters/aws/sqs_json.h"

#include <cstdlib>

namespace memberflow::aws {

Result<std::string> parseSqsQueueUrl(const json::value& response) {
  auto url = stringField(response.as_object(), "QueueUrl");
  if (!url) return Status::internal("sqs GetQueueUrl: no QueueUrl");
  return *url;
}

Result<std::string> parseSqsQueueArn(const json::value& response) {
  auto a = stringField(response.at("Attributes").as_object(), "QueueArn");
  if (!a) return Status::internal("sqs: no QueueArn");
  return *a;
}

Result<QueueStats> parseSqsQueueStats(const json::value& response) {
  const auto& a = response.at("Attributes").as_object();
  QueueStats s;
  s.visible = std::atoll(stringField(a, "ApproximateNumberOfMessages").value_or("0").c_str());
  s.inFlight = std::atoll(stringField(a, "ApproximateNumberOfMessagesNotVisible").value_or("0").c_str());
  return s;
}

Result<size_t> parseSqsFailedCount(const json::value& response) {
  const json::value* failed = field(response.as_object(), "Failed");
  if (failed && failed->is_array()) return failed->get_array().size();
  return size_t{0};
}

Result<std::vector<ReceivedMessage>> parseSqsMessages(const json::value& response) {
  std::vector<ReceivedMessage> out;
  const json::value* msgs = field(response.as_object(), "Messages");
  if (!msgs || !msgs->is_array()) return out;
  for (const auto& mv : msgs->get_array()) {
    const auto& m = mv.as_object();
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
          rm.attributes[std::string(kv.key())] = stringField(kv.value().get_object(), "StringValue").value_or("");
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
