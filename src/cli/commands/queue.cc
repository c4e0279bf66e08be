// `memberflow queue peek`: the messages of any queue (a bus target's queue, the changes queue,
// a DLQ), read without consuming them.
#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/wiring.h"

namespace memberflow::cli {

int queuePeekCommand(const Config& cfg, const std::string& queue, size_t limit, bool withBody) {
  Wiring w(cfg);
  if (Status s = w.openQueues(); !s.isOk()) return fail(s);
  Queue* q = w.queueNamed(queue);
  if (!q) return fail(Status::unavailable("cannot open the queue " + queue));
  auto msgs = q->peek(limit);
  if (!msgs.isOk()) return fail(msgs.status());
  printMessages(q->name(), *msgs, withBody);
  return 0;
}

}  // namespace memberflow::cli
