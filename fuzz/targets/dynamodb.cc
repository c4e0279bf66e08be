// Fuzz target: a DynamoDB response body through the ledger's parsing (GetItem, Scan), reading
// the body as AwsClient::json hands it over, and the AWS client's error-code reading. Any
// crash, sanitizer report, uncaught exception or broken invariant (abort) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "adapters/aws/aws_client.h"
#include "adapters/aws/dynamodb_json.h"

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
  auto e = aws::parseLedgerItem(v, "coresys:0:1");
  if (e.isOk() && e->outcome.messageId != "coresys:0:1") std::abort();
  (void)aws::parseLedgerScanPage(v);
  return 0;
}
