// `memberflow dlq list` and `memberflow dlq redrive`, and `memberflow park list|release`: a
// change dead-lettered by sync parks its member (stages/sync.h), and redriving it releases the
// member.
#include <iostream>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/operator_wiring.h"
#include "cli/wiring.h"
#include "common/json.h"
#include "common/time.h"
#include "ops/dlq_work.h"

namespace memberflow::cli {
namespace {

std::string stateName(ParkedMember::State s) {
  return s == ParkedMember::State::kParked ? "parked" : "released";
}

json::object parkedJson(const ParkedMember& p) {
  return json::object{{"parkedMember", p.memberId},
                      {"state", stateName(p.state)},
                      {"held", p.held},
                      {"deadMessageId", p.deadMessageId},
                      {"reason", p.reason},
                      {"parkedAt", isoMillis(p.parkedAtMs)}};
}

}  // namespace

int dlqListCommand(const Config& cfg, const std::string& queue, size_t limit, bool withBody) {
  Wiring w(cfg);
  if (Status s = w.openQueues(); !s.isOk()) return fail(s);
  Queue* q = w.dlqNamed(queue);
  if (!q)
    return fail(Status::invalidArgument("no DLQ named " + queue +
                                        " (ingest, changes, route, lake or target-<name>)"));
  auto msgs = q->peek(limit);
  if (!msgs.isOk()) return fail(msgs.status());
  printMessages(q->name(), *msgs, withBody);
  // The members their dead changes parked, with what they hold.
  if (q == &w.changesDlq()) {
    if (Status s = w.openParking(); !s.isOk()) return fail(s);
    auto parked = w.parking().list(limit);
    if (!parked.isOk()) return fail(parked.status());
    for (const auto& p : *parked) std::cout << json::serialize(parkedJson(p)) << "\n";
  }
  return 0;
}

int parkListCommand(const Config& cfg, size_t limit) {
  Wiring w(cfg);
  if (Status s = w.openParking(); !s.isOk()) return fail(s);
  auto parked = w.parking().list(limit);
  if (!parked.isOk()) return fail(parked.status());
  for (const auto& p : *parked) std::cout << json::serialize(parkedJson(p)) << "\n";
  return 0;
}

int parkReleaseCommand(const Config& cfg, const std::string& member) {
  applyLogLevel(cfg);
  Wiring w(cfg);
  if (Status s = w.openQueues(); !s.isOk()) return fail(s);
  if (Status s = w.openParking(); !s.isOk()) return fail(s);
  auto parked = w.parking().state({member});
  if (!parked.isOk()) return fail(parked.status());
  if (!(*parked)[0]) return fail(Status::invalidArgument("member " + member + " is not parked"));
  WiringOperatorPorts ports(w);
  ops::RedriveRequest req;
  req.member = member;
  auto moved = ops::redriveDlq(ports, ops::kChangesDlqName, req);
  if (!moved.isOk()) return fail(moved.status());
  int64_t released = moved->membersReleased;
  if (released == 0) {  // no dead change on the DLQ (redriven before, or purged): release as is
    Status s = w.parking().release(member, std::nullopt, w.clock().nowMs());
    if (s.code() == Code::kNotFound)
      return fail(Status::invalidArgument("member " + member + " is not parked"));
    if (!s.isOk()) return fail(s);
    released = 1;
  }
  std::cout << json::serialize(json::object{{"member", member}, {"released", released > 0}})
            << "\n";
  return 0;
}

// The ingest DLQ re-validates each rejected record (ingest's own redrive) and enqueues the ones
// valid now, keeping the others; the changes DLQ releases parked members; every other DLQ sends
// its messages back to the queue they came from ("<name>-dlq" -> "<name>"). ops/dlq_work.h.
int dlqRedriveCommand(const Config& cfg, const std::string& queue) {
  applyLogLevel(cfg);
  WiringOperatorPorts ports(cfg);
  Progress progress("redriven");
  ops::RedriveRequest req;
  req.progress = [&progress](int64_t seen) { progress.update(seen); };
  auto r = ops::redriveDlq(ports, queue, req);
  if (!r.isOk()) return fail(r.status());
  progress.update(r->selected, true);
  auto q = ports.dlq(queue);
  json::object out{{"queue", q.isOk() ? (*q)->name() : queue}, {"redriven", r->redriven}};
  if (queue == "changes" || queue == "sync" || (q.isOk() && (*q)->name() == kChangesDlq)) {
    out["membersReleased"] = r->membersReleased;
  } else {
    out["kept"] = r->kept;
    out["copiesDropped"] = r->copiesDropped;
  }
  std::cout << json::serialize(out) << "\n";
  return 0;
}

}  // namespace memberflow::cli
