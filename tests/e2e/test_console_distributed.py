"""The console's endpoints on the distributed adapters (issue 17: "works the same in embedded
and distributed mode"): the source is a Kafka topic, the queues, archive, lake, ledger and
parking table are SQS, S3 and DynamoDB on moto, the member store and the audit log are
PostgreSQL, and the operator's secret comes from Secrets Manager. Through /console/api with an
operator token from the embedded issuer:
- the status is `memberflow status`'s, and the flow map's figures agree with it;
- the ingest DLQ (SQS) is grouped by reason, its entries are masked, and a dry-run redrive
  re-validates them without moving any;
- a member is found by a Kafka partition and offset, and its raw line, read from S3 through the
  console, is the archive object's line;
- the reveal is in the audit log, which is PostgreSQL's audit table.
The browser test (test_console.py) drives the same endpoints embedded."""
import gzip
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3

from memberflow_e2e import PgServer, assert_no_personal_data, drain_and_check, produce_generated, wait_for
from test_distributed_park_erase import DRAIN_S, KW, distributed_pipeline, pytestmark, start_processes  # noqa: F401


def call(p, token, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{p.port}{path}", method="POST" if body is not None else "GET",
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_console_endpoints_on_the_distributed_adapters():
    import tempfile
    with tempfile.TemporaryDirectory(prefix="memberflow-console-aws-") as tmp:
        server = PgServer(tmp)
        secret = uuid.uuid4().hex
        tag_secret = "mf-console-operator-" + uuid.uuid4().hex[:8]
        boto3.client("secretsmanager", **KW).create_secret(Name=tag_secret, SecretString=secret)
        p = distributed_pipeline(tmp, server, console={"sample_ms": 1000})
        try:
            # The operator's secret in Secrets Manager, named in [auth] beside the sync client's.
            cfg = open(p.config).read().replace("[auth]\n", f'[auth]\noperator_client_secret = "{tag_secret}"\n', 1)
            open(p.config, "w").write(cfg)
            lines = produce_generated(p, 43, 1200, 120)
            procs = start_processes(p)
            drain_and_check(p, lines, DRAIN_S)

            form = urllib.parse.urlencode({"grant_type": "client_credentials", "client_id": "memberflow-operator",
                                           "client_secret": secret, "scope": "member:operate"}).encode()
            with urllib.request.urlopen(f"http://127.0.0.1:{p.port}/oauth2/token", data=form, timeout=30) as r:
                token = json.loads(r.read())["access_token"]
            reader = p.token("member:read")
            assert call(p, reader, "/console/api/status")[0] == 403

            # The status is the CLI's; the flow map agrees with it once it has sampled the idle pipeline.
            cli = p.status()
            status, body = call(p, token, "/console/api/status")
            assert status == 200 and json.loads(body)["queues"] == cli["queues"], body
            assert json.loads(body)["source"] == cli["source"]

            def flow_agrees():
                nodes = {n["id"]: n for n in json.loads(call(p, token, "/console/api/flow")[1])["nodes"]}
                return (nodes and nodes["source"]["records"] == cli["source"]["records"]
                        and nodes["source"]["lag"] == 0
                        and nodes["ingest"]["dlq"]["depth"] == cli["queues"]["ingest-dlq"]["visible"]
                        and nodes["relay"]["outbox"] == 0 and nodes["sync"]["depth"] == 0)
            wait_for(flow_agrees, 60, "the flow map to show the idle pipeline")

            # The ingest DLQ on SQS: grouped, masked, re-validated by a dry run that moves nothing.
            dlqs = {d["name"]: d for d in json.loads(call(p, token, "/console/api/dlqs")[1])["dlqs"]}
            ingest = dlqs["ingest"]
            depth = cli["queues"]["ingest-dlq"]["visible"]
            assert depth > 0 and sum(g["count"] for g in ingest["groups"]) == depth, ingest
            status, entries = call(p, token, "/console/api/dlqs/ingest/entries?limit=1000")
            assert status == 200 and len(json.loads(entries)["entries"]) == depth
            assert_no_personal_data(entries, lines)
            status, dry = call(p, token, "/console/api/dlqs/ingest/redrive", {"dryRun": True})
            dry = json.loads(dry)
            assert status == 200 and dry["selected"] == depth and dry["wouldKeep"] == depth, dry
            assert p.status()["queues"]["ingest-dlq"]["visible"] == depth

            # A member by its Kafka partition and offset (the first record of partition 0 that was
            # applied), and its raw line from S3.
            def applied_at(offset):
                status, body = call(p, token, f"/console/api/lineage?partition=0&offset={offset}")
                if status != 200:
                    return None
                hit = [r for r in json.loads(body)["records"] if r["coordinates"].get("partition") == 0
                       and r["coordinates"].get("offset") == offset]
                return hit[0] if len(hit) == 1 and hit[0]["result"] == "applied" else None
            asked = next(r for r in map(applied_at, range(200)) if r)
            # A duplicate (one of the generator's exact second copies, found in the S3 archive) asked
            # about by its position shows as one, beside the record of the same message id.
            s3 = boto3.client("s3", **KW)
            copies = {}
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=p.bucket, Prefix="raw/"):
                for o in page.get("Contents", []):
                    text = gzip.decompress(s3.get_object(Bucket=p.bucket, Key=o["Key"])["Body"].read()).decode()
                    for line in text.splitlines():
                        rec = json.loads(line)
                        same = json.dumps([rec.get("key"), rec.get("value")], sort_keys=True)
                        copies.setdefault(same, []).append((rec["partition"], rec["offset"]))
            pairs = sorted(sorted(v)[:2] for v in copies.values() if len(v) > 1)
            assert pairs, "the generated stream has duplicates"

            def duplicate_shown(pair):
                (p1, o1), (p2, o2) = pair
                status, body = call(p, token, f"/console/api/lineage?partition={p2}&offset={o2}")
                recs = json.loads(body)["records"] if status == 200 else []
                dup = [r for r in recs if r["result"] == "duplicate" and r["coordinates"].get("offset") == o2]
                return bool(dup) and any(r["messageId"] == dup[0]["messageId"] and r["result"] != "duplicate"
                                         and r["coordinates"].get("offset") == o1 for r in recs)
            assert any(map(duplicate_shown, pairs[:20])), pairs[:20]
            assert asked["ledger"]["outcome"] == "enqueued" and asked["write"]["version"] >= 1, asked
            assert asked["event"]["lakeObject"].startswith("lake/"), asked
            coords = asked["coordinates"]
            assert coords["archiveKey"].startswith("raw/") and coords["archiveLine"] >= 1, coords
            q = urllib.parse.urlencode({"key": coords["archiveKey"], "line": coords["archiveLine"]})
            status, masked = call(p, token, f"/console/api/archive?{q}")
            assert status == 200 and json.loads(masked)["masked"]
            assert_no_personal_data(masked, lines)
            status, shown = call(p, token, f"/console/api/archive?{q}&reveal=1")
            obj = s3.get_object(Bucket=p.bucket, Key=coords["archiveKey"])["Body"].read()
            want = gzip.decompress(obj).decode().splitlines()[coords["archiveLine"] - 1]
            assert status == 200 and json.loads(shown)["raw"] == want

            # The reveal is audited, in PostgreSQL.
            audit = json.loads(call(p, token, "/console/api/audit")[1])["entries"]
            assert [(a["action"], a["target"], a["who"]) for a in audit] == \
                [("archive.reveal", coords["archiveKey"], "memberflow-operator")], audit
            rows = server.psql("SELECT action, target FROM audit", p.schema).split()
            assert rows == [f"archive.reveal|{coords['archiveKey']}"], rows
            for proc in procs:
                assert p.stop(proc) == 0
        finally:
            p.stop_all()
            server.remove()
