"""Crash test, embedded: kill -9 the `run` process at random points while a stream is being
produced, restart it each time, then hold the result to the end-to-end invariants: right
state for every member, no duplicate event, every invalid record dead-lettered once,
nothing left in flight."""
import json
import random
import signal
import tempfile
import time

from memberflow_e2e import Pipeline, Receiver, check_pipeline, wait_for


def test_kill_nine_at_random_points():
    rng = random.Random(20261124)
    with tempfile.TemporaryDirectory(prefix="memberflow-crash-") as tmp:
        # Small batches make more crash points between archive, ledger, enqueue and commit.
        hook = Receiver()
        rules = {"targets": [{"name": "crm", "type": "webhook", "url": f"http://127.0.0.1:{hook.port}/crm"}],
                 "rules": [{"name": "updates", "targets": ["crm"], "inputPath": "$.detail",
                            "pattern": {"detail-type": ["member.updated"]}}]}
        with open(f"{tmp}/rules.json", "w") as f:
            json.dump(rules, f)
        p = Pipeline(tmp, ingest={"max_batch": 50}, sync={"max_batch": 20},
                     bus={"rules_file": f"{tmp}/rules.json"})
        try:
            gen = p.cli("generate", "--seed", "11", "--count", "8000", "--members", "300").stdout
            lines = gen.splitlines()
            chunks = [lines[i:i + 1000] for i in range(0, len(lines), 1000)]
            produced = 0
            kills = 0
            run = p.start()
            for chunk in chunks:
                p.cli("produce", "-", input="\n".join(chunk) + "\n")
                produced += len(chunk)
                # Let it work a random while, then kill it without warning.
                time.sleep(rng.uniform(0.05, 0.6))  # a random crash point, not a wait
                run.send_signal(signal.SIGKILL)
                run.wait()
                kills += 1
                run = p.start()
            assert kills >= 5
            wait_for(lambda: p.idle(produced), 180, "the pipeline to drain after the crashes")
            check_pipeline(p, lines, produced)
            # At least once through the crashes: the webhook saw exactly the selected events.
            selected = {e["id"] for e in p.lake_events() if e["type"] == "member.updated"}
            assert selected and hook.ids("/crm") == selected
            assert p.stop(run) == 0
        finally:
            p.stop_all()
            hook.close()
