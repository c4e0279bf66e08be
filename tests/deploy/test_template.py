"""deploy/template.yaml against the configuration and the code.

Every name the template creates (queues, topic, table, bucket, buses, API destinations) must be
the name the binary derives from config/memberflow.aws.example.toml (src/cli/wiring.h: the
pipeline's queue names, aws.name_prefix + name + ".fifo", the ingest DLQ standard), with the
template's parameters at their defaults. Every MEMBERFLOW_* variable the template sets must be a
configuration key (src/cli/config.cc), and the names reach the functions from the resources
themselves. The SQS event source mappings keep the queue's visibility at 6 x the function's
timeout and maxReceiveCount >= 5. The template is read with a small loader for CloudFormation's
short tags (!Ref, !Sub, !GetAtt, ...), the defaults resolve !Ref and !Sub.
"""
import json
import os
import re
import subprocess
import tomllib

import pytest
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE = os.path.join(ROOT, "deploy", "template.yaml")
CONFIG = os.path.join(ROOT, "config", "memberflow.aws.example.toml")


class CfnLoader(yaml.SafeLoader):
    """YAML with CloudFormation's short tags turned into their long forms."""


def _tag(name):
    def construct(loader, node):
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {name if name != "Condition" else "Condition": value}
    return construct


for short, long in [("Ref", "Ref"), ("Sub", "Fn::Sub"), ("GetAtt", "Fn::GetAtt"), ("If", "Fn::If"),
                    ("Select", "Fn::Select"), ("Split", "Fn::Split"), ("Join", "Fn::Join"),
                    ("Equals", "Fn::Equals"), ("Not", "Fn::Not"), ("And", "Fn::And"), ("Or", "Fn::Or"),
                    ("Condition", "Condition"), ("FindInMap", "Fn::FindInMap"),
                    ("ImportValue", "Fn::ImportValue"), ("GetAZs", "Fn::GetAZs")]:
    CfnLoader.add_constructor("!" + short, _tag(long))


@pytest.fixture(scope="module")
def template():
    with open(TEMPLATE) as f:
        return yaml.load(f, Loader=CfnLoader)


@pytest.fixture(scope="module")
def config():
    with open(CONFIG, "rb") as f:
        return tomllib.load(f)


@pytest.fixture(scope="module")
def rules(config):
    with open(os.path.join(ROOT, config["bus"]["rules_file"])) as f:
        return json.load(f)


def defaults(template):
    return {k: v.get("Default") for k, v in template["Parameters"].items()}


def resolve(value, params):
    """A string property with the parameters at their defaults; None when it depends on more."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and list(value) == ["Ref"]:
        return params.get(value["Ref"])
    if isinstance(value, dict) and list(value) == ["Fn::Sub"]:
        text = value["Fn::Sub"]
        if not isinstance(text, str):
            return None
        names = re.findall(r"\$\{([^}!]+)\}", text)
        if any(params.get(n) is None for n in names):
            return None
        return re.sub(r"\$\{([^}!]+)\}", lambda m: str(params[m.group(1)]), text)
    return None


def resources(template, kind):
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def pipeline_queue_names():
    """The queue names of src/cli/wiring.h (kChangesQueue = "changes", ...)."""
    with open(os.path.join(ROOT, "src", "cli", "wiring.h")) as f:
        found = dict(re.findall(r'inline constexpr const char\* (k\w+) = "([^"]+)";', f.read()))
    assert {"kChangesQueue", "kChangesDlq", "kIngestDlq", "kRouteQueue", "kRouteDlq", "kLakeQueue",
            "kLakeDlq"} <= set(found), found
    return found


def config_env_names():
    """MEMBERFLOW_<SECTION>_<KEY> of every key src/cli/config.cc accepts."""
    with open(os.path.join(ROOT, "src", "cli", "config.cc")) as f:
        pairs = re.findall(r'(?:strKey<[^>]+>|intKey<[^>]+>|choiceKey)\(\s*"(\w+)",\s*"(\w+)"', f.read())
    assert len(pairs) > 50, "config.cc's key table was not found"
    return {f"MEMBERFLOW_{s}_{k}".upper() for s, k in pairs}


def test_pipeline_queues_match_the_config(template, config):
    params = defaults(template)
    prefix = config["aws"]["name_prefix"]
    assert params["NamePrefix"] == prefix
    names = pipeline_queue_names()
    # wiring.cc opens the ingest DLQ as a standard queue, every other one FIFO.
    expected = {prefix + n + ("" if k == "kIngestDlq" else ".fifo") for k, n in names.items()
                if k in {"kChangesQueue", "kChangesDlq", "kIngestDlq", "kRouteQueue", "kRouteDlq",
                         "kLakeQueue", "kLakeDlq"}}
    queues = {k: r for k, r in resources(template, "AWS::SQS::Queue").items()
              if not k.startswith(("TargetQueue", "WebhookDlq"))}
    got = {resolve(r["Properties"]["QueueName"], params): r for r in queues.values()}
    assert set(got) == expected
    for name, r in got.items():
        assert bool(r["Properties"].get("FifoQueue", False)) == name.endswith(".fifo"), name
        assert "KmsMasterKeyId" in r["Properties"], name


def test_topic_table_bucket_match_the_config(template, config):
    params = defaults(template)
    topics = [resolve(r["Properties"]["TopicName"], params)
              for r in resources(template, "AWS::SNS::Topic").values() if r["Properties"].get("FifoTopic")]
    assert topics == [config["aws"]["name_prefix"] + "member-events.fifo"]
    tables = [resolve(r["Properties"]["TableName"], params)
              for r in resources(template, "AWS::DynamoDB::Table").values()]
    assert sorted(tables) == sorted([config["aws"]["ledger_table"], config["aws"]["parking_table"]])
    data = template["Resources"]["DataBucket"]["Properties"]
    assert resolve(data["BucketName"], params) == config["aws"]["bucket"]
    assert params["SourceTopic"] == config["source"]["topic"]
    assert params["ConsumerGroup"] == config["source"]["consumer_group"]
    assert params["SyncClientSecretName"] == config["auth"]["client_secret"]
    assert "https://" + params["ApiDomainName"] == config["sync"]["api_url"]


def test_ledger_table_is_what_the_adapter_writes(template):
    with open(os.path.join(ROOT, "src", "adapters", "aws", "dynamodb_ledger.cc")) as f:
        code = f.read()
    props = template["Resources"]["LedgerTable"]["Properties"]
    hash_key = [k["AttributeName"] for k in props["KeySchema"] if k["KeyType"] == "HASH"]
    assert len(props["KeySchema"]) == 1 and hash_key == ["messageId"]
    assert '{"AttributeName", "messageId"}, {"KeyType", "HASH"}' in code
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert '{"AttributeName", "expiresAt"}' in code
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"


def test_parking_table_is_what_the_adapter_writes(template):
    with open(os.path.join(ROOT, "src", "adapters", "aws", "dynamodb_parking_store.cc")) as f:
        code = f.read()
    props = template["Resources"]["ParkingTable"]["Properties"]
    keys = {k["KeyType"]: k["AttributeName"] for k in props["KeySchema"]}
    assert keys == {"HASH": "memberId", "RANGE": "sk"}
    assert '{"AttributeName", "memberId"}, {"KeyType", "HASH"}' in code
    assert '{"AttributeName", "sk"}, {"KeyType", "RANGE"}' in code
    assert {"AttributeName": "sk", "AttributeType": "S"} in props["AttributeDefinitions"]
    assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert props["SSESpecification"]["SSEType"] == "KMS"


def test_eventbridge_names_match_the_rules_file(template, config, rules):
    params = defaults(template)
    prefix = config["aws"]["name_prefix"]
    buses = {r.get("bus", "default") for r in rules["rules"]} | {
        t["bus"] for t in rules["targets"] if t["type"] == "bus"}
    got_buses = {resolve(r["Properties"]["Name"], params)
                 for r in resources(template, "AWS::Events::EventBus").values()}
    assert got_buses == buses - {"default"}
    got_rules = {r["Properties"]["Name"]: r for r in resources(template, "AWS::Events::Rule").values()}
    assert set(got_rules) == {r["name"] for r in rules["rules"]}
    for rule in rules["rules"]:
        props = got_rules[rule["name"]]["Properties"]
        assert props["EventPattern"] == rule["pattern"]
        assert sorted(t["Id"] for t in props["Targets"]) == sorted(rule["targets"])
    queues = {resolve(r["Properties"]["QueueName"], params)
              for k, r in resources(template, "AWS::SQS::Queue").items() if k.startswith("TargetQueue")}
    assert queues == {t["queue"] for t in rules["targets"] if t["type"] == "queue"}
    webhooks = [t["name"] for t in rules["targets"] if t["type"] == "webhook"]
    destinations = {resolve(r["Properties"]["Name"], params)
                    for r in resources(template, "AWS::Events::ApiDestination").values()}
    assert destinations == {prefix + w for w in webhooks}
    dlqs = {resolve(r["Properties"]["QueueName"], params)
            for k, r in resources(template, "AWS::SQS::Queue").items() if k.startswith("WebhookDlq")}
    assert dlqs == {prefix + w + "-webhook-dlq" for w in webhooks}


def environment_blocks(template):
    """(where, {name: value}) of every environment the template gives memberflow."""
    yield "Globals", template["Globals"]["Function"]["Environment"]["Variables"]
    for k, r in resources(template, "AWS::Serverless::Function").items():
        env = r["Properties"].get("Environment", {}).get("Variables", {})
        yield k, env
    for k, r in resources(template, "AWS::ECS::TaskDefinition").items():
        for c in r["Properties"]["ContainerDefinitions"]:
            yield k, {e["Name"]: e["Value"] for e in c.get("Environment", [])}


def test_environment_variables_are_config_keys(template):
    known = config_env_names()
    for where, env in environment_blocks(template):
        for name in env:
            assert name in known, f"{where}: {name} is no configuration key"


def test_functions_get_the_names_from_the_resources(template):
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["MEMBERFLOW_AWS_NAME_PREFIX"] == {"Ref": "NamePrefix"}
    assert env["MEMBERFLOW_AWS_BUCKET"] == {"Ref": "DataBucket"}
    assert env["MEMBERFLOW_AWS_LEDGER_TABLE"] == {"Ref": "LedgerTable"}
    assert env["MEMBERFLOW_AWS_PARKING_TABLE"] == {"Ref": "ParkingTable"}
    for k, r in resources(template, "AWS::Serverless::Function").items():
        local = r["Properties"].get("Environment", {}).get("Variables", {})
        for name in ("MEMBERFLOW_AWS_NAME_PREFIX", "MEMBERFLOW_AWS_BUCKET", "MEMBERFLOW_AWS_LEDGER_TABLE",
                     "MEMBERFLOW_AWS_PARKING_TABLE"):
            assert name not in local, f"{k} overrides {name}"


def test_sqs_mappings_respect_visibility_and_redrive(template):
    globals_timeout = template["Globals"]["Function"]["Timeout"]
    mappings = resources(template, "AWS::Lambda::EventSourceMapping")
    sqs = {k: m for k, m in mappings.items()
           if isinstance(m["Properties"].get("EventSourceArn"), dict)
           and "Fn::GetAtt" in m["Properties"]["EventSourceArn"]}
    assert len(sqs) == 3, sorted(sqs)
    for k, m in sqs.items():
        p = m["Properties"]
        queue = template["Resources"][p["EventSourceArn"]["Fn::GetAtt"][0]]["Properties"]
        fn = template["Resources"][p["FunctionName"]["Ref"]]["Properties"]
        timeout = fn.get("Timeout", globals_timeout)
        assert queue["VisibilityTimeout"] >= 6 * timeout, k
        assert queue["RedrivePolicy"]["maxReceiveCount"] >= 5, k
        assert p["FunctionResponseTypes"] == ["ReportBatchItemFailures"], k
        assert p["ScalingConfig"]["MaximumConcurrency"], k


def test_kafka_mapping(template, config):
    p = template["Resources"]["IngestEventSource"]["Properties"]
    assert p["StartingPosition"] == "TRIM_HORIZON"
    assert p["Topics"] == [{"Ref": "SourceTopic"}]
    assert p["MaximumRetryAttempts"] == {"Ref": "KafkaMaximumRetryAttempts"}
    assert "ProvisionedPollerConfig" in p and "OnFailure" in p["DestinationConfig"]
    assert defaults(template)["KafkaMaximumRetryAttempts"] <= 10000


def test_every_dlq_has_an_alarm(template):
    alarmed = set()
    for r in resources(template, "AWS::CloudWatch::Alarm").values():
        for d in r["Properties"].get("Dimensions", []):
            v = d["Value"]
            if d["Name"] == "QueueName" and isinstance(v, dict) and "Fn::GetAtt" in v:
                if r["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible":
                    alarmed.add(v["Fn::GetAtt"][0])
    dlqs = {k for k, r in resources(template, "AWS::SQS::Queue").items()
            if k.endswith("Dlq") or k.startswith("WebhookDlq")}
    assert dlqs and dlqs <= alarmed, dlqs - alarmed


def test_the_example_config_is_valid():
    binary = os.environ.get("MEMBERFLOW_BIN")
    if not binary:
        pytest.skip("MEMBERFLOW_BIN is not set (ctest sets it)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMBERFLOW_")}
    r = subprocess.run([binary, "--config", CONFIG, "config", "check"], cwd=ROOT, env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
