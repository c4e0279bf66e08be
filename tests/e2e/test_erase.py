"""`memberflow erase --member ID`, embedded (issue 18): after the pipeline ran a generated stream
with a webhook target, one member is erased. Then none of that member's generated personal
values (names, birth date, e-mail, phone, street) is in any file under the data directory (read
raw, .gz files decompressed, SQLite files and their WALs raw); reconcile still exits 0 and counts
the member's records as erased; the other members are unchanged; a member.erased event reached
the lake and the webhook; DuckDB, loading the lake as its readers do, finds none of the member's
values in it (test_lake_duckdb.erased_member_absent); a later change of the member from the
source is applied again as new data; and a replay of the archive does not bring the erased data
back. The same on the distributed adapters: test_distributed_park_erase.py."""
import json
import os
import re
import sqlite3
import tempfile

from memberflow_e2e import (Pipeline, Receiver, canonical_personal_values, expected_state, leaks,
                            personal_values, produce_generated, record_counts, wait_for)
from test_lake_duckdb import connect, erased_member_absent

COUNT, MEMBERS = 2000, 200
def dead_members(p):
    """The member id of every ingest DLQ entry."""
    out = p.cli("dlq", "list", "--queue", "ingest", "--limit", "1000000", "--with-body").stdout
    for line in out.splitlines():
        if line.strip():
            body = json.loads(line).get("body")
            body = json.loads(body) if isinstance(body, str) else body
            if isinstance(body, dict) and body.get("memberId"):
                yield body["memberId"]


def reconcile(p):
    r = p.cli("reconcile", check=False)
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert r.returncode == 0 and lines, f"reconcile exit {r.returncode}: {r.stdout[-3000:]} {r.stderr[-2000:]}"
    return lines[-1]["summary"]


def run_until_idle(p, records):
    proc = p.start()
    wait_for(lambda: p.idle(records), 120, "the pipeline to drain")
    return proc


def test_erase_removes_a_member_everywhere():
    with tempfile.TemporaryDirectory(prefix="memberflow-erase-") as tmp:
        rx = Receiver()
        rules_file = os.path.join(tmp, "rules.json")
        with open(rules_file, "w") as f:
            json.dump({
                "targets": [{"name": "crm", "type": "webhook",
                             "url": f"http://127.0.0.1:{rx.port}/crm"}],
                "rules": [{"name": "all", "targets": ["crm"],
                           "pattern": {"detail-type": [{"prefix": "member."}]}}],
            }, f)
        p = Pipeline(tmp, bus={"rules_file": rules_file})
        var = os.path.join(tmp, "var")
        try:
            lines = produce_generated(p, 31, COUNT, MEMBERS)
            members, invalid, _ = expected_state(lines)
            proc = run_until_idle(p, len(lines))
            p.stop(proc)

            # The member with the most records among those with a rejected record of their own.
            counts = record_counts(lines)
            rejected = set(dead_members(p))
            member = max((m for m in members if not members[m]["deleted"] and m in rejected),
                         key=lambda m: counts.get(m, 0))
            values = personal_values(lines, member)
            assert len(values) >= 3, values
            assert leaks(var, values), "the member's data should be there before the erasure"

            r = p.cli("erase", "--member", member, "--reason", "test: right to deletion")
            out = json.loads(r.stdout)
            c = out["counts"]
            assert out["known"] and out["erasedEventId"], out
            assert c["memberRows"] == 1 and c["archiveLines"] > 0 and c["lakeEvents"] > 0, c
            assert c["sourceRecords"] == c["archiveLines"], c
            assert not re.search("|".join(map(re.escape, values)), r.stdout + r.stderr)
            assert c["dlqEntries"] > 0 and member not in set(dead_members(p)), c

            # Nothing of the member in any file, raw, SQLite files and WALs included.
            found = leaks(var, values)
            assert not found, f"erased data still in: {found[:10]}"

            # The member.erased event flows to the lake and the webhook.
            proc = run_until_idle(p, len(lines))
            token = p.token("member:read")
            status, _ = p.get(f"/member/{member}", token)
            assert status == 404
            erased = [e for e in p.lake_events() if e["type"] == "member.erased"]
            assert [e["subject"] for e in erased] == [member]
            assert erased[0]["id"] == out["erasedEventId"] and erased[0]["data"]["member"] is None
            redacted = [e for e in p.lake_events() if e.get("redacted") == "erased"]
            assert len(redacted) == c["lakeEvents"] and all(e["subject"] == member and "data" not in e
                                                            for e in redacted)
            wait_for(lambda: out["erasedEventId"] in rx.ids("/crm"), 30, "member.erased at the CRM")
            # The lake as its readers load it (DuckDB, Hive partitions): nothing of the member in
            # the lines about it, its events still there as markers, member.erased once.
            con = connect(var)
            erased_member_absent(con, member, canonical_personal_values(lines, member))
            con.close()

            # The other members are unchanged.
            others = [m for m in sorted(members) if m != member][:40]
            for m in others:
                st = members[m]
                status, body = p.get(f"/member/{m}", token)
                if st["deleted"]:
                    assert status == 404, m
                    continue
                assert status == 200, m
                got = {k: v for k, v in body.items() if k not in ("version", "sourceSequence", "updatedAt")}
                assert got == st["content"] and body["version"] == st["version"], m
            p.stop(proc)
            assert not leaks(var, values)

            # Reconcile: complete, the member's records accounted for as erased.
            summary = reconcile(p)
            assert summary["complete"] and summary["records"] == len(lines), summary
            assert 0 < summary["outcomes"].get("erased", 0) <= c["archiveLines"], summary
            assert sum(summary["outcomes"].values()) == len(lines), summary

            # A later change from the source applies again as new data.
            seq = max(s["seq"] for s in members.values() if s["seq"] is not None) + 1000
            row = {"member_id": member, "first_name": "Renata", "last_name": "Newdata",
                   "birth_date": "1985-05-05", "gender": "F", "status": "A", "country": "US",
                   "email": f"{member}.new@example.org", "updated_at": 1}
            record = {"key": {"member_id": member},
                      "value": {"before": None, "after": row, "op": "u", "ts_ms": seq,
                                "source": {"name": "coresys", "lsn": seq, "ts_ms": seq,
                                           "table": "member"}}}
            p.cli("produce", "-", input=json.dumps(record) + "\n")
            proc = run_until_idle(p, len(lines) + 1)
            status, body = p.get(f"/member/{member}", token)
            assert status == 200 and body["name"]["first"] == "Renata", (status, body)
            p.stop(proc)

            # A replay of the archive brings nothing erased back.
            r = p.cli("replay")
            proc = run_until_idle(p, len(lines) + 1)
            status, body = p.get(f"/member/{member}", token)
            assert status == 200 and body["name"]["first"] == "Renata", body
            p.stop(proc)
            assert not leaks(var, values)
            summary = reconcile(p)
            assert summary["complete"] and summary["outcomes"].get("erased", 0) > 0, summary

            # The audit: ids, reason and counts, nothing erased.
            db = sqlite3.connect(os.path.join(var, "members.db"))
            audit = db.execute("SELECT member_id, reason, counts FROM erasures").fetchall()
            db.close()
            assert [(a[0], a[1]) for a in audit] == [(member, "test: right to deletion")]
            assert json.loads(audit[0][2])["archiveLines"] == c["archiveLines"]
        finally:
            p.stop_all()
            rx.close()
