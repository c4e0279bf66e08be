// File: pg_member_erase.cc
// PgMemberStore's erasure (`memberflow erase`, pg_member_store.h): the member's data out of
// its row, history, idempotency records and unsent events, in one transaction under its writer
// lock, and the audit of erasures.
#include "adapters/postgres/pg_member_rows.h"
#include "adapters/postgres/pg_member_store.h"

namespace memberflow::postgres {
namespace {

std::string n(int64_t v) { return std::to_string(v); }

}  // namespace

using member_rows::kLoadRow;
using member_rows::kWriterLock;
using member_rows::storedOfRow;

Result<MemberErasure> PgMemberStore::erase(const std::string& memberId, int64_t nowMs) {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  PgConn& c = **lease;
  PgTransaction tx(c);
  MF_RETURN_IF_ERROR(tx.begin());
  if (auto l = c.exec("mf_writer_lock", kWriterLock, {memberId}); !l.isOk()) return l.status();
  auto row = c.exec("mf_load", kLoadRow, {memberId});
  if (!row.isOk()) return row.status();
  auto cur = storedOfRow(memberId, *row);
  if (!cur.isOk()) return cur.status();
  auto hist = c.exec("mf_erase_hist",
                     "SELECT count(*), (SELECT op FROM history WHERE member_id = $1"
                     " ORDER BY seq DESC LIMIT 1) FROM history WHERE member_id = $1",
                     {memberId});
  if (!hist.isOk()) return hist.status();
  MemberErasure out;
  out.historyRows = hist->i64(0, 0);
  out.known = cur->has_value() || out.historyRows > 0;
  if (!out.known) {
    MF_RETURN_IF_ERROR(tx.commit());
    return out;
  }
  out.alreadyErased = !hist->null(0, 1) && hist->str(0, 1) == kErasedOp;
  // The idempotency records of the member: under the message ids of its sourced writes, or
  // holding its JSON (direct API writes); the legacy rendered responses likewise.
  auto replays = c.exec(
      "mf_erase_replays",
      "DELETE FROM write_replays WHERE key IN (SELECT message_id FROM history WHERE member_id = $1"
      " AND message_id <> '' UNION SELECT message_id FROM write_outcomes WHERE member_id = $1)"
      " OR (CASE WHEN member LIKE '{%' THEN member::jsonb ->> 'memberId' END) = $1",
      {memberId});
  if (!replays.isOk()) return replays.status();
  out.replays = replays->affected();
  auto legacy = c.exec("mf_erase_legacy",
                       "DELETE FROM idempotency WHERE key IN (SELECT message_id FROM history"
                       " WHERE member_id = $1 AND message_id <> '')"
                       " OR body LIKE '%\"memberId\":\"' || $1 || '\"%'",
                       {memberId});
  if (!legacy.isOk()) return legacy.status();
  out.replays += legacy->affected();
  auto outbox = c.exec("mf_erase_outbox",
                       "DELETE FROM outbox WHERE member_id = $1"
                       " AND event::jsonb ->> 'type' <> 'member.erased'",
                       {memberId});
  if (!outbox.isOk()) return outbox.status();
  out.outbox = outbox->affected();
  StoredMember s = cur->value_or(StoredMember{});
  out.version = s.version;
  if (!out.alreadyErased) {
    out.version = s.version + 1;
    MemberEvent ev = erasedEvent(memberId, out.version, s.sourceSequence, nowMs);
    std::string lineage = json::serialize(ev.lineage);  // history's and the event's
    auto w = c.exec(
        "mf_erase_write",
        "WITH up AS (INSERT INTO members(member_id, body, version, source_sequence, updated_at,"
        " deleted) VALUES($1, NULL, $2, $3, $4, true) ON CONFLICT (member_id) DO UPDATE SET"
        " body = NULL, version = EXCLUDED.version, updated_at = EXCLUDED.updated_at,"
        " deleted = true RETURNING member_id),"
        " h AS (INSERT INTO history(member_id, version, op, event_id, message_id,"
        " source_sequence, changed_fields, lineage, applied_at) SELECT member_id, $2::bigint,"
        " $5::text, $6::text, '', $3::bigint, '[]'::jsonb, $7::jsonb, $4::bigint FROM up)"
        " INSERT INTO outbox(event_id, member_id, event, created_at)"
        " SELECT $6::text, member_id, $8::text, $4::bigint FROM up",
        {memberId, n(out.version), n(s.sourceSequence), n(nowMs), std::string(kErasedOp), ev.id,
         lineage, cloudEventJson(ev, lineage)});
    if (!w.isOk()) return w.status();
    out.eventId = ev.id;
    ++out.historyRows;
    auto notify = c.exec("mf_notify", "SELECT pg_notify('memberflow_member', $1)", {memberId});
    if (!notify.isOk()) return notify.status();
  }
  MF_RETURN_IF_ERROR(tx.commit());
  return out;
}

Status PgMemberStore::recordErasure(const ErasureRecord& r) {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  return (*lease)
      ->exec("mf_erasure_put",
             "INSERT INTO erasures(member_id, at, reason, counts) VALUES($1, $2, $3, $4::jsonb)",
             {r.memberId, n(r.atMs), r.reason, json::serialize(r.counts)})
      .status();
}

Result<std::vector<ErasureRecord>> PgMemberStore::erasures(const std::string& memberId) {
  auto lease = pool_.acquire();
  if (!lease.isOk()) return lease.status();
  auto rows = (*lease)->exec(
      "mf_erasures",
      "SELECT at, reason, counts::text FROM erasures WHERE member_id = $1 ORDER BY seq",
      {memberId});
  if (!rows.isOk()) return rows.status();
  std::vector<ErasureRecord> out;
  for (int i = 0; i < rows->rows(); ++i) {
    ErasureRecord r{memberId, rows->i64(i, 0), rows->str(i, 1), {}};
    auto counts = parseJson(rows->str(i, 2));
    if (counts.isOk() && counts->is_object()) r.counts = counts->get_object();
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace memberflow::postgres
