"""Parking and erasure on the distributed adapters (issue 18: "in both modes"): the source is a
Kafka topic, the queues, topic, bus, archive, lake, ledger and parking table are SQS, SNS,
EventBridge, S3 and DynamoDB on moto, the member store is PostgreSQL and the secrets come from
Secrets Manager. The API and sync run in one process, ingest and the fan-out in another.

1. Parking: a member whose second change the API rejects with 422 (test_parking's proxy) is
   parked; its five later changes are held in the DynamoDB parking table, not in the changes
   queue, and `status`, `park list` and the API show it, while a few thousand other members are
   applied; reconcile exits 0 counting them as parked. After `dlq redrive --queue changes` all
   seven are applied in order, and reconcile exits 0 again.
2. Erasure: after the pipeline ran a generated stream onto a versioned bucket, and then a
   member of the test's own was parked (its dead change on the changes DLQ, a FIFO queue, five
   changes held in the parking table), `memberflow erase` of a generated member with an entry on
   the ingest DLQ (a standard queue) and of the parked one leaves none of their personal values
   in any version of any object of the bucket, any message of the queues (DLQs included, read
   through receive and made visible again), the parking table, the PostgreSQL schema (pg_dump)
   or the data directory; the member.erased events reach the lake; reconcile exits 0 counting
   their records as erased; the other members are unchanged.

The embedded counterparts: test_parking.py and test_erase.py."""
import json
import os
import subprocess
import tempfile
import uuid

import boto3
import pytest

from memberflow_e2e import (AwsPipeline, PgServer, RejectingProxy, drain_and_check, expected_state,
                            free_port, leaks, leaks_in, personal_values, produce_generated,
                            record_counts, wait_for)
from test_erase import dead_members
from test_parking import PARKED, history_ids, produce_parked_stream, proxied_sync, record

ENDPOINT = os.environ.get("MEMBERFLOW_TEST_AWS_ENDPOINT")
BROKER = os.environ.get("MEMBERFLOW_TEST_KAFKA")
POSTGRES = os.environ.get("MEMBERFLOW_TEST_POSTGRES")
for value, skip, what in ((ENDPOINT, "MEMBERFLOW_SKIP_AWS", "AWS endpoint"),
                          (BROKER, "MEMBERFLOW_SKIP_KAFKA", "Kafka broker"),
                          (POSTGRES, "MEMBERFLOW_SKIP_POSTGRES", "PostgreSQL server")):
    if not value and not os.environ.get(skip):
        raise RuntimeError(f"no {what}: run scripts/test ({skip}=1 skips these tests)")
pytestmark = pytest.mark.skipif(not (ENDPOINT and BROKER and POSTGRES),
                                reason="a server is missing and its MEMBERFLOW_SKIP_* is set")

KW = dict(endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
OTHERS = 3000  # parking: other members applied while one is parked
DRAIN_S = 420  # a slow, shared 2-core machine


def distributed_pipeline(tmp, server, **kw):
    """An AwsPipeline whose source is a Kafka topic of its own and whose member store is a fresh
    PostgreSQL schema; the database password and the sync client's secret in Secrets Manager."""
    tag = uuid.uuid4().hex[:8]
    os.environ.update(AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret")
    schema = server.schema()
    sm = boto3.client("secretsmanager", **KW)
    sm.create_secret(Name=f"mf-{tag}-pg-password", SecretString=server.password)
    sm.create_secret(Name=f"mf-{tag}-sync-client", SecretString=uuid.uuid4().hex)
    topic = "members-" + tag
    p = AwsPipeline(tmp, tag, ENDPOINT,
                    adapters={"source": "kafka", "member_store": "postgres", "secrets": "secretsmanager"},
                    kafka={"bootstrap_servers": BROKER},
                    source={"topic": topic, "consumer_group": topic + "-ingest"},
                    ingest={"max_batch": 200, "poll_wait_ms": 100},
                    postgres={"conninfo": server.conninfo(schema), "password_secret": f"mf-{tag}-pg-password",
                              "migrate_on_start": 1},
                    auth={"client_secret": f"mf-{tag}-sync-client"}, **kw)
    p.tag, p.schema = tag, schema
    return p


def start_processes(p):
    """The API and sync in one process (serving, so it is waited for), the rest in another."""
    return [p.start("--stages", "api,sync", timeout=60), p.spawn("--stages", "ingest,relay,route,lake")]


def reconcile(p):
    r = p.cli("reconcile", check=False)
    out = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert r.returncode == 0 and out, f"reconcile exit {r.returncode}: {r.stdout[-3000:]} {r.stderr[-2000:]}"
    return out[-1]["summary"]


def parking_items(p, member=PARKED):
    """The DynamoDB parking table's items of a member: (sk, item)."""
    ddb = boto3.client("dynamodb", **KW)
    items = ddb.query(TableName=f"parking-{p.tag}", KeyConditionExpression="memberId = :m",
                      ExpressionAttributeValues={":m": {"S": member}}, ConsistentRead=True)["Items"]
    return [(i["sk"]["S"], i) for i in items]


def parking_table(p):
    """(memberId/sk, item as JSON) of every item of the DynamoDB parking table."""
    ddb = boto3.client("dynamodb", **KW)
    for page in ddb.get_paginator("scan").paginate(TableName=f"parking-{p.tag}", ConsistentRead=True):
        for i in page["Items"]:
            yield f"{i['memberId']['S']}/{i['sk']['S']}", json.dumps(i, ensure_ascii=False)


def own_change(member, lsn, last_name):
    """test_parking's record, for another member and with values no generated member has."""
    rec = json.loads(record(lsn, last_name))
    rec["key"]["member_id"] = member
    rec["value"]["op"] = "u"
    rec["value"]["after"].update(member_id=member, first_name="Quillon", birth_date="1931-02-17",
                                 email=f"quillon.{last_name.lower()}@example.org", phone="515 555 0199",
                                 address_line1="77 Erasure Way")
    return json.dumps(rec)


def test_a_parked_member_holds_its_changes_on_the_distributed_adapters():
    with tempfile.TemporaryDirectory(prefix="memberflow-dist-park-") as tmp:
        server = PgServer(tmp, uri=POSTGRES)
        api_port = free_port()
        proxy = RejectingProxy(api_port)
        proxy.reject.add("coresys:900002")
        p = distributed_pipeline(tmp, server, api={"port": api_port}, sync=proxied_sync(proxy))
        p.port = api_port  # the API itself; only sync goes through the proxy
        try:
            stream = produce_parked_stream(p, OTHERS)
            procs = start_processes(p)
            token = p.token("member:read")

            # Parked behind its dead second change: the create applied, five changes held in the
            # parking table (the changes queue is empty: p.idle).
            wait_for(lambda: p.idle(len(stream)) and p.status().get("parked", {}).get("held") == 5, DRAIN_S,
                     "the distributed pipeline to drain with the member parked")
            assert proxy.rejected >= 1
            assert history_ids(p, token) == ["coresys:900001"]
            dead = p.dlq("changes")
            assert [d["attributes"]["reason"] for d in dead if "reason" in d.get("attributes", {})] == \
                ["api_rejected_422"], dead
            listed = [json.loads(line) for line in p.cli("park", "list").stdout.splitlines()]
            assert [(x["parkedMember"], x["state"], x["held"], x["deadMessageId"]) for x in listed] == \
                [(PARKED, "parked", 5, "coresys:900002")], listed
            held = sorted(sk for sk, _ in parking_items(p) if sk.startswith("h#"))
            assert len(held) == 5, held
            status, body = p.get(f"/member/{PARKED}/parking", token)
            assert status == 200 and body["parked"] and body["held"] == 5, body
            status, body = p.get(f"/member/{PARKED}", token)
            assert status == 200 and body["name"]["last"] == "One" and body["version"] == 1, body

            # Every other member was applied meanwhile; reconcile accounts for the held ones.
            summary = reconcile(p)
            assert summary["records"] == len(stream), summary
            assert summary["outcomes"].get("parked") == 5 and summary["outcomes"].get("dead_lettered") == 1, summary
            members, _, events = expected_state(stream[2:-5])  # the generated members
            assert summary["outcomes"]["applied"] == events + 1, summary
            sample = sorted(members)[:: max(1, len(members) // 40)]
            for m in sample:
                status, body = p.get(f"/member/{m}", token)
                assert status == 200 and body["version"] == members[m]["version"], (m, status)

            # Fixed: the redrive releases the member; all seven end applied, in order.
            proxy.reject.clear()
            out = json.loads(p.cli("dlq", "redrive", "--queue", "changes").stdout)
            assert out["membersReleased"] == 1, out
            want = [f"coresys:{900001 + i}" for i in range(7)]
            wait_for(lambda: history_ids(p, token) == want, 180, "the held changes to be applied")
            status, body = p.get(f"/member/{PARKED}", token)
            assert body["name"]["last"] == "Seven" and body["version"] == 7, body
            wait_for(lambda: p.cli("park", "list").stdout.strip() == "", 120, "the member to be unparked")
            assert [sk for sk, _ in parking_items(p) if sk.startswith("h#")] == []
            status, body = p.get(f"/member/{PARKED}/parking", token)
            assert status == 200 and not body["parked"], body
            wait_for(lambda: p.idle(len(stream)), DRAIN_S, "the pipeline to drain after the redrive")
            assert p.dlq("changes") == []
            summary = reconcile(p)
            assert "parked" not in summary["outcomes"] and "dead_lettered" not in summary["outcomes"], summary
            assert summary["outcomes"]["applied"] == events + 7, summary
            for proc in procs:
                assert p.stop(proc) == 0
        finally:
            p.stop_all()
            proxy.close()


def s3_versions(p):
    """(key@versionId, bytes) of every version of every object of the bucket (the bucket is
    versioned: an object rewritten by erase must have lost its old versions)."""
    s3 = boto3.client("s3", **KW)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=p.bucket):
        for v in page.get("Versions", []):
            data = s3.get_object(Bucket=p.bucket, Key=v["Key"], VersionId=v["VersionId"])["Body"].read()
            # .gz at the end of the name: leaks_in decompresses it.
            yield f"{v['VersionId']}@{v['Key']}", data


def sqs_messages(p):
    """(queue name, body and attributes as text) of every message on every queue of the pipeline,
    DLQs included. Read through receive: each is hidden while the queue is read (so each is seen
    once, FIFO groups included), then made visible again."""
    sqs = boto3.client("sqs", **KW)
    urls = sqs.list_queues(QueueNamePrefix=f"mf-{p.tag}-").get("QueueUrls", [])
    assert any(u.endswith("ingest-dlq") for u in urls), urls
    out = []
    for url in urls:
        receipts = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300,
                                      AttributeNames=["All"], MessageAttributeNames=["All"]).get("Messages", [])
            if not got:
                break
            for m in got:
                receipts.append(m["ReceiptHandle"])
                out.append((url.rsplit("/", 1)[1], json.dumps(
                    {"body": m["Body"], "attributes": m.get("MessageAttributes", {})}, ensure_ascii=False)))
        for r in receipts:
            sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=r, VisibilityTimeout=0)
    return out


def pg_dump(server, schema):
    """The schema's rows as pg_dump writes them (COPY text)."""
    return subprocess.run(["pg_dump", server.uri, "--data-only", "--schema", schema], check=True,
                          capture_output=True, text=True, timeout=300).stdout


def test_erase_on_the_distributed_adapters():
    with tempfile.TemporaryDirectory(prefix="memberflow-dist-erase-") as tmp:
        server = PgServer(tmp, uri=POSTGRES)
        api_port = free_port()
        proxy = RejectingProxy(api_port)
        proxy.reject.add("coresys:910002")
        p = distributed_pipeline(tmp, server, api={"port": api_port},
                                 sync={"api_url": f"http://127.0.0.1:{proxy.port}", "batch_write_max": 0})
        p.port = api_port
        var = os.path.join(tmp, "var")
        # A versioned bucket: erase must delete the old versions of what it rewrites.
        s3 = boto3.client("s3", **KW)
        s3.create_bucket(Bucket=p.bucket)
        s3.put_bucket_versioning(Bucket=p.bucket, VersioningConfiguration={"Status": "Enabled"})
        try:
            lines = produce_generated(p, 31, 2000, 200)
            members, _, _ = expected_state(lines)
            procs = start_processes(p)
            drain_and_check(p, lines, DRAIN_S, "the distributed pipeline to drain")

            # A member of the test's own, parked: its second change rejected, five held.
            parked = "M9100000"
            ours = [own_change(parked, 910001 + i, f"Parkerase{n}") for i, n in enumerate(
                ["One", "Two", "Three", "Four", "Five", "Six", "Seven"])]
            p.cli("produce", "-", input="\n".join(ours) + "\n")
            total = len(lines) + len(ours)
            wait_for(lambda: p.idle(total) and p.status().get("parked", {}).get("held") == 5, DRAIN_S,
                     "the member to be parked")
            for proc in procs:
                assert p.stop(proc) == 0

            # The generated member with the most records among the live ones with an ingest-DLQ entry.
            counts = record_counts(lines)
            rejected = set(dead_members(p))
            member = max((m for m in members if not members[m]["deleted"] and m in rejected),
                         key=lambda m: counts.get(m, 0))
            values = personal_values(lines, member)
            assert len(values) >= 3, "too few values of the member's own"
            parked_values = personal_values(lines + ours, parked)
            assert len(parked_values) >= 8, "too few values of the parked member's own"
            # Before: each value is where the test looks for it (a search that cannot fail is no test).
            assert leaks_in(s3_versions(p), values) and leaks_in(s3_versions(p), parked_values)
            queued = sqs_messages(p)
            assert any(q.endswith("ingest-dlq") for q, _ in leaks_in(queued, values)), "not on the ingest DLQ"
            assert any(q.endswith("changes-dlq.fifo") for q, _ in leaks_in(queued, parked_values)), \
                "not on the changes DLQ"
            assert leaks_in(parking_table(p), parked_values), "not in the parking table"
            dump = [("pg_dump", pg_dump(server, p.schema))]
            assert leaks_in(dump, values) and leaks_in(dump, parked_values), "not in PostgreSQL"
            ingest_dlq = len(p.dlq("ingest"))

            r = p.cli("erase", "--member", member, "--reason", "test: right to deletion")
            out = json.loads(r.stdout)
            c = out["counts"]
            assert out["known"] and out["erasedEventId"], out
            assert c["memberRows"] == 1 and c["archiveLines"] > 0 and c["lakeEvents"] > 0, c
            assert c["dlqEntries"] > 0 and member not in set(dead_members(p)), c
            assert len(p.dlq("ingest")) == ingest_dlq - c["dlqEntries"] > 0, c
            assert c["archiveObjectVersionsDeleted"] >= c["archiveObjects"] > 0, c
            assert c["lakeObjectVersionsDeleted"] >= c["lakeObjects"] > 0, c
            assert not leaks_in([("erase output", r.stdout + r.stderr)], values)

            r = p.cli("erase", "--member", parked, "--reason", "test: parked member")
            out_parked = json.loads(r.stdout)
            cp = out_parked["counts"]
            assert out_parked["known"] and cp["memberRows"] == 1 and cp["archiveLines"] == len(ours), cp
            assert cp["dlqEntries"] == 1 and cp["parkedChanges"] == 5, cp
            assert p.cli("park", "list").stdout.strip() == ""
            assert [sk for sk, _ in parking_items(p, parked) if sk.startswith("h#")] == []
            assert p.dlq("changes") == []

            everything = values | parked_values

            def nothing_left():
                found = leaks_in(s3_versions(p), everything)
                assert not found, f"erased data still in the bucket: {found[:10]}"
                found = leaks_in(sqs_messages(p), everything)
                assert not found, f"erased data still on a queue: {found[:10]}"
                found = leaks_in(parking_table(p), everything)
                assert not found, f"erased data still in the parking table: {found[:10]}"
                found = leaks_in([("pg_dump", pg_dump(server, p.schema))], everything)
                assert not found, f"erased data still in PostgreSQL: {found[:10]}"
                found = leaks(var, everything)
                assert not found, f"erased data still under the data directory: {found[:10]}"
            nothing_left()

            # The member.erased events flow to the lake; the pipeline drains again.
            procs = start_processes(p)
            erased_ids = {out["erasedEventId"], out_parked["erasedEventId"]}
            wait_for(lambda: erased_ids <= {e["id"] for e in p.lake_events() if e["type"] == "member.erased"},
                     DRAIN_S, "member.erased in the lake")
            wait_for(lambda: p.idle(total), DRAIN_S, "the pipeline to drain after the erasure")
            lake = p.lake_events()
            erased = [e for e in lake if e["type"] == "member.erased"]
            assert sorted(e["subject"] for e in erased) == sorted([member, parked]), erased
            assert all(e["data"]["member"] is None for e in erased)
            redacted = [e for e in lake if e.get("redacted") == "erased"]
            assert len(redacted) == c["lakeEvents"] + cp["lakeEvents"], (len(redacted), c, cp)
            assert all(e["subject"] in (member, parked) and "data" not in e for e in redacted)
            token = p.token("member:read")
            for m in (member, parked):
                status, _ = p.get(f"/member/{m}", token)
                assert status == 404, m
            status, body = p.get(f"/member/{parked}/parking", token)
            assert status == 200 and not body["parked"], body

            # The other members are unchanged.
            for m in [m for m in sorted(members) if m != member][:40]:
                st = members[m]
                status, body = p.get(f"/member/{m}", token)
                if st["deleted"]:
                    assert status == 404, m
                    continue
                got = {k: v for k, v in body.items() if k not in ("version", "sourceSequence", "updatedAt")}
                assert status == 200 and got == st["content"] and body["version"] == st["version"], m
            for proc in procs:
                assert p.stop(proc) == 0
            nothing_left()
            assert not leaks_in(((log, open(log, "rb").read()) for log in p.logs), everything)

            # Reconcile: complete, both members' records accounted for as erased.
            summary = reconcile(p)
            assert summary["complete"] and summary["records"] == total, summary
            assert len(ours) < summary["outcomes"].get("erased", 0) <= c["archiveLines"] + len(ours), summary
            assert sum(summary["outcomes"].values()) == total, summary
            assert "parked" not in summary["outcomes"] and "dead_lettered" not in summary["outcomes"], summary

            # The audit rows: ids, reason and counts.
            audit = server.psql("SELECT member_id, reason FROM erasures ORDER BY member_id", p.schema)
            assert audit.splitlines() == sorted([f"{member}|test: right to deletion",
                                                 f"{parked}|test: parked member"]), audit
        finally:
            p.stop_all()
            proxy.close()
