"""Parking per member, embedded (issue 18, DESIGN.md §4 guarantee 6): a member whose second
change the API rejects with 422 is parked; its five later changes are held in order while
10,000 other members are applied; once the cause is fixed, redriving the dead change applies
it and then the held ones, in their original order. Reconcile accounts for the held changes
as parked while they wait, and finds everything applied afterwards.

The 422 comes from a proxy in front of the real API that rejects one change (by its
Idempotency-Key, the message id) until the test "fixes" it: the API itself accepts every
change ingest lets through."""
import json
import tempfile

from memberflow_e2e import Pipeline, RejectingProxy, free_port, wait_for

PARKED = "M9000000"
OTHERS = 10_000


def record(lsn, last_name):
    row = {"member_id": PARKED, "first_name": "Ada", "last_name": last_name, "middle_name": None,
           "suffix": None, "birth_date": "1985-07-04", "gender": "F", "email": None, "phone": None,
           "address_line1": "1 Main St", "address_line2": None, "city": "Des Moines", "state": "IA",
           "postal_code": "50309", "country": "US", "plan_id": None, "group_number": None,
           "subscriber_id": None, "relationship": "self", "coverage_start": None,
           "coverage_end": None, "status": "A"}
    return json.dumps({"key": {"member_id": PARKED},
                       "value": {"before": None, "after": row, "op": "c" if lsn == 900001 else "u",
                                 "ts_ms": 1767225600000 + lsn,
                                 "source": {"name": "coresys", "lsn": lsn, "ts_ms": 1767225600000 + lsn,
                                            "table": "member"}}})


def proxied_sync(proxy):
    """Sync's settings when it calls the API through `proxy`: one PUT per change (the proxy
    rejects by Idempotency-Key), short backoffs."""
    return {"api_url": f"http://127.0.0.1:{proxy.port}", "batch_write_max": 0,
            "backoff_base_ms": 20, "backoff_cap_ms": 200}


def produce_parked_stream(p, others):
    """Produces the parked member's first two changes, `others` generated members (all valid,
    one change each), then its five later changes; returns the stream."""
    ours = [record(900001 + i, name) for i, name in enumerate(
        ["One", "Two", "Three", "Four", "Five", "Six", "Seven"])]
    gen = p.cli("generate", "--seed", "5", "--count", str(others), "--members", str(others),
                "--invalid", "0", "--stale", "0", "--deletes", "0", "--noop", "0").stdout.splitlines()
    stream = ours[:2] + gen + ours[2:]
    p.cli("produce", "-", input="\n".join(stream) + "\n")
    return stream


def history_ids(p, token):
    status, body = p.get(f"/member/{PARKED}/history", token)
    return [c["messageId"] for c in body["changes"]] if status == 200 else []


def test_a_parked_member_holds_its_changes_in_order_and_others_flow():
    with tempfile.TemporaryDirectory(prefix="memberflow-parking-") as tmp:
        api_port = free_port()
        proxy = RejectingProxy(api_port)
        proxy.reject.add("coresys:900002")
        p = Pipeline(tmp, api={"port": api_port}, sync=proxied_sync(proxy))
        p.port = api_port  # the API itself; only sync goes through the proxy
        try:
            stream = produce_parked_stream(p, OTHERS)
            p.start()
            token = p.token("member:read")

            # Parked behind its dead second change: the create applied, five changes held.
            wait_for(lambda: p.idle(len(stream)) and p.status().get("parked", {}).get("held") == 5, 180,
                     "the pipeline to drain with the member parked")
            assert proxy.rejected >= 1
            assert history_ids(p, token) == ["coresys:900001"]
            dead = p.dlq("changes")
            assert [d["attributes"]["reason"] for d in dead if "reason" in d.get("attributes", {})] == ["api_rejected_422"], dead
            parked = [d for d in dead if "parkedMember" in d]
            assert parked == [] or parked[0]["parkedMember"] == PARKED
            listed = [json.loads(line) for line in p.cli("park", "list").stdout.splitlines()]
            assert [(x["parkedMember"], x["state"], x["held"], x["deadMessageId"]) for x in listed] == \
                [(PARKED, "parked", 5, "coresys:900002")], listed
            status, body = p.get(f"/member/{PARKED}/parking", token)
            assert status == 200 and body["parked"] and body["held"] == 5, body
            status, body = p.get("/member/M0000000/parking", token)
            assert status == 200 and not body["parked"], body

            # Every other member was applied meanwhile, and reconcile accounts for the held ones.
            r = p.cli("reconcile", check=False)
            summary = json.loads(r.stdout.splitlines()[-1])["summary"]
            assert r.returncode == 0, r.stdout[-3000:]
            assert summary["outcomes"].get("parked") == 5 and summary["outcomes"].get("dead_lettered") == 1, summary
            assert summary["outcomes"]["applied"] >= OTHERS * 0.9 + 1, summary
            status, body = p.get(f"/member/{PARKED}", token)
            assert status == 200 and body["name"]["last"] == "One" and body["version"] == 1

            # Fixed: the redrive releases the member; all seven end applied, in order.
            proxy.reject.clear()
            out = json.loads(p.cli("dlq", "redrive", "--queue", "changes").stdout)
            assert out["membersReleased"] == 1, out
            want = [f"coresys:{900001 + i}" for i in range(7)]
            wait_for(lambda: history_ids(p, token) == want, 120, "the held changes to be applied")
            status, body = p.get(f"/member/{PARKED}", token)
            assert body["name"]["last"] == "Seven" and body["version"] == 7, body
            wait_for(lambda: p.cli("park", "list").stdout.strip() == "", 60, "the member to be unparked")
            status, body = p.get(f"/member/{PARKED}/parking", token)
            assert status == 200 and not body["parked"]
            r = p.cli("reconcile", check=False)
            summary = json.loads(r.stdout.splitlines()[-1])["summary"]
            assert r.returncode == 0 and "parked" not in summary["outcomes"], summary
        finally:
            p.stop_all()
            proxy.close()
