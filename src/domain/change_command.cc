#include "domain/change_command.h"

#include "common/time.h"

namespace memberflow {

json::object lineageJson(const Lineage& l) {
  return json::object{{"topic", l.topic},
                      {"partition", l.partition},
                      {"offset", l.offset},
                      {"archiveKey", l.archiveKey},
                      {"archiveLine", l.archiveLine}};
}

void appendLineageJson(std::string& out, const Lineage& l) {
  out += "{\"topic\":";
  appendJsonString(out, l.topic);
  out += ",\"partition\":";
  out += std::to_string(l.partition);
  out += ",\"offset\":";
  out += std::to_string(l.offset);
  out += ",\"archiveKey\":";
  appendJsonString(out, l.archiveKey);
  out += ",\"archiveLine\":";
  out += std::to_string(l.archiveLine);
  out += '}';
}

std::string serializeCommand(const ChangeCommand& c) {
  // Written directly (the bytes json::serialize gave for the same object): one per record.
  std::string out;
  out.reserve(1024);
  out += "{\"messageId\":";
  appendJsonString(out, c.messageId);
  out += ",\"memberId\":";
  appendJsonString(out, c.memberId);
  out += c.op == ChangeCommand::Op::kUpsert ? ",\"op\":\"upsert\"" : ",\"op\":\"delete\"";
  out += ",\"sourceSequence\":";
  out += std::to_string(c.sourceSequence);
  out += ",\"member\":";
  appendMemberJson(out, c.member);
  out += ",\"lineage\":";
  appendLineageJson(out, c.lineage);
  out += ",\"receivedAt\":";
  appendJsonString(out, isoMillis(c.receivedAtMs));
  if (c.sourceTsMs != 0) {
    out += ",\"sourceTsMs\":";
    out += std::to_string(c.sourceTsMs);
  }
  out += '}';
  return out;
}

Result<ChangeCommand> parseCommand(std::string_view text, int64_t todayDays) {
  // Parsed into this thread's arena (one per change, on every sync loop): the command copies
  // what it keeps, and nothing here parses another document meanwhile.
  thread_local JsonArena arena;
  auto parsed = arena.parse(text);
  if (!parsed.isOk()) return rejection("malformed_command", parsed.status().message());
  const json::value& doc = **parsed;
  if (!doc.is_object()) return rejection("malformed_command", "command is not an object");
  const json::object& o = doc.get_object();
  ChangeCommand c;
  auto mid = stringField(o, "messageId");
  auto member = stringField(o, "memberId");
  auto op = stringField(o, "op");
  auto seq = intField(o, "sourceSequence");
  if (!mid || !member || !op || !seq || !rules::validMemberId(*member)) {
    return rejection("malformed_command", "command lacks messageId, memberId, op or sequence");
  }
  c.messageId = *mid;
  c.memberId = *member;
  c.sourceSequence = *seq;
  if (*op == "upsert") {
    c.op = ChangeCommand::Op::kUpsert;
    const json::value* m = field(o, "member");
    if (m == nullptr || !m->is_object()) {
      return rejection("malformed_command", "upsert without a member");
    }
    auto parsedMember = memberFromJson(*m, *member, todayDays);
    if (!parsedMember.isOk()) return parsedMember.status();
    c.member = std::move(parsedMember).value();
  } else if (*op == "delete") {
    c.op = ChangeCommand::Op::kDelete;
  } else {
    return rejection("malformed_command", "op must be upsert or delete");
  }
  if (const json::value* l = field(o, "lineage"); l && l->is_object()) {
    const auto& lo = l->get_object();
    c.lineage.topic = stringField(lo, "topic").value_or("");
    c.lineage.partition = static_cast<int32_t>(intField(lo, "partition").value_or(0));
    c.lineage.offset = intField(lo, "offset").value_or(0);
    c.lineage.archiveKey = stringField(lo, "archiveKey").value_or("");
    c.lineage.archiveLine = intField(lo, "archiveLine").value_or(0);
  }
  if (auto r = stringField(o, "receivedAt")) c.receivedAtMs = epochMsFromIso(*r).value_or(0);
  c.sourceTsMs = intField(o, "sourceTsMs").value_or(0);
  return c;
}

}  // namespace memberflow
