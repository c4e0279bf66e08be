// Fuzz target: an S3 response body through the S3 adapter's XML parsing (a ListObjectsV2
// page, the code of an error document) and the AWS client's error-code reading, which every
// response passes. Any crash, sanitizer report, uncaught exception or broken invariant
// (abort) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "adapters/aws/aws_client.h"
#include "adapters/aws/s3_xml.h"

using namespace memberflow;

namespace {
size_t occurrences(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  (void)aws::awsErrorCode(in);
  (void)aws::s3ErrorCode(in);
  auto page = aws::parseS3ListPage(in);
  if (page.isOk()) {
    // Each key comes from its own <Contents> element.
    if (page->keys.size() > occurrences(in, "<Contents")) std::abort();
  }
  return 0;
}
