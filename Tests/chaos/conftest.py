"""The chaos suite's fixtures: a Docker engine of its own, so that stopping it mid-job hurts no other suite, and the
scale the suite runs at — CHAOS_SCALE=bounded inside `make test`, full for `make chaos`."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "blackbox"))

from knify_server import bin_dir  # noqa: E402

# Short on purpose: containerd's sockets live under the exec-root, and a socket path must fit in 108 bytes. One per
# checkout (a digest of its path), so two checkouts on one machine can run the suite at the same time.
RUN_DIR = Path("/run/knify-chaos-" + hashlib.sha256(str(ROOT).encode()).hexdigest()[:8])
STATE_DIR = Path(os.environ.get("STATE_DIR", ROOT / ".knify")).resolve() / "chaos"


@dataclass(frozen=True)
class Scale:
    name: str
    kill_rounds: int      # kill -9 points during the 20 jobs
    burst_jobs: int       # jobs submitted at once
    burst_concurrency: int


SCALES = {
    "bounded": Scale("bounded", kill_rounds=3, burst_jobs=100, burst_concurrency=2),
    "full": Scale("full", kill_rounds=10, burst_jobs=1000, burst_concurrency=4),
}


@pytest.fixture(scope="session")
def scale() -> Scale:
    name = os.environ.get("CHAOS_SCALE", "bounded")
    assert name in SCALES, f"CHAOS_SCALE must be one of {sorted(SCALES)}, not {name!r}"
    return SCALES[name]


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


class Engine:
    """One dockerd with its own data-root, exec-root, socket and pidfile (no bridge, no iptables), started, stopped
    and restarted by the tests."""

    def __init__(self):
        self.socket = RUN_DIR / "docker.sock"
        self.url = f"unix://{self.socket}"
        self.proc: subprocess.Popen | None = None
        self.log_path = STATE_DIR / "dockerd.log"

    def call(self, method: str, path: str, timeout: float = 30):
        """One Engine API call → (status, parsed JSON or None)."""
        conn = _UnixConnection(str(self.socket), timeout)
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            body = resp.read()
            try:
                return resp.status, json.loads(body) if body else None
            except json.JSONDecodeError:
                return resp.status, None
        finally:
            conn.close()

    def answers(self) -> bool:
        try:
            return self.call("GET", "/_ping", timeout=2)[0] == 200
        except OSError:
            return False

    def start(self) -> None:
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        RUN_DIR.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            ["dockerd", "--host", self.url, "--data-root", str(STATE_DIR / "docker"), "--exec-root",
             str(RUN_DIR / "exec"), "--pidfile", str(RUN_DIR / "dockerd.pid"), "--bridge=none", "--iptables=false",
             "--ip-masq=false"], stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.answers():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the chaos engine did not answer; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM, as `systemctl stop docker` would: the engine stops its containers and exits."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    def containers(self, node: str) -> list[dict]:
        label = urllib.parse.quote(json.dumps({"label": [f"io.knify.node={node}"]}))
        status, body = self.call("GET", f"/containers/json?all=true&filters={label}")
        assert status == 200, f"listing containers: {status} {body}"
        return body

    def volumes(self, node: str) -> list[dict]:
        label = urllib.parse.quote(json.dumps({"label": [f"io.knify.node={node}"]}))
        status, body = self.call("GET", f"/volumes?filters={label}")
        assert status == 200, f"listing volumes: {status} {body}"
        return body.get("Volumes") or []

    def sweep(self) -> None:
        status, body = self.call("GET", "/containers/json?all=true")
        for container in body or []:
            self.call("DELETE", f"/containers/{container['Id']}?force=true&v=true")


def _unmount_below(*roots: Path) -> None:
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for mount in sorted((m for m in mounts if any(m.startswith(str(r)) for r in roots)), reverse=True):
        if subprocess.call(["umount", mount], stderr=subprocess.DEVNULL) != 0:
            subprocess.call(["umount", "-l", mount])


@pytest.fixture(scope="session")
def engine():
    """The chaos engine, with the offline sandbox image loaded through Knify's own client."""
    engine = Engine()
    engine.start()
    try:
        subprocess.run([str(bin_dir() / "knify-sandbox"), "image", "build"], cwd=ROOT, check=True,
                       env={**os.environ, "DOCKER_HOST": engine.url}, capture_output=True, timeout=300)
        yield engine
    finally:
        if engine.answers():
            engine.sweep()
        engine.stop()
        subprocess.call(["pkill", "-9", "-f", f"containerd --config {RUN_DIR}/exec"], stderr=subprocess.DEVNULL)
        _unmount_below(RUN_DIR, STATE_DIR)
        shutil.rmtree(RUN_DIR, ignore_errors=True)
