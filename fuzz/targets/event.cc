// Fuzz target: an event's JSON text read through a projection (EventReader, as the event bus
// reads events) against the full parse (JsonArena). Both must refuse the same texts, and
// RuleSet::matchText must name the rules match() names on the whole document; anything else
// (or a crash, a sanitizer report, an uncaught exception) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "domain/event_pattern.h"

using namespace memberflow;

namespace {

const RuleSet& rules() {
  static RuleSet rs;
  static const bool added = [] {
    const char* patterns[] = {
        R"({"source":[{"prefix":"memberflow/"}],"detail":{"data":{"status":["active"]}}})",
        R"({"detail":{"items":{"k":["a"],"v":[1,2.5,{"numeric":[">",100]}]}}})",
        R"({"detail":[{"exists":false}]})",
        R"({"$or":[{"a":[null,true]},{"b":{"c":[{"anything-but":["x","z"]}]}}]})",
        R"({"a":{"b":[{"equals-ignore-case":"X"}],"c":[{"wildcard":"*y*"}]}})",
        R"({"n":[{"numeric":["=",-1.2249144100000001E2]}],"m":[{"exists":true}]})"};
    int i = 0;
    for (const char* p : patterns) {
      if (!rs.add("r" + std::to_string(i++), json::parse(p)).isOk()) std::abort();
    }
    return true;
  }();
  (void)added;
  return rs;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  static EventReader reader;
  static JsonArena arena;
  auto viaText = rules().matchText(text, reader);
  auto full = arena.parse(text);
  if (viaText.isOk() != full.isOk()) std::abort();  // the same texts are refused
  if (full.isOk() && *viaText != rules().match(**full)) std::abort();
  return 0;
}
