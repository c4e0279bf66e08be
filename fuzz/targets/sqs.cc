// Fuzz target: an SQS JSON-protocol response body through the SQS adapter's parsing
// (GetQueueUrl, GetQueueAttributes, SendMessageBatch, ReceiveMessage), each reading the body
// as AwsClient::json hands it over, and the AWS client's error-code reading. Any crash,
// sanitizer report, uncaught exception or broken invariant (abort) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "adapters/aws/aws_client.h"
#include "adapters/aws/sqs_json.h"

using namespace memberflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  (void)aws::awsErrorCode(in);
  json::value v;  // what AwsClient::json returns for a 2xx: an empty body is {}
  if (in.empty()) {
    v = json::object{};
  } else {
    auto parsed = parseJson(in);
    if (!parsed.isOk()) return 0;
    v = std::move(parsed).value();
  }
  (void)aws::parseSqsQueueUrl(v);
  (void)aws::parseSqsQueueArn(v);
  (void)aws::parseSqsQueueStats(v);
  (void)aws::parseSqsFailedCount(v);
  auto msgs = aws::parseSqsMessages(v);
  if (msgs.isOk()) {
    // One message per element: receive() stops reading when a response holds fewer than 10.
    const json::value* a = v.is_object() ? field(v.get_object(), "Messages") : nullptr;
    if (msgs->size() != (a && a->is_array() ? a->get_array().size() : 0)) std::abort();
    // The dedup id's carrier attribute is never handed to readers.
    for (const auto& m : *msgs) {
      if (m.attributes.count(aws::kSqsDedupAttribute) != 0) std::abort();
    }
  }
  return 0;
}
