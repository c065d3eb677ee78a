"""GET /jobs pagination and filters, in a tenant of its own so the totals are exact."""

import math

import pytest

from knify_api import assert_error, describe

N_CURSOR, N_GEMINI = 3, 2


@pytest.fixture(scope="module")
def pager(tenant_client):
    client = tenant_client("pager")
    ids = []
    for i in range(N_CURSOR + N_GEMINI):
        job_type = "cursor_task" if i < N_CURSOR else "gemini_task"
        ids.append(client.create_job({"job_type": job_type, "prompt": f"job {i}\n@@run true"}))
    for job_id in ids:
        client.wait_job(job_id)
    client.created = ids  # creation order
    return client


def page(client, **params):
    resp = client.get("/jobs", params=params)
    assert resp.status_code == 200, describe(resp)
    return resp.json()


def test_empty_tenant(tenant_client):
    body = page(tenant_client("empty"))
    assert body == {"data": [], "pagination": {"page": 1, "limit": 20, "total": 0, "pages": 0}}, body


def test_defaults_and_newest_first(pager):
    body = page(pager)
    assert body["pagination"] == {"page": 1, "limit": 20, "total": 5, "pages": 1}, body["pagination"]
    assert [j["id"] for j in body["data"]] == list(reversed(pager.created))
    stamps = [j["created_at"] for j in body["data"]]
    assert stamps == sorted(stamps, reverse=True)


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 5, 100])
def test_pages_math_and_walk(pager, limit):
    seen = []
    pages = math.ceil(5 / limit)
    for number in range(1, pages + 1):
        body = page(pager, page=number, limit=limit)
        assert body["pagination"] == {"page": number, "limit": limit, "total": 5, "pages": pages}, body["pagination"]
        expected = min(limit, 5 - (number - 1) * limit)
        assert len(body["data"]) == expected, (number, limit, len(body["data"]))
        seen += [j["id"] for j in body["data"]]
    assert seen == list(reversed(pager.created)), "pages overlap, skip or are not newest first"


def test_last_page_and_beyond(pager):
    last = page(pager, page=3, limit=2)
    assert [j["id"] for j in last["data"]] == [pager.created[0]]
    beyond = page(pager, page=4, limit=2)
    assert beyond["data"] == [] and beyond["pagination"] == {"page": 4, "limit": 2, "total": 5, "pages": 3}
    far = page(pager, page=1000, limit=100)
    assert far["data"] == [] and far["pagination"]["total"] == 5


@pytest.mark.parametrize("params", [
    {"limit": 0}, {"limit": 101}, {"limit": -1}, {"limit": "abc"}, {"limit": "1.5"}, {"limit": ""},
    {"page": 0}, {"page": -1}, {"page": "abc"}, {"page": "2.0"}, {"page": ""},
    {"page": 0, "limit": 0},
])
def test_bad_paging_is_400(pager, params):
    body = assert_error(pager.get("/jobs", params=params), 400, "BAD_REQUEST")
    assert any(name in body["error"] + body["detail"] for name in params), body


def test_filters_with_paging(pager):
    gemini = page(pager, job_type="gemini_task", limit=1)
    assert gemini["pagination"] == {"page": 1, "limit": 1, "total": N_GEMINI, "pages": N_GEMINI}
    assert gemini["data"][0]["id"] == pager.created[-1]
    cursor = page(pager, job_type="cursor_task")
    assert [j["id"] for j in cursor["data"]] == list(reversed(pager.created[:N_CURSOR]))
    done = page(pager, status="completed")
    assert done["pagination"]["total"] == 5
    running = page(pager, status="running")
    assert running["pagination"]["total"] == 0 and running["data"] == []
    both = page(pager, status="completed", job_type="gemini_task")
    assert both["pagination"]["total"] == N_GEMINI
