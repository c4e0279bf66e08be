"""The API's OCI image (scripts/build-image) of the binary under test, built into a temporary
directory: a valid layout whose configuration runs as a non-root user and whose layer has every
file owned by root and nothing writable by that user but /tmp; then the image runs, with podman
(--read-only, --user 10001, a tmpfs /tmp) when containers can run here, else from its unpacked
layer (the entrypoint with its paths moved into that directory, as uid 10001), and answers
/healthz and an authenticated GET within a deadline, and stops on SIGTERM with exit code 0.

Containers in this sandbox: crun refuses the hybrid cgroup layout (a controller on the cgroup v2
hierarchy next to v1), and root lacks CAP_SYS_RESOURCE, so podman's default rlimits (nofile
1048576) cannot be set: the test runs podman with runc and with --ulimit values within the
current hard limits. MEMBERFLOW_IMAGE_TEST_NO_PODMAN=1 takes the unpacked-layer path."""
import json
import os
import shutil
import stat
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request

import pytest

from memberflow_e2e import BIN, free_port, wait_for

REPO = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
BUILD_IMAGE = os.path.join(REPO, "scripts", "build-image")
BUILD_DIR = os.path.dirname(os.path.abspath(BIN))
RUNTIME_UID = 10001
START_S = 60


def build(out):
    r = subprocess.run([BUILD_IMAGE, BUILD_DIR, "--out", out], capture_output=True, text=True,
                       timeout=300)
    print(r.stdout + r.stderr)
    assert r.returncode == 0, f"build-image failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout + r.stderr


def blob(layout, digest):
    algo, hexdigest = digest.split(":")
    return os.path.join(layout, "blobs", algo, hexdigest)


def read_layout(layout):
    with open(os.path.join(layout, "oci-layout")) as f:
        assert json.load(f) == {"imageLayoutVersion": "1.0.0"}
    with open(os.path.join(layout, "index.json")) as f:
        index = json.load(f)
    [entry] = index["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "api"
    with open(blob(layout, entry["digest"])) as f:
        manifest = json.load(f)
    with open(blob(layout, manifest["config"]["digest"])) as f:
        config = json.load(f)
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.oci.image.layer.v1.tar+gzip"
    assert os.path.getsize(blob(layout, layer["digest"])) == layer["size"]
    return config, blob(layout, layer["digest"])


def has_health_command():
    out = subprocess.run([BIN, "--help"], capture_output=True, text=True, check=True).stdout
    return any(line.strip().startswith("health ") for line in out.splitlines())


def http_get(url, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}),
                                    timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return None, b""


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    layout = str(tmp_path_factory.mktemp("image") / "layout")
    output = build(layout)
    assert "compressed layer" in output and "unpacked root filesystem" in output
    config, layer = read_layout(layout)
    return layout, config, layer


def test_the_configuration_runs_api_as_a_non_root_user(image):
    _, config, _ = image
    c = config["config"]
    user, group = c["User"].split(":")
    assert int(user) == RUNTIME_UID and int(group) == RUNTIME_UID
    assert c["Entrypoint"][:3] == ["/opt/memberflow/lib/ld-linux-x86-64.so.2", "--library-path",
                                   "/opt/memberflow/lib"]
    assert c["Entrypoint"][3] == "/opt/memberflow/bin/memberflow"
    assert c["Cmd"] == ["api"]
    assert c["ExposedPorts"] == {"8080/tcp": {}}
    assert c["Labels"]["org.opencontainers.image.title"] == "memberflow-api"
    assert config["os"] == "linux" and config["architecture"] == "amd64"
    if has_health_command():
        test = c["Healthcheck"]["Test"]
        assert test[0] == "CMD" and test[1:5] == c["Entrypoint"][:4] and test[-1] == "health"
    else:
        # No probe in the binary and no shell or curl in the image: ECS's task-definition
        # healthCheck and the load balancer's /healthz probe are the health checks.
        print("note: memberflow has no `health` command, so the image has no Healthcheck")
        assert "Healthcheck" not in c


def test_the_layer_is_owned_by_root_and_read_only_for_the_runtime_user(image):
    _, config, layer = image
    with tarfile.open(layer) as tar:
        members = tar.getmembers()
    names = {m.name.rstrip("/") for m in members}
    for required in ["opt/memberflow/bin/memberflow", "opt/memberflow/lib/ld-linux-x86-64.so.2",
                     "opt/memberflow/lib/libc.so.6", "etc/passwd", "etc/group",
                     "etc/ssl/certs/ca-certificates.crt", "etc/memberflow/memberflow.toml", "tmp"]:
        assert required in names, required
    for m in members:
        assert (m.uid, m.gid) == (0, 0), f"{m.name} is owned by {m.uid}:{m.gid}"
        assert m.isdir() or m.isfile(), f"{m.name}: only files and directories are expected"
        assert not m.mode & (stat.S_ISUID | stat.S_ISGID), f"{m.name} is setuid/setgid"
        if m.name.rstrip("/") == "tmp":
            assert m.isdir() and m.mode == 0o1777
        else:
            # Owner root, group root: uid 10001 (group 10001) could only write through "other".
            assert not m.mode & stat.S_IWOTH, f"{m.name} is writable by others ({oct(m.mode)})"
            assert not m.mode & stat.S_IWGRP, f"{m.name} is writable by its group ({oct(m.mode)})"
    with tarfile.open(layer) as tar:
        passwd = tar.extractfile("etc/passwd").read().decode()
    assert f"memberflow:x:{RUNTIME_UID}:{RUNTIME_UID}:" in passwd
    assert config["rootfs"]["diff_ids"][0].startswith("sha256:")


class Podman:
    """podman with its own storage in a temporary directory, runc as the runtime."""

    def __init__(self, tmp):  # podman refuses a runroot path longer than 50 characters
        self.base = ["podman", "--root", os.path.join(tmp, "root"), "--runroot",
                     os.path.join(tmp, "run"), "--storage-driver", "vfs", "--events-backend", "file"]
        self.runtime = ["--runtime", "runc"] if shutil.which("runc") else []

    def __call__(self, *args, check=True, timeout=120):
        r = subprocess.run(self.base + list(args), capture_output=True, text=True, timeout=timeout)
        if check:
            assert r.returncode == 0, f"podman {' '.join(args)}: {r.stderr}"
        return r


def check_api(port, get_token):
    """/healthz answers 200 within the deadline; then a token (the API has made its signing key
    by then) reads a member that is not there: 404 from the opened store, not 401."""
    status, body = wait_for(lambda: (lambda r: r if r[0] == 200 else None)(
        http_get(f"http://127.0.0.1:{port}/healthz")), START_S, "/healthz to answer 200")
    assert json.loads(body)["status"] == "ok"
    status, body = http_get(f"http://127.0.0.1:{port}/member/M0000001",
                            {"Authorization": f"Bearer {get_token()}"})
    assert status == 404, (status, body)
    assert json.loads(body)["type"] == "urn:memberflow:problem:member-not-found"


def run_with_podman(layout, config, tmp):
    pm = Podman(tmp)
    r = pm("pull", "-q", f"oci:{layout}:api", check=False)
    if r.returncode != 0 or not r.stdout.strip():
        return f"podman pull failed: {r.stderr.strip()[-500:]}"
    image_id = r.stdout.strip().splitlines()[-1]
    port = free_port()
    nofile = min(int(subprocess.run(["sh", "-c", "ulimit -Hn"], capture_output=True,
                                    text=True).stdout), 65536)
    r = pm("run", "-d", "--name", "memberflow-api-test", *pm.runtime, "--read-only",
           "--user", f"{RUNTIME_UID}:{RUNTIME_UID}", "--tmpfs", "/tmp:rw,mode=1777",
           "--network", "host", "--ulimit", f"nofile={nofile}:{nofile}",
           "--ulimit", "nproc=4096:4096", "-e", f"MEMBERFLOW_API_PORT={port}",
           "-e", "MEMBERFLOW_API_LISTEN=127.0.0.1", image_id, check=False)
    if r.returncode != 0:
        return f"podman run failed: {r.stderr.strip()}"
    try:
        check_api(port, lambda: pm("exec", "-e", f"MEMBERFLOW_API_PORT={port}",
                                   "memberflow-api-test", *config["config"]["Entrypoint"],
                                   "token", "--scope", "member:read").stdout.strip())
        inspect = json.loads(pm("inspect", "memberflow-api-test").stdout)[0]
        assert inspect["Config"]["User"] == f"{RUNTIME_UID}:{RUNTIME_UID}"
        assert inspect["HostConfig"]["ReadonlyRootfs"] is True
        pm("stop", "-t", "30", "memberflow-api-test", timeout=60)
        state = json.loads(pm("inspect", "memberflow-api-test").stdout)[0]["State"]
        r = pm("logs", "memberflow-api-test")
        logs = r.stdout + r.stderr
        assert state["ExitCode"] == 0, f"exit {state['ExitCode']} after SIGTERM: {logs[-2000:]}"
        assert "api listening" in logs
    finally:
        pm("rm", "-f", "memberflow-api-test", check=False)
    print("ran the image with podman: read-only root, user 10001, tmpfs /tmp")
    return None


def run_unpacked(config, layer, tmp):
    root = os.path.join(tmp, "rootfs")
    with tarfile.open(layer) as tar:
        tar.extractall(root, filter="fully_trusted" if hasattr(tarfile, "data_filter") else None)
    data = os.path.join(tmp, "data")
    os.makedirs(data)
    entry = list(config["config"]["Entrypoint"])
    # Absolute paths of the image, moved into the unpacked root filesystem.
    moved = [root + a if a.startswith("/") else a for a in entry]
    env = {"PATH": "/usr/bin:/bin", "MEMBERFLOW_STORAGE_DATA_DIR": data,
           "MEMBERFLOW_API_LISTEN": "127.0.0.1", "MEMBERFLOW_API_PORT": str(free_port())}
    for kv in config["config"].get("Env", []):
        k, v = kv.split("=", 1)
        env[k] = root + v if v.startswith("/") else v
    as_user = []
    if os.getuid() == 0 and shutil.which("setpriv"):
        os.chown(data, RUNTIME_UID, RUNTIME_UID)
        as_user = ["setpriv", f"--reuid={RUNTIME_UID}", f"--regid={RUNTIME_UID}", "--clear-groups"]
    os.makedirs(tmp, exist_ok=True)
    log = open(os.path.join(tmp, "api.log"), "w+")
    proc = subprocess.Popen(as_user + moved + config["config"]["Cmd"], env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        def token():
            r = subprocess.run(as_user + moved + ["token", "--scope", "member:read"], env=env,
                               capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, r.stderr
            return r.stdout.strip()

        try:
            check_api(env["MEMBERFLOW_API_PORT"], token)
        except AssertionError as e:
            log.seek(0)
            raise AssertionError(f"{e}; the API's log: {log.read()[-2000:]}") from None
    finally:
        proc.terminate()
        code = proc.wait(timeout=60)
    log.seek(0)
    assert code == 0, f"exit {code} after SIGTERM: {log.read()[-2000:]}"
    print("ran the image's entrypoint from its unpacked layer" + (" as uid 10001" if as_user else ""))


def test_the_image_serves_healthz(image):
    layout, config, layer = image
    # Short paths (podman's runroot) that uid 10001 can traverse (pytest's tmp_path is 0700).
    tmp = tempfile.mkdtemp(prefix="mf-image-", dir="/tmp")
    os.chmod(tmp, 0o755)
    try:
        why = "MEMBERFLOW_IMAGE_TEST_NO_PODMAN is set"
        if not os.environ.get("MEMBERFLOW_IMAGE_TEST_NO_PODMAN"):
            why = "podman is not installed" if not shutil.which("podman") else \
                run_with_podman(layout, config, os.path.join(tmp, "p"))
        if why:
            print(f"containers cannot run here ({why}): running the unpacked layer instead")
            run_unpacked(config, layer, os.path.join(tmp, "u"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
