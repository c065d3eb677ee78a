"""Fixtures of the Knify black-box suite: one real `knify serve` for the whole session (built beforehand, never
here), API keys made with the `knify-sandbox api-key` CLI, and clients holding them.

Environment: KNIFY_BIN_DIR (default .build/debug), DOCKER_HOST (default unix:///var/run/docker.sock),
KNIFY_BB_KEEP=1 keeps the server's data directory and log even when everything passed.
"""

from __future__ import annotations

import os
import secrets
from concurrent.futures import ThreadPoolExecutor

import pytest

from knify_api import CREATED_JOBS, Client
from knify_server import KnifyServer, sweep_engine

# Servers running in this session (the main one and any a test module starts), for log excerpts on failure.
SERVERS: list[KnifyServer] = []
BIG = 1_000_000  # enterprise limit for keys that must never meet their rate limit


def track_server(server: KnifyServer) -> KnifyServer:
    SERVERS.append(server)
    return server


def _failed(session) -> bool:
    return session.testsfailed > 0 or getattr(session, "_bb_errors", False)


@pytest.fixture(scope="session")
def server(request):
    srv = track_server(KnifyServer(label="main", concurrency=4, sse_keepalive=1))
    try:
        srv.start()
    except RuntimeError as error:
        pytest.exit(f"cannot start knify serve: {error}", returncode=1)
    yield srv
    # Give every sandbox this session made back to the engine: cleanup through the API (it also cancels what
    # still runs), then a label sweep for anything left.
    admin_key = getattr(srv, "admin_key", None)
    if admin_key and CREATED_JOBS:
        admin = Client(srv.base_url, admin_key, "admin-teardown")

        def cleanup(job_id):
            try:
                admin.post(f"/jobs/{job_id}/cleanup", timeout=30)
            except Exception:  # noqa: BLE001 - best effort at teardown
                pass

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(cleanup, list(dict.fromkeys(CREATED_JOBS))))
    srv.stop()
    leftovers = sweep_engine(srv.node_id)
    if leftovers:
        print(f"\n[blackbox] removed {leftovers} leftover sandbox container(s) of node {srv.node_id}")
    if not _failed(request.session) and os.environ.get("KNIFY_BB_KEEP") != "1":
        srv.remove_files()


@pytest.fixture(scope="session")
def keys(server):
    """API keys of the main server, made with the CLI while the server runs (so they work at once)."""
    made = {
        "admin": server.create_key("bb-admin", ["jobs:read", "jobs:write", "admin"], tier="enterprise", rate_limit=BIG),
        # Default workspace ("default"): no --workspace flag.
        "rw": server.create_key("bb-rw", ["jobs:read", "jobs:write"], tier="enterprise", rate_limit=BIG),
        "ro": server.create_key("bb-read-only", ["jobs:read"], tier="pro"),
        "wo": server.create_key("bb-write-only", ["jobs:write"], tier="pro"),
        "other": server.create_key("bb-other-tenant", ["jobs:read", "jobs:write"], workspace="other-tenant",
                                   tier="enterprise", rate_limit=BIG),
        "limited": server.create_key("bb-limited", ["jobs:read", "jobs:write"], workspace="limited",
                                     tier="enterprise", rate_limit=5),
        "free": server.create_key("bb-free", ["jobs:read"], workspace="free-tier", tier="free"),
        "pro": server.create_key("bb-pro", ["jobs:read"], workspace="pro-tier", tier="pro"),
    }
    server.admin_key = made["admin"]["api_key"]
    return made


def _client(server, keys, name):
    return Client(server.base_url, keys[name]["api_key"], name)


@pytest.fixture(scope="session")
def admin(server, keys):
    return _client(server, keys, "admin")


@pytest.fixture(scope="session")
def rw(server, keys):
    """jobs:read + jobs:write in the default workspace."""
    return _client(server, keys, "rw")


@pytest.fixture(scope="session")
def ro(server, keys):
    return _client(server, keys, "ro")


@pytest.fixture(scope="session")
def wo(server, keys):
    return _client(server, keys, "wo")


@pytest.fixture(scope="session")
def other(server, keys):
    """jobs:read + jobs:write in the workspace "other-tenant"."""
    return _client(server, keys, "other")


@pytest.fixture(scope="session")
def anon(server):
    return Client(server.base_url, None, "anonymous")


@pytest.fixture(scope="session")
def tenant_client(server):
    """Makes a fresh read/write key in a workspace of its own: a tenant whose job list the test controls."""

    def make(prefix: str = "t", scopes=("jobs:read", "jobs:write")) -> Client:
        workspace = f"{prefix}-{secrets.token_hex(4)}"
        key = server.create_key(f"bb-{workspace}", list(scopes), workspace=workspace, tier="enterprise", rate_limit=BIG)
        client = Client(server.base_url, key["api_key"], workspace)
        client.workspace = workspace
        client.key_info = key
        return client

    return make


FINISHED_PROMPT = """Write a Python script
@@write fibonacci.py
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)
@@end
@@write src/util/helper.py
VALUE = 42
@@end
@@write result.json
{"status": "success", "data": {"answer": 42}}
@@end
@@write report.md
# Analysis Report

All good.
@@end
@@run printf '\\000\\001\\002\\377' > blob.bin
@@run echo done-marker
"""
FINISHED_FILES = {"fibonacci.py", "src/util/helper.py", "result.json", "report.md", "blob.bin"}


@pytest.fixture(scope="session")
def finished_job(rw):
    """A completed cursor_task of the default workspace whose turn wrote text, JSON, nested and binary files."""
    spec = {"job_type": "cursor_task", "prompt": FINISHED_PROMPT, "model": "sonnet-4.5"}
    job = rw.run_job(spec)
    assert job["status"] == "completed", job
    return job


# -- reporting ---------------------------------------------------------------------------------------------------
def pytest_runtest_setup(item):
    item.stash[_MARKS] = {id(s): s.log_size() for s in SERVERS}


_MARKS = pytest.StashKey[dict]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        if call.when != "call":
            item.session._bb_errors = True
        marks = item.stash.get(_MARKS, {})
        for srv in SERVERS:
            text = srv.log_since(marks.get(id(srv), 0), max_lines=60)
            if text:
                report.sections.append((f"knify serve ({srv.label}) log during this test", text))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not (terminalreporter.stats.get("failed") or terminalreporter.stats.get("error")):
        return
    for srv in SERVERS:
        terminalreporter.section(f"knify serve ({srv.label}) stderr tail — full log {srv.log_path}, data {srv.data_dir}")
        terminalreporter.write_line(srv.log_tail(40))
