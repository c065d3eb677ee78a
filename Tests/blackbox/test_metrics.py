"""GET /metrics: Prometheus text exposition, admin only."""

import re

import pytest

from knify_api import assert_error, describe

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)(\s+\d+)?$')


def parse(text):
    samples, types = [], {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(None, 3)
            types[name] = kind.strip()
            continue
        if line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
        value = float(match.group(4))
        samples.append((match.group(1), labels, value))
    return samples, types


@pytest.fixture(scope="module")
def metrics(admin, finished_job):
    resp = admin.get("/metrics")
    assert resp.status_code == 200, describe(resp)
    assert resp.headers["Content-Type"].startswith("text/plain"), resp.headers["Content-Type"]
    return parse(resp.text)


def names(samples):
    return {name for name, _, _ in samples}


def test_jobs_by_status(metrics):
    samples, types = metrics
    jobs = [(labels, value) for name, labels, value in samples if name == "knify_jobs"]
    assert jobs, "no knify_jobs samples"
    assert all("status" in labels for labels, _ in jobs), jobs
    by_status = {}
    for labels, value in jobs:
        by_status[labels["status"]] = by_status.get(labels["status"], 0) + value
    assert set(by_status) <= {"pending", "running", "completed", "failed", "cancelled"}, by_status
    assert by_status.get("completed", 0) >= 1, by_status


def test_job_duration_histogram(metrics):
    samples, types = metrics
    assert types.get("knify_job_duration_seconds") == "histogram", types
    present = names(samples)
    for suffix in ("_bucket", "_sum", "_count"):
        assert "knify_job_duration_seconds" + suffix in present, present
    buckets = [(labels, value) for name, labels, value in samples if name == "knify_job_duration_seconds_bucket"]
    assert any(labels.get("le") == "+Inf" for labels, _ in buckets), buckets
    count = sum(v for n, _, v in samples if n == "knify_job_duration_seconds_count")
    assert count >= 1


@pytest.mark.parametrize("metric", ["knify_sandboxes", "knify_pool_hits_total", "knify_pool_misses_total",
                                    "knify_knap_runs_total"])
def test_sandbox_and_pool_metrics(metrics, metric):
    samples, _ = metrics
    assert metric in names(samples), sorted(names(samples))


def test_engine_request_seconds(metrics):
    samples, _ = metrics
    assert any(n.startswith("knify_engine_request_seconds") for n in names(samples)), sorted(names(samples))
    count = sum(v for n, _, v in samples if n == "knify_engine_request_seconds_count")
    assert count >= 1, "jobs ran, so the engine was called"


def test_metrics_without_auth_is_401(anon):
    assert_error(anon.get("/metrics"), 401, "UNAUTHORIZED")
