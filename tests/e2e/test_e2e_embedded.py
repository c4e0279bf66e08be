"""End to end, embedded: generate a stream with every kind of bad and duplicate record,
produce it, run all stages, and check every member through the API against the oracle."""
import json
import os
import subprocess
import tempfile

import pytest

from memberflow_e2e import BIN, Pipeline, assert_no_personal_data, check_pipeline, expected_state, wait_for


@pytest.fixture
def pipeline():
    with tempfile.TemporaryDirectory(prefix="memberflow-e2e-") as tmp:
        p = Pipeline(tmp)
        yield p
        p.stop_all()


def test_generated_stream_end_to_end(pipeline):
    p = pipeline
    gen = p.cli("generate", "--seed", "7", "--count", "6000", "--members", "400").stdout
    lines = gen.splitlines()
    assert len(lines) >= 6000
    members, invalid, events = expected_state(lines)
    kinds = {reason for reason in invalid.values()}
    # The stream really holds the bad input this test is about.
    assert {"malformed_json", "invalid_email", "invalid_birth_date", "invalid_gender",
            "missing_field", "not_an_envelope", "unsupported_op", "invalid_postal_code",
            "key_mismatch"} <= kinds, kinds
    assert any('"value":null' in l for l in lines), "no tombstones generated"
    assert len(set(lines)) < len(lines), "no duplicates generated"

    p.cli("produce", "-", input=gen)
    run = p.start()
    wait_for(lambda: p.idle(len(lines)), 120, "the pipeline to drain")
    check_pipeline(p, lines, len(lines))

    # Same seed, same stream; producing it again changes nothing (all duplicates).
    again = p.cli("generate", "--seed", "7", "--count", "6000", "--members", "400").stdout
    assert again == gen
    p.cli("produce", "-", input=again)
    wait_for(lambda: p.idle(2 * len(lines)), 120, "the replay to drain")
    check_pipeline(p, lines, 2 * len(lines))

    # Replaying the raw archive: every record is a duplicate for the ledger.
    out = json.loads(p.cli("replay").stdout)
    assert out["selected"] == 2 * len(lines), out  # every record produced, both times
    assert out["enqueued"] == 0 and out["duplicates"] == out["selected"], out

    assert p.stop(run) == 0  # graceful on SIGTERM

    # With the ledger gone (as after its TTL), a replay really re-drives the changes; the
    # API's idempotency keys and the sequence guard keep every member and every event as is.
    for suffix in ("", "-wal", "-shm"):
        path = os.path.join(p.dir, "var", "ledger.db" + suffix)
        if os.path.exists(path):
            os.remove(path)
    out = json.loads(p.cli("replay", "--since", "2000-01-01").stdout)
    assert out["enqueued"] > 0, out
    run = p.start()
    wait_for(lambda: p.idle(2 * len(lines)), 120, "the replay through the API to drain")
    check_pipeline(p, lines, 2 * len(lines))
    assert p.stop(run) == 0

    # Logs are JSON lines and carry no member content: none of the generated names, birth
    # dates, e-mail addresses, street lines or phone numbers appear.
    text = "".join(open(f).read() for f in p.logs)
    for line in text.splitlines():
        assert line.startswith("{"), line
    assert_no_personal_data(text, lines)


def test_dlq_redrive_keeps_what_is_still_invalid(pipeline):
    p = pipeline
    gen = p.cli("generate", "--seed", "3", "--count", "500", "--members", "50",
                "--invalid", "0.2").stdout
    p.cli("produce", "-", input=gen)
    p.cli("run", "--until-idle")
    before = p.dlq("ingest")
    assert before
    out = p.cli("dlq", "redrive", "--queue", "ingest").stdout
    assert '"redriven":0' in out and f'"kept":{len(before)}' in out, out
    assert len(p.dlq("ingest")) == len(before)


def test_several_sync_consumers_keep_every_change_and_per_member_order():
    """sync.consumers > 1: four receive loops share the changes queue. Few members with many
    changes each, so the loops contend for the same members all the time; the oracle (every
    member's content, version and sequence, every event once and in per-member order) holds."""
    with tempfile.TemporaryDirectory(prefix="memberflow-e2e-") as tmp:
        p = Pipeline(tmp, sync={"consumers": 4, "visibility_ms": 15000, "timeout_ms": 5000})
        try:
            gen = p.cli("generate", "--seed", "11", "--count", "4000", "--members", "60").stdout
            lines = gen.splitlines()
            p.cli("produce", "-", input=gen)
            p.start()
            wait_for(lambda: p.idle(len(lines)), 180, "the pipeline to drain")
            check_pipeline(p, lines, len(lines))
            log = open(p.logs[-1]).read()
            assert "one sync consumer" not in log, "the four loops did not run"
            started = [l for l in log.splitlines() if '"stage started"' in l and '"sync"' in l]
            assert len(started) == 4, f"{len(started)} sync loops started"
        finally:
            p.stop_all()


def test_run_on_api_port_zero_syncs_to_the_port_its_api_took():
    """api.port = 0 (any free port) with the API and sync in one `run`: sync calls the port the
    server took, so the run drains; before, sync called port 0 and retried for ever."""
    with tempfile.TemporaryDirectory(prefix="memberflow-e2e-") as tmp:
        p = Pipeline(tmp, api={"port": 0})
        gen = p.cli("generate", "--seed", "5", "--count", "300", "--members", "40", "--invalid", "0",
                    "--duplicates", "0", "--stale", "0", "--tombstones", "0").stdout
        p.cli("produce", "-", input=gen)
        r = subprocess.run([BIN, "--config", p.config, "run", "--stages", "ingest,sync,api",
                            "--until-idle"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        assert "token_unavailable" not in r.stderr
        status = json.loads(p.cli("status").stdout)
        assert status["source"]["lag"] == 0 and status["source"]["records"] == 300, status
        assert status["queues"]["changes"] == {"visible": 0, "inFlight": 0}, status
        assert status["queues"]["changes-dlq"]["visible"] == 0, status
