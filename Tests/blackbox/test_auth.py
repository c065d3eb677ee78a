"""Authentication and authorization: missing / malformed / unknown / revoked keys (401), scopes (403), tenants
(404 for another workspace's job; admin sees all)."""

import secrets
import string

import pytest

from knify_api import CREATED_JOBS, RATE_HEADERS, Client, assert_error, describe
from knify_server import revoke_key

ENDPOINTS = [
    ("GET", "/jobs"), ("POST", "/jobs"), ("GET", "/jobs/{job}"), ("GET", "/jobs/{job}/events"),
    ("GET", "/jobs/{job}/artifacts"), ("GET", "/jobs/{job}/artifacts/fibonacci.py"), ("GET", "/jobs/{job}/cursor"),
    ("GET", "/jobs/{job}/cursor/stream"), ("POST", "/jobs/{job}/continue"), ("POST", "/jobs/{job}/cleanup"),
    ("POST", "/jobs/{job}/cancel"), ("POST", "/jobs/{job}/stream-token"), ("GET", "/workspaces"),
    ("POST", "/workspaces"), ("GET", "/metrics"),
]
READ = [(m, p) for m, p in ENDPOINTS if m == "GET" and p != "/metrics"]
WRITE = [("POST", "/jobs"), ("POST", "/jobs/{job}/continue"), ("POST", "/jobs/{job}/cleanup"),
         ("POST", "/jobs/{job}/cancel"), ("POST", "/workspaces")]


def call(client, method, path, job_id):
    path = path.replace("{job}", job_id)
    body = {"spec": {"job_type": "cursor_task", "prompt": "@@run true"}} if method == "POST" and (
        path == "/jobs" or path.endswith("/continue")) else None
    return client.request(method, path, json=body)


def random_key(prefix="knify_live_"):
    return prefix + "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))


@pytest.mark.parametrize("method,path", ENDPOINTS)
def test_no_authorization_header_is_401(anon, finished_job, method, path):
    resp = call(anon, method, path, finished_job["id"])
    assert_error(resp, 401, "UNAUTHORIZED")
    for header in RATE_HEADERS:
        assert header not in resp.headers, f"{header} on a 401"


@pytest.mark.parametrize("value", [
    "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "Token {key}", "{key}", "Bearer knify_live_short",
    "Bearer {random}", "Bearer {random_test}", "Bearer {key}x", "Bearer x{key}", "Bearer {key} {key}",
])
def test_malformed_or_unknown_key_is_401(server, keys, value):
    value = value.format(key=keys["rw"]["api_key"], random=random_key(), random_test=random_key("knify_test_"))
    client = Client(server.base_url)
    for path in ("/jobs", "/workspaces"):
        resp = client.get(path, headers={"Authorization": value})
        assert_error(resp, 401, "UNAUTHORIZED")
        assert "X-RateLimit-Limit" not in resp.headers


def test_revoked_key_is_401_at_once(server):
    key = server.create_key("bb-to-revoke", ["jobs:read"], workspace="revoked", tier="pro")
    client = Client(server.base_url, key["api_key"])
    assert client.get("/jobs").status_code == 200
    proc = revoke_key(server.data_dir, key["key_id"])
    assert proc.returncode == 0, proc.stderr
    assert_error(client.get("/jobs"), 401, "UNAUTHORIZED")
    assert_error(client.get("/workspaces"), 401, "UNAUTHORIZED")


def test_key_created_while_server_runs_works_at_once(server):
    key = server.create_key("bb-fresh", ["jobs:read"], workspace="fresh", tier="pro")
    assert Client(server.base_url, key["api_key"]).get("/jobs").status_code == 200


def test_test_mode_key_authenticates(server):
    key = server.create_key("bb-test-mode", ["jobs:read"], workspace="test-mode", tier="pro", test=True)
    assert key["api_key"].startswith("knify_test_")
    resp = Client(server.base_url, key["api_key"]).get("/jobs")
    assert resp.status_code == 200, describe(resp)


@pytest.mark.parametrize("method,path", WRITE)
def test_read_only_key_cannot_write(ro, finished_job, method, path):
    resp = call(ro, method, path, finished_job["id"])
    assert_error(resp, 403, "FORBIDDEN")


@pytest.mark.parametrize("method,path", READ)
def test_read_only_key_can_read(ro, finished_job, method, path):
    resp = call(ro, method, path, finished_job["id"])
    assert resp.status_code == 200, describe(resp)
    resp.close()


@pytest.mark.parametrize("method,path", READ)
def test_write_only_key_cannot_read(wo, finished_job, method, path):
    assert_error(call(wo, method, path, finished_job["id"]), 403, "FORBIDDEN")


def test_write_only_key_can_create(wo):
    resp = wo.post("/jobs", json={"spec": {"job_type": "cursor_task", "prompt": "@@run true"}})
    assert resp.status_code == 200, describe(resp)
    CREATED_JOBS.append(resp.json()["job_id"])


@pytest.mark.parametrize("name", ["rw", "ro", "wo", "other"])
def test_metrics_needs_admin(server, keys, name):
    assert_error(Client(server.base_url, keys[name]["api_key"]).get("/metrics"), 403, "FORBIDDEN")


def test_other_tenant_sees_404_and_admin_sees_all(rw, other, admin, finished_job):
    foreign = other.run_job({"job_type": "gemini_task", "prompt": "@@run true"})
    assert foreign["status"] == "completed"
    # rw (workspace default) cannot see other-tenant's job, and vice versa.
    for suffix in ("", "/events", "/artifacts", "/cursor", "/cursor/stream", "/artifacts/AGENT_TASK.md"):
        assert_error(rw.get(f"/jobs/{foreign['id']}{suffix}"), 404, "NOT_FOUND")
        assert_error(other.get(f"/jobs/{finished_job['id']}{suffix}"), 404, "NOT_FOUND")
    for suffix in ("/cancel", "/cleanup", "/stream-token"):
        assert_error(rw.post(f"/jobs/{foreign['id']}{suffix}"), 404, "NOT_FOUND")
    assert_error(rw.post(f"/jobs/{foreign['id']}/continue", json={"spec": {"job_type": "gemini_task", "prompt": "x"}}),
                 404, "NOT_FOUND")
    # The foreign job is untouched.
    assert other.job(foreign["id"])["sandbox_state"] == "paused"
    # Lists are per tenant.
    rw_ids = {j["id"] for j in rw.get("/jobs", params={"limit": 100}).json()["data"]}
    other_ids = {j["id"] for j in other.get("/jobs", params={"limit": 100}).json()["data"]}
    assert foreign["id"] not in rw_ids and finished_job["id"] not in other_ids
    assert foreign["id"] in other_ids and finished_job["id"] in rw_ids
    # Admin sees every tenant's jobs.
    assert admin.get(f"/jobs/{foreign['id']}").status_code == 200
    assert admin.get(f"/jobs/{finished_job['id']}").status_code == 200
    assert admin.get(f"/jobs/{foreign['id']}/cursor").status_code == 200
    admin_total = admin.get("/jobs", params={"limit": 1}).json()["pagination"]["total"]
    rw_total = rw.get("/jobs", params={"limit": 1}).json()["pagination"]["total"]
    other_total = other.get("/jobs", params={"limit": 1}).json()["pagination"]["total"]
    assert admin_total >= rw_total + other_total
    admin_ids = set()
    page = 1
    while True:
        body = admin.get("/jobs", params={"limit": 100, "page": page}).json()
        admin_ids |= {j["id"] for j in body["data"]}
        if page >= body["pagination"]["pages"]:
            break
        page += 1
    assert {foreign["id"], finished_job["id"]} <= admin_ids


def test_admin_scope_implies_read_and_write(server):
    key = server.create_key("bb-admin-only", ["admin"], workspace="admin-only", tier="enterprise", rate_limit=1000)
    client = Client(server.base_url, key["api_key"])
    assert client.get("/jobs").status_code == 200
    assert client.get("/metrics").status_code == 200
    resp = client.post("/jobs", json={"spec": {"job_type": "cursor_task", "prompt": "@@run true"}})
    assert resp.status_code == 200, describe(resp)
    CREATED_JOBS.append(resp.json()["job_id"])
    client.wait_job(resp.json()["job_id"])
