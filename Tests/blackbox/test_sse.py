"""GET /jobs/{id}/cursor/stream with a real SSE client (httpx-sse) and a raw line reader for the framing; resuming
with Last-Event-ID / ?last_event_id; the final done message; stream tokens for EventSource."""

import threading
import time
from urllib.parse import parse_qs, urljoin, urlparse

import pytest

from knify_api import assert_error, describe, parse_ts, sse_raw, sse_read

LIVE_PROMPT = "live\n@@run echo one\n@@sleep 2\n@@run echo two\n@@sleep 1\n@@run echo three"


def auth(client):
    return {"Authorization": f"Bearer {client.key}"}


def check_messages(messages, final_status):
    assert messages, "no SSE messages"
    *events, done = messages
    assert done.data == {"type": "done", "status": final_status}, done.data
    ids = [int(m.id) for m in events]  # every agent event carries a numeric id
    assert ids == sorted(ids) and len(set(ids)) == len(ids), ids
    for message in messages:
        assert message.event == "message", f"SSE messages must not carry an event: field ({message.event!r})"
    return events


def test_live_stream_with_two_followers(server, rw):
    job_id = rw.create_job({"job_type": "cursor_task", "prompt": LIVE_PROMPT})
    results = {}

    def follow_client():
        results["client"] = sse_read(server.base_url, f"/jobs/{job_id}/cursor/stream", headers=auth(rw))

    def follow_raw():
        results["raw"] = sse_raw(server.base_url, f"/jobs/{job_id}/cursor/stream", headers=auth(rw))

    threads = [threading.Thread(target=follow_client), threading.Thread(target=follow_raw)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    assert set(results) == {"client", "raw"}, f"a follower did not finish: {sorted(results)}"

    response, messages = results["client"]
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers.get("x-request-id"), "no X-Request-Id on the stream reply"
    for header in ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"):
        assert header in response.headers, f"{header} missing on the (authenticated) stream reply"
    events = check_messages(messages, "completed")
    job = rw.job(job_id)
    assert job["status"] == "completed"
    # The stream carries exactly the stored normalized events, in order.
    assert [m.data for m in events] == rw.cursor_events(job_id)
    for message in events:
        parse_ts(message.data["timestamp"])

    raw = results["raw"]
    assert raw.status == 200 and raw.closed_by_server, "the server must close the stream after done"
    assert any("keep-alive" in c for c in raw.comments), f"no ': keep-alive' comment in a 3 s stream: {raw.comments}"
    *agent_blocks, final = raw.blocks
    for block in agent_blocks:
        names = [name for name, _ in block]
        assert sorted(names) == ["data", "id"], f"message fields {names} (want exactly id + data): {block}"
    assert [name for name, _ in final] == ["data"], f"done message must have data only, no id: {final}"
    assert all(name != "event" for block in raw.blocks for name, _ in block)
    # Both followers saw the same events.
    assert [b for b in agent_blocks] and len(agent_blocks) == len(events)
    assert [dict(b)["id"] for b in agent_blocks] == [m.id for m in events]


def test_reconnect_with_last_event_id_while_running(server, rw):
    job_id = rw.create_job({"job_type": "cursor_task", "prompt": LIVE_PROMPT})
    path = f"/jobs/{job_id}/cursor/stream"
    _, first = sse_read(server.base_url, path, headers=auth(rw), stop_after=2)
    assert len(first) == 2 and all(m.id for m in first), [(m.id, m.data) for m in first]
    assert rw.job(job_id)["status"] in ("pending", "running"), "job already over: the reconnect would not be live"
    _, rest = sse_read(server.base_url, path, headers={**auth(rw), "Last-Event-ID": first[-1].id})
    rest_events = check_messages(rest, "completed")
    _, full = sse_read(server.base_url, path, headers=auth(rw))
    full_events = check_messages(full, "completed")
    combined = [(m.id, m.data) for m in first + rest_events]
    assert combined == [(m.id, m.data) for m in full_events], "resume lost or repeated events"


@pytest.mark.parametrize("how", ["header", "query"])
def test_resume_finished_job(server, rw, finished_job, how):
    path = f"/jobs/{finished_job['id']}/cursor/stream"
    _, full = sse_read(server.base_url, path, headers=auth(rw))
    events = check_messages(full, "completed")
    assert len(events) > 4
    middle = events[len(events) // 2]
    if how == "header":
        _, tail = sse_read(server.base_url, path, headers={**auth(rw), "Last-Event-ID": middle.id})
    else:
        _, tail = sse_read(server.base_url, path, headers=auth(rw), params={"last_event_id": middle.id})
    tail_events = check_messages(tail, "completed")
    assert [m.id for m in tail_events] == [m.id for m in events if int(m.id) > int(middle.id)]
    # Resuming after the last event gives just the done message.
    _, nothing = sse_read(server.base_url, path, headers={**auth(rw), "Last-Event-ID": events[-1].id})
    assert check_messages(nothing, "completed") == []


def test_stream_of_failed_job_ends_with_failed(server, rw):
    job = rw.run_job({"job_type": "gemini_task", "prompt": "x\n@@fail 4 nope"})
    assert job["status"] == "failed"
    _, messages = sse_read(server.base_url, f"/jobs/{job['id']}/cursor/stream", headers=auth(rw))
    check_messages(messages, "failed")


def test_stream_requires_auth_and_tenant(anon, other, finished_job):
    assert_error(anon.get(f"/jobs/{finished_job['id']}/cursor/stream"), 401, "UNAUTHORIZED")
    assert_error(other.get(f"/jobs/{finished_job['id']}/cursor/stream"), 404, "NOT_FOUND")


# -- stream tokens --------------------------------------------------------------------------------------------------
def mint(client, job_id):
    resp = client.post(f"/jobs/{job_id}/stream-token")
    assert resp.status_code == 200, describe(resp)
    return resp.json()


def test_stream_token_for_eventsource(server, rw, finished_job):
    before = time.time()
    body = mint(rw, finished_job["id"])
    assert set(body) == {"token", "expires_at", "stream_url"}, body
    assert isinstance(body["token"], str) and len(body["token"]) >= 16
    lifetime = parse_ts(body["expires_at"]).timestamp() - before
    assert 240 <= lifetime <= 305, f"token lifetime {lifetime:.0f} s, want 5 minutes"
    url = urljoin(server.base_url + "/", body["stream_url"])
    parsed = urlparse(url)
    assert parsed.path == f"/jobs/{finished_job['id']}/cursor/stream", body["stream_url"]
    assert parse_qs(parsed.query).get("token") == [body["token"]], body["stream_url"]
    # No Authorization header: the token alone opens the stream.
    response, messages = sse_read(server.base_url, parsed.path + "?" + parsed.query)
    assert response.status_code == 200
    check_messages(messages, "completed")


def test_stream_token_is_bound_to_its_job(server, rw, anon, finished_job):
    other_job = rw.run_job({"job_type": "cursor_task", "prompt": "@@run true"})
    token = mint(rw, finished_job["id"])["token"]
    resp = anon.get(f"/jobs/{other_job['id']}/cursor/stream", params={"token": token})
    assert resp.status_code in (401, 403), describe(resp)
    assert_error(resp, resp.status_code)


def test_stream_token_only_opens_the_stream(anon, rw, finished_job):
    token = mint(rw, finished_job["id"])["token"]
    for path in (f"/jobs/{finished_job['id']}", f"/jobs/{finished_job['id']}/cursor", "/jobs"):
        assert_error(anon.get(path, params={"token": token}), 401, "UNAUTHORIZED")


def test_bogus_stream_token_is_401(anon, finished_job):
    assert_error(anon.get(f"/jobs/{finished_job['id']}/cursor/stream", params={"token": "not-a-token"}), 401,
                 "UNAUTHORIZED")


def test_stream_token_for_other_tenants_job_is_404(other, finished_job):
    assert_error(other.post(f"/jobs/{finished_job['id']}/stream-token"), 404, "NOT_FOUND")


def test_stream_token_needs_jobs_read(ro, wo, finished_job):
    # The brief lists stream-token both among the jobs:write endpoints and as "POST /jobs/{id}/stream-token
    # (jobs:read)"; the endpoint's own line is the specific one (a read-only viewer must be able to stream).
    assert mint(ro, finished_job["id"])["token"]
    assert_error(wo.post(f"/jobs/{finished_job['id']}/stream-token"), 403, "FORBIDDEN")
