"""The chaos suite: real `knify serve` processes on an engine of the suite's own, broken on purpose.

Each test ends with the same audit: every job in a final state with a reason, every container of the node backed by
a live sandbox record, every live record backed by a container, and after cleanup nothing of the node left on the
engine. Kill points are random (CHAOS_SEED repeats a run); the seed is printed.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from knify_api import TERMINAL, Client, assert_error, describe, file_entry, tar_gz, upload_workspace, wait_for
from knify_server import KnifyServer, sandbox_cli

AGENTS = ("cursor_task", "claude_task", "gemini_task")
SANDBOX_LABEL = "io.knify.sandbox"


def seeded(test: str) -> random.Random:
    seed = int(os.environ.get("CHAOS_SEED") or time.time_ns() % 1_000_000)
    print(f"{test}: CHAOS_SEED={seed}")
    return random.Random(seed)


class ChaosServer(KnifyServer):
    """A server that can be killed with SIGKILL and started again on the same port, data and node id."""

    def __init__(self, engine, label: str, concurrency: int = 4, **kwargs):
        super().__init__(docker_host_url=engine.url, label=label, concurrency=concurrency, **kwargs)
        self.engine = engine
        key = self.create_key("chaos", ["jobs:read", "jobs:write", "admin"], tier="enterprise", rate_limit=100_000_000)
        self.client = Client(self.base_url, key["api_key"], name=label)

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        return sandbox_cli(*args, "--data-dir", str(self.data_dir), "--node-id", self.node_id,
                           "--docker-host", self.engine.url)

    def live_records(self) -> list[dict]:
        return json.loads(self.cli("ls", "--json").stdout)

    def containers(self) -> dict[str, dict]:
        """The node's containers on the engine, by the sandbox id on their label."""
        return {c["Labels"].get(SANDBOX_LABEL, ""): c for c in self.engine.containers(self.node_id)}


def spec(index: int, seconds: float = 0, extra: str = "") -> dict:
    prompt = f"chaos job {index}" + (f"\n@@sleep {seconds:.1f}" if seconds else "") + extra
    return {"job_type": AGENTS[index % len(AGENTS)], "prompt": prompt}


def assert_final(job: dict) -> None:
    """A final state with a reason: failed and cancelled jobs say why, completed ones when."""
    assert job["status"] in TERMINAL, f"job {job['id']} is {job['status']}, not final: {json.dumps(job)[:800]}"
    assert job["completed_at"], f"final job {job['id']} has no completed_at"
    if job["status"] == "failed":
        assert job["error"] and job["error_code"], f"failed job {job['id']} gives no reason: {json.dumps(job)[:800]}"


def final_jobs(client: Client, ids: list[str], timeout: float) -> list[dict]:
    """Waits (deadline, polling) until every job is final; returns them."""
    pending = set(ids)
    jobs: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for job_id in list(pending):
            job = client.job(job_id)
            if job["status"] in TERMINAL:
                jobs[job_id] = job
                pending.discard(job_id)
        if pending:
            time.sleep(0.25)
    assert not pending, f"{len(pending)} jobs not final after {timeout} s: " + ", ".join(
        f"{i} {client.job(i)['status']}" for i in sorted(pending)[:10])
    return [jobs[i] for i in ids]


def audit_offline(server: ChaosServer) -> None:
    """With the server stopped: a reconcile with no grace finds no container without a record (removing none),
    and afterwards the live records and the node's containers are the same set."""
    report = json.loads(server.cli("reconcile", "--grace", "0", "--json").stdout)
    assert report["removed_orphans"] == [], f"containers without a live record: {report}"
    records = {r["id"] for r in server.live_records()}
    containers = set(server.containers())
    assert records == containers, f"records without container: {records - containers}; " \
                                  f"containers without record: {containers - records}"


def clean_up_everything(server: ChaosServer, ids: list[str]) -> None:
    """Cleans every job up through the API; then nothing of the node may be left on the engine."""
    for job_id in ids:
        resp = server.client.post(f"/jobs/{job_id}/cleanup")
        assert resp.status_code in (200, 409), describe(resp)
    wait_for(lambda: not server.containers(), timeout=60, message="every container removed after cleanup")
    assert server.live_records() == []
    assert server.engine.volumes(server.node_id) == []


@pytest.fixture
def make_server(engine):
    made: list[ChaosServer] = []

    def make(label: str, **kwargs) -> ChaosServer:
        server = ChaosServer(engine, label, **kwargs)
        made.append(server)
        return server.start()

    yield make
    for server in made:
        server.stop()
        if engine.answers():
            for container in engine.containers(server.node_id):
                engine.call("DELETE", f"/containers/{container['Id']}?force=true&v=true")
        server.remove_files()


def test_kill_9_at_random_points_during_20_jobs(make_server, scale):
    rng = seeded("kill-9")
    server = make_server("kill9", concurrency=4)
    ids = [server.client.create_job(spec(i, rng.uniform(1.0, 4.0))) for i in range(20)]
    kills = 0
    for _ in range(scale.kill_rounds):
        if all(server.client.job(i)["status"] in TERMINAL for i in ids):
            break
        time.sleep(rng.uniform(0.2, 2.5))  # the kill point: random on purpose, not a synchronisation
        server.kill9()
        kills += 1
        # While the server is dead: the record comes before the container and goes after it, so no container of
        # the node can be without a live record, whatever instant the kill hit.
        live = {r["id"] for r in server.live_records()}
        orphans = set(server.containers()) - live
        assert not orphans, f"after kill {kills}: containers without a live record: {orphans}"
        server.start()
    assert kills >= 1, "the jobs finished before the first kill point; nothing was tested"
    jobs = final_jobs(server.client, ids, timeout=240)
    for job in jobs:
        assert_final(job)
    statuses = {s: sum(j["status"] == s for j in jobs) for s in TERMINAL}
    print(f"kill-9: {kills} kills; final states {statuses}")
    # A crash ends what ran then ("orchestrator restarted"); what was queued runs after the restart.
    assert statuses["completed"] >= 1
    server.stop()
    audit_offline(server)
    server.start()
    clean_up_everything(server, ids)


def test_engine_stops_and_restarts_mid_job(make_server, engine):
    server = make_server("engine-restart", concurrency=4)
    client = server.client
    affected = [client.create_job(spec(i, 120)) for i in range(3)]
    for job_id in affected:
        client.wait_stage(job_id, "agent_started", timeout=60)
    engine.stop()
    try:
        # The API stays up while the engine is away: reads answer, new work gets a clear error or waits.
        assert client.get("/").status_code == 200
        for job_id in affected:
            assert client.job(job_id)["status"] in ("running", "failed")
        jobs = final_jobs(client, affected, timeout=90)
        for job in jobs:
            assert_final(job)
            assert job["status"] == "failed" and job["error_code"] == "SANDBOX_ERROR", json.dumps(job)[:800]
        resp = client.post("/jobs", json={"spec": spec(9)})
        if resp.status_code != 200:
            assert_error(resp, 503, "SANDBOX_UNAVAILABLE")
            refused = None
        else:
            refused = resp.json()["job_id"]
    finally:
        engine.start()
    # A job submitted while the engine was down ends with a reason too (it waited, or it failed).
    if refused:
        assert_final(final_jobs(client, [refused], timeout=120)[0])
    after = [client.create_job(spec(i)) for i in range(3)]
    for job in final_jobs(client, after, timeout=120):
        assert job["status"] == "completed", json.dumps(job)[:800]
    server.stop()
    audit_offline(server)
    server.start()
    clean_up_everything(server, affected + after + ([refused] if refused else []))


def test_burst_of_jobs_with_a_small_concurrency_limit(make_server, scale):
    server = make_server("burst", concurrency=scale.burst_concurrency)
    client = server.client
    replies: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def submit(index: int) -> None:
        session = requests.Session()
        resp = session.post(client.base_url + "/jobs", json={"spec": spec(index)}, headers=client.headers(),
                            timeout=60)
        with lock:
            replies.append((resp.status_code, resp.json()))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(submit, range(scale.burst_jobs)))
    accepted = [body["job_id"] for status, body in replies if status == 200]
    for status, body in replies:
        if status != 200:  # refused work must say so in the envelope, not vanish
            assert status in (429, 503) and set(body) == {"error", "detail", "code"}, (status, body)
    assert len(accepted) == len(set(accepted)), "a job id was handed out twice"

    # While they run: clean finished jobs up as they come, as a user would, so paused sandboxes do not pile up.
    cleaned: set[str] = set()
    deadline = time.monotonic() + 30 + scale.burst_jobs * 4 / scale.burst_concurrency
    while True:
        unfinished = sum(client.get("/jobs", params={"status": s, "limit": 1}).json()["pagination"]["total"]
                         for s in ("pending", "running"))
        for status in ("completed", "failed"):
            page = client.get("/jobs", params={"status": status, "limit": 100}).json()["data"]
            for job in page:
                if job["id"] not in cleaned and job.get("sandbox_state") in ("active", "paused"):
                    resp = client.post(f"/jobs/{job['id']}/cleanup")
                    assert resp.status_code in (200, 409), describe(resp)
                    cleaned.add(job["id"])
        if unfinished == 0:
            break
        assert time.monotonic() < deadline, f"{unfinished} jobs still unfinished"
        time.sleep(1)

    listed = client.get("/jobs", params={"limit": 1}).json()["pagination"]["total"]
    assert listed == len(accepted), f"{len(accepted)} accepted, {listed} in the store"
    jobs = final_jobs(client, accepted, timeout=60)
    for job in jobs:
        assert_final(job)
    statuses = {s: sum(j["status"] == s for j in jobs) for s in TERMINAL}
    print(f"burst: {len(replies)} submitted, {len(accepted)} accepted; final states {statuses}")
    assert statuses["completed"] == len(accepted), "a burst job failed with the engine healthy"
    clean_up_everything(server, accepted)


def test_full_data_disk_gives_clear_errors_and_no_corrupt_store(make_server, engine, tmp_path):
    server = ChaosServer(engine, "disk-full")
    data = server.data_dir
    # A 24 MiB tmpfs as the whole data directory: store, workspaces and artifacts.
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(data)], check=True)
    filler = data / "filler"
    try:
        key = server.create_key("disk", ["jobs:read", "jobs:write", "admin"], tier="enterprise",
                                rate_limit=100_000_000)
        server.client = Client(server.base_url, key["api_key"], name="disk")
        server.start()
        client = server.client
        before = client.create_job(spec(0))
        assert client.wait_job(before, timeout=60)["status"] == "completed"
        running = client.create_job(spec(1, 1))
        client.wait_stage(running, "agent_started", timeout=60)

        log_offset = server.log_size()
        fill(filler)
        resp = client.post("/jobs", json={"spec": spec(2)})
        body = assert_error(resp, 507, "STORAGE_FULL")
        assert "full" in body["detail"], body
        workspace = upload_workspace(client, "full", tar_gz([file_entry("a.txt", b"x" * 4096)]))
        assert_error(workspace, 507, "STORAGE_FULL")
        assert client.get("/").status_code == 200
        assert client.job(before)["status"] == "completed"  # reads still answer

        # The job that was running ends while the disk is full: its final state cannot be written yet.
        wait_for(lambda: "could not record the end of a job" in server.log_since(log_offset, max_lines=10_000),
                 timeout=60, message="the running job's end refused by the full disk")
        assert client.job(running)["status"] == "running"
        filler.unlink()
        # Once there is room again it ends, with a reason: nothing is lost.
        ended = final_jobs(client, [running], timeout=60)[0]
        assert_final(ended)
        print(f"disk-full: the job running when the disk filled ended {ended['status']}: {ended['error']}")
        # Killed while the disk is full and a job runs: the server starts again all the same and answers; the job it
        # finds stranded `running` ends "orchestrator restarted" once there is room.
        stranded = client.create_job(spec(4, 30))
        client.wait_stage(stranded, "agent_started", timeout=60)
        fill(filler)
        server.kill9()
        server.start()
        assert client.get("/").status_code == 200
        assert client.job(stranded)["status"] == "running"
        filler.unlink()
        ended = final_jobs(client, [stranded], timeout=60)[0]
        assert_final(ended)
        assert ended["error"] == "orchestrator restarted", ended
        after = client.create_job(spec(3))
        assert client.wait_job(after, timeout=60)["status"] == "completed"
        server.stop()
        db = sqlite3.connect(data / "knify.sqlite")
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            db.close()
        server.start()
        assert {client.job(i)["status"] for i in (before, after)} == {"completed"}
        clean_up_everything(server, [before, running, stranded, after])
    finally:
        server.stop()
        if engine.answers():
            for container in engine.containers(server.node_id):
                engine.call("DELETE", f"/containers/{container['Id']}?force=true&v=true")
        if subprocess.call(["umount", str(data)]) != 0:
            subprocess.call(["umount", "-l", str(data)])
        server.remove_files()


def fill(path: Path) -> None:
    """Writes until the file system refuses (ENOSPC), down to the last block."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 20, 4096):
            while True:
                try:
                    os.write(fd, b"\0" * size)
                except OSError:
                    break
    finally:
        os.close(fd)
