"""SIGTERM on `knify serve`: running jobs get the grace, then end `cancelled` with a reason (their streams get `done`);
queued jobs stay queued and run at the next start. No job is left `running`."""

import signal
import sqlite3
import threading

from conftest import track_server
from knify_api import Client, describe, sse_read, wait_for
from knify_server import KnifyServer, sweep_engine


def _replace_arg(args: list, flag: str, value: str) -> None:
    args[args.index(flag) + 1] = value


def test_sigterm_finishes_running_jobs_and_keeps_queued_ones():
    first = track_server(KnifyServer(label="shutdown", concurrency=1, extra_args=["--shutdown-grace", "1"]))
    first.start()
    key = first.create_key("shutdown", ["jobs:read", "jobs:write"], tier="enterprise", rate_limit=100_000)["api_key"]
    client = Client(first.base_url, key)
    running = client.post("/jobs", json={"spec": {"job_type": "claude_task", "prompt": "wait\n@@sleep 300"}}).json()["job_id"]
    queued = client.post("/jobs", json={"spec": {"job_type": "gemini_task", "prompt": "after the restart"}}).json()["job_id"]
    wait_for(lambda: "agent_started" in [e["stage"] for e in client.get(f"/jobs/{running}/events").json()["events"]],
             timeout=60, message="the first job's agent to start")

    streamed = {}
    opened = threading.Event()

    def follow():
        _, streamed["messages"] = sse_read(first.base_url, f"/jobs/{running}/cursor/stream",
                                           headers={"Authorization": f"Bearer {key}"}, on_open=opened.set)

    reader = threading.Thread(target=follow)
    reader.start()
    assert opened.wait(timeout=30), "the stream did not open"

    first.proc.send_signal(signal.SIGTERM)
    assert first.proc.wait(timeout=60) == 0, first.log_tail()
    reader.join(timeout=30)

    with sqlite3.connect(first.data_dir / "knify.sqlite") as db:
        rows = dict(db.execute("SELECT id, status FROM jobs").fetchall())
        reason = db.execute("SELECT error FROM jobs WHERE id = ?", (running,)).fetchone()[0]
    assert rows[running] == "cancelled" and reason == "server shutting down", (rows, reason)
    assert rows[queued] == "pending", rows
    last = (streamed.get("messages") or [None])[-1]
    assert last is not None and last.data == {"type": "done", "status": "cancelled"}, streamed

    # The next start (same data and node) runs the queued job.
    second = track_server(KnifyServer(label="shutdown-2", concurrency=1))
    _replace_arg(second.args, "--data-dir", str(first.data_dir))
    _replace_arg(second.args, "--node-id", first.node_id)
    second.data_dir = first.data_dir
    second.node_id = first.node_id
    second.start()
    try:
        client = Client(second.base_url, key)
        wait_for(lambda: client.get(f"/jobs/{queued}").json()["status"] == "completed", timeout=90,
                 message="the queued job to run after the restart")
        assert client.get(f"/jobs/{running}").json()["status"] == "cancelled"
        for job_id in (running, queued):
            resp = client.post(f"/jobs/{job_id}/cleanup")
            assert resp.status_code == 200, describe(resp)
    finally:
        second.stop()
        sweep_engine(first.node_id)
