"""End to end with Apache Kafka as the source (a real broker on loopback, started by
scripts/test): the generated stream is produced to a Kafka topic and the pipeline consumes it
in a consumer group. Then the same with two ingest processes in one group, one of them killed
mid-stream (a rebalance), and with the broker restarted mid-stream."""
import os
import signal
import subprocess
import tempfile
import time
import uuid

import pytest

from memberflow_e2e import Pipeline, check_pipeline, wait_for

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BROKER = os.environ.get("MEMBERFLOW_TEST_KAFKA")
if not BROKER and not os.environ.get("MEMBERFLOW_SKIP_KAFKA"):
    raise RuntimeError("no Kafka broker: run scripts/test, or export MEMBERFLOW_TEST_KAFKA "
                       "(MEMBERFLOW_SKIP_KAFKA=1 skips these tests)")
pytestmark = pytest.mark.skipif(not BROKER, reason="MEMBERFLOW_SKIP_KAFKA is set")


def lag_below(p, n):
    try:
        return p.status()["source"]["lag"] < n
    except AssertionError:
        return False  # the broker cannot answer yet


def kafka_pipeline(tmp, broker):
    topic = "members-" + uuid.uuid4().hex[:10]
    return Pipeline(tmp, adapters={"source": "kafka"}, kafka={"bootstrap_servers": broker},
                    source={"topic": topic, "consumer_group": topic + "-ingest"},
                    ingest={"max_batch": 200, "poll_wait_ms": 100})


def test_kafka_source_end_to_end_with_a_rebalance():
    with tempfile.TemporaryDirectory(prefix="memberflow-kafka-") as tmp:
        p = kafka_pipeline(tmp, BROKER)
        try:
            gen = p.cli("generate", "--seed", "21", "--count", "4000", "--members", "300").stdout
            lines = gen.splitlines()
            half = len(lines) // 2
            p.cli("produce", "-", input="\n".join(lines[:half]) + "\n")
            # One process for the API, sync and the fan-out; two ingest processes share the group.
            main = p.start("--stages", "sync,api,relay,route,lake")
            a = p.spawn("--stages", "ingest")
            b = p.spawn("--stages", "ingest")
            wait_for(lambda: lag_below(p, half), 60, "ingest to start consuming")
            a.send_signal(signal.SIGKILL)  # its partitions move to b after the session timeout
            a.wait()
            p.cli("produce", "-", input="\n".join(lines[half:]) + "\n")
            wait_for(lambda: p.idle(len(lines)), 180, "the pipeline to drain after the rebalance")
            check_pipeline(p, lines, len(lines))
            for proc in (b, main):
                assert p.stop(proc) == 0
        finally:
            p.stop_all()


def test_broker_restart_mid_stream():
    with tempfile.TemporaryDirectory(prefix="memberflow-kafka-restart-") as tmp:
        kdir = os.path.join(tmp, "kafka")
        broker = subprocess.run([os.path.join(ROOT, "scripts", "kafka-server"), "start", kdir],
                                capture_output=True, text=True, check=True).stdout.strip()
        os.makedirs(os.path.join(tmp, "p"))
        p = kafka_pipeline(os.path.join(tmp, "p"), broker)
        try:
            gen = p.cli("generate", "--seed", "22", "--count", "3000", "--members", "200").stdout
            lines = gen.splitlines()
            p.cli("produce", "-", input=gen)
            run = p.start()
            wait_for(lambda: lag_below(p, len(lines) - 200), 60, "ingest to start")
            subprocess.run([os.path.join(ROOT, "scripts", "kafka-server"), "restart", kdir],
                           capture_output=True, text=True, check=True)
            wait_for(lambda: p.idle(len(lines)), 180, "the pipeline to recover and drain")
            check_pipeline(p, lines, len(lines))
            assert p.stop(run) == 0
        finally:
            p.stop_all()
            subprocess.run([os.path.join(ROOT, "scripts", "kafka-server"), "stop", kdir])
