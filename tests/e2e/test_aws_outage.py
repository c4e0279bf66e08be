"""Faults on the AWS side: the AWS endpoint goes away for 20 seconds in the middle of a stream.

The test runs its own moto server behind a TCP proxy it controls. Taking the proxy down
refuses new connections and resets the open ones, as a stopped endpoint does, while moto
keeps its state (a stopped moto would forget every queue and object, which real AWS does
not). Records keep arriving during the outage. Every stage must back off, stay up, and
finish with the same result the oracle expects: nothing lost, nothing twice."""
import os
import subprocess
import tempfile
import time
import uuid

import pytest

from memberflow_e2e import AwsPipeline, Proxy, check_pipeline, wait_for

if not os.environ.get("MEMBERFLOW_TEST_AWS_ENDPOINT") and not os.environ.get("MEMBERFLOW_SKIP_AWS"):
    raise RuntimeError("no AWS endpoint: run scripts/test (MEMBERFLOW_SKIP_AWS=1 skips these tests)")
pytestmark = pytest.mark.skipif(not os.environ.get("MEMBERFLOW_TEST_AWS_ENDPOINT"),
                                reason="MEMBERFLOW_SKIP_AWS is set")

MOTO = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "moto-server")
OUTAGE_S = 20


def test_endpoint_gone_for_20_seconds_mid_stream():
    tag = uuid.uuid4().hex[:8]
    os.environ.update(AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret")
    with tempfile.TemporaryDirectory(prefix="memberflow-outage-") as tmp:

        moto_dir = os.path.join(tmp, "moto")
        url = subprocess.run([MOTO, "start", moto_dir], check=True, capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
        proxy = Proxy(int(url.rsplit(":", 1)[1]))
        p = AwsPipeline(tmp, tag, f"http://127.0.0.1:{proxy.port}")
        try:
            lines = p.cli("generate", "--seed", "41", "--count", "800", "--members", "80").stdout.splitlines()
            first, second = lines[:400], lines[400:]
            p.cli("produce", "-", input="\n".join(first) + "\n")
            proc = p.start("--stages", "ingest,sync,api,relay,route,lake")
            # Mid-stream: events have reached the lake, and work is still under way.
            def lake_started():
                try:
                    return len(p.lake_events()) > 0
                except Exception:  # the lake writer has not created the bucket yet
                    return False
            wait_for(lake_started, 120, "the first events in the lake")
            assert not p.idle(len(first))

            proxy.down()
            down_at = time.monotonic()
            p.cli("produce", "-", input="\n".join(second) + "\n")  # the source is local
            while time.monotonic() - down_at < OUTAGE_S:
                assert proc.poll() is None, f"run exited during the outage: {open(p.logs[-1]).read()[-3000:]}"
                time.sleep(0.5)  # the outage lasts OUTAGE_S; the process is checked meanwhile
            proxy.up()

            wait_for(lambda: p.idle(len(lines)), 240, "the pipeline to drain after the outage")
            check_pipeline(p, lines, len(lines))
            assert p.stop(proc) == 0
            log = open(p.logs[-1]).read()
            # The stages saw the outage and said so (and backed off rather than exiting).
            assert '"level":"warn"' in log or '"level":"error"' in log, log[-2000:]
        finally:
            p.stop_all()
            proxy.down() if proxy.listener else None
            subprocess.run([MOTO, "stop", moto_dir], check=False)
