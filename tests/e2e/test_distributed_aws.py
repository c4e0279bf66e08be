"""The distributed wiring against the moto server (started by scripts/test): SQS queues, the
SNS topic with SQS subscriptions, EventBridge (rules provisioned from the rules file), S3 for
the raw archive and the lake, DynamoDB for the ledger — and every stage a separate process.
The same oracle as the embedded end-to-end test checks the result."""
import json
import os
import re
import tempfile
import uuid

import boto3
import pytest

from memberflow_e2e import AwsPipeline, PgServer, drain_and_check, produce_generated, wait_for

ENDPOINT = os.environ.get("MEMBERFLOW_TEST_AWS_ENDPOINT")
if not ENDPOINT and not os.environ.get("MEMBERFLOW_SKIP_AWS"):
    raise RuntimeError("no AWS endpoint: run scripts/test (MEMBERFLOW_SKIP_AWS=1 skips these tests)")
pytestmark = pytest.mark.skipif(not ENDPOINT, reason="MEMBERFLOW_SKIP_AWS is set")

KW = dict(endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")


def test_every_stage_a_process_against_aws():
    tag = uuid.uuid4().hex[:8]
    os.environ.update(AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret")
    with tempfile.TemporaryDirectory(prefix="memberflow-aws-") as tmp:
        rules = {"targets": [{"name": "audit", "type": "queue", "queue": f"mf-{tag}-audit.fifo"}],
                 "rules": [{"name": f"deletes-{tag}", "targets": ["audit"],
                            "pattern": {"detail-type": ["member.deleted"]}}]}
        with open(f"{tmp}/rules.json", "w") as f:
            json.dump(rules, f)
        p = AwsPipeline(tmp, tag, ENDPOINT, bus={"rules_file": f"{tmp}/rules.json"})
        try:
            lines = produce_generated(p, 31, 1200, 120)
            p.cli("aws", "provision")
            procs = [p.start("--stages", "api,sync")]
            for stage in ("ingest", "relay", "route", "lake"):
                procs.append(p.spawn("--stages", stage))
            drain_and_check(p, lines, 240, "the distributed pipeline to drain")
            # EventBridge delivered exactly the deletes to the provisioned queue.
            sqs = boto3.client("sqs", **KW)
            url = sqs.get_queue_url(QueueName=f"mf-{tag}-audit.fifo")["QueueUrl"]
            got = set()
            def drain():
                for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                    got.add(json.loads(m["Body"])["detail"]["id"])
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                return False
            want = {e["id"] for e in p.lake_events() if e["type"] == "member.deleted"}
            wait_for(lambda: drain() or got == want, 60, "the routed deletes")
            for proc in procs:
                assert p.stop(proc) == 0
        finally:
            p.stop_all()


def test_several_relay_processes_on_postgres():
    """The member store on PostgreSQL with three relay processes sharing its outbox, one of them
    killed mid-stream: every event published, in per-member order, and the survivors both
    carried part of the load. The secrets (the database password, the sync stage's OAuth client
    secret) come from Secrets Manager."""
    if not os.environ.get("MEMBERFLOW_TEST_POSTGRES") and os.environ.get("MEMBERFLOW_SKIP_POSTGRES"):
        pytest.skip("MEMBERFLOW_SKIP_POSTGRES is set")
    tag = uuid.uuid4().hex[:8]
    os.environ.update(AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret")
    with tempfile.TemporaryDirectory(prefix="memberflow-relays-") as tmp:
        server = PgServer(tmp)
        schema = server.schema()
        sm = boto3.client("secretsmanager", **KW)
        sm.create_secret(Name=f"mf-{tag}-pg-password", SecretString=server.password)
        sm.create_secret(Name=f"mf-{tag}-sync-client", SecretString=uuid.uuid4().hex)
        p = AwsPipeline(tmp, tag, ENDPOINT, adapters={"member_store": "postgres", "secrets": "secretsmanager"},
                        postgres={"conninfo": server.conninfo(schema), "password_secret": f"mf-{tag}-pg-password",
                                  "migrate_on_start": 1},
                        auth={"client_secret": f"mf-{tag}-sync-client"})
        try:
            lines = produce_generated(p, 37, 1500, 150)
            procs = [p.start("--stages", "api,sync")]
            for stage in ("ingest", "route", "lake"):
                procs.append(p.spawn("--stages", stage))
            relays = [p.spawn("--stages", "relay") for _ in range(3)]
            relay_logs = p.logs[-3:]
            wait_for(lambda: int(server.psql("SELECT count(*) FROM history", schema)) > 300, 120,
                     "writes under way")
            relays[0].kill()  # its claim (an open transaction) ends with its connection
            relays[0].wait()
            drain_and_check(p, lines, 240)
            for proc in procs + relays[1:]:
                assert p.stop(proc) == 0
            published = []
            for log in relay_logs[1:]:
                m = re.findall(r'"outcome":"published".*"reason":"(\d+)"', open(log).read())
                assert m, f"no summary in {log}"
                published.append(int(m[-1]))
            assert all(n > 0 for n in published), published
            assert json.loads(p.cli("status").stdout)["outbox"] == 0
        finally:
            p.stop_all()
            server.remove()
