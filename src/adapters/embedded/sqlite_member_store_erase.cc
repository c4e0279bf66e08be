// SqliteMemberStore's erasure (sqlite_member_store.h, `memberflow erase`): a member's data
// removed from the members, history, outbox and idempotency tables in one transaction, and the
// audit of erasures. Apart from sqlite_member_store.cc, which writes and reads members.
#include "adapters/embedded/sqlite_member_store.h"
#include "domain/member_event.h"
#include "domain/member_write.h"

namespace memberflow::embedded {

Result<MemberErasure> SqliteMemberStore::erase(const std::string& memberId, int64_t nowMs) {
  std::lock_guard lock(mu_);
  auto count = [this](const char* sql, const std::string& id) -> Result<int64_t> {
    MF_PREPARE(st, *db_, sql);
    st->bind(1, id);
    auto row = st->step();
    if (!row.isOk()) return row.status();
    int64_t n = *row ? st->i64(0) : 0;
    st->reset();
    return n;
  };
  auto run = [this](const char* sql, const std::string& id) -> Result<int64_t> {
    MF_PREPARE(st, *db_, sql);
    st->bind(1, id);
    MF_RETURN_IF_ERROR(st->run());
    return db_->changes();
  };
  MF_RETURN_IF_ERROR(db_->exec("PRAGMA secure_delete=ON"));
  Transaction tx(*db_);
  MF_RETURN_IF_ERROR(tx.begin());
  MemberErasure out;
  auto current = load(memberId);
  if (!current.isOk()) return current.status();
  MF_ASSIGN_OR_RETURN(out.historyRows,
                      count("SELECT count(*) FROM history WHERE member_id = ?", memberId));
  out.known = current->has_value() || out.historyRows > 0;
  if (!out.known) return out;
  // Erased before and not written since: the last history row is the erasure.
  {
    MF_PREPARE(last, *db_, "SELECT op FROM history WHERE member_id = ? ORDER BY seq DESC LIMIT 1");
    last->bind(1, memberId);
    auto row = last->step();
    if (!row.isOk()) return row.status();
    out.alreadyErased = *row && last->str(0) == kErasedOp;
    last->reset();
  }
  // The idempotency records of the member: under the message ids of its sourced writes, or
  // holding its JSON (direct API writes).
  MF_ASSIGN_OR_RETURN(
      out.replays,
      run("DELETE FROM write_replays WHERE key IN (SELECT message_id FROM history"
          " WHERE member_id = ?1 AND message_id != '' UNION SELECT message_id FROM write_outcomes"
          " WHERE member_id = ?1) OR (CASE WHEN json_valid(member) THEN"
          " json_extract(member, '$.memberId') END) = ?1",
          memberId));
  // Unsent events of the member, except an erasure's own (it carries no member data).
  MF_ASSIGN_OR_RETURN(out.outbox, run("DELETE FROM outbox WHERE member_id = ?1 AND"
                                      " json_extract(event, '$.type') != 'member.erased'",
                                      memberId));
  StoredMember s = current->value_or(StoredMember{});
  out.version = s.version;
  if (!out.alreadyErased) {
    out.version = s.version + 1;
    MemberEvent ev = erasedEvent(memberId, out.version, s.sourceSequence, nowMs);
    std::string lineage = json::serialize(ev.lineage);  // history's and the event's
    MF_PREPARE(up, *db_,
               "INSERT INTO members(member_id, body, version, source_sequence, updated_at,"
               " deleted) VALUES(?1, '', ?2, ?3, ?4, 1) ON CONFLICT(member_id) DO UPDATE SET"
               " body = '', version = ?2, updated_at = ?4, deleted = 1");
    up->bind(1, memberId).bind(2, out.version).bind(3, s.sourceSequence).bind(4, nowMs);
    MF_RETURN_IF_ERROR(up->run());
    MF_PREPARE(hist, *db_,
               "INSERT INTO history(member_id, version, op, event_id, message_id, source_sequence,"
               " changed_fields, lineage, applied_at) VALUES(?, ?, ?, ?, '', ?, '[]', ?, ?)");
    hist->bind(1, memberId)
        .bind(2, out.version)
        .bind(3, kErasedOp)
        .bind(4, ev.id)
        .bind(5, s.sourceSequence)
        .bind(6, lineage)
        .bind(7, nowMs);
    MF_RETURN_IF_ERROR(hist->run());
    MF_PREPARE(ob, *db_,
               "INSERT INTO outbox(event_id, member_id, event, created_at) VALUES(?, ?, ?, ?)");
    ob->bind(1, ev.id).bind(2, memberId).bind(3, cloudEventJson(ev, lineage)).bind(4, nowMs);
    MF_RETURN_IF_ERROR(ob->run());
    out.eventId = ev.id;
    ++out.historyRows;
  }
  MF_RETURN_IF_ERROR(tx.commit());
  return out;
}

Status SqliteMemberStore::recordErasure(const ErasureRecord& r) {
  std::lock_guard lock(mu_);
  MF_PREPARE(ins, *db_, "INSERT INTO erasures(member_id, at, reason, counts) VALUES(?, ?, ?, ?)");
  ins->bind(1, r.memberId).bind(2, r.atMs).bind(3, r.reason).bind(4, json::serialize(r.counts));
  return ins->run();
}

Result<std::vector<ErasureRecord>> SqliteMemberStore::erasures(const std::string& memberId) {
  std::lock_guard lock(mu_);
  MF_PREPARE(sel, *db_, "SELECT at, reason, counts FROM erasures WHERE member_id = ? ORDER BY seq");
  sel->bind(1, memberId);
  std::vector<ErasureRecord> out;
  for (;;) {
    auto row = sel->step();
    if (!row.isOk()) return row.status();
    if (!*row) break;
    ErasureRecord r{memberId, sel->i64(0), sel->str(1), {}};
    auto counts = parseJson(sel->str(2));
    if (counts.isOk() && counts->is_object()) r.counts = counts->get_object();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace memberflow::embedded
