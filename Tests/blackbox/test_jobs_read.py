"""GET /jobs/{id}, /events, /artifacts, /artifacts/{path}, /cursor (normalized and raw) and GET /jobs: the
reference examples field by field, on one finished job (conftest.finished_job)."""

import base64
import json

import pytest

from conftest import FINISHED_FILES
from knify_api import (EVENT_TYPES, JOB_FIELDS, assert_error, assert_in_order, assert_job_object, assert_stage_events,
                       describe, parse_ts)

MISSING = "job_0000000000000000"


def test_get_job_reference_example(rw, finished_job):
    resp = rw.get(f"/jobs/{finished_job['id']}")
    assert resp.status_code == 200, describe(resp)
    assert resp.headers["Content-Type"].startswith("application/json")
    job = resp.json()
    assert_job_object(job)
    assert set(job) >= JOB_FIELDS | {"events", "artifacts"}, sorted(job)
    assert job["status"] == "completed"
    assert job["spec"]["job_type"] == "cursor_task"
    assert job["spec"]["model"] == "sonnet-4.5"
    assert job["spec"]["prompt"].startswith("Write a Python script")
    created, started, completed = (parse_ts(job[k]) for k in ("created_at", "started_at", "completed_at"))
    assert created <= started <= completed
    assert job["sandbox_id"].startswith("sbx_"), job["sandbox_id"]
    assert job["sandbox_state"] == "paused"
    assert isinstance(job["cursor_session_id"], str) and job["cursor_session_id"]
    assert job["parent_job_id"] is None and job["error"] is None and job["error_code"] is None
    assert_stage_events(job["events"])
    assert set(job["artifacts"]) == {"files"}, job["artifacts"]
    assert set(job["artifacts"]["files"]) == FINISHED_FILES, job["artifacts"]


def test_stage_order_of_a_normal_job(rw, finished_job):
    stages = [e["stage"] for e in rw.job(finished_job["id"])["events"]]
    assert stages[0] == "queued", stages
    assert_in_order(stages, ["queued", "sandbox_created", "agent_started", "artifacts_collected", "sandbox_paused",
                             "completed"])
    assert stages[-1] == "completed", stages
    assert "sandbox_reused" not in stages and "failed" not in stages


def test_events_endpoint_matches_job(rw, finished_job):
    resp = rw.get(f"/jobs/{finished_job['id']}/events")
    assert resp.status_code == 200, describe(resp)
    body = resp.json()
    assert set(body) == {"events"}, body
    assert_stage_events(body["events"])
    assert body["events"] == rw.job(finished_job["id"])["events"]
    completed = [e for e in body["events"] if e["stage"] == "completed"]
    assert len(completed) == 1 and completed[0]["level"] == "info"


def test_artifacts_reference_example(rw, finished_job):
    resp = rw.get(f"/jobs/{finished_job['id']}/artifacts")
    assert resp.status_code == 200, describe(resp)
    artifacts = resp.json()
    assert set(artifacts) == FINISHED_FILES, sorted(artifacts)
    # JSON files parsed, text as a string, binary as base64.
    assert artifacts["result.json"] == {"status": "success", "data": {"answer": 42}}
    assert artifacts["report.md"] == "# Analysis Report\n\nAll good.\n"
    assert artifacts["fibonacci.py"] == "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"
    assert artifacts["src/util/helper.py"] == "VALUE = 42\n"
    assert isinstance(artifacts["blob.bin"], str)
    assert base64.b64decode(artifacts["blob.bin"]) == b"\x00\x01\x02\xff"


@pytest.mark.parametrize("path,content", [
    ("fibonacci.py", b"def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n"),
    ("src/util/helper.py", b"VALUE = 42\n"),
    ("result.json", b'{"status": "success", "data": {"answer": 42}}\n'),
    ("blob.bin", b"\x00\x01\x02\xff"),
])
def test_single_artifact_is_raw_bytes(rw, finished_job, path, content):
    resp = rw.get(f"/jobs/{finished_job['id']}/artifacts/{path}")
    assert resp.status_code == 200, describe(resp)
    assert resp.content == content


@pytest.mark.parametrize("path", ["nope.txt", "src/util/nope.py", "AGENT_TASK.md"])
def test_missing_artifact_is_404(rw, finished_job, path):
    assert_error(rw.get(f"/jobs/{finished_job['id']}/artifacts/{path}"), 404, "NOT_FOUND")


def test_cursor_output_reference_example(rw, finished_job):
    resp = rw.get(f"/jobs/{finished_job['id']}/cursor")
    assert resp.status_code == 200, describe(resp)
    body = resp.json()
    assert set(body) == {"events"}, sorted(body)
    events = body["events"]
    assert events, "no agent events"
    for event in events:
        assert event["type"] in EVENT_TYPES, event
        parse_ts(event["timestamp"])
    types = [e["type"] for e in events]
    assert types[-1] == "result", types
    # {"type": "agent_message", "message": "I'll create …"}
    messages = [e for e in events if e["type"] == "agent_message"]
    assert messages and all(isinstance(m["message"], str) for m in messages)
    assert any(m["message"].startswith("Working on: Write a Python script") for m in messages), messages
    # {"type": "tool_use", "tool": "write_file", "parameters": {"path": "fibonacci.py", "content": "…"}}
    writes = [e for e in events if e["type"] == "tool_use" and e.get("tool") == "write_file"]
    assert writes, [e for e in events if e["type"] == "tool_use"]
    assert isinstance(writes[0]["parameters"], dict), writes[0]
    assert str(writes[0]["parameters"]["path"]).endswith("fibonacci.py"), writes[0]
    shells = [e for e in events if e["type"] == "tool_use" and e.get("tool") == "run_shell_command"]
    assert len(shells) == 2, shells
    assert len([e for e in events if e["type"] == "tool_result"]) == len(writes) + len(shells) == 6
    assert "done-marker" in json.dumps([e for e in events if e["type"] == "tool_result"])


def test_cursor_raw_lines(rw, finished_job):
    resp = rw.get(f"/jobs/{finished_job['id']}/cursor", params={"raw": "true"})
    assert resp.status_code == 200, describe(resp)
    body = resp.json()
    assert set(body) == {"lines"}, sorted(body)
    lines = body["lines"]
    assert lines and all(isinstance(line, str) for line in lines)
    parsed = [json.loads(line) for line in lines]  # cursor stream-json: one object per line
    assert parsed[0]["type"] == "system" and parsed[0].get("subtype") == "init", parsed[0]
    assert parsed[-1]["type"] == "result" and parsed[-1].get("subtype") == "success", parsed[-1]
    assert parsed[0].get("session_id") == rw.job(finished_job["id"])["cursor_session_id"]


@pytest.mark.parametrize("suffix", ["", "/events", "/artifacts", "/artifacts/x.txt", "/cursor", "/cursor?raw=true",
                                    "/cursor/stream"])
def test_unknown_job_is_404(rw, suffix):
    assert_error(rw.get(f"/jobs/{MISSING}{suffix}"), 404, "NOT_FOUND")


@pytest.mark.parametrize("suffix", ["/continue", "/cleanup", "/cancel", "/stream-token"])
def test_unknown_job_post_is_404(rw, suffix):
    body = {"spec": {"job_type": "cursor_task", "prompt": "x"}} if suffix == "/continue" else None
    assert_error(rw.post(f"/jobs/{MISSING}{suffix}", json=body), 404, "NOT_FOUND")


def test_list_jobs_shape_and_item(rw, finished_job):
    resp = rw.get("/jobs")
    assert resp.status_code == 200, describe(resp)
    body = resp.json()
    assert set(body) == {"data", "pagination"}, sorted(body)
    assert body["pagination"]["page"] == 1 and body["pagination"]["limit"] == 20
    for job in body["data"]:
        assert_job_object(job)
    mine = rw.get("/jobs", params={"limit": 100}).json()["data"]
    item = next((j for j in mine if j["id"] == finished_job["id"]), None)
    assert item is not None, "finished job not listed"
    # The list item is the same Job object as GET /jobs/{id}, without events/artifacts.
    full = rw.job(finished_job["id"])
    for key in JOB_FIELDS:
        assert item[key] == full[key], (key, item[key], full[key])


def test_list_filters(rw, finished_job):
    completed = rw.get("/jobs", params={"status": "completed", "limit": 100}).json()
    assert completed["data"] and all(j["status"] == "completed" for j in completed["data"])
    cursor = rw.get("/jobs", params={"job_type": "cursor_task", "limit": 100}).json()
    assert all(j["spec"]["job_type"] == "cursor_task" for j in cursor["data"])
    assert finished_job["id"] in [j["id"] for j in cursor["data"]]
    none = rw.get("/jobs", params={"job_type": "user_exam", "status": "running"}).json()
    assert all(j["spec"]["job_type"] == "user_exam" and j["status"] == "running" for j in none["data"])
