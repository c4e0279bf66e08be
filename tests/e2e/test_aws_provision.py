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


def test_webhook_targets_become_api_destinations():
    """A webhook target of the rules file becomes an EventBridge connection (its auth header,
    the value from the Secrets port), an API destination, retries and a dead-letter queue; and
    EventBridge calls it once per matching event."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    kw = dict(endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    events, sqs = boto3.client("events", **kw), boto3.client("sqs", **kw)
    calls = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            calls.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    tag = uuid.uuid4().hex[:8]
    rules = {"targets": [{"name": "crm", "type": "webhook", "url": f"http://127.0.0.1:{server.server_address[1]}/crm",
                          "authSecret": "crm-token", "authHeader": "X-Api-Key", "maxAttempts": 4}],
             # Its own bus, removed at the end: moto answers 500 to every PutEvents whose rule
             # calls an endpoint that is gone, which would break the other tests on this moto.
             "rules": [{"name": f"crm-{tag}", "bus": f"crm-{tag}", "targets": ["crm"], "inputPath": "$.detail",
                        "pattern": {"detail-type": ["member.updated"]}}]}
    role = "arn:aws:iam::123456789012:role/memberflow-events"
    try:
        with tempfile.TemporaryDirectory(prefix="memberflow-provision-") as tmp:
            with open(f"{tmp}/rules.json", "w") as f:
                json.dump(rules, f)
            p = Pipeline(tmp, bus={"rules_file": f"{tmp}/rules.json"},
                         aws={"endpoint": ENDPOINT, "name_prefix": f"mf-{tag}-"})
            env_backup = dict(os.environ)
            os.environ.update(AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret",
                              MEMBERFLOW_SECRET_CRM_TOKEN="s3cr3t-value")
            try:
                refused = p.cli("aws", "provision", check=False)  # no role for EventBridge
                assert refused.returncode != 0 and "events_role_arn" in refused.stderr, refused.stderr
                assert "s3cr3t-value" not in refused.stderr
                os.environ["MEMBERFLOW_AWS_EVENTS_ROLE_ARN"] = role
                p.cli("aws", "provision")
                p.cli("aws", "provision")  # idempotent: connection and destination are updated
            finally:
                os.environ.clear()
                os.environ.update(env_backup)
            conn = events.describe_connection(Name=f"mf-{tag}-crm")
            assert conn["AuthorizationType"] == "API_KEY"
            assert conn["AuthParameters"]["ApiKeyAuthParameters"]["ApiKeyName"] == "X-Api-Key"
            dest = events.describe_api_destination(Name=f"mf-{tag}-crm")
            assert dest["ConnectionArn"] == conn["ConnectionArn"]
            assert dest["InvocationEndpoint"].endswith("/crm") and dest["HttpMethod"] == "POST"
            (target,) = events.list_targets_by_rule(Rule=f"crm-{tag}", EventBusName=f"crm-{tag}")["Targets"]
            assert target["Arn"] == dest["ApiDestinationArn"] and target["RoleArn"] == role
            assert target["RetryPolicy"]["MaximumRetryAttempts"] == 3
            dlq = sqs.get_queue_url(QueueName=f"mf-{tag}-crm-webhook-dlq")["QueueUrl"]
            assert target["DeadLetterConfig"]["Arn"] == sqs.get_queue_attributes(
                QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            events.put_events(Entries=[{"Source": "memberflow/member-api", "DetailType": t,
                                        "Detail": json.dumps({"id": f"e{i}"}), "EventBusName": f"crm-{tag}"}
                                       for i, t in enumerate(["member.updated", "member.deleted", "member.updated"])])
            wait_for(lambda: len(calls) >= 2, 20, "the API destination calls")
            assert calls == ["/crm", "/crm"]  # the two updates, not the delete
    finally:
        server.shutdown()
        try:
            events.remove_targets(Rule=f"crm-{tag}", EventBusName=f"crm-{tag}", Ids=["crm"])
            events.delete_rule(Name=f"crm-{tag}", EventBusName=f"crm-{tag}")
        except Exception:
            pass  # provisioning failed before the rule existed
