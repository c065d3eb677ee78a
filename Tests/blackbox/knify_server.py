"""Starts and stops a real `knify serve` for the black-box suite, creates API keys through `knify-sandbox api-key`
and Knaps clients through `knify-sandbox client`, and removes whatever sandboxes the server left on the engine.

Used by conftest.py (pytest fixtures) and by run.sh (`python knify_server.py exec -- CMD…` runs CMD against a fresh
server with KNIFY_BB_URL, KNIFY_BB_ADMIN_KEY and the rest `_exec_main` lists in its environment).

Nothing here builds anything: the binaries must already be in KNIFY_BIN_DIR (default .build/debug).
"""

from __future__ import annotations

import http.client
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import requests

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"
UPLOAD_CAP_MB = 8  # --max-upload-mb of every server this suite starts


def bin_dir() -> Path:
    path = Path(os.environ.get("KNIFY_BIN_DIR", ".build/debug"))
    return path if path.is_absolute() else REPO_ROOT / path


def docker_host() -> str:
    return os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class CLIError(AssertionError):
    pass


def sandbox_cli(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Runs `knify-sandbox ARGS…` from the repository root."""
    cmd = [str(bin_dir() / "knify-sandbox"), *args]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise CLIError(f"{' '.join(cmd)} exited {proc.returncode}\nstdout: {proc.stdout}\nstderr: {proc.stderr}")
    return proc


def create_key(data_dir: str | Path, name: str, scopes: list[str], workspace: str | None = None,
               tier: str | None = None, rate_limit: int | None = None, test: bool = False) -> dict:
    """`knify-sandbox api-key create … --json` → its JSON object (api_key, key_id, …)."""
    args = ["api-key", "create", "--data-dir", str(data_dir), "--name", name, "--scopes", ",".join(scopes)]
    if workspace is not None:
        args += ["--workspace", workspace]
    if tier is not None:
        args += ["--tier", tier]
    if rate_limit is not None:
        args += ["--rate-limit", str(rate_limit)]
    if test:
        args.append("--test")
    args.append("--json")
    proc = sandbox_cli(*args)
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as error:
        raise CLIError(f"api-key create printed no JSON object: {proc.stdout!r} ({error})") from None


def revoke_key(data_dir: str | Path, key_id: str) -> subprocess.CompletedProcess:
    return sandbox_cli("api-key", "revoke", key_id, "--data-dir", str(data_dir), check=False)


def list_keys(data_dir: str | Path) -> list:
    return json.loads(sandbox_cli("api-key", "list", "--data-dir", str(data_dir), "--json").stdout)


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 30):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.unix_path)


def engine_call(method: str, path: str, timeout: float = 30):
    """One Docker Engine API call over DOCKER_HOST's socket → (status, parsed JSON or None)."""
    socket_path = urllib.parse.urlparse(docker_host()).path
    conn = UnixHTTPConnection(socket_path, timeout=timeout)
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


def sweep_engine(node_id: str) -> int:
    """Force-removes the containers and volumes labelled io.knify.node=<node_id>; returns how many containers."""
    removed = 0
    label = urllib.parse.quote(json.dumps({"label": [f"io.knify.node={node_id}"]}))
    try:
        status, containers = engine_call("GET", f"/containers/json?all=true&filters={label}")
        for container in (containers or []) if status == 200 else []:
            engine_call("DELETE", f"/containers/{container['Id']}?force=true&v=true")
            removed += 1
        status, volumes = engine_call("GET", f"/volumes?filters={label}")
        for volume in ((volumes or {}).get("Volumes") or []) if status == 200 else []:
            engine_call("DELETE", f"/volumes/{urllib.parse.quote(volume['Name'])}?force=true")
    except OSError as error:  # no engine: nothing of ours can be there
        print(f"[blackbox] engine sweep skipped: {error}", file=sys.stderr)
    return removed


class KnifyServer:
    """One `knify serve` process on a free loopback port with its own data directory and node id."""

    def __init__(self, *, docker_host_url: str | None = None, extra_args: list[str] | None = None,
                 env: dict | None = None, concurrency: int = 4, sse_keepalive: int = 1, label: str = "main",
                 knaps_rate_limit: int | None = None, scheduler_interval: int = 0):
        self.label = label
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"knify-bb-{label}-"))
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}.stderr.log"
        self.node_id = f"bb-{label}-{secrets.token_hex(4)}"
        self.docker_host = docker_host_url or docker_host()
        self.args = [
            str(bin_dir() / "knify"), "serve",
            "--host", "127.0.0.1", "--port", str(self.port),
            "--data-dir", str(self.data_dir),
            "--docker-host", self.docker_host,
            "--policies", str(REPO_ROOT / "Policies"),
            "--sse-keepalive", str(sse_keepalive),
            "--concurrency", str(concurrency),
            # A node id of its own: this server's reconciler never touches another Knify's sandboxes, and ours
            # can be swept by label afterwards.
            "--node-id", self.node_id,
            # A small upload cap keeps the 413 test cheap (test_workspaces uploads just over it).
            "--max-upload-mb", str(UPLOAD_CAP_MB),
            # Teardown cleans every job up before SIGTERM; nothing needs the default 30 s grace.
            "--shutdown-grace", "5",
            # No knap scheduler unless a test wants one (scheduler_interval seconds): a scheduled knap a test makes
            # must not start runs of its own in the middle of another test.
            "--scheduler-interval", str(scheduler_interval),
            *(["--knaps-rate-limit", str(knaps_rate_limit)] if knaps_rate_limit is not None else []),
            *(extra_args or []),
        ]
        self.env = {**os.environ, "KNIFY_LOG_LEVEL": os.environ.get("KNIFY_LOG_LEVEL", "info"), **(env or {})}
        self.proc: subprocess.Popen | None = None
        self._log = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self, ready_timeout: float = 90) -> "KnifyServer":
        binary = Path(self.args[0])
        if not binary.exists():
            raise RuntimeError(f"{binary} does not exist: build Knify first (KNIFY_BIN_DIR={bin_dir()})")
        # A restart (kill -9 and start again, the chaos suite) keeps the earlier log.
        self._log = open(self.log_path, "ab" if self.proc is not None else "wb")
        self.proc = subprocess.Popen(self.args, cwd=REPO_ROOT, env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        last_error = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"knify serve ({self.label}) exited with {self.proc.returncode} before it was "
                                   f"ready:\n{self.log_tail()}")
            try:
                if requests.get(self.base_url + "/", timeout=2).status_code == 200:
                    return self
            except requests.RequestException as error:
                last_error = error
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"knify serve ({self.label}) did not answer GET / within {ready_timeout} s "
                           f"({last_error}):\n{self.log_tail()}")

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None
        return self.proc.returncode

    def remove_files(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        try:
            self.log_path.unlink()
        except FileNotFoundError:
            pass

    # -- logs ------------------------------------------------------------------------------------------------
    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_since(self, offset: int, max_lines: int = 80) -> str:
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(offset)
                text = handle.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""
        lines = text.splitlines()
        if len(lines) > max_lines:
            lines = [f"… {len(lines) - max_lines} earlier lines …"] + lines[-max_lines:]
        return "\n".join(lines)

    def log_tail(self, max_lines: int = 60) -> str:
        return self.log_since(0, max_lines)

    # -- keys ------------------------------------------------------------------------------------------------
    def create_key(self, name: str, scopes: list[str], **kwargs) -> dict:
        return create_key(self.data_dir, name, scopes, **kwargs)

    def create_client(self, name: str, user: str, **kwargs) -> dict:
        """A Knaps API client (`knify-sandbox client create`) of this server's store."""
        return create_client(self.data_dir, name, user, **kwargs)


def _seed_job(base_url: str, key: str) -> str:
    """One finished job with artifacts, so generated requests can reach real data (KNIFY_BB_JOB_ID)."""
    headers = {"Authorization": f"Bearer {key}"}
    spec = {"job_type": "cursor_task", "prompt": "seed\n@@write hello.txt\nhi\n@@end\n@@write data.json\n{\"a\": 1}\n@@end"}
    resp = requests.post(base_url + "/jobs", json={"spec": spec}, headers=headers, timeout=30)
    resp.raise_for_status()
    job_id = resp.json()["job_id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if requests.get(f"{base_url}/jobs/{job_id}", headers=headers, timeout=30).json()["status"] in (
                "completed", "failed", "cancelled"):
            break
        time.sleep(0.1)
    return job_id


def _exec_main(argv: list[str]) -> int:
    """`knify_server.py exec -- CMD…`: CMD runs with KNIFY_BB_URL, KNIFY_BB_ADMIN_KEY and KNIFY_BB_JOB_ID (a
    finished job) of a fresh server, and KNIFY_BB_KNAPS_TOKEN / KNIFY_BB_KNAP_UUID (a Knaps access token of an org
    admin's client, and a knap it owns)."""
    if "--" in argv:
        argv = argv[argv.index("--") + 1:]
    if not argv:
        print("usage: knify_server.py exec -- COMMAND [ARGS…]", file=sys.stderr)
        return 64
    # Schemathesis sends far more than 100 Knaps requests a minute with one token: no 429 may interfere.
    server = KnifyServer(label="exec", knaps_rate_limit=10_000_000)
    try:
        server.start()
    except RuntimeError as error:
        print(f"[blackbox] {error}", file=sys.stderr)
        server.remove_files()
        return 1
    ok = False
    try:
        admin = server.create_key("exec-admin", ["jobs:read", "jobs:write", "admin"], tier="enterprise",
                                  rate_limit=10_000_000)
        env = {**os.environ, "KNIFY_BB_URL": server.base_url, "KNIFY_BB_ADMIN_KEY": admin["api_key"],
               "KNIFY_BB_JOB_ID": _seed_job(server.base_url, admin["api_key"]),
               **_seed_knaps(server)}
        rc = subprocess.call(argv, env=env)
        ok = rc == 0
        return rc
    finally:
        server.stop()
        sweep_engine(server.node_id)
        if ok:
            server.remove_files()
        else:
            print(f"[blackbox] knify serve stderr (last lines), full log {server.log_path}:\n{server.log_tail()}",
                  file=sys.stderr)


# -- Knaps API ----------------------------------------------------------------------------------------------------
def create_client(data_dir: str | Path, name: str, user: str, org: str | None = None,
                  org_admin: bool = False) -> dict:
    """`knify-sandbox client create … --json` → its JSON object (client_id, client_secret, name, user_id, org,
    org_admin, created_at, revoked_at)."""
    args = ["client", "create", "--data-dir", str(data_dir), "--name", name, "--user", user]
    if org is not None:
        args += ["--org", org]
    if org_admin:
        args.append("--org-admin")
    args.append("--json")
    proc = sandbox_cli(*args)
    try:
        return json.loads(proc.stdout)
    except json.JSONDecodeError as error:
        raise CLIError(f"client create printed no JSON object: {proc.stdout!r} ({error})") from None


def list_clients(data_dir: str | Path) -> list:
    return json.loads(sandbox_cli("client", "list", "--data-dir", str(data_dir), "--json").stdout)


def revoke_client(data_dir: str | Path, client_id: str) -> subprocess.CompletedProcess:
    return sandbox_cli("client", "revoke", client_id, "--data-dir", str(data_dir), check=False)


def knaps_token(base_url: str, client: dict) -> dict:
    """The client-credentials grant (form-encoded) for a client made by `create_client` → the token reply."""
    resp = requests.post(base_url + "/api/oauth/token", timeout=30,
                         data={"grant_type": "client_credentials", "client_id": client["client_id"],
                               "client_secret": client["client_secret"]})
    if resp.status_code != 200:
        raise AssertionError(f"POST /api/oauth/token → {resp.status_code} {resp.text[:500]}")
    return resp.json()


def _seed_knaps(server: KnifyServer) -> dict:
    """An org admin's client, its access token and one knap it owns, so generated Knaps requests reach a real knap
    (KNIFY_BB_KNAPS_TOKEN, KNIFY_BB_KNAP_UUID)."""
    client = server.create_client("exec-knaps", "exec-user", org="exec-org", org_admin=True)
    token = knaps_token(server.base_url, client)["access_token"]
    resp = requests.post(server.base_url + "/api/studio/knap-tools", timeout=30,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"name": "Schemathesis seed", "visibility": "exec-org", "timezone": "Europe/Berlin",
                               "tool_metadata": {"action_description": "Summarise the week",
                                                 "schedule_description": "every Monday at 9am",
                                                 "tool_types": ["files"]}})
    if resp.status_code != 201:
        raise AssertionError(f"POST /api/studio/knap-tools → {resp.status_code} {resp.text[:500]}")
    return {"KNIFY_BB_KNAPS_TOKEN": token, "KNIFY_BB_KNAP_UUID": resp.json()["uuid"]}


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "exec":
        sys.exit(_exec_main(sys.argv[2:]))
    print("usage: knify_server.py exec -- COMMAND [ARGS…]", file=sys.stderr)
    sys.exit(64)
