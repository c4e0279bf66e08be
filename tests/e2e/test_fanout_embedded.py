"""End to end through the fan-out, embedded: produce -> ingest -> sync -> API -> relay ->
topic -> route -> event bus rules -> webhooks (real HTTP servers in this test), and -> lake.
Each webhook must receive exactly the events its rule selects, in per-member order; a
failing webhook's deliveries go to its DLQ after the retry limit and are redriven once it
is back."""
import json
import os
import tempfile

from memberflow_e2e import Pipeline, Receiver, drain_and_check, produce_generated, wait_for


def test_webhooks_and_lake():
    with tempfile.TemporaryDirectory(prefix="memberflow-fanout-") as tmp:
        rx = Receiver(failing={"/audit"})
        rules = {
            "targets": [
                {"name": "crm", "type": "webhook", "url": f"http://127.0.0.1:{rx.port}/crm",
                 "authSecret": "crm-token"},
                {"name": "audit", "type": "webhook", "url": f"http://127.0.0.1:{rx.port}/audit",
                 "maxAttempts": 3},
                {"name": "partner", "type": "bus", "bus": "partner"},
                {"name": "inbox", "type": "queue", "queue": "partner-inbox"},
            ],
            "rules": [
                {"name": "crm-iowa", "targets": ["crm"], "inputPath": "$.detail",
                 "pattern": {"detail-type": ["member.created", "member.updated"],
                             "detail": {"data": {"member": {"address": {"state": ["IA"]}}}}}},
                {"name": "deletes", "targets": ["audit"],
                 "pattern": {"detail-type": ["member.deleted"]}},
                {"name": "terminations", "targets": ["partner"],
                 "pattern": {"detail": {"data": {"member": {"status": ["terminated"]}}}}},
                {"name": "partner-all", "bus": "partner", "targets": ["inbox"],
                 "pattern": {"detail-type": [{"prefix": "member."}]}},
            ],
        }
        rules_file = f"{tmp}/rules.json"
        with open(rules_file, "w") as f:
            json.dump(rules, f)
        p = Pipeline(tmp, bus={"rules_file": rules_file}, lake={"flush_ms": 200})
        os.makedirs(f"{tmp}/var/secrets", exist_ok=True)
        with open(f"{tmp}/var/secrets/crm-token", "w") as f:
            f.write("Bearer crm-secret")
        try:
            lines = produce_generated(p, 5, 3000, 200)
            run = p.start()
            drain_and_check(p, lines, 180)

            lake = p.lake_events()
            want_crm = [e for e in lake if e["type"] in ("member.created", "member.updated")
                        and e["data"]["member"]["address"]["state"] == "IA"]
            want_audit = [e for e in lake if e["type"] == "member.deleted"]
            assert want_crm and want_audit

            # crm: exactly the selected events (at least once: repeats carry the same id),
            # the input path applied, the secret's header sent, per-member order kept.
            got = rx.events("/crm")
            assert {i for i, _ in got} == {e["id"] for e in want_crm}
            assert all(body["type"] in ("member.created", "member.updated") for _, body in got)
            assert "Bearer crm-secret" in rx.auth
            versions = {}
            for _, body in got:
                v, m = body["data"]["version"], body["subject"]
                assert v >= versions.get(m, 0), f"{m}: version {v} after {versions[m]}"
                versions[m] = v

            # A bus target forwards to the partner bus, whose rule puts it on a queue.
            want_partner = {e["id"] for e in lake if e["data"]["member"] and e["data"]["member"]["status"] == "terminated"}
            assert want_partner
            peeked = p.cli("queue", "peek", "--queue", "partner-inbox", "--limit", "100000", "--with-body").stdout
            inbox = [json.loads(json.loads(line)["body"]) for line in peeked.splitlines()]
            assert {m["detail"]["id"] for m in inbox} == want_partner
            assert len(inbox) == len(want_partner)  # dedup ids: one message per event
            assert all(m["event-bus-name"] == "partner" for m in inbox)

            # audit failed every time: all its deliveries are in its DLQ with the reason.
            dead = p.dlq("target-audit")
            assert len(dead) == len(want_audit)
            assert all(d["attributes"]["reason"].startswith("attempts_exhausted:webhook_status_500") for d in dead)
            assert rx.events("/audit") == []

            # Back in service: the redrive delivers every one of them.
            rx.heal("/audit")
            out = json.loads(p.cli("dlq", "redrive", "--queue", "target-audit").stdout)
            assert out["redriven"] == len(want_audit)
            wait_for(lambda: len({i for i, _ in rx.events("/audit")}) == len(want_audit), 60,
                     "the redriven deliveries")
            assert {i for i, _ in rx.events("/audit")} == {e["id"] for e in want_audit}
            assert p.dlq("target-audit") == []
            assert p.stop(run) == 0
        finally:
            p.stop_all()
            rx.close()
