// Fuzz target: an API request body through the canonical member parser. Any crash, sanitizer
// report, uncaught exception or broken invariant (abort) is a finding.
#include "domain/member.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>

#include "common/json.h"

using namespace memberflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  auto v = parseJson(in);
  if (v.isOk()) {
    auto m = memberFromJson(*v, std::nullopt, 20000);
    if (m.isOk()) {
      // The canonical form is a fixed point.
      auto again = memberFromJson(memberJson(*m), std::nullopt, 20000);
      if (!again.isOk() || !(*again == *m)) std::abort();
    }
  }
  return 0;
}
