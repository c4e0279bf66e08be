// Fuzz target: a queue message through the change command parser. Any crash, sanitizer
// report, uncaught exception or broken invariant (abort) is a finding.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "domain/change_command.h"

using namespace memberflow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string in(reinterpret_cast<const char*>(data), size);
  auto c = parseCommand(in, 20000);
  if (c.isOk()) {
    // A parsed command written to the queue again reads back the same.
    auto b = parseCommand(serializeCommand(*c), 20000);
    if (!b.isOk()) std::abort();
    if (b->messageId != c->messageId || b->memberId != c->memberId || b->op != c->op ||
        b->sourceSequence != c->sourceSequence || b->member != c->member ||
        !(b->lineage == c->lineage) || b->receivedAtMs != c->receivedAtMs ||
        b->sourceTsMs != c->sourceTsMs) {
      std::abort();
    }
  }
  return 0;
}
