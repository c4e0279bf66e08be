"""The Lambda deployment zip (scripts/package-lambda) of the binary under test, made in a
temporary directory: scripts/check-lambda-zip passes on it (bootstrap at the root, every
library bundled, glibc's loader bundled, the unpacked bootstrap starts with an empty
environment), the same inputs give the same bytes, and a packaged config file reaches the
binary through the bootstrap."""
import hashlib
import os
import subprocess
import zipfile

from memberflow_e2e import BIN

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
PACKAGE = os.path.join(REPO, "scripts", "package-lambda")
BUILD_DIR = os.path.dirname(os.path.abspath(BIN))


def package(out, *args):
    r = subprocess.run([PACKAGE, BUILD_DIR, "--out", out, *args], capture_output=True, text=True,
                       timeout=300, env=dict(os.environ, SOURCE_DATE_EPOCH="1767225600"))
    print(r.stdout + r.stderr)
    assert r.returncode == 0, f"package-lambda failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def test_the_zip_is_checked_and_deterministic(tmp_path):
    first = str(tmp_path / "a" / "lambda.zip")
    out = package(first)  # runs scripts/check-lambda-zip
    assert "check-lambda-zip: OK" in out
    assert "condition holds: the loader (lib/ld-linux-x86-64.so.2) and glibc are bundled" in out
    with zipfile.ZipFile(first) as z:
        names = z.namelist()
        assert names == sorted(names)
        assert "bootstrap" in names and "bin/memberflow" in names
        assert "lib/ld-linux-x86-64.so.2" in names and "lib/libc.so.6" in names
        for info in z.infolist():
            assert info.date_time == (2026, 1, 1, 0, 0, 0), info.filename
        mode = z.getinfo("bootstrap").external_attr >> 16
        assert mode & 0o111 == 0o111
    second = str(tmp_path / "b" / "lambda.zip")
    package(second, "--no-check")
    assert sha256(first) == sha256(second), "two packagings of one binary differ"
    assert os.path.getsize(first) < 50 * 1024 * 1024  # Lambda's limit for a direct upload


def test_a_packaged_config_reaches_the_binary(tmp_path):
    config = tmp_path / "memberflow.toml"
    config.write_text('[source]\npartitions = 3\n')
    zip_path = str(tmp_path / "lambda.zip")
    package(zip_path, "--config", str(config), "--no-check")
    task = tmp_path / "task"
    subprocess.run(["unzip", "-q", zip_path, "-d", str(task)], check=True)
    assert (task / "etc" / "memberflow.toml").read_text() == config.read_text()
    env = {"PATH": "/usr/bin:/bin", "LAMBDA_TASK_ROOT": str(task),
           "MEMBERFLOW_STORAGE_DATA_DIR": str(tmp_path / "data")}
    help_text = subprocess.run([str(task / "bootstrap"), "--help"], env=env, capture_output=True,
                               text=True, check=True).stdout
    r = subprocess.run([str(task / "bootstrap"), "config", "check"], env=env,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    if any(line.strip().startswith("lambda ") for line in help_text.splitlines()):
        # A binary with the lambda command reads MEMBERFLOW_CONFIG, which the bootstrap sets.
        assert "3 partitions" in r.stdout, r.stdout


def test_the_unpacked_zip_runs_under_the_runtime_interface_emulator(tmp_path):
    """The zip itself, unpacked, started as AWS starts it: the emulator runs its `bootstrap` with
    the stage as the function's handler, and the function answers HTTP API events through the
    bundled loader and libraries (relay answers its schedule)."""
    import json
    import sys
    sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
    from lambda_esm import Function, api_event
    if not os.environ.get("MEMBERFLOW_LAMBDA_RIE"):
        import pytest
        pytest.skip("no runtime interface emulator (scripts/test exports MEMBERFLOW_LAMBDA_RIE)")
    zip_path = str(tmp_path / "lambda.zip")
    package(zip_path, "--no-check")
    task = tmp_path / "task"
    subprocess.run(["unzip", "-q", zip_path, "-d", str(task)], check=True)
    config = tmp_path / "memberflow.toml"
    config.write_text(f'[storage]\ndata_dir = "{tmp_path / "data"}"\n')
    env = {"LAMBDA_TASK_ROOT": str(task), "MEMBERFLOW_CONFIG": str(config)}
    api = Function(BIN, "api", str(config), env=env, tmp=str(tmp_path), command=[str(task / "bootstrap")])
    try:
        r = api.invoke(api_event("GET", "/healthz"))
        assert r.ok, (r, api.output()[-2000:])
        assert r.payload["statusCode"] == 200, r.payload
        r = api.invoke(api_event("GET", "/member/M1"))
        assert r.ok and r.payload["statusCode"] == 401, r.payload  # no token: refused, not a crash
    finally:
        api.stop()
    relay = Function(BIN, "relay", str(config), env=env, tmp=str(tmp_path), command=[str(task / "bootstrap")])
    try:
        r = relay.invoke({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}})
        assert r.ok, (r, relay.output()[-2000:])
        assert r.payload == {"published": 0, "drained": True}, r.payload
    finally:
        relay.stop()

