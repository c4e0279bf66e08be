// Fuzz target: an SNS query-protocol (XML) response body through the SNS adapter's parsing
// (CreateTopic, PublishBatch) and the AWS client's query error-code reading. Any crash,
// sanitizer report, uncaught exception or broken invariant (abort) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "adapters/aws/aws_client.h"
#include "adapters/aws/sns_xml.h"

using namespace memberflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  // An error code is what one <Code>...</Code> of the body encloses.
  std::string code = aws::queryErrorCode(in);
  if (!code.empty() && in.find("<Code>" + code + "</Code>") == std::string::npos) std::abort();
  auto arn = aws::parseSnsTopicArn(in);
  if (arn.isOk() && arn->empty()) std::abort();
  (void)aws::snsPublishBatchFailed(in);
  return 0;
}
