"""`memberflow lambda <stage>` functions under the AWS Lambda Runtime Interface Emulator, and
the event source mappings that feed them, played by the test: a Kafka mapping (MSK /
self-managed Kafka), an SQS mapping with partial batch failures, and a schedule.

What the emulator (aws-lambda-rie, scripts/lambda-rie; module
github.com/aws/aws-lambda-runtime-interface-emulator, cmd/aws-lambda-rie and
internal/lambda/rie) does, read from its source and checked against a throwaway runtime:

- Flags: `--runtime-interface-emulator-address HOST:PORT` (the invoke endpoint, default
  0.0.0.0:8080: POST /2015-03-31/functions/function/invocations), `--runtime-api-address
  HOST:PORT` (the Runtime API the function talks to, default 127.0.0.1:9001), `--log-level`.
  Every other argument is the bootstrap command, run as is (argv[0] = the first of them, cwd =
  the emulator's cwd; the emulator's own flags are taken out wherever they stand, unknown ones
  like --config are left). With more than one, the LAST one becomes `_HANDLER` (so `rie memberflow
  --config F lambda sync` gets _HANDLER=sync; `rie memberflow lambda` would get
  _HANDLER=lambda). With the bootstrap alone, `_HANDLER` (or AWS_LAMBDA_FUNCTION_HANDLER) comes
  from the emulator's environment: that is how AWS starts a provided.al2023 `bootstrap`.
- The runtime's environment: the emulator's whole environment plus AWS_LAMBDA_RUNTIME_API,
  _HANDLER, AWS_LAMBDA_FUNCTION_NAME (default test_function), AWS_LAMBDA_FUNCTION_VERSION
  ($LATEST), AWS_LAMBDA_FUNCTION_MEMORY_SIZE (3008), AWS_LAMBDA_LOG_GROUP_NAME,
  AWS_LAMBDA_LOG_STREAM_NAME, AWS_LAMBDA_METADATA_API/TOKEN and the AWS_ACCESS_KEY_ID,
  AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN of its environment (empty when unset).
  AWS_LAMBDA_FUNCTION_TIMEOUT (whole seconds, default 300; not an integer: every invoke fails,
  its handler panics) is read by the emulator and passed on as it is; each invocation gets
  Lambda-Runtime-Deadline-Ms = its start + the timeout (for the first one, counted from before
  the init), Lambda-Runtime-Aws-Request-Id, Lambda-Runtime-Invoked-Function-Arn.
- The runtime is started lazily, on the first invoke (init and invoke are one call), and serves
  one invocation at a time. A second invoke while one runs does not get the 400 the code
  means to answer: this version panics (nil pointer in rapidcore.(*Server).Invoke after
  "ReserveFailed: AlreadyReserved") and the emulator exits. Function.invoke serializes.
- The init counts against the first invocation's timeout (real Lambda gives it 10 s of its
  own): a runtime that has not asked for /invocation/next by then gets "Task timed out" and
  INIT RTDONE(status: error), and is started again on the next invoke.
- A function error (POST .../invocation/{id}/error): HTTP 200 with the error document the
  runtime posted as the body ({"errorMessage", "errorType", ...}). The emulator drops every
  header of the runtime's answer: no X-Amz-Function-Error as real Lambda sends, so an error is
  told by its body. The runtime process stays (no restart).
- A timeout (the deadline passed without a result): HTTP 200 with the text "Task timed out
  after N.00 seconds"; the runtime is SIGKILLed and a new one started (a new init) on the next
  invoke.
- A runtime that exits during an invocation: HTTP 502 with {"errorType": "Runtime.ExitError",
  ...}; restarted (a new init) on the next invoke.
- An init error (POST /runtime/init/error, then exit): HTTP 502 with the document the runtime
  posted; a runtime that exits in its init without posting: 502 with an empty body. Every later
  invoke starts the runtime again (a new init) and fails the same way.
- Logs, on the emulator's stdout, with the runtime's stdout and stderr mixed in:
  `START RequestId: ...`, `END RequestId: ...`, `REPORT RequestId: ...\tInit Duration: X ms\t
  Duration: ...` and, with the (rapid) prefix, `INIT START`, `INIT RTDONE(status: success)`,
  `INIT REPORT(durationMs: X)`, `INVOKE START/RTDONE`, `Reset initiated: Timeout`, `Sending
  SIGKILL to runtime-N(pid)`. In this version REPORT's Init Duration is NOT the cold start: it
  times only the emulator's asynchronous Init() call (~0.05 ms). The cold start, from the
  runtime's exec to its first /invocation/next, is INIT REPORT's durationMs (the first
  invocation's REPORT Duration includes it as well). No REPORT is printed for an init error.
- SIGTERM stops the emulator, which SIGKILLs the runtime first (its process group is killed here
  as well, in case the emulator itself died).
"""
import base64
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

from memberflow_e2e import free_port, wait_for

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts")


def rie_binary():
    """The emulator: MEMBERFLOW_LAMBDA_RIE (scripts/test exports it), else built or found in the
    cache by scripts/lambda-rie."""
    path = os.environ.get("MEMBERFLOW_LAMBDA_RIE")
    if path:
        return path
    return subprocess.run([os.path.join(SCRIPTS, "lambda-rie")], check=True, capture_output=True,
                          text=True, timeout=900).stdout.strip().splitlines()[-1]


class Result:
    """What one invocation came back with, as an event source mapping reads it."""

    def __init__(self, status, body, headers):
        self.status = status
        self.elapsed = None  # seconds, as the invoker saw it
        self.raw = body
        self.headers = headers
        try:
            self.payload = json.loads(body) if body else None
        except ValueError:
            self.payload = None
        doc = self.payload if isinstance(self.payload, dict) else {}
        self.timed_out = status == 200 and body.startswith(b"Task timed out after")
        # The emulator keeps no X-Amz-Function-Error header: an error is an error document.
        self.error_type = doc.get("errorType") if set(doc) >= {"errorType", "errorMessage"} else None
        if status != 200 and self.error_type is None:
            self.error_type = "Runtime.Unknown"  # e.g. a runtime that died in its init: 502, no body
        if self.timed_out:
            self.error_type = "Sandbox.Timedout"

    @property
    def ok(self):
        return self.status == 200 and self.error_type is None

    def __repr__(self):
        return f"Result(status={self.status}, error={self.error_type}, body={self.raw[:300]!r})"


class Function:
    """One function: `memberflow lambda <stage>` under the emulator on free loopback ports.

    via="argv" runs `BIN --config CONFIG lambda STAGE`; via="handler" runs a provided.al2023
    style `bootstrap` script (`exec BIN lambda`, the config in MEMBERFLOW_CONFIG) with the stage
    as the function's handler (_HANDLER), as AWS starts it; `command` runs that command instead
    (the packaged zip's bootstrap), the stage as _HANDLER. `timeout` is the function timeout in
    whole seconds (AWS_LAMBDA_FUNCTION_TIMEOUT). Its log (the emulator's and the function's
    output) is `log_path`."""

    count = 0

    def __init__(self, bin, stage, config, env=None, timeout=60, tmp=None, via="argv", name=None,
                 command=None):
        Function.count += 1
        self.stage = stage
        self.tmp = tmp or os.path.dirname(os.path.abspath(config))
        self.name = name or f"memberflow-{stage}"
        self.log_path = os.path.join(self.tmp, f"lambda-{self.name}-{Function.count}.log")
        self.port = free_port()
        self.runtime_port = free_port()
        self.invoking = threading.Lock()
        bin = os.path.abspath(bin)
        full_env = dict(os.environ)
        full_env.update({"AWS_LAMBDA_FUNCTION_TIMEOUT": str(int(timeout)),
                         "AWS_LAMBDA_FUNCTION_NAME": self.name,
                         "AWS_REGION": "us-east-1", "LOG_LEVEL": "info"})
        full_env.update(env or {})
        if command is not None:  # a bootstrap of its own (the packaged zip's), stage as _HANDLER
            full_env.update({"_HANDLER": stage})
        elif via == "argv":
            command = [bin, "--config", config, "lambda", stage]
        elif via == "handler":
            boot = os.path.join(self.tmp, f"bootstrap-{Function.count}")
            with open(boot, "w") as f:
                f.write(f"#!/bin/sh\nexec '{bin}' lambda\n")
            os.chmod(boot, 0o755)
            command = [boot]
            full_env.update({"_HANDLER": stage, "MEMBERFLOW_CONFIG": config})
        else:
            raise ValueError(via)
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [rie_binary(), "--runtime-interface-emulator-address", f"127.0.0.1:{self.port}",
             "--runtime-api-address", f"127.0.0.1:{self.runtime_port}", *command],
            stdout=self.log, stderr=subprocess.STDOUT, env=full_env, cwd=self.tmp,
            start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations"
        wait_for(self._listening, 60, f"the emulator of {self.name} to listen")

    def _listening(self):
        assert self.proc.poll() is None, f"the emulator exited: {self.output()[-2000:]}"
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def invoke(self, event, timeout=None):
        """Invokes the function with `event` (JSON-able, or bytes sent as they are) and returns a
        Result. `timeout`: how long to wait for the answer (default: well past the function's
        own timeout, which the emulator enforces)."""
        with self.invoking:  # one at a time, or the emulator dies (see the module's docstring)
            return self._invoke(event, timeout)

    def _invoke(self, event, timeout):
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        req = urllib.request.Request(self.url, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
        started = time.monotonic()
        try:
            with urllib.request.urlopen(req, timeout=timeout or 900) as r:
                result = Result(r.status, r.read(), dict(r.headers))
        except urllib.error.HTTPError as e:
            result = Result(e.code, e.read(), dict(e.headers))
        result.elapsed = time.monotonic() - started
        return result

    def output(self):
        """The emulator's log: its lines and the function's."""
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def init_reports(self):
        """The duration, in ms, of every init of the runtime that succeeded (INIT REPORT after
        INIT RTDONE(status: success)): the first is the cold start."""
        out, status = [], None
        for line in self.output().splitlines():
            m = re.search(r"INIT RTDONE\(status: (\w+)", line)
            if m:
                status = m.group(1)
            m = re.search(r"INIT REPORT\(durationMs: ([0-9.]+)\)", line)
            if m and status == "success":
                out.append(float(m.group(1)))
                status = None
        return out

    def report_init_durations(self):
        """The `Init Duration` of the REPORT lines (see the module's docstring: in this emulator
        version a figure of the emulator, not of the function)."""
        return [float(x) for x in re.findall(r"^REPORT RequestId: \S+\tInit Duration: ([0-9.]+) ms",
                                             self.output(), re.M)]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # the runtime, if the emulator left it
        except ProcessLookupError:
            pass
        self.log.close()


class Mapping:
    """What every mapping shares: a polling thread, counters, the invocation results, and the
    errors it met (a test asserts on them)."""

    def __init__(self, fn, name):
        self.fn = fn
        self.name = name
        self.stopping = threading.Event()
        self.thread = None
        self.lock = threading.Lock()
        self.invocations = 0
        self.failed_invocations = []  # Result of each invocation that failed as a whole
        self.crashed = None  # an exception that ended the polling thread

    def start(self):
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()
        return self

    def _run(self):
        try:
            while not self.stopping.is_set():
                self.poll_once()
        except BaseException as e:  # recorded: the test asserts the mapping did not crash
            self.crashed = e

    def stop(self):
        self.stopping.set()
        if self.thread:
            self.thread.join(timeout=120)
            assert not self.thread.is_alive(), f"{self.name} did not stop"
            self.thread = None
        self.close()
        assert self.crashed is None, f"{self.name} stopped on {self.crashed!r}"

    def close(self):
        pass

    def _record(self, result):
        with self.lock:
            self.invocations += 1
            if not result.ok:
                self.failed_invocations.append(result)

    def poll_once(self):
        raise NotImplementedError


def _backoff(attempt, base=0.2, cap=3.0):
    return min(cap, base * (2 ** min(attempt, 10)))


class KafkaMapping(Mapping):
    """An MSK / self-managed Kafka event source mapping: reads `topic` on `bootstrap` in the
    consumer group `group` with auto commit off, invokes the function with batches of up to
    `batch_size` records in the event shape AWS sends (grouped by "<topic>-<partition>", key and
    value base64, absent when null, headers as arrays of byte values), and commits the batch's
    offsets only after a successful invocation. After a failed one it rewinds to the batch's
    first offsets and retries (the mapping takes the same records again), at most `max_retries`
    times in a row; past that it stops with an error, having committed nothing of the batch.

    signed_header_bytes: header bytes as Java's signed -128..127 rather than 0..255."""

    def __init__(self, fn, bootstrap, topic, group, batch_size=100, max_retries=30, poll_timeout=0.5,
                 event_source="SelfManagedKafka", signed_header_bytes=False):
        super().__init__(fn, f"kafka-esm-{fn.name}")
        from confluent_kafka import Consumer
        self.bootstrap = bootstrap
        self.topic = topic
        self.batch_size = batch_size
        self.max_retries = max_retries
        self.poll_timeout = poll_timeout
        self.event_source = event_source
        self.signed = signed_header_bytes
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                  "enable.auto.commit": False, "auto.offset.reset": "earliest",
                                  "enable.partition.eof": False, "session.timeout.ms": 30000,
                                  "log_level": 3})
        self.consumer.subscribe([topic])
        self.committed_records = 0
        self.retries = 0
        self.answers = []  # the payload of every successful invocation

    def event(self, messages):
        """The MSK / self-managed Kafka event for `messages` (confluent_kafka Messages)."""
        records = {}
        for m in messages:
            ts_type, ts = m.timestamp()
            rec = {"topic": m.topic(), "partition": m.partition(), "offset": m.offset(),
                   "timestamp": ts, "timestampType": "LOG_APPEND_TIME" if ts_type == 2 else "CREATE_TIME"}
            if m.key() is not None:
                rec["key"] = base64.b64encode(m.key()).decode()
            if m.value() is not None:
                rec["value"] = base64.b64encode(m.value()).decode()
            rec["headers"] = [{k: [b - 256 if self.signed and b > 127 else b for b in (v or b"")]}
                              for k, v in (m.headers() or [])]
            records.setdefault(f"{m.topic()}-{m.partition()}", []).append(rec)
        ev = {"eventSource": self.event_source, "bootstrapServers": self.bootstrap, "records": records}
        if self.event_source == "aws:kafka":
            ev["eventSourceArn"] = "arn:aws:kafka:us-east-1:123456789012:cluster/memberflow/test"
        return ev

    def poll_once(self):
        from confluent_kafka import TopicPartition
        msgs = [m for m in self.consumer.consume(self.batch_size, self.poll_timeout) if not m.error()]
        if not msgs:
            return 0
        first, last = {}, {}
        for m in msgs:
            tp = (m.topic(), m.partition())
            first.setdefault(tp, m.offset())
            last[tp] = m.offset()
        event = self.event(msgs)
        for attempt in range(self.max_retries + 1):
            result = self.fn.invoke(event)
            self._record(result)
            if result.ok:
                self.consumer.commit(offsets=[TopicPartition(t, p, o + 1) for (t, p), o in last.items()],
                                     asynchronous=False)
                with self.lock:
                    self.committed_records += len(msgs)
                    self.answers.append(result.payload)
                return len(msgs)
            with self.lock:
                self.retries += 1
            if self.stopping.wait(_backoff(attempt)):
                break
        # Given up (or stopping): nothing of the batch is committed; the next poll, of this
        # mapping or of the next consumer of the group, starts at its first offsets again.
        for (t, p), o in first.items():
            self.consumer.seek(TopicPartition(t, p, o))
        if not self.stopping.is_set():
            raise AssertionError(f"{self.name}: the batch failed {self.max_retries + 1} times: "
                                 f"{self.failed_invocations[-1]!r}")
        return 0

    def close(self):
        if self.consumer is not None:
            self.consumer.close()
            self.consumer = None


def aws_client(service, endpoint):
    import boto3
    return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="a", aws_secret_access_key="b")


class SqsMapping(Mapping):
    """An SQS event source mapping with ReportBatchItemFailures: receives up to `batch_size`
    messages (all attributes, all message attributes; the queue's own visibility timeout),
    invokes the function with the SQS event AWS sends, then deletes every message of the batch
    that the answer's batchItemFailures does not list. The whole batch stays (nothing deleted;
    the messages come back after their visibility timeout) when the invocation failed, or when
    the answer is no valid partial-batch response (not JSON, or an itemIdentifier that is
    empty, null or not a messageId of the batch), as AWS does."""

    def __init__(self, fn, endpoint, queue_name, batch_size=10, wait_seconds=1):
        super().__init__(fn, f"sqs-esm-{fn.name}")
        self.sqs = aws_client("sqs", endpoint)
        self.url = wait_for(lambda: self._url(queue_name), 120, f"queue {queue_name}")
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.batch_size = batch_size
        self.wait_seconds = wait_seconds
        self.deleted = 0
        self.item_failures = 0
        self.invalid_answers = []

    def _url(self, name):
        try:
            return self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except self.sqs.exceptions.QueueDoesNotExist:
            return None

    def receive(self):
        return self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=self.batch_size,
                                        WaitTimeSeconds=self.wait_seconds, AttributeNames=["All"],
                                        MessageAttributeNames=["All"]).get("Messages", [])

    def event(self, messages):
        """The SQS event for `messages` (ReceiveMessage's)."""
        records = []
        for m in messages:
            attrs = {}
            for k, v in (m.get("MessageAttributes") or {}).items():
                a = {"stringListValues": [], "binaryListValues": [], "dataType": v["DataType"]}
                if "StringValue" in v:
                    a["stringValue"] = v["StringValue"]
                if "BinaryValue" in v:
                    a["binaryValue"] = base64.b64encode(v["BinaryValue"]).decode()
                attrs[k] = a
            rec = {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                   "attributes": dict(m.get("Attributes") or {}), "messageAttributes": attrs,
                   "md5OfBody": m["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": self.arn,
                   "awsRegion": "us-east-1"}
            if "MD5OfMessageAttributes" in m:
                rec["md5OfMessageAttributes"] = m["MD5OfMessageAttributes"]
            records.append(rec)
        return {"Records": records}

    def failures_in(self, result, ids):
        """The messageIds to keep, from the answer: None when the whole batch failed."""
        if not result.ok:
            return None
        if result.raw.strip() in (b"", b"null"):
            return set()  # no answer, or null: the whole batch succeeded
        doc = result.payload
        if not isinstance(doc, dict):
            self.invalid_answers.append(result)
            return None  # not JSON (or no object): the whole batch failed
        items = doc.get("batchItemFailures")
        if items is None:
            return set()
        keep = set()
        for it in items:
            i = it.get("itemIdentifier") if isinstance(it, dict) else None
            if not isinstance(i, str) or not i or i not in ids:
                self.invalid_answers.append(result)
                return None
            keep.add(i)
        return keep

    def handle(self, messages):
        """Invokes the function with `messages` and settles them; returns the Result."""
        result = self.fn.invoke(self.event(messages))
        self._record(result)
        ids = {m["MessageId"] for m in messages}
        keep = self.failures_in(result, ids)
        if keep is None:
            return result
        done = [m for m in messages if m["MessageId"] not in keep]
        for i in range(0, len(done), 10):
            chunk = done[i:i + 10]
            r = self.sqs.delete_message_batch(QueueUrl=self.url, Entries=[
                {"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(chunk)])
            assert not r.get("Failed"), r["Failed"]
        with self.lock:
            self.deleted += len(done)
            self.item_failures += len(keep)
        return result

    def poll_once(self):
        messages = self.receive()
        if messages:
            self.handle(messages)
        return len(messages)


class Schedule(Mapping):
    """An EventBridge schedule: invokes the function with a Scheduled Event every `period`
    seconds (AWS's least is a minute; a test's is shorter) and keeps the answers."""

    def __init__(self, fn, period=1.0):
        super().__init__(fn, f"schedule-{fn.name}")
        self.period = period
        self.answers = []

    @staticmethod
    def event():
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                "source": "aws.events", "account": "123456789012",
                "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "region": "us-east-1",
                "resources": ["arn:aws:events:us-east-1:123456789012:rule/memberflow-relay"],
                "detail": {}}

    def poll_once(self):
        started = time.monotonic()
        result = self.fn.invoke(self.event())
        self._record(result)
        with self.lock:
            self.answers.append(result.payload if result.ok else None)
        self.stopping.wait(max(0.0, self.period - (time.monotonic() - started)))
        return 1

    def published(self):
        with self.lock:
            return sum(a.get("published", 0) for a in self.answers if isinstance(a, dict))


def api_event(method, path, headers=None, body=None, query=""):
    """An API Gateway HTTP API (payload format 2.0) event."""
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    raw = body if body is None or isinstance(body, str) else json.dumps(body)
    if raw is not None:
        headers.setdefault("content-type", "application/json")
    now = time.time()
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
            "headers": headers,
            "queryStringParameters": dict(kv.split("=", 1) for kv in query.split("&") if "=" in kv) or None,
            "requestContext": {"accountId": "123456789012", "apiId": "memberflow", "domainName":
                               "api.example.internal", "domainPrefix": "api",
                               "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                        "sourceIp": "192.0.2.1", "userAgent": "memberflow-e2e"},
                               "requestId": str(uuid.uuid4()), "routeKey": "$default", "stage": "$default",
                               "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
                               "timeEpoch": int(now * 1000)},
            "body": raw, "isBase64Encoded": False}
