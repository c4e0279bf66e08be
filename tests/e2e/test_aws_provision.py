"""`memberflow aws provision` against the moto server (started by scripts/test): the rules
file the embedded bus uses creates EventBridge buses, rules and targets and the SQS queue
targets; then an event put with boto3 reaches the queue through the provisioned rule."""
import json
import os
import tempfile
import uuid

import boto3
import pytest

from memberflow_e2e import Pipeline, wait_for

ENDPOINT = os.environ.get("MEMBERFLOW_TEST_AWS_ENDPOINT")
if not ENDPOINT and not os.environ.get("MEMBERFLOW_SKIP_AWS"):
    raise RuntimeError("no AWS endpoint: run scripts/test (MEMBERFLOW_SKIP_AWS=1 skips these tests)")
pytestmark = pytest.mark.skipif(not ENDPOINT, reason="MEMBERFLOW_SKIP_AWS is set")


def test_provision_from_the_rules_file():
    kw = dict(endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    events, sqs = boto3.client("events", **kw), boto3.client("sqs", **kw)
    tag = uuid.uuid4().hex[:8]
    rules = {"targets": [{"name": "audit", "type": "queue", "queue": f"audit-{tag}.fifo"},
                         {"name": "partner", "type": "bus", "bus": f"partner-{tag}"}],
             "rules": [{"name": f"deletes-{tag}", "targets": ["audit", "partner"],
                        "pattern": {"detail-type": ["member.deleted"]}}]}
    with tempfile.TemporaryDirectory(prefix="memberflow-provision-") as tmp:
        with open(f"{tmp}/rules.json", "w") as f:
            json.dump(rules, f)
        p = Pipeline(tmp, bus={"rules_file": f"{tmp}/rules.json"}, aws={"endpoint": ENDPOINT})
        env_backup = dict(os.environ)
        os.environ.update(AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret")
        try:
            out = json.loads(p.cli("aws", "provision").stdout)
            again = json.loads(p.cli("aws", "provision").stdout)  # idempotent
        finally:
            os.environ.clear()
            os.environ.update(env_backup)
        assert out == again == {"rules": 1, "queues": 1}
        targets = events.list_targets_by_rule(Rule=f"deletes-{tag}", EventBusName="default")["Targets"]
        assert {t["Id"] for t in targets} == {"audit", "partner"}
        assert any(f"event-bus/partner-{tag}" in t["Arn"] for t in targets)
        url = sqs.get_queue_url(QueueName=f"audit-{tag}.fifo")["QueueUrl"]
        events.put_events(Entries=[{"Source": "memberflow/member-api", "DetailType": "member.deleted",
                                    "Detail": json.dumps({"id": "e1"})},
                                   {"Source": "memberflow/member-api", "DetailType": "member.updated",
                                    "Detail": json.dumps({"id": "e2"})}])
        got = []
        wait_for(lambda: got.extend(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []))
                 or got, 20, "the routed event")
        assert [json.loads(m["Body"])["detail"]["id"] for m in got] == ["e1"]
