"""Start-up failures and shutdown: a process that cannot start exits with the error instead of
hanging, and SIGTERM ends a process within run.shutdown_timeout_ms even while a stage is
blocked in a dependency that does not answer, with nothing lost.

Deadlines here separate "exits" from "hangs" (the bug these tests guard against was a join
that never returned), so they are wide: a slow machine exits in seconds, a hang never does."""
import json
import os
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from memberflow_e2e import (AwsPipeline, Pipeline, PgServer, Proxy, check_pipeline, free_port,
                            pg_pipeline, wait_for)

MOTO = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "moto-server")
EXIT_S = 60  # a process that fails to start must be gone well within this


def run_to_exit(p, *args):
    """Starts `run` with args and waits for it to exit on its own; returns (code, output)."""
    proc = p.spawn(*args)
    try:
        proc.wait(timeout=EXIT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"run {' '.join(args)} hung instead of exiting: {open(p.logs[-1]).read()[-2000:]}")
    return proc.returncode, open(p.logs[-1]).read()


def test_relay_with_an_unreachable_postgres_exits_with_the_error():
    with tempfile.TemporaryDirectory(prefix="memberflow-start-") as tmp:
        os.environ["MEMBERFLOW_SECRET_PG_PASSWORD"] = "unused"
        p = Pipeline(tmp, adapters={"member_store": "postgres"},
                     postgres={"conninfo": f"host=127.0.0.1 port={free_port()} dbname=memberflow user=memberflow "
                                           "connect_timeout=5",
                               "password_secret": "pg-password"})
        code, out = run_to_exit(p, "--stages", "ingest,route,relay")
        assert code != 0
        assert "postgres" in out.lower(), out[-2000:]
        assert "stage started" not in out, "a stage ran although the process could not start"


def test_lake_with_an_unwritable_object_store_exits_with_the_error():
    with tempfile.TemporaryDirectory(prefix="memberflow-start-") as tmp:
        p = Pipeline(tmp)
        os.makedirs(os.path.join(tmp, "var"))
        with open(os.path.join(tmp, "var", "objects"), "w") as f:
            f.write("a file where the object store's directory belongs\n")
        code, out = run_to_exit(p, "--stages", "relay,route,lake")
        assert code != 0
        assert "object store" in out, out[-2000:]
        assert "stage started" not in out


def test_sync_with_an_external_issuer_but_no_token_url_exits_with_the_error():
    with tempfile.TemporaryDirectory(prefix="memberflow-start-") as tmp:
        jwks = os.path.join(tmp, "jwks.json")
        with open(jwks, "w") as f:
            json.dump({"keys": []}, f)
        p = Pipeline(tmp, auth={"jwks_file": jwks, "issuer": "https://issuer.example", "audience": "memberflow"})
        code, out = run_to_exit(p, "--stages", "ingest,sync")
        assert code == 2  # a configuration error
        assert "auth.token_url" in out, out[-2000:]
        assert "stage started" not in out


def stop_within(p, proc, seconds):
    """SIGTERM, then the time it took to exit (fails if it did not within `seconds`)."""
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError(f"still running {seconds}s after SIGTERM: {open(p.logs[-1]).read()[-2000:]}")
    return time.monotonic() - started


def test_sigterm_while_kafka_is_unreachable():
    """ingest polling a broker that is not there stops at once, cleanly."""
    with tempfile.TemporaryDirectory(prefix="memberflow-stop-") as tmp:
        p = Pipeline(tmp, adapters={"source": "kafka"},
                     kafka={"bootstrap_servers": f"127.0.0.1:{free_port()}"}, run={"shutdown_timeout_ms": 5000})
        proc = p.spawn("--stages", "ingest")
        wait_for(lambda: '"stage started"' in open(p.logs[-1]).read() or proc.poll() is not None, 60,
                 "ingest to start")
        assert proc.poll() is None, open(p.logs[-1]).read()[-2000:]
        stop_within(p, proc, 5 + EXIT_S)
        assert proc.returncode == 0, open(p.logs[-1]).read()[-2000:]
        assert '"stage stopped"' in open(p.logs[-1]).read()


@pytest.mark.skipif(not os.environ.get("MEMBERFLOW_TEST_POSTGRES") and os.environ.get("MEMBERFLOW_SKIP_POSTGRES"),
                    reason="MEMBERFLOW_SKIP_POSTGRES is set")
def test_sigterm_while_postgres_is_down_loses_nothing():
    """The member store's database stops mid-stream; the process is stopped during the outage and
    started again once the database is back: the result is exact."""
    with tempfile.TemporaryDirectory(prefix="memberflow-stop-") as tmp:
        server = PgServer(tmp)
        try:
            p = pg_pipeline(tmp, server, server.schema(), postgres={"migrate_on_start": 1},
                            run={"shutdown_timeout_ms": 5000})
            lines = p.cli("generate", "--seed", "43", "--count", "600", "--members", "60").stdout.splitlines()
            p.cli("produce", "-", input="\n".join(lines) + "\n")
            proc = p.start()
            wait_for(lambda: len(p.lake_events()) > 0, 120, "the first events in the lake")
            server.stop()
            # While the database is down the API answers 503 and sync, relay and the API wait on it.
            wait_for(lambda: not p.ready(), 60, "the API to notice the outage")
            stop_within(p, proc, 5 + EXIT_S)
            server.start()
            proc = p.start()
            wait_for(lambda: p.idle(len(lines)), 240, "the pipeline to drain after the outage")
            check_pipeline(p, lines, len(lines))
            assert p.stop(proc) == 0
        finally:
            p.stop_all()
            server.remove()


@pytest.mark.skipif(not os.environ.get("MEMBERFLOW_TEST_AWS_ENDPOINT"), reason="no AWS endpoint (MEMBERFLOW_SKIP_AWS)")
def test_sigterm_while_the_aws_endpoint_hangs_exits_at_the_deadline_and_loses_nothing():
    """Every AWS call hangs (the endpoint accepts and never answers): the stages are blocked in
    requests with a 10 s timeout and retries. SIGTERM must end the process at the shutdown
    deadline (here 3 s), not when the calls give up. Started again against a working endpoint,
    the pipeline finishes with the exact result."""
    tag = uuid.uuid4().hex[:8]
    os.environ.update(AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret")
    with tempfile.TemporaryDirectory(prefix="memberflow-stop-") as tmp:
        moto_dir = os.path.join(tmp, "moto")
        url = subprocess.run([MOTO, "start", moto_dir], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        proxy = Proxy(int(url.rsplit(":", 1)[1]))
        p = AwsPipeline(tmp, tag, f"http://127.0.0.1:{proxy.port}", run={"shutdown_timeout_ms": 3000})
        try:
            lines = p.cli("generate", "--seed", "47", "--count", "600", "--members", "60").stdout.splitlines()
            first, second = lines[:300], lines[300:]
            p.cli("produce", "-", input="\n".join(first) + "\n")
            proc = p.start("--stages", "ingest,sync,api,relay,route,lake")

            def lake_started():
                try:
                    return len(p.lake_events()) > 0
                except Exception:  # the bucket is not there yet
                    return False
            wait_for(lake_started, 120, "the first events in the lake")
            p.cli("produce", "-", input="\n".join(second) + "\n")  # work for every stage
            proxy.hold()
            held_at = time.monotonic()
            # Long enough for every stage to be inside a call that will not return.
            wait_for(lambda: time.monotonic() - held_at > 2, 10, "the stages to block")
            took = stop_within(p, proc, EXIT_S)
            log = open(p.logs[-1]).read()
            assert proc.returncode == 1, log[-2000:]
            assert "shutdown deadline passed" in log, log[-2000:]
            assert took >= 2.5, f"exited after {took:.1f}s: before the deadline, so nothing was blocked"
            proxy.release()
            proc = p.start("--stages", "ingest,sync,api,relay,route,lake")
            wait_for(lambda: p.idle(len(lines)), 240, "the pipeline to drain after the restart")
            check_pipeline(p, lines, len(lines))
            assert p.stop(proc) == 0
        finally:
            p.stop_all()
            proxy.release()
            proxy.down() if proxy.listener else None
            subprocess.run([MOTO, "stop", moto_dir], check=False)
