"""`memberflow lambda <stage>`: the stages as AWS Lambda functions (custom runtime) under the
AWS Lambda Runtime Interface Emulator, fed by event source mappings that the test plays
(tests/e2e/lambda_esm.py): the source on the Kafka broker, queues, topic, bus, S3 and DynamoDB
on the moto server (both started by scripts/test).

- The whole pipeline with ingest, sync, route and lake as functions, the API and relay as
  processes, held to the same oracle as every end-to-end test; no personal data in the
  functions' logs; the cold start (the emulator's INIT REPORT) of each function printed.
- The protocol: a dependency down (the API, for sync: nothing deleted, everything applied once
  it is back; relay as a scheduled function there), an init error (a bad configuration, an
  unknown stage), the deadline reached mid-batch (ingest answers an error before the deadline,
  the mapping retries, nothing lost, nothing twice; sync with the API hanging answers before
  the deadline with its batch failed), malformed events (an error, nothing deleted, the
  function serves on), and the API function on API Gateway HTTP API events."""
import base64
import datetime
import json
import os
import tempfile
import uuid

import pytest

from lambda_esm import Function, KafkaMapping, Schedule, SqsMapping, api_event, aws_client
from memberflow_e2e import (BIN, AwsPipeline, Proxy, assert_no_personal_data, check_pipeline, decode,
                            wait_for)

BROKER = os.environ.get("MEMBERFLOW_TEST_KAFKA")
ENDPOINT = os.environ.get("MEMBERFLOW_TEST_AWS_ENDPOINT")
if not (BROKER or os.environ.get("MEMBERFLOW_SKIP_KAFKA")) or not (ENDPOINT or os.environ.get("MEMBERFLOW_SKIP_AWS")):
    raise RuntimeError("no Kafka broker or AWS endpoint: run scripts/test (MEMBERFLOW_SKIP_KAFKA=1 or "
                       "MEMBERFLOW_SKIP_AWS=1 skips these tests)")
pytestmark = pytest.mark.skipif(not (BROKER and ENDPOINT), reason="MEMBERFLOW_SKIP_KAFKA or _AWS is set")


class Stack:
    """An AWS pipeline whose source is a Kafka topic of its own, and the functions, mappings and
    processes started on it; stop() stops them all (call it in a finally). `tag` names its
    resources (mf-<tag>-...)."""

    def __init__(self, tmp, tag=None, **overrides):
        os.environ.update(AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret")
        self.tag = tag or uuid.uuid4().hex[:8]
        self.topic = f"members-{self.tag}"
        self.group = f"{self.topic}-ingest"
        adapters = {"source": "kafka"}
        adapters.update(overrides.pop("adapters", {}))
        ingest = {"max_batch": 100, "poll_wait_ms": 100}
        ingest.update(overrides.pop("ingest", {}))
        self.p = AwsPipeline(tmp, self.tag, ENDPOINT, adapters=adapters, kafka={"bootstrap_servers": BROKER},
                             source={"topic": self.topic, "consumer_group": self.group}, ingest=ingest,
                             **overrides)
        self.functions = []
        self.mappings = []

    def queue(self, name):
        return f"mf-{self.tag}-{name}.fifo"

    def function(self, stage, config=None, **kw):
        fn = Function(BIN, stage, config or self.p.config, tmp=self.p.dir, **kw)
        self.functions.append(fn)
        return fn

    def kafka(self, fn, start=True, **kw):
        m = KafkaMapping(fn, BROKER, self.topic, self.group, **kw)
        self.mappings.append(m)
        return m.start() if start else m

    def sqs(self, fn, queue, start=True, **kw):
        m = SqsMapping(fn, ENDPOINT, self.queue(queue), **kw)
        self.mappings.append(m)
        return m.start() if start else m

    def schedule(self, fn, period=1.0):
        m = Schedule(fn, period)
        self.mappings.append(m)
        return m.start()

    def mappings_alive(self):
        for m in self.mappings:
            assert m.crashed is None, f"{m.name} stopped on {m.crashed!r}"
        return True

    def idle(self, n):
        return self.mappings_alive() and self.p.idle(n)

    def logs(self):
        return "".join(fn.output() for fn in self.functions)

    def stop(self):
        errors = []
        for m in self.mappings:
            try:
                m.stop()
            except AssertionError as e:
                errors.append(str(e))
        for fn in self.functions:
            fn.stop()
        self.p.stop_all()
        assert not errors, errors


def assert_nothing_taken(esm, messages, result):
    """The function took none of the batch: every message reported failed (or the invocation
    failed as a whole), and the mapping deleted nothing."""
    if result.ok:
        failed = {f["itemIdentifier"] for f in result.payload["batchItemFailures"]}
        assert failed == {m["MessageId"] for m in messages}, result
    else:
        assert result.error_type.startswith("Function."), result
    assert esm.deleted == 0


def produce(s, seed, count, members):
    gen = s.p.cli("generate", "--seed", str(seed), "--count", str(count), "--members", str(members)).stdout
    s.p.cli("produce", "-", input=gen)
    return gen.splitlines()


def drained(s, lines, timeout, what):
    wait_for(lambda: s.idle(len(lines)), timeout, what)
    return check_pipeline(s.p, lines, len(lines))


def print_cold_starts(functions):
    """The cold start of each function: INIT REPORT's durationMs (the runtime's exec to its first
    /next), and the REPORT line's Init Duration beside it (this emulator times only its own
    asynchronous Init() there; see lambda_esm's docstring)."""
    for fn in functions:
        inits, reported = fn.init_reports(), fn.report_init_durations()
        assert inits, f"{fn.name}: no successful init in its log"
        print(f"cold start {fn.name}: {inits[0]:.1f} ms (INIT REPORT; {len(inits)} init(s)); "
              f"REPORT Init Duration: {reported[0] if reported else 'none'} ms")


def test_the_pipeline_as_functions():
    """Kafka -> ingest (function) -> changes queue -> sync (function) -> API process ->
    relay process -> SNS -> route and lake (functions): the same result as every other wiring.
    route runs as AWS starts a provided.al2023 bootstrap (the stage from _HANDLER)."""
    with tempfile.TemporaryDirectory(prefix="memberflow-lambda-") as tmp:
        tag = uuid.uuid4().hex[:8]
        rules = {"targets": [{"name": "audit", "type": "queue", "queue": f"mf-{tag}-audit.fifo"}],
                 "rules": [{"name": f"deletes-{tag}", "targets": ["audit"],
                            "pattern": {"detail-type": ["member.deleted"]}}]}
        with open(os.path.join(tmp, "rules.json"), "w") as f:
            json.dump(rules, f)
        s = Stack(tmp, tag, bus={"rules_file": os.path.join(tmp, "rules.json")})
        try:
            lines = produce(s, 51, 1000, 100)
            s.p.cli("aws", "provision")
            s.p.start("--stages", "api")
            s.p.spawn("--stages", "relay")
            ingest, sync = s.function("ingest"), s.function("sync")
            route, lake = s.function("route", via="handler"), s.function("lake")
            # Each one's cold start alone (not beside the others' and the mappings' load), with an
            # empty event such as a mapping never sends but every function must take.
            for fn, empty in ((ingest, {"eventSource": "SelfManagedKafka", "records": {}}), (sync, {"Records": []}),
                              (route, {"Records": []}), (lake, {"Records": []})):
                r = fn.invoke(empty)
                assert r.ok, (fn.name, r)
            kafka = s.kafka(ingest, batch_size=200)
            s.sqs(sync, "changes")
            s.sqs(route, "route")
            s.sqs(lake, "lake")
            drained(s, lines, 600, "the pipeline of functions to drain")
            # The bus delivered exactly the deletes to the provisioned queue.
            sqs = aws_client("sqs", ENDPOINT)
            url = sqs.get_queue_url(QueueName=s.queue("audit"))["QueueUrl"]
            got = set()

            def take():
                for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                    got.add(json.loads(m["Body"])["detail"]["id"])
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
                return False
            want = {e["id"] for e in s.p.lake_events() if e["type"] == "member.deleted"}
            wait_for(lambda: take() or got == want, 60, "the routed deletes")
            for m in s.mappings:
                assert not m.failed_invocations, (m.name, m.failed_invocations[:3])
            # ingest's answers account for every record once.
            total = {k: sum(a[k] for a in kafka.answers) for k in kafka.answers[0]}
            assert total["records"] == len(lines), total
            assert total["records"] == sum(total[k] for k in ("enqueued", "rejected", "skipped", "duplicates")), total
            # Each function's metrics on stdout in CloudWatch Embedded Metric Format, with the
            # names of /metrics and the stage as a dimension.
            for fn in (ingest, sync, route, lake):
                emf = [json.loads(l) for l in fn.output().splitlines() if l.startswith('{"') and '"_aws"' in l]
                counted = [d for d in emf if d.get("stage") == fn.stage and "memberflow_records_total" in d]
                assert counted, (fn.name, emf[:3])
                meta = counted[0]["_aws"]["CloudWatchMetrics"][0]
                assert meta["Namespace"] == "memberflow" and "stage" in meta["Dimensions"][0], meta
            assert_no_personal_data(s.logs(), lines)
            print_cold_starts(s.functions)
        finally:
            s.stop()


def test_sync_with_the_api_down_deletes_nothing_and_applies_everything_once_it_is_back():
    """The API is not running: the sync function reports every message of its batch as failed
    (or fails as a whole), the mapping deletes none, the changes stay queued. Once the API is
    up, everything is applied once. relay runs as a function on a schedule here."""
    with tempfile.TemporaryDirectory(prefix="memberflow-lambda-down-") as tmp:
        s = Stack(tmp)
        try:
            lines = produce(s, 52, 300, 40)
            s.kafka(s.function("ingest"))
            wait_for(lambda: s.mappings_alive() and s.p.status()["source"]["lag"] == 0, 240, "ingest")
            queued = s.p.status()["queues"]["changes"]
            assert queued["visible"] > 0, queued
            sync = s.function("sync", timeout=30)
            esm = s.sqs(sync, "changes", start=False)
            messages = wait_for(esm.receive, 60, "a batch of changes")
            result = esm.handle(messages)
            print(f"sync with the API down: {result!r} after {result.elapsed:.1f} s")
            assert_nothing_taken(esm, messages, result)
            q = s.p.status()["queues"]
            assert q["changes"]["visible"] + q["changes"]["inFlight"] == queued["visible"], q
            assert q["changes-dlq"] == {"visible": 0, "inFlight": 0}, q

            s.p.start("--stages", "api")
            esm.start()
            relay = s.schedule(s.function("relay"), period=1.0)
            s.p.spawn("--stages", "route,lake")
            members, _, events = drained(s, lines, 420, "the pipeline to drain once the API is back")
            assert relay.published() == events, (relay.published(), events)
            print_cold_starts([relay.fn])
            assert_no_personal_data(s.logs(), lines)
        finally:
            s.stop()


def test_init_errors():
    """A configuration that does not load, an unknown stage, no stage at all: the emulator
    reports an init error (502, a Runtime.* or Function.* error document) on every invoke, and a
    Kafka mapping in front of such a function commits nothing."""
    with tempfile.TemporaryDirectory(prefix="memberflow-lambda-init-") as tmp:
        s = Stack(tmp)
        bad = os.path.join(tmp, "bad.toml")
        with open(s.p.config) as f, open(bad, "w") as g:
            g.write(f.read() + "\n[nonsense]\nkey = 1\n")
        assert s.p.cli("--config", bad, "config", "check", check=False).returncode != 0
        try:
            cases = {"a bad config": s.function("sync", config=bad, name="bad-config"),
                     "an unknown stage": s.function("nonsense"),
                     "no stage": s.function("", via="handler", name="no-handler")}
            want = {"a bad config": "Runtime.ConfigError", "an unknown stage": "Runtime.HandlerNotFound",
                    "no stage": "Runtime.HandlerNotFound"}
            for what, fn in cases.items():
                for _ in range(2):  # and again: every invoke starts the runtime anew
                    r = fn.invoke({"Records": []})
                    assert r.status == 502 and r.error_type == want[what], (what, r)
                assert not fn.init_reports(), (what, fn.output()[-2000:])
            produce(s, 53, 50, 10)
            esm = s.kafka(s.function("ingest", config=bad, name="ingest-bad"), start=False, max_retries=2)
            with pytest.raises(AssertionError, match="failed 3 times"):
                for _ in range(100):
                    esm.poll_once()
            assert all(r.status == 502 for r in esm.failed_invocations), esm.failed_invocations
            from confluent_kafka import Consumer, TopicPartition
            c = Consumer({"bootstrap.servers": BROKER, "group.id": s.group})
            parts = c.list_topics(s.topic, timeout=30).topics[s.topic].partitions
            committed = c.committed([TopicPartition(s.topic, n) for n in parts], timeout=30)
            c.close()
            assert all(tp.offset < 0 for tp in committed), committed
        finally:
            s.stop()


def test_ingest_deadline_mid_batch_answers_an_error_in_time_and_loses_nothing():
    """A 2-second function and a batch of 1000 records, more than it can do in that time: ingest
    stops taking chunks when the deadline is near and answers an error before it (never the
    emulator's timeout), and the mapping commits nothing. Then the operator's remedy, a function
    with time enough for its batches, takes the same records again: the ones done before come
    back as duplicates, every change is queued once, every invalid record dead-lettered once."""
    with tempfile.TemporaryDirectory(prefix="memberflow-lambda-deadline-") as tmp:
        s = Stack(tmp, ingest={"max_batch": 25}, **{"lambda": {"deadline_margin_ms": 1500}})
        try:
            lines = s.p.cli("generate", "--seed", "54", "--count", "1500", "--members", "150").stdout.splitlines()
            # A message id from a header that is no ASCII: Java's signed header bytes below.
            extra = json.loads(next(line for line in lines if '"op":"u"' in line))
            extra["headers"] = {"id": f"zürich-{s.tag}"}
            lines.append(json.dumps(extra, ensure_ascii=False))
            s.p.cli("produce", "-", input="\n".join(lines) + "\n")
            # 0.5 s of work per invocation (2 s less the margin): far from 1000 records on any
            # machine, and a single attempt, so the mapping's retries cannot finish the batch.
            short = s.function("ingest", timeout=2, name="ingest-2s")
            esm = s.kafka(short, start=False, batch_size=1000, max_retries=0, poll_timeout=2)
            with pytest.raises(AssertionError, match="failed 1 times"):
                for _ in range(100):
                    esm.poll_once()
            for r in esm.failed_invocations:
                assert not r.timed_out and r.error_type == "Function.DeadlineReached", (r, short.output()[-3000:])
            assert s.p.status()["source"]["lag"] == len(lines)  # nothing committed
            esm.close()
            s.kafka(s.function("ingest", timeout=120), batch_size=200, event_source="aws:kafka",
                    signed_header_bytes=True)
            wait_for(lambda: s.mappings_alive() and s.p.status()["source"]["lag"] == 0, 600,
                     "the mapping to get every record through")
            # Every change queued once, every invalid record dead-lettered once.
            today = (datetime.date.today() - datetime.date(1970, 1, 1)).days
            want_changes, want_invalid, seen = set(), {}, set()
            for line in lines:
                mid, outcome, detail = decode(json.loads(line), today)
                if mid in seen:
                    continue
                seen.add(mid)
                if outcome == "change":
                    want_changes.add(mid)
                elif outcome == "invalid":
                    want_invalid[mid] = detail
            sqs = aws_client("sqs", ENDPOINT)
            url = sqs.get_queue_url(QueueName=s.queue("changes"))["QueueUrl"]
            got = []  # read and deleted: a FIFO queue hands out a group's next message only then
            while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=900,
                                               WaitTimeSeconds=1).get("Messages", []):
                got += [json.loads(m["Body"])["messageId"] for m in batch]
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
            assert len(got) == len(set(got)), "a change queued twice"
            assert set(got) == want_changes, (len(set(got) - want_changes), len(want_changes - set(got)))
            assert f"zürich-{s.tag}" in want_changes
            dead = {d["attributes"]["messageId"]: d["attributes"]["reason"] for d in s.p.dlq("ingest")}
            assert dead == want_invalid
            assert_no_personal_data(s.logs(), lines)
        finally:
            s.stop()


def test_retries_of_a_batch_past_the_deadline_make_progress():
    """A batch too big for one invocation still gets through on the mapping's retries of the same
    batch: the instance that ran out of time resumes the retry after the records it did (without
    that, each retry redid the same first part and stopped at the same place, a livelock of the
    partition)."""
    with tempfile.TemporaryDirectory(prefix="memberflow-lambda-progress-") as tmp:
        s = Stack(tmp, ingest={"max_batch": 50}, **{"lambda": {"deadline_margin_ms": 2000}})
        try:
            lines = produce(s, 54, 1500, 150)
            esm = s.kafka(s.function("ingest", timeout=4), batch_size=1000, max_retries=60, poll_timeout=2)
            wait_for(lambda: s.mappings_alive() and s.p.status()["source"]["lag"] == 0, 900,
                     "the mapping to get every record through")
            assert esm.failed_invocations, "no invocation reached the deadline: make the batch larger"
            for r in esm.failed_invocations:
                assert r.error_type == "Function.DeadlineReached", r
            resumed = sum(a.get("resumed", 0) for a in esm.answers)
            assert resumed > 0, esm.answers
            assert sum(a["records"] for a in esm.answers) == len(lines)
        finally:
            s.stop()


def test_malformed_events_fail_and_lose_nothing():
    """Events that are no Kafka or SQS event, and an SQS event whose record lacks its receipt
    handle: an error answer (Function.*), nothing deleted, and the same runtime serves the next
    invocation (no new init)."""
    with tempfile.TemporaryDirectory(prefix="memberflow-lambda-malformed-") as tmp:
        s = Stack(tmp)
        try:
            lines = produce(s, 55, 200, 30)
            ingest = s.function("ingest")
            s.kafka(ingest)
            wait_for(lambda: s.mappings_alive() and s.p.status()["source"]["lag"] == 0, 240, "ingest")
            for fn, good in ((ingest, {"eventSource": "SelfManagedKafka", "records": {}}),
                             (s.function("sync"), {"Records": []}), (s.function("lake"), {"Records": []})):
                for bad in (b"not json", b"[1,2]", {"records": 5}, {"Records": [{"body": "x"}]},
                            {"eventSource": "aws:kafka", "records": {"t-0": [{"topic": "t", "partition": 0,
                                                                              "offset": 1, "value": "%%%"}]}}):
                    r = fn.invoke(bad)
                    assert r.error_type and r.error_type.startswith("Function."), (fn.name, bad, r)
                r = fn.invoke(good)
                assert r.ok, (fn.name, r)
                assert len(fn.init_reports()) == 1, fn.name
            # A real batch of changes whose event lost a receipt handle: nothing deleted.
            esm = s.sqs(s.functions[1], "changes", start=False)
            messages = wait_for(esm.receive, 60, "a batch of changes")
            event = esm.event(messages)
            del event["Records"][-1]["receiptHandle"]
            r = s.functions[1].invoke(event)
            assert r.error_type and r.error_type.startswith("Function."), r
            q = s.p.status()["queues"]["changes"]
            assert q["inFlight"] == len(messages), q
            assert_no_personal_data(s.logs(), lines)
        finally:
            s.stop()


def test_api_function_on_http_api_events():
    """The API as a function: API Gateway HTTP API (payload 2.0) events in, the response
    document out; authentication as on the server."""
    with tempfile.TemporaryDirectory(prefix="memberflow-lambda-api-") as tmp:
        s = Stack(tmp)
        try:
            api = s.function("api")
            r = api.invoke(api_event("GET", "/healthz"))
            assert r.ok and r.payload["statusCode"] == 200, r
            r = api.invoke(api_event("GET", "/member/M-1"))
            assert r.ok and r.payload["statusCode"] == 401, r
            assert any(k.lower() == "www-authenticate" for k in r.payload["headers"]), r
            write, read = s.p.token("member:write"), s.p.token("member:read")
            member = {"memberId": "M-1", "name": {"first": "Test", "middle": None, "last": "Person", "suffix": None},
                      "birthDate": "1980-01-02", "gender": "unknown", "contact": {"email": None, "phone": None},
                      "address": {"line1": None, "line2": None, "city": None, "state": None, "postalCode": None,
                                  "country": "US"},
                      "coverage": {"planId": None, "groupNumber": None, "subscriberId": None, "relationship": None,
                                   "startDate": None, "endDate": None},
                      "status": "active"}
            r = api.invoke(api_event("PUT", "/member/M-1", {"authorization": f"Bearer {write}",
                                                            "idempotency-key": "k-1"}, member))
            assert r.ok and r.payload["statusCode"] in (200, 201), r
            r = api.invoke(api_event("GET", "/member/M-1", {"authorization": f"Bearer {read}"}))
            assert r.ok and r.payload["statusCode"] == 200, r
            body = r.payload["body"]
            if r.payload.get("isBase64Encoded"):
                body = base64.b64decode(body).decode()
            got = json.loads(body)
            assert got["memberId"] == "M-1" and got["version"] == 1, got
            assert {k.lower() for k in r.payload["headers"]} >= {"etag"}, r
            print_cold_starts([api])
        finally:
            s.stop()


def test_sync_deadline_with_the_api_hanging_answers_in_time_and_loses_nothing():
    """The API hangs (accepts, never answers) while sync works on a batch, in a 4-second
    function: sync answers before the deadline (never the emulator's timeout), every message
    it did not finish reported as failed, nothing deleted; once the API answers again,
    everything is applied, once."""
    with tempfile.TemporaryDirectory(prefix="memberflow-lambda-hang-") as tmp:
        s = Stack(tmp, **{"lambda": {"deadline_margin_ms": 1500}})
        proxy = Proxy(s.p.port)
        try:
            lines = produce(s, 56, 300, 40)
            s.kafka(s.function("ingest"))
            wait_for(lambda: s.mappings_alive() and s.p.status()["source"]["lag"] == 0, 240, "ingest")
            s.p.start("--stages", "api")
            sync = s.function("sync", timeout=4, env={"MEMBERFLOW_SYNC_API_URL": f"http://127.0.0.1:{proxy.port}"})
            esm = s.sqs(sync, "changes", start=False)
            assert sync.invoke({"Records": []}).ok  # initialised while the API answers
            proxy.hold()
            messages = wait_for(esm.receive, 60, "a batch of changes")
            result = esm.handle(messages)
            print(f"sync with the API hanging: {result!r} after {result.elapsed:.1f} s")
            assert not result.timed_out, (result, sync.output()[-3000:])
            assert_nothing_taken(esm, messages, result)
            proxy.release()
            esm.start()
            s.schedule(s.function("relay"), period=1.0)
            s.p.spawn("--stages", "route,lake")
            drained(s, lines, 420, "the pipeline to drain once the API answers")
            assert_no_personal_data(s.logs(), lines)
        finally:
            proxy.release()
            s.stop()
            proxy.down()
