// Fuzz target: a raw source record through the Debezium decoder and the transform. The input
// is `key NUL value` (no NUL: no key, the input is the value; nothing after the NUL: a
// tombstone). Any crash, sanitizer report, uncaught exception or broken invariant (abort) is a
// finding.
#include "domain/debezium.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "domain/change_command.h"
#include "domain/transform.h"

using namespace memberflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  SourceRecord r;
  if (auto nul = in.find('\0'); nul != std::string::npos) {
    r.key = in.substr(0, nul);
    if (nul + 1 < in.size()) r.value = in.substr(nul + 1);
  } else {
    r.value = in;
  }
  DecodedChange d = decodeChange(r);
  if (d.messageId.empty()) std::abort();  // every record gets an id, even garbage
  if (d.status.isOk() && d.op != ChangeOp::kTombstone) {
    auto c = toCommand(d, {}, 0, 20000);
    if (c.isOk()) {
      // A command survives the queue unchanged.
      auto back = parseCommand(serializeCommand(*c), 20000);
      if (!back.isOk() || back->member != c->member) std::abort();
    }
  }
  return 0;
}
