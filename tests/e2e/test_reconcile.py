"""`memberflow reconcile`, embedded (issue 18): after a clean run every source record is
accounted for (exit 0); then each kind of loss is made by hand in a copy of the data
directory, and reconcile must name exactly the records and events it touched (exit 1):
a lake object removed, a history row removed, a raw archive object removed, a ledger entry
removed, a delivery of a webhook target removed, an event line duplicated in the lake.
Deliveries are checked too: a webhook that answers gets every event its rule selects, one
that fails has them on its DLQ; both account for every selected event."""
import gzip
import json
import os
import shutil
import sqlite3
import tempfile

from memberflow_e2e import Pipeline, Receiver, produce_generated

COUNT, MEMBERS = 2000, 200


def reconcile(p):
    r = p.cli("reconcile", check=False)
    assert r.returncode in (0, 1), f"reconcile failed ({r.returncode}): {r.stderr}"
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert lines and "summary" in lines[-1], r.stdout
    return r.returncode, lines[:-1], lines[-1]["summary"]


def copy_of(p, tmp, name):
    """A pipeline on a copy of p's data directory (nothing runs on it)."""
    d = os.path.join(tmp, name)
    os.makedirs(d)
    shutil.copytree(os.path.join(p.dir, "var"), os.path.join(d, "var"))
    return Pipeline(d, bus={"rules_file": os.path.join(tmp, "rules.json")})


def gz_lines(path):
    return gzip.decompress(open(path, "rb").read()).decode().splitlines()


def found(discrepancies):
    return {(d["discrepancy"], d.get("messageId", d.get("eventId"))) for d in discrepancies}


def test_reconcile_complete_then_names_each_loss():
    with tempfile.TemporaryDirectory(prefix="memberflow-reconcile-") as tmp:
        os.makedirs(os.path.join(tmp, "clean"))
        rx = Receiver(failing={"/audit"})
        rules_file = os.path.join(tmp, "rules.json")
        with open(rules_file, "w") as f:
            json.dump({
                "targets": [
                    {"name": "crm", "type": "webhook", "url": f"http://127.0.0.1:{rx.port}/crm"},
                    {"name": "audit", "type": "webhook", "url": f"http://127.0.0.1:{rx.port}/audit",
                     "maxAttempts": 2},
                ],
                "rules": [
                    {"name": "iowa", "targets": ["crm"],
                     "pattern": {"detail": {"data": {"member": {"address": {"state": ["IA"]}}}}}},
                    {"name": "deletes", "targets": ["audit"],
                     "pattern": {"detail-type": ["member.deleted"]}},
                ],
            }, f)
        p = Pipeline(os.path.join(tmp, "clean"), bus={"rules_file": rules_file})
        try:
            produce_generated(p, 18, COUNT, MEMBERS)
            p.cli("run", "--until-idle")
        finally:
            rx.close()

        rc, gaps, summary = reconcile(p)
        assert rc == 0 and gaps == [] and summary["complete"], (gaps, summary)
        assert summary["records"] == COUNT
        assert sum(summary["outcomes"].values()) == COUNT, summary
        for kind in ("applied", "duplicate", "rejected", "stale", "tombstone"):
            assert summary["outcomes"].get(kind, 0) > 0, (kind, summary)
        assert summary["lakeEvents"] == summary["historyRows"] == summary["outcomes"]["applied"]
        assert summary["deliveriesChecked"]
        assert summary["deliveries"]["delivered"] == len(set(rx.ids("/crm"))) > 0, summary
        assert summary["deliveries"]["dead_lettered"] == len(p.dlq("target-audit")) > 0, summary

        var = os.path.join(p.dir, "var")
        history = sqlite3.connect(os.path.join(var, "members.db")).execute(
            "SELECT event_id, message_id, lineage FROM history").fetchall()
        by_event = {e: (m, json.loads(lin)) for e, m, lin in history}
        lake_files = sorted(os.path.join(d, n) for d, _, ns in os.walk(os.path.join(var, "objects", "lake"))
                            for n in ns)
        assert len(lake_files) >= 2

        # A lake object removed: each of its events, by the record that made it.
        q = copy_of(p, tmp, "lake-object")
        gone = lake_files[0].replace(p.dir, q.dir)
        events = [json.loads(line)["id"] for line in gz_lines(gone)]
        os.remove(gone)
        rc, gaps, summary = reconcile(q)
        assert rc == 1 and not summary["complete"]
        assert found(gaps) == {("event_missing_from_lake", by_event[e][0]) for e in events}
        for g in gaps:
            lin = by_event[g["eventId"]][1]
            assert (g["partition"], g["offset"]) == (lin["partition"], lin["offset"])

        # A history row removed: its record is not applied, and its lake event has no origin.
        q = copy_of(p, tmp, "history-row")
        event = json.loads(gz_lines(lake_files[-1].replace(p.dir, q.dir))[0])["id"]
        db = sqlite3.connect(os.path.join(q.dir, "var", "members.db"))
        db.execute("DELETE FROM history WHERE event_id = ?", (event,))
        db.commit()
        db.close()
        rc, gaps, _ = reconcile(q)
        assert rc == 1
        assert found(gaps) == {("not_applied", by_event[event][0]),
                               ("lake_event_without_history", event)}, gaps

        # A raw archive object removed: every record the ledger finds in it.
        q = copy_of(p, tmp, "archive-object")
        raw = sorted(os.path.join(d, n) for d, _, ns in os.walk(os.path.join(q.dir, "var", "objects", "raw"))
                     for n in ns)
        key = os.path.relpath(raw[0], os.path.join(q.dir, "var", "objects"))
        ledger = sqlite3.connect(os.path.join(q.dir, "var", "ledger.db"))
        named = {m for (m,) in ledger.execute("SELECT message_id FROM ledger WHERE archive_key = ?", (key,))}
        ledger.close()
        assert named
        os.remove(raw[0])
        rc, gaps, _ = reconcile(q)
        assert rc == 1
        assert found(gaps) == {("archive_object_missing", m) for m in named}, gaps
        assert all(g["where"].startswith(key + " line ") for g in gaps)

        # A ledger entry removed: that record alone.
        q = copy_of(p, tmp, "ledger-entry")
        message, lin = next(iter(by_event.values()))
        ledger = sqlite3.connect(os.path.join(q.dir, "var", "ledger.db"))
        ledger.execute("DELETE FROM ledger WHERE message_id = ?", (message,))
        ledger.commit()
        ledger.close()
        rc, gaps, _ = reconcile(q)
        assert rc == 1
        assert found(gaps) == {("no_ledger_entry", message)}, gaps
        assert (gaps[0]["partition"], gaps[0]["offset"]) == (lin["partition"], lin["offset"])

        # A delivery removed from the log: the event its rule selected for that target.
        q = copy_of(p, tmp, "delivery")
        log = sqlite3.connect(os.path.join(q.dir, "var", "deliveries.db"))
        (event,) = log.execute("SELECT event_id FROM deliveries WHERE target = 'crm' LIMIT 1").fetchone()
        log.execute("DELETE FROM deliveries WHERE target = 'crm' AND event_id = ?", (event,))
        log.commit()
        log.close()
        rc, gaps, _ = reconcile(q)
        assert rc == 1
        assert found(gaps) == {("delivery_missing", by_event[event][0])}, gaps
        assert gaps[0]["eventId"] == event and gaps[0]["where"] == "target crm"

        # An event line written twice into the lake.
        q = copy_of(p, tmp, "duplicate-line")
        target = lake_files[-1].replace(p.dir, q.dir)
        lines = gz_lines(target)
        with open(target, "wb") as f:
            f.write(gzip.compress(("\n".join(lines + [lines[0]]) + "\n").encode()))
        rc, gaps, _ = reconcile(q)
        assert rc == 1
        assert found(gaps) == {("event_duplicate_in_lake", json.loads(lines[0])["id"])}, gaps
