// Fuzz target: an EventBridge event pattern through the parser, then matched alone and
// through the indexed RuleSet. Any crash, sanitizer report, uncaught exception or broken
// invariant (abort) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "domain/event_pattern.h"

using namespace memberflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  static const json::value event = json::parse(
      R"({"source":"memberflow/member-api","type":"member.updated","data":{"member":{"memberId":"M1",)"
      R"("address":{"state":"IA","postalCode":"50309"},"tags":["a","b"]},"version":3,)"
      R"("items":[{"k":"x","v":1},{"k":"y"}]},"ip":"10.0.0.7"})");
  auto p = EventPattern::parse(in);
  if (p.isOk()) {
    (void)p->matches(event);
    RuleSet rs;
    if (!rs.add("r", json::parse(in)).isOk()) std::abort();                // parse and add agree
    if ((rs.match(event).size() == 1) != p->matches(event)) std::abort();  // index is exact
  }
  return 0;
}
