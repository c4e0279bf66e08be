"""Faults on the AWS side: the AWS endpoint goes away for 20 seconds in the middle of a stream.

The test runs its own moto server behind a TCP proxy it controls. Taking the proxy down
refuses new connections and resets the open ones, as a stopped endpoint does, while moto
keeps its state (a stopped moto would forget every queue and object, which real AWS does
not). Records keep arriving during the outage. Every stage must back off, stay up, and
finish with the same result the oracle expects: nothing lost, nothing twice."""
import os
import socket
import subprocess
import tempfile
import threading
import time
import uuid

import pytest

from memberflow_e2e import AwsPipeline, check_pipeline, free_port, wait_for

if not os.environ.get("MEMBERFLOW_TEST_AWS_ENDPOINT") and not os.environ.get("MEMBERFLOW_SKIP_AWS"):
    raise RuntimeError("no AWS endpoint: run scripts/test (MEMBERFLOW_SKIP_AWS=1 skips these tests)")
pytestmark = pytest.mark.skipif(not os.environ.get("MEMBERFLOW_TEST_AWS_ENDPOINT"),
                                reason="MEMBERFLOW_SKIP_AWS is set")

MOTO = os.path.join(os.path.dirname(__file__), "..", "..", "scripts", "moto-server")
OUTAGE_S = 20


class Proxy:
    """Forwards 127.0.0.1:port to the target port while up; down() refuses and resets."""

    def __init__(self, target_port):
        self.target = target_port
        self.port = free_port()
        self.lock = threading.Lock()
        self.conns = set()
        self.listener = None
        self.accepted = 0
        self.up()

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
