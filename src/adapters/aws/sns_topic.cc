#include "adapters/aws/sns_topic.h"

#include <algorithm>

#include "adapters/aws/sns_xml.h"

namespace memberflow::aws {

namespace {
constexpr const char* kVersion = "2010-03-31";
}

Result<std::unique_ptr<SnsTopic>> SnsTopic::create(AwsClient& client, const std::string& name) {
  auto r = client.query("sns", "CreateTopic",
                        {{"Name", name},
                         {"Attributes.entry.1.key", "FifoTopic"},
                         {"Attributes.entry.1.value", "true"},
                         {"Attributes.entry.2.key", "ContentBasedDeduplication"},
                         {"Attributes.entry.2.value", "false"}},
                        kVersion);
  if (!r.isOk()) return r.status();
  auto arn = parseSnsTopicArn(*r);
  if (!arn.isOk()) return arn.status();
  return std::unique_ptr<SnsTopic>(new SnsTopic(client, name, *arn));
}

Status SnsTopic::subscribeQueue(const std::string& queueArn) {
  return client_
      .query("sns", "Subscribe",
             {{"TopicArn", arn_},
              {"Protocol", "sqs"},
              {"Endpoint", queueArn},
              {"Attributes.entry.1.key", "RawMessageDelivery"},
              {"Attributes.entry.1.value", "true"},
              {"ReturnSubscriptionArn", "true"}},
             kVersion)
      .status();
}

Status SnsTopic::publish(const std::vector<OutgoingMessage>& messages) {
  for (size_t i = 0; i < messages.size(); i += 10) {
    std::vector<std::pair<std::string, std::string>> p{{"TopicArn", arn_}};
    for (size_t j = i; j < std::min(messages.size(), i + 10); ++j) {
      std::string e = "PublishBatchRequestEntries.member." + std::to_string(j - i + 1) + ".";
      p.emplace_back(e + "Id", "m" + std::to_string(j));
      p.emplace_back(e + "Message", messages[j].body);
      p.emplace_back(e + "MessageGroupId", messages[j].groupId);
      p.emplace_back(e + "MessageDeduplicationId", messages[j].dedupId);
    }
    auto r = client_.query("sns", "PublishBatch", p, kVersion);
    if (!r.isOk()) return r.status();
    if (snsPublishBatchFailed(*r)) {
      // Publishing the batch again is safe: the dedup ids drop what was accepted.
      return Status::unavailable("sns PublishBatch: some entries failed");
    }
  }
  return Status::ok();
}

}  // namespace memberflow::aws
