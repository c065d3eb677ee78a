"""POST /jobs/{id}/continue: same sandbox, same agent session; 400 / 409 cases."""

import json
import secrets

import pytest

from knify_api import CREATED_JOBS, JOB_ID, assert_error, assert_in_order, assert_job_object, describe, wait_for


def continue_job(client, parent_id, spec):
    resp = client.post(f"/jobs/{parent_id}/continue", json={"spec": spec})
    if resp.status_code == 200:
        CREATED_JOBS.append(resp.json()["job_id"])
    return resp


@pytest.mark.parametrize("job_type", ["cursor_task", "claude_task", "gemini_task"])
def test_continue_reference_example(rw, job_type):
    marker = secrets.token_hex(5)
    parent = rw.run_job({"job_type": job_type, "prompt": f"Write notes\n@@write notes.txt\n{marker}\n@@end"})
    assert parent["status"] == "completed", parent
    # Reference request body, plus a directive that reads the parent's file.
    resp = continue_job(rw, parent["id"], {"job_type": job_type,
                                           "prompt": "Now add tests for the code you wrote\n@@run cat notes.txt"})
    assert resp.status_code == 200, describe(resp)
    body = resp.json()
    assert set(body) == {"job_id", "status", "parent_job_id", "sandbox_id", "cursor_session_id"}, body
    assert JOB_ID.match(body["job_id"]) and body["job_id"] != parent["id"]
    assert body["status"] in ("running", "pending")
    assert body["parent_job_id"] == parent["id"]
    assert body["sandbox_id"] == parent["sandbox_id"]
    assert body["cursor_session_id"] == parent["cursor_session_id"] and body["cursor_session_id"]

    child = rw.wait_job(body["job_id"])
    assert_job_object(child)
    assert child["status"] == "completed", child
    assert child["parent_job_id"] == parent["id"]
    assert child["sandbox_id"] == parent["sandbox_id"]
    assert child["cursor_session_id"] == parent["cursor_session_id"]
    assert child["spec"]["job_type"] == job_type
    stages = [e["stage"] for e in child["events"]]
    assert_in_order(stages, ["queued", "sandbox_reused", "agent_started", "artifacts_collected", "sandbox_paused",
                             "completed"])
    assert "sandbox_created" not in stages, stages
    events = rw.cursor_events(child["id"])
    # The agent resumed its own session: it remembers the previous prompt …
    messages = " ".join(e.get("message") or "" for e in events if e["type"] == "agent_message")
    assert "Resuming session" in messages and "Write notes" in messages, messages
    # … and the workspace is the parent's.
    assert marker in json.dumps([e for e in events if e["type"] == "tool_result"]), events
    # notes.txt was not changed by this turn: not an artifact of the child.
    assert "notes.txt" not in child["artifacts"]["files"], child["artifacts"]
    assert rw.job(parent["id"])["status"] == "completed"


def test_continue_chain_of_three(rw):
    first = rw.run_job({"job_type": "cursor_task", "prompt": "one\n@@write a.txt\n1\n@@end"})
    second = rw.wait_job(continue_job(rw, first["id"], {"job_type": "cursor_task", "prompt": "two\n@@write b.txt\n2\n@@end"}).json()["job_id"])
    third_resp = continue_job(rw, second["id"], {"job_type": "cursor_task", "prompt": "three\n@@run cat a.txt b.txt"})
    assert third_resp.status_code == 200, describe(third_resp)
    third = rw.wait_job(third_resp.json()["job_id"])
    assert third["status"] == "completed" and third["parent_job_id"] == second["id"]
    assert len({first["sandbox_id"], second["sandbox_id"], third["sandbox_id"]}) == 1
    assert "1\\n2" in json.dumps(rw.cursor_events(third["id"]))  # `cat a.txt b.txt` output, JSON-escaped


def test_continue_with_model(rw):
    parent = rw.run_job({"job_type": "cursor_task", "prompt": "@@run true"})
    resp = continue_job(rw, parent["id"], {"job_type": "cursor_task", "prompt": "@@run true", "model": "gpt-5"})
    assert resp.status_code == 200, describe(resp)
    child = rw.wait_job(resp.json()["job_id"])
    assert child["status"] == "completed" and child["spec"].get("model") == "gpt-5", child


@pytest.fixture(scope="module")
def parent(rw):
    job = rw.run_job({"job_type": "cursor_task", "prompt": "@@run true"})
    assert job["status"] == "completed"
    return job


@pytest.mark.parametrize("body", [
    {"spec": {"job_type": "claude_task", "prompt": "x"}},          # not the parent's job_type
    {"spec": {"job_type": "cursor_task"}},                          # no prompt
    {"spec": {"job_type": "cursor_task", "prompt": 5}},
    {"spec": {"prompt": "x"}},                                      # no job_type
    {"spec": {"job_type": "cursor_task", "prompt": "x", "model": "gpt-2"}},
    {"prompt": "x"},                                                # no spec
    {"spec": "x"},
])
def test_continue_bad_spec_is_400(rw, parent, body):
    assert_error(rw.post(f"/jobs/{parent['id']}/continue", json=body), 400, "BAD_REQUEST")


def test_continue_malformed_json_is_400(rw, parent):
    resp = rw.post(f"/jobs/{parent['id']}/continue", data=b'{"spec": {', headers={"Content-Type": "application/json"})
    assert_error(resp, 400, "BAD_REQUEST")


def test_continue_running_parent_is_409(rw):
    running = rw.create_job({"job_type": "cursor_task", "prompt": "wait\n@@sleep 300"})
    try:
        wait_for(lambda: rw.cursor_events(running), timeout=60, message="the agent is running")
        body = assert_error(continue_job(rw, running, {"job_type": "cursor_task", "prompt": "x"}), 409, "CONFLICT")
        assert body["detail"]
    finally:
        rw.cancel(running)
    assert rw.wait_job(running, timeout=15)["status"] == "cancelled"


def test_continue_after_cleanup_is_409(rw):
    job = rw.run_job({"job_type": "cursor_task", "prompt": "@@run true"})
    assert rw.post(f"/jobs/{job['id']}/cleanup").status_code == 200
    assert_error(continue_job(rw, job["id"], {"job_type": "cursor_task", "prompt": "x"}), 409, "CONFLICT")


def test_continue_failed_parent_is_allowed(rw):
    failed = rw.run_job({"job_type": "claude_task", "prompt": "x\n@@fail 2 broken"})
    assert failed["status"] == "failed"
    resp = continue_job(rw, failed["id"], {"job_type": "claude_task", "prompt": "retry\n@@run true"})
    assert resp.status_code == 200, describe(resp)
    child = rw.wait_job(resp.json()["job_id"])
    assert child["status"] == "completed" and child["sandbox_id"] == failed["sandbox_id"], child


def test_continue_foreign_job_is_404(other, parent):
    assert_error(other.post(f"/jobs/{parent['id']}/continue", json={"spec": {"job_type": "cursor_task", "prompt": "x"}}),
                 404, "NOT_FOUND")
