"""GET /, X-Request-Id, unknown routes, GET /openapi.json, GET /console: the unauthenticated surface."""

import re

import requests

from knify_api import assert_error, describe


def test_health_reference_example(anon):
    resp = anon.get("/")
    assert resp.status_code == 200, describe(resp)
    assert resp.headers["Content-Type"].startswith("application/json")
    # Reference: {"status": "ok", "version": "0.1.0"} — exactly.
    assert resp.json() == {"status": "ok", "version": "0.1.0"}
    assert resp.headers.get("X-Request-Id")


def test_health_is_never_rate_limited(server):
    # A key allowed one request an hour: GET / with it must still answer every time.
    key = server.create_key("bb-health-1ph", ["jobs:read"], workspace="health", tier="enterprise", rate_limit=1)
    for _ in range(5):
        resp = requests.get(server.base_url + "/", headers={"Authorization": f"Bearer {key['api_key']}"}, timeout=10)
        assert resp.status_code == 200, describe(resp)
        assert resp.json() == {"status": "ok", "version": "0.1.0"}


def test_request_id_is_generated_and_unique(anon, rw):
    ids = set()
    for client, path in ((anon, "/"), (anon, "/"), (rw, "/jobs"), (anon, "/jobs"), (rw, "/no/such/route")):
        resp = client.get(path)
        rid = resp.headers.get("X-Request-Id")
        assert rid, f"no X-Request-Id: {describe(resp)}"
        ids.add(rid)
    assert len(ids) == 5, f"request ids repeat: {ids}"


def test_request_id_is_echoed(anon, rw):
    for client, path in ((anon, "/"), (rw, "/jobs"), (anon, "/jobs"), (rw, "/jobs/job_0000000000000000")):
        incoming = "bb-req-7f3a9c1e-4b2d-4e8f-9a01-123456789abc"
        resp = client.get(path, headers={"X-Request-Id": incoming})
        assert resp.headers.get("X-Request-Id") == incoming, f"{path}: {resp.headers.get('X-Request-Id')!r}"


def test_unknown_route_is_404_envelope(rw, admin):
    for path in ("/nope", "/jobs/job_0000000000000000/nope", "/v2/jobs"):
        assert_error(rw.get(path), 404, "NOT_FOUND")
    assert_error(admin.post("/nope", json={}), 404, "NOT_FOUND")
    # Under /api/ is the Knaps API, whose errors are Knapsack's {"detail"} (test_knaps.py covers it).
    resp = rw.get("/api/v2/jobs")
    assert resp.status_code == 404 and set(resp.json()) == {"detail"}, describe(resp)


def test_openapi_document(anon):
    resp = anon.get("/openapi.json")
    assert resp.status_code == 200, describe(resp)
    assert resp.headers["Content-Type"].startswith("application/json")
    doc = resp.json()
    assert str(doc.get("openapi", "")).startswith("3.1"), doc.get("openapi")
    assert doc.get("info", {}).get("title") and doc["info"].get("version")
    operations = set()
    for path, item in doc.get("paths", {}).items():
        for method in item:
            if method in ("get", "post", "put", "patch", "delete"):
                operations.add((method, re.sub(r"\{[^}]+\}", "{}", path)))
    expected = {
        ("get", "/"), ("get", "/jobs"), ("post", "/jobs"), ("get", "/jobs/{}"), ("get", "/jobs/{}/events"),
        ("get", "/jobs/{}/artifacts"), ("get", "/jobs/{}/cursor"), ("get", "/jobs/{}/cursor/stream"),
        ("post", "/jobs/{}/continue"), ("post", "/jobs/{}/cleanup"), ("post", "/jobs/{}/cancel"),
        ("post", "/jobs/{}/stream-token"), ("get", "/workspaces"), ("post", "/workspaces"), ("get", "/metrics"),
    }
    missing = expected - operations
    assert not missing, f"openapi.json does not document {sorted(missing)}"
    assert any(op[1].startswith("/jobs/{}/artifacts/") for op in operations), \
        "openapi.json does not document GET /jobs/{id}/artifacts/{path}"
    schemes = doc.get("components", {}).get("securitySchemes", {})
    assert any(s.get("type") == "http" and s.get("scheme", "").lower() == "bearer" for s in schemes.values()), schemes


def test_console_is_html_without_auth(anon):
    resp = anon.get("/console")
    assert resp.status_code == 200, describe(resp)
    assert resp.headers["Content-Type"].startswith("text/html")
    assert "<html" in resp.text.lower()
