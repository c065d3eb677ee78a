"""POST /jobs/{id}/cancel and POST /jobs/{id}/cleanup."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from knify_api import CREATED_JOBS, assert_error, assert_job_object, describe, sse_read, wait_for

SLEEPER = "wait\n@@sleep 300"
CANCEL_TIMEOUT = 15  # seconds a cancel may take to answer; the agent only sleeps, it is killed at once


def wait_agent_running(client, job_id):
    """The agent process is up once its first stream-json line (init) has been stored."""
    wait_for(lambda: client.cursor_events(job_id), timeout=60, message=f"first agent event of {job_id}")


def test_cancel_running_job(server, rw):
    job_id = rw.create_job({"job_type": "cursor_task", "prompt": SLEEPER})
    wait_agent_running(rw, job_id)
    stream, attached = {}, threading.Event()

    def follow():
        stream["result"] = sse_read(server.base_url, f"/jobs/{job_id}/cursor/stream",
                                    headers={"Authorization": f"Bearer {rw.key}"}, deadline_s=60,
                                    on_open=attached.set)

    follower = threading.Thread(target=follow)
    follower.start()
    assert attached.wait(10), "the SSE follower could not attach"
    started = time.monotonic()
    resp = rw.cancel(job_id, timeout=CANCEL_TIMEOUT)
    assert resp.status_code == 200, describe(resp)
    job = resp.json()
    assert_job_object(job)
    assert job["id"] == job_id
    assert job["status"] == "cancelled", job
    final = rw.wait_job(job_id, timeout=30)
    assert time.monotonic() - started < 20, "cancel took too long to stop a sleeping agent"
    assert final["status"] == "cancelled" and final["completed_at"], final
    stages = [e["stage"] for e in final["events"]]
    assert "cancelled" in stages and "completed" not in stages and "failed" not in stages, stages
    follower.join(60)
    assert "result" in stream, "the SSE follower did not end after the cancel"
    _, messages = stream["result"]
    assert messages[-1].data == {"type": "done", "status": "cancelled"}, messages[-1].data
    # Cancelling again answers the same final job.
    again = rw.cancel(job_id)
    assert again.status_code == 200 and again.json()["status"] == "cancelled", describe(again)


@pytest.mark.parametrize("moment", ["POST /jobs answered", "status running", "stage sandbox_created",
                                    "stage agent_started"])
def test_cancel_at_any_moment(rw, moment):
    """Cancel must stop a job promptly whatever it is doing: queued, getting its sandbox, starting the agent."""
    job_id = rw.create_job({"job_type": "cursor_task", "prompt": SLEEPER})
    if moment == "status running":
        rw.wait_job(job_id, until=("running",), timeout=60)
    elif moment.startswith("stage "):
        rw.wait_stage(job_id, moment.split()[1], timeout=60)
    started = time.monotonic()
    resp = rw.cancel(job_id, timeout=CANCEL_TIMEOUT)
    assert resp.status_code == 200, describe(resp)
    assert resp.json()["status"] == "cancelled", resp.json()
    job = rw.wait_job(job_id, timeout=CANCEL_TIMEOUT)
    assert job["status"] == "cancelled", job
    assert time.monotonic() - started < CANCEL_TIMEOUT


def test_cancel_finished_job_returns_final_status(rw, finished_job):
    resp = rw.post(f"/jobs/{finished_job['id']}/cancel")
    assert resp.status_code == 200, describe(resp)
    job = resp.json()
    assert_job_object(job)
    assert job["status"] == "completed"
    assert job["completed_at"] == finished_job["completed_at"]


def test_cancel_pending_job(tenant_client, admin):
    """Fill the free slots (--concurrency 4) with sleepers until one job waits `pending`, then cancel it before it
    ever runs. Slots are counted server-wide (admin sees every tenant's running jobs)."""
    client = tenant_client("queue")
    sleepers, pending = [], None

    def settled(job_id):
        job = client.job(job_id)
        if job["status"] == "pending":
            running = admin.get("/jobs", params={"status": "running", "limit": 1}).json()["pagination"]["total"]
            return "queued" if running >= 4 else None
        return "running" if client.cursor_events(job_id) else None

    try:
        for _ in range(6):
            job_id = client.create_job({"job_type": "cursor_task", "prompt": SLEEPER})
            state = wait_for(lambda: settled(job_id), timeout=60, message=f"{job_id} running or queued")
            if state == "queued":
                pending = job_id
                break
            sleepers.append(job_id)
        assert pending, "no job was ever queued pending with --concurrency 4 and four sleepers running"
        resp = client.cancel(pending)
        assert resp.status_code == 200, describe(resp)
        assert resp.json()["status"] == "cancelled", resp.json()
        job = client.wait_job(pending, timeout=10)
        assert job["status"] == "cancelled" and job["started_at"] is None, job
        stages = [e["stage"] for e in job["events"]]
        assert stages[0] == "queued" and "cancelled" in stages and "agent_started" not in stages, stages
    finally:
        stuck = []
        for job_id in sleepers:
            try:
                client.cancel(job_id, timeout=CANCEL_TIMEOUT)
            except AssertionError as error:
                stuck.append(str(error))
    assert not stuck, f"cancelling the running sleepers: {stuck}"
    for job_id in sleepers:
        assert client.wait_job(job_id, timeout=30)["status"] == "cancelled"


def test_cleanup_reference_example(rw):
    job = rw.run_job({"job_type": "claude_task", "prompt": "@@write keep.txt\nkept\n@@end"})
    assert job["status"] == "completed"
    resp = rw.post(f"/jobs/{job['id']}/cleanup")
    assert resp.status_code == 200, describe(resp)
    assert resp.json() == {"success": True, "message": "Sandbox cleaned up successfully"}
    after = rw.job(job["id"])
    assert after["status"] == "completed", "cleanup must not change a finished job's status"
    assert after["sandbox_state"] == "cleaned", after
    assert after["events"][-1]["stage"] == "sandbox_cleaned", [e["stage"] for e in after["events"]]
    # Idempotent.
    again = rw.post(f"/jobs/{job['id']}/cleanup")
    assert again.status_code == 200, describe(again)
    assert again.json() == {"success": True, "message": "already cleaned"}
    assert [e["stage"] for e in rw.job(job["id"])["events"]].count("sandbox_cleaned") == 1
    # What the job produced stays readable.
    assert rw.get(f"/jobs/{job['id']}/artifacts/keep.txt").content == b"kept\n"
    assert rw.get(f"/jobs/{job['id']}/cursor").status_code == 200


def test_cleanup_running_job_cancels_it_first(rw):
    job_id = rw.create_job({"job_type": "gemini_task", "prompt": SLEEPER})
    wait_agent_running(rw, job_id)
    resp = rw.post(f"/jobs/{job_id}/cleanup", timeout=CANCEL_TIMEOUT)
    assert resp.status_code == 200, describe(resp)
    assert resp.json() == {"success": True, "message": "Sandbox cleaned up successfully"}
    job = rw.wait_job(job_id, timeout=30)
    assert job["status"] == "cancelled", job
    assert job["sandbox_state"] == "cleaned", job
    stages = [e["stage"] for e in job["events"]]
    assert stages.index("cancelled") < stages.index("sandbox_cleaned"), stages


def test_cancel_and_cleanup_of_unknown_or_foreign_job(other, finished_job):
    assert_error(other.post(f"/jobs/{finished_job['id']}/cancel"), 404, "NOT_FOUND")
    assert_error(other.post(f"/jobs/{finished_job['id']}/cleanup"), 404, "NOT_FOUND")


def test_cleanup_of_jobs_sharing_a_sandbox(rw):
    """A continued job shares its parent's sandbox; cleaning both up (at the same time) succeeds for both."""
    parent = rw.run_job({"job_type": "cursor_task", "prompt": "@@run true"})
    resp = rw.post(f"/jobs/{parent['id']}/continue", json={"spec": {"job_type": "cursor_task", "prompt": "@@run true"}})
    assert resp.status_code == 200, describe(resp)
    CREATED_JOBS.append(resp.json()["job_id"])
    child = rw.wait_job(resp.json()["job_id"])
    assert child["sandbox_id"] == parent["sandbox_id"]
    with ThreadPoolExecutor(max_workers=2) as pool:
        replies = list(pool.map(lambda job_id: rw.post(f"/jobs/{job_id}/cleanup"), [parent["id"], child["id"]]))
    for reply in replies:
        assert reply.status_code == 200, describe(reply)
        assert reply.json()["success"] is True
    assert {r.json()["message"] for r in replies} <= {"Sandbox cleaned up successfully", "already cleaned"}
    assert rw.job(parent["id"])["sandbox_state"] == rw.job(child["id"])["sandbox_state"] == "cleaned"
