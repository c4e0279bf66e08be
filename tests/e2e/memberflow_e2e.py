"""Helpers for memberflow's end-to-end tests.

The oracle here computes the expected final state from the generated raw records with its
own implementation of DESIGN.md section 3.1 (decoding, validation, message ids, dedup,
the source-sequence guard, tombstones, no-ops). It shares no code with the C++ transform,
so the two can disagree, and a disagreement fails the test.
"""
import datetime
import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
import urllib.error
import urllib.request

BIN = os.environ.get("MEMBERFLOW_BIN", "build/memberflow")
EPOCH = datetime.date(1970, 1, 1)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(interval)  # poll interval inside a deadline
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Pipeline:
    """A data directory, a config file and the memberflow processes started on them."""

    def __init__(self, tmp, **overrides):
        self.dir = tmp
        self.port = free_port()
        cfg = {
            "storage": {"data_dir": os.path.join(tmp, "var")},
            "api": {"port": self.port},
            "sync": {"visibility_ms": 2000, "backoff_base_ms": 50, "backoff_cap_ms": 500},
            "bus": {"visibility_ms": 2000},
            "lake": {"flush_ms": 200, "visibility_ms": 2000},
            "log": {"level": os.environ.get("MF_TEST_LOG", "info")},
        }
        for section, values in overrides.items():
            cfg.setdefault(section, {}).update(values)
        self.config = os.path.join(tmp, "memberflow.toml")
        with open(self.config, "w") as f:
            for section, values in cfg.items():
                f.write(f"[{section}]\n")
                for k, v in values.items():
                    f.write(f"{k} = {json.dumps(v)}\n")
        self.procs = []
        self.logs = []

    def cli(self, *args, input=None, check=True):
        r = subprocess.run([BIN, "--config", self.config, *args], input=input,
                           capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError(f"memberflow {' '.join(args)} failed: {r.stderr}")
        return r

    def spawn(self, *args):
        """A `run` process that serves no API (no readiness to wait for)."""
        log = open(os.path.join(self.dir, f"run-{len(self.logs)}.log"), "w")
        p = subprocess.Popen([BIN, "--config", self.config, "run", *args],
                             stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        self.logs.append(log.name)
        return p

    def start(self, *args, timeout=30):
        """A `run` process serving the API, once it answers /readyz."""
        p = self.spawn(*args)
        wait_for(lambda: self.ready() or p.poll() is not None, timeout, "the API")
        assert p.poll() is None, f"run exited early: {open(self.logs[-1]).read()}"
        return p

    def ready(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, OSError):
            return False

    def stop(self, p, sig=signal.SIGTERM):
        if p.poll() is None:
            p.send_signal(sig)
            p.wait(timeout=60)
        return p.returncode

    def stop_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def status(self):
        return json.loads(self.cli("status").stdout)

    def idle(self, expected_records):
        try:
            s = self.status()
        except AssertionError:
            return False  # status cannot answer right now (a broker restarting): not idle
        if s["source"]["records"] != expected_records or s["source"]["lag"] != 0 or s.get("outbox", 0):
            return False
        busy = [n for n, q in s["queues"].items()
                if not n.endswith("-dlq") and (q["visible"] or q["inFlight"])]
        return not busy

    def token(self, *scopes):
        args = ["token"]
        for s in scopes:
            args += ["--scope", s]
        return self.cli(*args).stdout.strip()

    def get(self, path, token):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}",
                                     headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def dlq(self, queue):
        out = self.cli("dlq", "list", "--queue", queue, "--limit", "1000000").stdout
        return [json.loads(line) for line in out.splitlines() if line.strip()]

    def lake_events(self):
        """Every event in the lake, in object-name order and line order."""
        return list(self.iter_lake_events())

    def lake_objects(self):
        """(name, reader) of every lake object in name order; reader() returns its bytes."""
        root = os.path.join(self.dir, "var", "objects")
        files = []
        for d, _, names in os.walk(os.path.join(root, "lake")):
            files += [os.path.join(d, n) for n in names if n.endswith(".ndjson.gz")]
        for f in sorted(files):
            yield os.path.relpath(f, root), (lambda f=f: open(f, "rb").read())

    def iter_lake_events(self, errors=None):
        """The lake's events one at a time, in object-name and line order. An object that cannot
        be read raises, or with an `errors` list is appended to it as (name, reason) and skipped."""
        import gzip
        for name, read in self.lake_objects():
            try:
                text = gzip.decompress(read()).decode()
                events = [json.loads(line) for line in text.splitlines() if line.strip()]
            except (OSError, EOFError, ValueError) as e:
                if errors is None:
                    raise
                errors.append((name, f"{type(e).__name__}: {e}"))
                continue
            yield from events


class AwsPipeline(Pipeline):
    """A pipeline on the AWS adapters (SQS, SNS, EventBridge, S3, DynamoDB) at `endpoint`."""

    def __init__(self, tmp, tag, endpoint, **kw):
        self.endpoint = endpoint
        self.bucket = f"memberflow-{tag}"
        adapters = {"queue": "sqs", "topic": "sns", "event_bus": "eventbridge", "object_store": "s3",
                    "ledger": "dynamodb"}
        adapters.update(kw.pop("adapters", {}))
        # Every name of its own: tests share one moto server.
        aws = {"endpoint": endpoint, "bucket": self.bucket, "ledger_table": f"ledger-{tag}",
               "parking_table": f"parking-{tag}", "name_prefix": f"mf-{tag}-"}
        aws.update(kw.pop("aws", {}))
        super().__init__(tmp, adapters=adapters, aws=aws, **kw)

    def lake_objects(self):
        import boto3
        s3 = boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                          aws_access_key_id="a", aws_secret_access_key="b")
        keys = []
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix="lake/"):
            keys += [o["Key"] for o in page.get("Contents", [])]
        for k in sorted(keys):
            yield k, (lambda k=k: s3.get_object(Bucket=self.bucket, Key=k)["Body"].read())


SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts")


class PgServer:
    """A throwaway PostgreSQL cluster of this test's own (scripts/pg-server), and fresh schemas in it.
    With `uri`, a server someone else started (scripts/test's): schemas only, never stopped here."""
    SCRIPT = os.path.join(SCRIPTS, "pg-server")

    def __init__(self, tmp, uri=None):
        self.dir = os.path.join(tmp, "pg")
        self.owned = uri is None
        self.uri = uri or subprocess.run([self.SCRIPT, "start", self.dir], check=True, capture_output=True,
                                         text=True).stdout.strip().splitlines()[-1]
        # postgresql://memberflow:<password>@127.0.0.1:<port>/memberflow
        rest = self.uri.split("://", 1)[1]
        self.password = rest.split("@", 1)[0].split(":", 1)[1]
        self.hostpart = rest.split("@", 1)[1]

    def schema(self):
        name = "e2e_" + os.urandom(4).hex()
        self.psql(f"CREATE SCHEMA {name}")
        return name

    def conninfo(self, schema):
        """The URI without its password (that comes from the Secrets port), on `schema`."""
        return f"postgresql://memberflow@{self.hostpart}?options=-csearch_path%3D{schema}"

    def psql(self, sql, schema=None):
        uri = self.uri + (f"?options=-csearch_path%3D{schema}" if schema else "")
        return subprocess.run(["psql", uri, "-At", "-v", "ON_ERROR_STOP=1", "-c", sql], check=True,
                              capture_output=True, text=True).stdout

    def restart(self):
        subprocess.run([self.SCRIPT, "restart", self.dir], check=True, capture_output=True)

    def stop(self):
        subprocess.run([self.SCRIPT, "stop", self.dir], check=True, capture_output=True)

    def start(self):
        self.restart()

    def remove(self):
        if self.owned:
            subprocess.run([self.SCRIPT, "remove", self.dir], check=False, capture_output=True)


class Servers:
    """Kafka, the moto AWS emulator and PostgreSQL for a run outside ctest: the ones scripts/test
    started (MEMBERFLOW_TEST_KAFKA, MEMBERFLOW_TEST_AWS_ENDPOINT, MEMBERFLOW_TEST_POSTGRES) when
    set, else throwaway ones started here on free loopback ports under `tmp`. stop() stops only
    what was started here; call it in a finally."""

    def __init__(self, tmp, kafka=False, aws=False, postgres=False):
        self.tmp = tmp
        self.started = []  # (script, dir) to stop
        self.kafka = self.aws = self.pg = None
        try:
            if kafka:
                self.kafka = os.environ.get("MEMBERFLOW_TEST_KAFKA") or self._start("kafka-server", "kafka")
            if aws:
                self.aws = os.environ.get("MEMBERFLOW_TEST_AWS_ENDPOINT") or self._start("moto-server", "moto")
            if postgres:
                self.pg = PgServer(tmp, uri=os.environ.get("MEMBERFLOW_TEST_POSTGRES"))
        except BaseException:
            self.stop()
            raise

    def _start(self, script, name):
        d = os.path.join(self.tmp, name)
        self.started.append((script, d))
        out = subprocess.run([os.path.join(SCRIPTS, script), "start", d], check=True, capture_output=True,
                             text=True, timeout=600).stdout
        return out.strip().splitlines()[-1]

    def describe(self):
        def who(v, env):
            return "given" if v and os.environ.get(env) else "started here"
        out = []
        if self.kafka:
            out.append(f"Kafka {self.kafka} ({who(self.kafka, 'MEMBERFLOW_TEST_KAFKA')})")
        if self.aws:
            out.append(f"moto {self.aws} ({who(self.aws, 'MEMBERFLOW_TEST_AWS_ENDPOINT')})")
        if self.pg:
            out.append(f"PostgreSQL 127.0.0.1:{self.pg.hostpart.split('/')[0].split(':')[-1]} "
                       f"({'started here' if self.pg.owned else 'given'})")
        return ", ".join(out)

    def stop(self, keep=False):
        """keep: a PostgreSQL cluster started here is stopped, not removed (its data stays)."""
        if self.pg and keep and self.pg.owned:
            self.pg.stop()
        elif self.pg:
            self.pg.remove()
        for script, d in reversed(self.started):
            subprocess.run([os.path.join(SCRIPTS, script), "stop", d], check=False, capture_output=True,
                           timeout=120)
        self.started = []


def pg_pipeline(tmp, server, schema, **overrides):
    """A pipeline whose member store is PostgreSQL `schema`; the password is a secret."""
    os.environ["MEMBERFLOW_SECRET_PG_PASSWORD"] = server.password
    pg = {"conninfo": server.conninfo(schema), "password_secret": "pg-password"}
    pg.update(overrides.pop("postgres", {}))
    return Pipeline(tmp, adapters={"member_store": "postgres"}, postgres=pg, **overrides)


class WebhookServer(ThreadingHTTPServer):
    # A target delivers to up to bus.delivery_concurrency members at once, each request on its
    # own connection here (HTTP/1.0): socketserver's listen backlog of 5 would drop the SYNs
    # beyond it, and each dropped one costs the sender a 1 s retransmission.
    request_queue_size = 128


class Receiver:
    """A webhook receiver on a free port. Records (event id, body) per path in arrival order; a
    path listed in `failing` answers 500 until it is removed. `keep` turns a body into what is
    recorded (a long run keeps a summary instead of every body). A request whose sender dies
    before its body has arrived (a kill -9) is not recorded."""

    def __init__(self, failing=(), keep=None):
        self.lock = threading.Lock()
        self.got = {}
        self.auth = set()
        self.failing = set(failing)
        keep = keep or (lambda body: body)
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                size = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(size)
                if len(raw) < size:
                    self.close_connection = True
                    return  # the sender died mid-request: nothing was delivered
                body = json.loads(raw)
                with outer.lock:
                    outer.auth.add(self.headers.get("Authorization"))
                    if self.path in outer.failing:
                        self.send_response(500)
                        self.end_headers()
                        return
                    outer.got.setdefault(self.path, []).append((self.headers["X-Memberflow-Event-Id"], keep(body)))
                try:
                    self.send_response(204)
                    self.end_headers()
                except OSError:
                    self.close_connection = True  # received; the sender died before the answer

            def log_message(self, *args):
                pass

        self.server = WebhookServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def events(self, path):
        with self.lock:
            return list(self.got.get(path, []))

    def ids(self, path):
        return {i for i, _ in self.events(path)}

    def heal(self, path):
        with self.lock:
            self.failing.discard(path)

    def close(self):
        self.server.shutdown()


class RejectingProxy:
    """Forwards HTTP to the API, but answers 422 (validation-failed) to a PUT whose
    Idempotency-Key is in `reject`."""

    def __init__(self, api_port):
        self.reject = set()
        self.rejected = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.command == "PUT" and self.headers.get("Idempotency-Key") in outer.reject:
                    outer.rejected += 1
                    out = json.dumps({"type": "urn:memberflow:problem:validation-failed",
                                      "title": "The member breaks a validation rule", "status": 422,
                                      "detail": "test: rejected by the proxy"}).encode()
                    self.send_response(422)
                    self.send_header("Content-Type", "application/problem+json")
                    self.send_header("Content-Length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                    return
                c = http.client.HTTPConnection("127.0.0.1", api_port, timeout=30)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                c.request(self.command, self.path, body=body or None, headers=headers)
                r = c.getresponse()
                data = r.read()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                c.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = _any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


class Proxy:
    """Forwards 127.0.0.1:port to the target port while up; down() refuses and resets, as a
    stopped endpoint does; hold() keeps accepting and reading but answers nothing, as an
    endpoint that hangs does (requests in flight hang too) until up() again."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = free_port()
        self.lock = threading.Lock()
        self.conns = set()
        self.listener = None
        self.accepted = 0
        self.flowing = threading.Event()
        self.flowing.set()
        self.up()

    def hold(self):
        self.flowing.clear()

    def release(self):
        self.flowing.set()

    def up(self):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(128)
        s.settimeout(0.2)
        self.listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def down(self):
        s, self.listener = self.listener, None
        s.close()
        with self.lock:
            conns, self.conns = self.conns, set()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            c.close()

    def _accept(self, s):
        while self.listener is s:
            try:
                client, _ = s.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns |= {client, upstream}
                self.accepted += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a, b):
        try:
            while data := a.recv(65536):
                self.flowing.wait()  # held: the bytes wait here, nothing is answered
                b.sendall(data)
        except OSError:
            pass
        for c in (a, b):
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self.lock:
            self.conns.discard(a)
        a.close()  # each pump closes the socket it reads; the shutdown ends the other pump


# ---- the oracle ------------------------------------------------------------------------

class Invalid(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


def compact(v):
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def as_bytes(v):
    if v is None:
        return None
    if isinstance(v, str):
        return v.encode()
    return compact(v).encode()


def days_to_iso(d):
    return (EPOCH + datetime.timedelta(days=d)).isoformat()


def parse_date(v, field):
    if isinstance(v, bool):
        raise Invalid("invalid_date")
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        try:
            if len(v) != 10:
                raise ValueError
            return (datetime.date.fromisoformat(v) - EPOCH).days
        except ValueError:
            raise Invalid("invalid_date")
    raise Invalid("invalid_date")


def opt_text(row, field, limit):
    v = row.get(field)
    if v is None:
        return None
    if not isinstance(v, str):
        raise Invalid("invalid_type")
    v = v.strip()
    if len(v) > limit:
        raise Invalid("too_long")
    return v or None


def name(row, field):
    v = row.get(field)
    if v is not None and not isinstance(v, str):
        raise Invalid("invalid_type")
    v = (v or "").strip()
    if not v:
        raise Invalid("missing_field")
    if len(v) > 100:
        raise Invalid("too_long")
    return v


def canonical(row, today):
    """DESIGN.md 3.1 row -> 3.3 canonical member, written from the table, not the C++."""
    mid = row.get("member_id")
    m = {"memberId": mid}
    first, last = name(row, "first_name"), name(row, "last_name")
    middle, suffix = opt_text(row, "middle_name", 100), opt_text(row, "suffix", 100)
    m["name"] = {"first": first, "middle": middle, "last": last, "suffix": suffix}
    if row.get("birth_date") is None:
        raise Invalid("missing_field")
    bd = parse_date(row["birth_date"], "birth_date")
    if bd > today or bd < (datetime.date(1900, 1, 1) - EPOCH).days:
        raise Invalid("invalid_birth_date")
    m["birthDate"] = days_to_iso(bd)
    genders = {"M": "male", "F": "female", "U": "unknown", "X": "other"}
    if (row.get("gender") or "").strip() not in genders:
        raise Invalid("invalid_gender")
    m["gender"] = genders[row["gender"].strip()]
    email = row.get("email")
    if email is not None:
        email = email.strip()
        local, at, domain = email.partition("@")
        if not local or not domain or "@" in domain:
            raise Invalid("invalid_email")
    phone = row.get("phone")
    if phone is not None:
        phone = phone.strip()
        if any(not (c.isdigit() or c in " +-()") for c in phone):
            raise Invalid("invalid_phone")
        digits = "".join(c for c in phone if c.isdigit())
        if len(digits) == 10:
            phone = "+1" + digits
        elif len(digits) == 11 and digits[0] == "1":
            phone = "+" + digits
    m["contact"] = {"email": email, "phone": phone}
    state = row.get("state")
    if state is not None:
        state = state.strip()
        if len(state) != 2 or not state.isalpha():
            raise Invalid("invalid_state")
        state = state.upper()
    pc = row.get("postal_code")
    if pc is not None:
        pc = pc.strip()
        ok = (len(pc) == 5 and pc.isdigit()) or (
            len(pc) == 10 and pc[5] == "-" and pc[:5].isdigit() and pc[6:].isdigit())
        if not ok:
            raise Invalid("invalid_postal_code")
    country = (row.get("country") or "US").strip().upper() or "US"
    m["address"] = {"line1": opt_text(row, "address_line1", 200),
                    "line2": opt_text(row, "address_line2", 200),
                    "city": opt_text(row, "city", 200), "state": state,
                    "postalCode": pc, "country": country}
    rel = row.get("relationship")
    if rel is not None and rel not in ("self", "spouse", "child", "other"):
        raise Invalid("invalid_relationship")
    start = row.get("coverage_start")
    end = row.get("coverage_end")
    start = days_to_iso(parse_date(start, "coverage_start")) if start is not None else None
    end = days_to_iso(parse_date(end, "coverage_end")) if end is not None else None
    if start and end and end < start:
        raise Invalid("invalid_coverage")
    m["coverage"] = {"planId": opt_text(row, "plan_id", 64),
                     "groupNumber": opt_text(row, "group_number", 64),
                     "subscriberId": opt_text(row, "subscriber_id", 64),
                     "relationship": rel, "startDate": start, "endDate": end}
    statuses = {"A": "active", "I": "inactive", "T": "terminated"}
    if (row.get("status") or "").strip() not in statuses:
        raise Invalid("invalid_status")
    m["status"] = statuses[row["status"].strip()]
    return m


def message_id(rec, key_bytes, value_bytes, env):
    headers = rec.get("headers") or {}
    for h in ("id", "ce_id"):
        if headers.get(h):
            return headers[h]
    src = env.get("source") if isinstance(env, dict) else None
    if isinstance(src, dict) and isinstance(src.get("lsn"), int) and isinstance(src.get("name"), str):
        return f"{src['name']}:{src['lsn']}"
    return hashlib.sha256((key_bytes or b"") + b"\0" + (value_bytes or b"")).hexdigest()


def unwrap(v):
    if isinstance(v, dict) and "schema" in v and "payload" in v:
        return v["payload"]
    return v


def decode(rec, today):
    """Returns (message_id, outcome, detail) for one produced line."""
    key_bytes, value_bytes = as_bytes(rec.get("key")), as_bytes(rec.get("value"))
    key = rec.get("key")
    key_id = unwrap(key).get("member_id") if isinstance(unwrap(key), dict) else None
    if value_bytes is None:
        return message_id(rec, key_bytes, None, None), "tombstone", None
    try:
        value = json.loads(value_bytes)
    except ValueError:
        return message_id(rec, key_bytes, value_bytes, None), "invalid", "malformed_json"
    env = unwrap(value)
    mid = message_id(rec, key_bytes, value_bytes, env if isinstance(env, dict) else None)
    if not isinstance(env, dict):
        return mid, "invalid", "not_an_envelope"
    op = env.get("op")
    if op is None:
        return mid, "invalid", "missing_op"
    if op not in ("c", "u", "d", "r"):
        return mid, "invalid", "unsupported_op"
    src = env.get("source")
    if not isinstance(src, dict):
        return mid, "invalid", "missing_source"
    seq = src.get("lsn", src.get("ts_ms"))
    if not isinstance(seq, int):
        return mid, "invalid", "missing_source_position"
    row = env.get("after") if op != "d" else env.get("before")
    if op != "d" and row is None:
        return mid, "invalid", "missing_row"
    row_id = row.get("member_id") if isinstance(row, dict) else None
    if key_id and row_id and key_id != row_id:
        return mid, "invalid", "key_mismatch"
    member = row_id or key_id
    if op == "d":
        return mid, "change", (member, seq, None)
    try:
        return mid, "change", (member, seq, canonical(env["after"], today))
    except Invalid as e:
        return mid, "invalid", e.code


def expected_state(lines, today=None, on_change=None):
    """Replays records in order (one member's records share a partition, so their relative
    order is the pipeline's order). Returns members, invalid ids with reasons, event count.
    on_change(member, version, op, message_id, seq, content) is called for every change that
    makes a version (and an event), in order; op is created, updated or deleted and content
    None for a delete."""
    today = today if today is not None else (datetime.date.today() - EPOCH).days
    seen = set()
    members = {}  # id -> {"content", "seq", "version", "deleted"}
    invalid = {}
    events = 0
    for line in lines:
        rec = json.loads(line)
        mid, outcome, detail = decode(rec, today)
        if mid in seen:
            continue
        seen.add(mid)
        if outcome == "invalid":
            invalid[mid] = detail
            continue
        if outcome == "tombstone":
            continue
        member, seq, content = detail
        st = members.setdefault(member, {"content": None, "seq": None, "version": 0, "deleted": True})
        if st["seq"] is not None and seq <= st["seq"]:
            continue  # stale
        st["seq"] = seq
        live = not st["deleted"]
        if content is None:
            if live:
                st.update(deleted=True, version=st["version"] + 1)
                events += 1
                if on_change:
                    on_change(member, st["version"], "deleted", mid, seq, None)
        elif live and st["content"] == content:
            pass  # no-op: sequence recorded, no version, no event
        else:
            st.update(content=content, deleted=False, version=st["version"] + 1)
            events += 1
            if on_change:
                on_change(member, st["version"], "updated" if live else "created", mid, seq, content)
    return members, invalid, events


def produce_generated(p, seed, count, members):
    """Generates a change stream (`memberflow generate`), produces it to the source and
    returns its lines."""
    gen = p.cli("generate", "--seed", str(seed), "--count", str(count), "--members", str(members)).stdout
    p.cli("produce", "-", input=gen)
    return gen.splitlines()


def drain_and_check(p, lines, timeout, what="the pipeline to drain"):
    """Waits until the pipeline has processed `lines`, then holds it to check_pipeline."""
    wait_for(lambda: p.idle(len(lines)), timeout, what)
    check_pipeline(p, lines, len(lines))


def check_pipeline(p, lines, expect_records):
    """Every invariant the end-to-end and crash tests hold the pipeline to."""
    members, invalid, events = expected_state(lines)
    token = p.token("member:read")
    live = 0
    for mid, st in members.items():
        status, body = p.get(f"/member/{mid}", token)
        if st["deleted"]:
            assert status == 404, f"{mid} should be absent, got {status}"
            continue
        live += 1
        assert status == 200, f"{mid}: HTTP {status}"
        got = {k: v for k, v in body.items() if k not in ("version", "sourceSequence", "updatedAt")}
        assert got == st["content"], f"{mid} differs:\n got {got}\nwant {st['content']}"
        assert body["version"] == st["version"], f"{mid} version {body['version']} != {st['version']}"
        assert body["sourceSequence"] == st["seq"], f"{mid} sequence"
    assert live > 0

    # Every event reached the lake exactly once, in per-member order: versions per member
    # are 1..N with one event each, read in object-name and line order.
    lake = p.lake_events()
    per_member = {}
    ids = set()
    for ev in lake:
        assert ev["id"] not in ids, f"event {ev['id']} twice in the lake"
        ids.add(ev["id"])
        per_member.setdefault(ev["subject"], []).append(ev["data"]["version"])
    assert len(lake) == events, f"{len(lake)} events in the lake, expected {events}"
    for mid, versions in per_member.items():
        assert versions == list(range(1, len(versions) + 1)), f"{mid} event versions {versions}"
        assert len(versions) == members[mid]["version"]
    assert p.status().get("outbox", 0) == 0, "outbox not drained"

    # Every invalid record is in the ingest DLQ once, with its reason.
    dead = p.dlq("ingest")
    got = {}
    for d in dead:
        mid = d["attributes"]["messageId"]
        assert mid not in got, f"{mid} dead-lettered twice"
        got[mid] = d["attributes"]["reason"]
    missing = sorted(set(invalid) - set(got))[:5]
    extra = sorted(set(got) - set(invalid))[:5]
    wrong = [(m, got[m], invalid[m]) for m in set(got) & set(invalid) if got[m] != invalid[m]][:5]
    assert got == invalid, f"DLQ differs: {len(got)} vs {len(invalid)}; missing {missing}; extra {extra}; reasons {wrong}"

    # Nothing in flight, nothing failed downstream.
    s = p.status()
    assert s["source"]["records"] == expect_records and s["source"]["lag"] == 0, s
    for name in ("changes", "changes-dlq", "route", "route-dlq", "lake", "lake-dlq"):
        assert s["queues"][name] == {"visible": 0, "inFlight": 0}, (name, s)

    # And `memberflow reconcile` proves the same from what the stages recorded (issue 18).
    r = p.cli("reconcile", check=False)
    out = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert r.returncode == 0 and out, f"reconcile exit {r.returncode}: {r.stdout[-3000:]} {r.stderr[-2000:]}"
    summary = out[-1]["summary"]
    assert summary["complete"] and summary["records"] == expect_records, summary
    assert summary["outcomes"].get("applied", 0) == events, summary
    assert summary["outcomes"].get("rejected", 0) == len(invalid), summary
    return members, invalid, events


# The personal-data checks live in personal_data.py (imported last: it uses the oracle above).
from personal_data import (  # noqa: E402,F401
    assert_no_personal_data,
    PERSONAL,
    rows_of,
    values_of,
    personal_values,
    record_counts,
    leaks_in,
    files_under,
    leaks,
    canonical_personal_values)
