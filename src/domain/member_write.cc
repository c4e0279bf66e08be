#include "domain/member_write.h"

#include <limits>

#include "common/crypto.h"
#include "common/time.h"

namespace memberflow {
namespace {
constexpr int64_t kNoDateBound = std::numeric_limits<int32_t>::max();
}  // namespace

std::string_view name(WriteResult r) {
  switch (r) {
    case WriteResult::kCreated: return "created";
    case WriteResult::kUpdated: return "updated";
    case WriteResult::kNoOp: return "noop";
    case WriteResult::kDeleted: return "deleted";
    case WriteResult::kStale: return "stale";
    case WriteResult::kNotFound: return "not_found";
    case WriteResult::kPreconditionFailed: return "precondition_failed";
    case WriteResult::kAlreadyExists: return "already_exists";
    case WriteResult::kInvalid: return "invalid";
    case WriteResult::kReplayed: return "replayed";
    case WriteResult::kKeyReused: return "key_reused";
  }
  return "?";
}

std::optional<WriteResult> writeResultNamed(std::string_view n) {
  for (int i = 0; i <= static_cast<int>(WriteResult::kKeyReused); ++i) {
    auto r = static_cast<WriteResult>(i);
    if (name(r) == n) return r;
  }
  return std::nullopt;
}

bool keptForReplay(WriteResult r) {
  return r == WriteResult::kCreated || r == WriteResult::kUpdated || r == WriteResult::kNoOp ||
         r == WriteResult::kDeleted;
}

bool recordedOutcome(WriteResult r) {
  return r == WriteResult::kStale || r == WriteResult::kNoOp || r == WriteResult::kNotFound;
}

ReplayRecord replayRecord(const StoreWrite& w, const WriteOutcome& o) {
  if (o.result == WriteResult::kDeleted || !o.member) return {};
  if (w.minimalResponse) return {{}, o.member->version};
  return {json::serialize(storedMemberJson(*o.member)), std::nullopt};
}

Result<WriteOutcome> replayOutcome(std::string_view result, const ReplayRecord& kept) {
  auto r = writeResultNamed(result);
  if (!r || !keptForReplay(*r)) return Status::internal("stored replay with an unknown result");
  WriteOutcome out;
  out.result = WriteResult::kReplayed;
  out.replayed = *r;
  if (kept.version) {
    StoredMember s;
    s.version = *kept.version;
    out.member = std::move(s);
    out.replayedMinimal = true;
    return out;
  }
  if (kept.member.empty()) return out;
  auto v = parseJson(kept.member);
  if (!v.isOk() || !v->is_object())
    return Status::internal("stored replay member is not a JSON object");
  const json::object& o = v->get_object();
  auto m = memberFromJson(*v, std::nullopt, kNoDateBound);
  if (!m.isOk()) return Status::internal("stored replay member breaks a rule");
  StoredMember s;
  s.member = std::move(m).value();
  s.version = intField(o, "version").value_or(0);
  s.sourceSequence = intField(o, "sourceSequence").value_or(0);
  if (auto at = stringField(o, "updatedAt")) s.updatedAtMs = epochMsFromIso(*at).value_or(0);
  out.member = std::move(s);
  return out;
}

Result<Member> memberFromStoredBody(const std::string& body) {
  // Read for every write of a member that exists: parsed into this thread's arena, the member
  // copies what it keeps.
  thread_local JsonArena arena;
  auto v = arena.parse(body);
  if (!v.isOk()) return Status::internal("stored member is not JSON");
  auto m = memberFromJson(**v, std::nullopt, kNoDateBound);
  if (!m.isOk()) return Status::internal("stored member breaks a rule: " + m.status().message());
  return m;
}

Result<Member> memberOfRow(const std::string& memberId, const std::optional<std::string>& body) {
  if (body && !body->empty()) return memberFromStoredBody(*body);
  Member m;
  m.memberId = memberId;
  return m;
}

Result<ListPosition> listPosition(int64_t sinceMs, const std::string& cursor) {
  if (cursor.empty()) return ListPosition{sinceMs - 1, ""};
  auto raw = crypto::base64UrlDecode(cursor);
  auto colon = raw ? raw->find(':') : std::string::npos;
  if (!raw || colon == std::string::npos) return Status::invalidArgument("malformed cursor");
  try {
    return ListPosition{std::stoll(raw->substr(0, colon)), raw->substr(colon + 1)};
  } catch (...) {
    return Status::invalidArgument("malformed cursor");
  }
}

std::string listCursor(const StoredMember& last) {
  return crypto::base64UrlEncode(std::to_string(last.updatedAtMs) + ":" + last.member.memberId);
}

void readHistoryJson(HistoryEntry& h, const std::string& changedFields,
                     const std::string& lineage) {
  if (auto f = parseJson(changedFields); f.isOk() && f->is_array()) {
    for (const auto& v : f->get_array()) {
      if (v.is_string()) h.changedFields.emplace_back(v.get_string());
    }
  }
  if (auto l = parseJson(lineage); l.isOk() && l->is_object()) h.lineage = l->get_object();
}

WritePlan planWrite(const StoreWrite& w, const std::optional<StoredMember>& cur) {
  WritePlan p;
  WriteOutcome& out = p.outcome;
  bool live = cur && !cur->deleted;
  const StoredMember* liveMember = live ? &*cur : nullptr;
  auto stop = [&](WriteResult r, bool showCurrent) {
    out.result = r;
    if (showCurrent && cur) out.member = cur;
    return p;
  };

  if (w.sourceSequence && cur && *w.sourceSequence <= cur->sourceSequence)
    return stop(WriteResult::kStale, true);
  if (w.ifMatchVersion && (!live || cur->version != *w.ifMatchVersion)) {
    return stop(WriteResult::kPreconditionFailed, live);
  }
  if (w.kind == WriteKind::kCreate && live) return stop(WriteResult::kAlreadyExists, true);
  if ((w.kind == WriteKind::kPatch || w.kind == WriteKind::kDelete) && !live) {
    // A delete of an unknown member still leaves a tombstone holding its sequence, so an
    // older create that arrives late cannot bring the member back.
    if (w.kind == WriteKind::kDelete && w.sourceSequence) {
      p.action = WritePlan::Action::kGuardUnknown;
      p.next.sourceSequence = *w.sourceSequence;
      p.next.updatedAtMs = w.nowMs;
    }
    return stop(WriteResult::kNotFound, false);
  }

  int64_t seq = cur ? cur->sourceSequence : 0;
  if (w.sourceSequence) seq = std::max(seq, *w.sourceSequence);

  StoredMember& next = p.next;
  std::vector<std::string> changed;
  std::string type;
  if (w.kind == WriteKind::kDelete) {
    next = *cur;
    next.deleted = true;
    next.version = cur->version + 1;
    next.sourceSequence = seq;
    next.updatedAtMs = w.nowMs;
    out.result = WriteResult::kDeleted;
    changed = changedFields(&cur->member, nullptr);
    type = "member.deleted";
  } else {
    auto content = w.content(liveMember);
    if (!content.isOk()) {
      out.invalid = content.status();
      return stop(WriteResult::kInvalid, true);
    }
    if (live && content.value() == cur->member) {
      out.member = *cur;
      out.member->sourceSequence = seq;
      if (seq != cur->sourceSequence) {
        p.action = WritePlan::Action::kSequenceOnly;
        next = *out.member;
      }
      out.result = WriteResult::kNoOp;
      return p;
    }
    next.member = std::move(content).value();
    next.version = (cur ? cur->version : 0) + 1;
    next.sourceSequence = seq;
    next.updatedAtMs = w.nowMs;
    next.deleted = false;
    out.result = live ? WriteResult::kUpdated : WriteResult::kCreated;
    changed = changedFields(live ? &cur->member : nullptr, &next.member);
    type = live ? "member.updated" : "member.created";
  }

  p.action = WritePlan::Action::kWrite;
  p.body = next.deleted ? std::string() : memberJsonText(next.member);
  MemberEvent& ev = p.event;
  ev.id = crypto::uuidV4();
  ev.type = type;
  ev.memberId = w.memberId;
  ev.timeMs = w.nowMs;
  if (!next.deleted) ev.after = next.member;
  ev.version = next.version;
  ev.sourceSequence = next.sourceSequence;
  ev.changedFields = changed;
  ev.lineage = w.lineage;
  p.lineageJson = json::serialize(w.lineage);
  p.eventJson = cloudEventJson(ev, p.lineageJson);
  json::array a;
  for (const auto& s : changed) a.emplace_back(s);
  p.changedFieldsJson = json::serialize(a);
  out.eventId = ev.id;
  out.member = next;
  return p;
}

json::object erasureLineage() { return json::object{{"via", "erase"}}; }

MemberEvent erasedEvent(const std::string& memberId, int64_t version, int64_t sourceSequence,
                        int64_t nowMs) {
  MemberEvent ev;
  ev.id = crypto::uuidV4();
  ev.type = "member.erased";
  ev.memberId = memberId;
  ev.timeMs = nowMs;
  ev.version = version;
  ev.sourceSequence = sourceSequence;
  ev.lineage = erasureLineage();
  return ev;
}

}  // namespace memberflow
