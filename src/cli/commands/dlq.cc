// `memberflow dlq list` and `memberflow dlq redrive`, and `memberflow park list|release`: a
// change dead-lettered by sync parks its member (stages/sync.h), and redriving it releases the
// member.
#include <iostream>
#include <unordered_set>

#include "cli/command_support.h"
#include "cli/commands.h"
#include "cli/wiring.h"
#include "common/json.h"
#include "common/log.h"
#include "common/time.h"
#include "stages/ingest.h"

namespace memberflow::cli {
namespace {

// A dead change as the parking store holds it: the change's own message id (not the DLQ
// copy's) and its attributes without what the dead-lettering added.
ParkedChange deadChange(const ReceivedMessage& m) {
  ParkedChange c;
  c.body = m.body;
  c.attributes = m.attributes;
  for (const char* k : {"reason", "stage", "receiveCount"}) c.attributes.erase(k);
  auto v = parseJson(m.body);
  if (v.isOk() && v->is_object())
    c.messageId = stringField(v->get_object(), "messageId").value_or("");
  if (c.messageId.empty()) c.messageId = m.dedupId.substr(0, m.dedupId.find(":dlq:"));
  return c;
}

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

// Redrives the changes DLQ: the dead change of a parked member releases it (sync applies it,
// then its held changes, in order); any other goes back to the changes queue. `only`: just
// that member's entries (the others stay). Returns {redriven, released}.
Result<std::pair<int64_t, int64_t>> redriveChanges(Wiring& w, Queue& dlq,
                                                   const std::optional<std::string>& only) {
  MF_RETURN_IF_ERROR(w.openParking());
  auto st = dlq.stats();
  if (!st.isOk()) return st.status();
  int64_t total = st->visible, seen = 0, redriven = 0, released = 0;
  std::vector<std::string> others;
  std::unordered_set<std::string> driven;
  while (seen < total) {
    auto batch = dlq.receive(100, 60000, 0);
    if (!batch.isOk()) return batch.status();
    if (batch->empty()) break;
    std::vector<std::string> done;
    for (const auto& m : *batch) {
      ++seen;
      if (only && m.groupId != *only) {
        others.push_back(m.receiptHandle);
        continue;
      }
      if (!m.dedupId.empty() && !driven.insert(m.dedupId).second) {
        done.push_back(m.receiptHandle);
        continue;
      }
      auto parked = w.parking().state({m.groupId});
      if (!parked.isOk()) return parked.status();
      Status rs = (*parked)[0] ? w.parking().release(m.groupId, deadChange(m), w.clock().nowMs())
                               : Status::notFound("not parked");
      if (rs.isOk()) {
        ++released;
        log::info("member released",
                  {"dlq", deadChange(m).messageId, m.groupId, {}, "released", {}});
      } else if (rs.code() != Code::kNotFound) {
        return rs;
      } else {  // not parked (or unparked by a drain just now): back to the changes queue
        OutgoingMessage o{m.groupId, m.dedupId + ":redrive:" + m.messageId, m.body, {}};
        MF_RETURN_IF_ERROR(w.changes().send({o}));
      }
      ++redriven;
      done.push_back(m.receiptHandle);
    }
    MF_RETURN_IF_ERROR(dlq.remove(done));
  }
  for (const auto& r : others) (void)dlq.changeVisibility(r, 0);
  return std::pair{redriven, released};
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
  auto moved = redriveChanges(w, w.changesDlq(), member);
  if (!moved.isOk()) return fail(moved.status());
  int64_t released = moved->second;
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
// valid now, keeping the others; every other DLQ sends its messages back to the queue they came
// from ("<name>-dlq" -> "<name>").
int dlqRedriveCommand(const Config& cfg, const std::string& queue) {
  applyLogLevel(cfg);
  Wiring w(cfg);
  if (Status s = w.openIngestSide(/*observe=*/true); !s.isOk()) return fail(s);
  Queue* q = w.dlqNamed(queue);
  if (!q)
    return fail(Status::invalidArgument("no DLQ named " + queue +
                                        " (ingest, changes, route, lake or target-<name>)"));
  if (q == &w.changesDlq()) {
    auto moved = redriveChanges(w, *q, std::nullopt);
    if (!moved.isOk()) return fail(moved.status());
    std::cout << json::serialize(json::object{{"queue", q->name()},
                                              {"redriven", moved->first},
                                              {"membersReleased", moved->second}})
              << "\n";
    return 0;
  }
  auto st = q->stats();
  if (!st.isOk()) return fail(st.status());
  int64_t total = st->visible, seen = 0, redriven = 0, kept = 0, copies = 0;
  std::unordered_set<std::string> driven;  // dedup ids redriven (or kept) in this run
  IngestStage ingest(w.source(), w.objects(), w.ledger(), w.changes(), w.ingestDlq(), w.clock(),
                     w.ingestOptions());
  Progress progress("redriven");
  std::vector<std::string> keptReceipts;
  Queue* back = nullptr;
  if (q != &w.ingestDlq()) {
    const std::string& dn = q->name();
    back = w.queueNamed(dn.substr(0, dn.size() - 4));
    if (!back) return fail(Status::unavailable("cannot open the queue that " + dn + " belongs to"));
  }
  while (seen < total) {
    auto batch = q->receive(100, 60000, 0);
    if (!batch.isOk()) return fail(batch.status());
    if (batch->empty()) break;
    std::vector<std::string> done;
    for (const auto& m : *batch) {
      ++seen;
      if (!m.dedupId.empty() && !driven.insert(m.dedupId).second) {
        done.push_back(m.receiptHandle);  // a second copy (standard queues deliver at least once)
        ++copies;
        continue;
      }
      Status s;
      if (!back) {
        s = ingest.redrive(m.body);
      } else {
        OutgoingMessage o{m.groupId, m.dedupId + ":redrive:" + m.messageId, m.body, {}};
        s = back->send({o});
      }
      if (s.isOk()) {
        done.push_back(m.receiptHandle);
        ++redriven;
      } else if (s.code() == Code::kFailedPrecondition) {
        keptReceipts.push_back(m.receiptHandle);
        ++kept;
      } else {
        return fail(s);
      }
    }
    if (Status s = q->remove(done); !s.isOk()) return fail(s);
    progress.update(seen);
  }
  for (const auto& r : keptReceipts) (void)q->changeVisibility(r, 0);
  progress.update(seen, true);
  std::cout << json::serialize(json::object{{"queue", q->name()},
                                            {"redriven", redriven},
                                            {"kept", kept},
                                            {"copiesDropped", copies}})
            << "\n";
  return 0;
}

}  // namespace memberflow::cli
