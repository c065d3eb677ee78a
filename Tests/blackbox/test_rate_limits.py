"""X-RateLimit-* headers on every authenticated reply, tier limits, and 429 RATE_LIMITED with Retry-After."""

import time

import pytest

from knify_api import Client, assert_error, assert_rate_headers, describe


@pytest.mark.parametrize("name,limit", [("free", 100), ("pro", 1000), ("admin", 1_000_000)])
def test_limit_header_follows_tier(server, keys, name, limit):
    resp = Client(server.base_url, keys[name]["api_key"]).get("/jobs")
    assert resp.status_code == 200, describe(resp)
    assert_rate_headers(resp, limit)


def test_remaining_counts_down_in_one_window(server):
    key = server.create_key("bb-countdown", ["jobs:read"], workspace="countdown", tier="enterprise", rate_limit=50)
    client = Client(server.base_url, key["api_key"])
    seen = [assert_rate_headers(client.get("/jobs"), 50) for _ in range(3)]
    assert [s[1] for s in seen] == [49, 48, 47], seen
    assert len({s[2] for s in seen}) == 1, f"the window's reset moved within the window: {seen}"


def test_headers_also_on_4xx_after_auth(server, rw, ro, finished_job):
    key = server.create_key("bb-4xx", ["jobs:read"], workspace="fourxx", tier="enterprise", rate_limit=50)
    client = Client(server.base_url, key["api_key"])
    resp = client.get("/jobs/job_0000000000000000")
    assert_error(resp, 404, "NOT_FOUND")
    first = assert_rate_headers(resp, 50)
    resp = client.post("/jobs", json={"spec": {"job_type": "cursor_task", "prompt": "x"}})   # read-only: 403
    assert_error(resp, 403, "FORBIDDEN")
    second = assert_rate_headers(resp, 50)
    resp = client.get("/jobs", params={"limit": 0})
    assert_error(resp, 400, "BAD_REQUEST")
    third = assert_rate_headers(resp, 50)
    assert (first[1], second[1], third[1]) == (49, 48, 47), "4xx replies after authentication count too"
    assert_rate_headers(rw.get(f"/jobs/{finished_job['id']}/artifacts/nope"))


def test_429_after_the_limit(server, keys):
    client = Client(server.base_url, keys["limited"]["api_key"])
    remaining = []
    for _ in range(5):
        resp = client.get("/jobs")
        assert resp.status_code == 200, describe(resp)
        remaining.append(assert_rate_headers(resp, 5)[1])
    assert remaining == [4, 3, 2, 1, 0], remaining
    for method, path in (("GET", "/jobs"), ("POST", "/jobs"), ("GET", "/workspaces")):
        resp = client.request(method, path, json={"spec": {"job_type": "cursor_task", "prompt": "x"}}
                              if method == "POST" else None)
        body = assert_error(resp, 429, "RATE_LIMITED")
        assert body["detail"]
        limit, left, reset = assert_rate_headers(resp, 5)
        assert left == 0
        assert "Retry-After" in resp.headers, f"no Retry-After on {describe(resp)}"
        retry_after = int(resp.headers["Retry-After"])
        assert 0 < retry_after <= 3600, retry_after
        assert abs((time.time() + retry_after) - reset) <= 3, (retry_after, reset, time.time())
    # GET / is never limited, even for this key.
    resp = client.get("/")
    assert resp.status_code == 200 and resp.json() == {"status": "ok", "version": "0.1.0"}
    # Another key is not affected.
    other = server.create_key("bb-limited-neighbour", ["jobs:read"], workspace="limited", tier="enterprise",
                              rate_limit=5)
    assert Client(server.base_url, other["api_key"]).get("/jobs").status_code == 200
