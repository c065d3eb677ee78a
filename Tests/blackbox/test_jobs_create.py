"""POST /jobs: the reference example field by field, every agent type, user_exam, session reuse, failures, and
every validation error."""

import json
import secrets
from datetime import timedelta

import pytest

from knify_api import (CREATED_JOBS, JOB_ID, assert_error, assert_in_order, assert_job_object, describe, file_entry,
                       now_utc, raw_http, tar_gz, upload_workspace)


@pytest.fixture(scope="module")
def my_project(rw):
    """The reference example names workspace_path /workspaces/my-project: upload it first."""
    archive = tar_gz([file_entry("README.md", b"# my-project\n")])
    resp = upload_workspace(rw, "my-project", archive)
    assert resp.status_code in (200, 409), describe(resp)  # 409: already there from an earlier test module
    return "/workspaces/my-project"


def test_create_job_reference_example(rw, my_project):
    # Verbatim the reference request body.
    spec = {
        "job_type": "cursor_task",
        "prompt": "Your task description",
        "model": "sonnet-4.5",
        "workspace_path": "/workspaces/my-project",
        "session_id": "session_123",
        "metadata": {"user_id": "user_123", "priority": "high"},
    }
    resp = rw.post("/jobs", json={"spec": spec})
    assert resp.status_code == 200, describe(resp)
    body = resp.json()
    assert set(body) == {"job_id", "status"}, body
    assert JOB_ID.match(body["job_id"]), body["job_id"]
    assert body["status"] in ("running", "pending"), body
    CREATED_JOBS.append(body["job_id"])

    job = rw.wait_job(body["job_id"])
    assert_job_object(job)
    assert job["id"] == body["job_id"]
    assert job["status"] == "completed", job
    for key, value in spec.items():
        assert job["spec"].get(key) == value, f"spec.{key}: {job['spec'].get(key)!r} != {value!r}"
    assert job["sandbox_id"], job
    assert job["sandbox_state"] == "paused", job
    # The agent was started with session_123 to resume it.
    assert job["cursor_session_id"] == "session_123", job
    # Default work of the offline agent, and the uploaded README is there but not an artifact (unchanged).
    assert "AGENT_TASK.md" in job["artifacts"]["files"], job["artifacts"]
    assert "README.md" not in job["artifacts"]["files"], job["artifacts"]


def test_job_ids_are_random_and_unique(rw):
    ids = [rw.create_job({"job_type": "cursor_task", "prompt": "@@run true"}) for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(JOB_ID.match(i) for i in ids), ids
    for job_id in ids:
        assert rw.wait_job(job_id)["status"] == "completed"


@pytest.mark.parametrize("job_type", ["cursor_task", "claude_task", "gemini_task"])
def test_each_agent_type_runs(rw, job_type):
    marker = secrets.token_hex(6)
    job = rw.run_job({"job_type": job_type, "prompt": f"Say hi\n@@write hello.txt\nhi {marker}\n@@end\n@@run echo {marker}"})
    assert_job_object(job)
    assert job["status"] == "completed", job
    assert job["spec"]["job_type"] == job_type
    assert job["artifacts"] == {"files": ["hello.txt"]}, job["artifacts"]
    assert rw.get(f"/jobs/{job['id']}/artifacts/hello.txt").content == f"hi {marker}\n".encode()
    stages = [e["stage"] for e in job["events"]]
    assert_in_order(stages, ["queued", "sandbox_created", "agent_started", "artifacts_collected", "sandbox_paused",
                             "completed"])
    events = rw.cursor_events(job["id"])
    types = [e["type"] for e in events]
    assert "agent_message" in types and "tool_use" in types and "tool_result" in types, types
    assert types[-1] == "result", types
    assert marker in json.dumps([e for e in events if e["type"] == "tool_result"]), events


def test_allowed_model_is_accepted(rw):
    job = rw.run_job({"job_type": "cursor_task", "prompt": "@@run true", "model": "gpt-5"})
    assert job["status"] == "completed", job
    assert job["spec"]["model"] == "gpt-5", job["spec"]


@pytest.mark.parametrize("prompt,code", [("fail\n@@fail 3 out of memory", "AGENT_ERROR"),
                                         ("fail\n@@result-error tests failed", "AGENT_ERROR")])
def test_agent_failure_is_a_failed_job(rw, prompt, code):
    job = rw.run_job({"job_type": "cursor_task", "prompt": prompt})
    assert_job_object(job)
    assert job["status"] == "failed", job
    assert job["error_code"] == code, job
    assert job["error"], job
    stages = [e["stage"] for e in job["events"]]
    assert "failed" in stages and "completed" not in stages, stages
    assert [e for e in job["events"] if e["stage"] == "failed"][0]["level"] == "error"


def test_session_id_reuses_live_sandbox_and_resumes(rw):
    session = f"bb-session-{secrets.token_hex(4)}"
    first = rw.run_job({"job_type": "cursor_task", "prompt": "first turn\n@@write s.txt\none\n@@end", "session_id": session})
    assert first["status"] == "completed", first
    second = rw.run_job({"job_type": "cursor_task", "prompt": "second turn\n@@run cat s.txt", "session_id": session})
    assert second["status"] == "completed", second
    assert second["sandbox_id"] == first["sandbox_id"], (first["sandbox_id"], second["sandbox_id"])
    stages = [e["stage"] for e in second["events"]]
    assert "sandbox_reused" in stages and "sandbox_created" not in stages, stages
    messages = " ".join(e.get("message") or "" for e in rw.cursor_events(second["id"]) if e["type"] == "agent_message")
    assert "Previous prompt" in messages and "first turn" in messages, messages


def test_user_exam(tenant_client):
    client = tenant_client("exam")
    user = f"u-exam-{secrets.token_hex(3)}"
    ok = client.run_job({"job_type": "claude_task", "prompt": "@@run true", "metadata": {"user_id": user}})
    bad = client.run_job({"job_type": "cursor_task", "prompt": "@@fail 2 boom", "metadata": {"user_id": user}})
    client.run_job({"job_type": "cursor_task", "prompt": "@@run true", "metadata": {"user_id": "someone-else"}})
    assert (ok["status"], bad["status"]) == ("completed", "failed")
    time_range = {"from": (now_utc() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                  "to": (now_utc() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    exam = client.run_job({"job_type": "user_exam", "user_id": user, "time_range": time_range})
    assert_job_object(exam)
    assert exam["status"] == "completed", exam
    assert set(exam["artifacts"]["files"]) >= {"result.json", "report.md"}, exam["artifacts"]
    artifacts = client.get(f"/jobs/{exam['id']}/artifacts").json()
    result = artifacts["result.json"]
    assert isinstance(result, dict), result
    assert result["user_id"] == user
    assert result["total"] == 2, result
    assert result["by_status"]["completed"] == 1 and result["by_status"]["failed"] == 1, result
    assert result["by_type"] == {"claude_task": 1, "cursor_task": 1}, result
    assert [f["job_id"] for f in result["failures"]] == [bad["id"]], result
    assert isinstance(artifacts["report.md"], str) and artifacts["report.md"].startswith(f"# Job report for {user}")


# -- validation ---------------------------------------------------------------------------------------------------
GOOD_RANGE = {"from": "2025-11-17T10:00:00Z", "to": "2025-11-18T10:00:00Z"}

BAD_SPECS = {
    "missing spec": {},
    "spec not an object": {"spec": "cursor_task"},
    "spec null": {"spec": None},
    "missing job_type": {"spec": {"prompt": "x"}},
    "unknown job_type": {"spec": {"job_type": "banana_task", "prompt": "x"}},
    "job_type not a string": {"spec": {"job_type": 5, "prompt": "x"}},
    "cursor without prompt": {"spec": {"job_type": "cursor_task"}},
    "claude without prompt": {"spec": {"job_type": "claude_task"}},
    "gemini without prompt": {"spec": {"job_type": "gemini_task"}},
    "prompt not a string": {"spec": {"job_type": "cursor_task", "prompt": 123}},
    "model not a string": {"spec": {"job_type": "cursor_task", "prompt": "x", "model": 7}},
    "session_id not a string": {"spec": {"job_type": "cursor_task", "prompt": "x", "session_id": 5}},
    "metadata not an object": {"spec": {"job_type": "cursor_task", "prompt": "x", "metadata": "high"}},
    "user_exam without user_id": {"spec": {"job_type": "user_exam", "time_range": GOOD_RANGE}},
    "user_exam without time_range": {"spec": {"job_type": "user_exam", "user_id": "u1"}},
    "user_exam bad time_range": {"spec": {"job_type": "user_exam", "user_id": "u1",
                                          "time_range": {"from": "yesterday", "to": "today"}}},
    "user_exam time_range without to": {"spec": {"job_type": "user_exam", "user_id": "u1",
                                                 "time_range": {"from": "2025-11-17T10:00:00Z"}}},
    "user_exam time_range not an object": {"spec": {"job_type": "user_exam", "user_id": "u1", "time_range": "2025"}},
    "workspace_path outside": {"spec": {"job_type": "cursor_task", "prompt": "x", "workspace_path": "/etc"}},
    "workspace_path dotdot": {"spec": {"job_type": "cursor_task", "prompt": "x",
                                       "workspace_path": "/workspaces/../etc"}},
    "workspace_path relative": {"spec": {"job_type": "cursor_task", "prompt": "x", "workspace_path": "my-project"}},
    "workspace_path unknown": {"spec": {"job_type": "cursor_task", "prompt": "x",
                                        "workspace_path": "/workspaces/does-not-exist-bb"}},
    "workspace_path not a string": {"spec": {"job_type": "cursor_task", "prompt": "x", "workspace_path": ["/w"]}},
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_invalid_spec_is_400(rw, case):
    before = rw.get("/jobs", params={"limit": 1}).json()["pagination"]["total"]
    body = assert_error(rw.post("/jobs", json=BAD_SPECS[case]), 400, "BAD_REQUEST")
    assert body["detail"], f"{case}: empty detail"
    # Nothing was created.
    assert rw.get("/jobs", params={"limit": 1}).json()["pagination"]["total"] == before


def test_unknown_job_type_detail_is_useful(rw):
    body = assert_error(rw.post("/jobs", json={"spec": {"job_type": "banana_task", "prompt": "x"}}), 400, "BAD_REQUEST")
    text = body["error"] + " " + body["detail"]
    assert "banana_task" in text or "cursor_task" in text, body


def test_missing_prompt_detail_names_the_field(rw):
    body = assert_error(rw.post("/jobs", json={"spec": {"job_type": "cursor_task"}}), 400, "BAD_REQUEST")
    assert "prompt" in body["error"] + body["detail"], body


def test_unknown_model_names_allowed_models(rw):
    body = assert_error(rw.post("/jobs", json={"spec": {"job_type": "cursor_task", "prompt": "x", "model": "gpt-2"}}),
                        400, "BAD_REQUEST")
    text = body["error"] + " " + body["detail"]
    for model in ("auto", "sonnet-4.5", "opus-4.1", "composer-1", "gpt-5"):  # the reference's list
        assert model in text, f"{model} not named in {body}"


@pytest.mark.parametrize("raw", [b'{"spec": ', b"not json", b"[]", b'"spec"', b"", b'{"spec": {"job_type": "cursor_task", "prompt": "x"}} trailing'])
def test_malformed_body_is_400(rw, raw):
    resp = rw.post("/jobs", data=raw, headers={"Content-Type": "application/json"})
    assert_error(resp, 400, "BAD_REQUEST")


def test_body_over_one_mebibyte_is_413(server, rw):
    body = json.dumps({"spec": {"job_type": "cursor_task", "prompt": "x" * (1024 * 1024 + 1024)}}).encode()
    chunks = (body[i:i + 65536] for i in range(0, len(body), 65536))
    resp = raw_http(server.port, "POST", "/jobs", {"Authorization": f"Bearer {rw.key}",
                                                   "Content-Type": "application/json",
                                                   "Content-Length": str(len(body))}, chunks)
    assert resp.status == 413, (resp.status, resp.body[:300])
    payload = resp.json()
    assert set(payload) == {"error", "detail", "code"} and payload["code"] == "PAYLOAD_TOO_LARGE", payload
