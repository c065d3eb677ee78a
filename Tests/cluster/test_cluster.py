"""A real cluster on one machine: 3 workers, each with its own Docker engine, and an API node, sharing PostgreSQL.

Which engine runs a job is read from the engines themselves (the container labelled with the job's sandbox), not from
Knify's own answers. Waits are bounded polls of the API or the engines, never bare sleeps."""

from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta, timezone

import requests

from conftest import cluster_sh
from knify_api import Client, describe, parse_ts, sse_read, wait_for

TERMINAL = ("completed", "failed", "cancelled")


def engine_sandboxes(docker_host: str) -> dict[str, str]:
    """Sandbox id → container state, straight from one engine."""
    socket = docker_host.removeprefix("unix://")
    out = subprocess.run(["curl", "-sf", "--unix-socket", socket, "-G", "http://localhost/containers/json",
                          "--data-urlencode", "all=true", "--data-urlencode", 'filters={"label":["io.knify.sandbox"]}'],
                         capture_output=True, text=True, timeout=30, check=True).stdout
    return {c["Labels"]["io.knify.sandbox"]: c["State"] for c in json.loads(out)}


def node_of(cluster: dict, sandbox_id: str) -> str | None:
    for worker in cluster["workers"]:
        if sandbox_id in engine_sandboxes(worker["docker_host"]):
            return worker["id"]
    return None


def api(cluster: dict, url: str | None = None) -> Client:
    return Client(url or cluster["api"][0]["url"], cluster["admin_key"], "cluster")


def submit(client: Client, prompt: str, job_type: str = "claude_task") -> str:
    resp = client.post("/jobs", json={"spec": {"job_type": job_type, "prompt": prompt}})
    assert resp.status_code == 200, describe(resp)
    return resp.json()["job_id"]


def nodes(cluster: dict) -> dict[str, dict]:
    out = subprocess.run([".build/debug/knify-sandbox", "nodes", "ls", "--json", "--store", cluster["store"]],
                         cwd=cluster_root(), capture_output=True, text=True, timeout=60, check=True).stdout
    return {node["id"]: node for node in json.loads(out)}


def cluster_root():
    from conftest import ROOT
    return ROOT


def health(url: str) -> dict | None:
    try:
        return requests.get(url + "/", timeout=5).json()
    except (requests.RequestException, ValueError):
        return None


def test_jobs_spread_over_the_workers(cluster):
    client = api(cluster)
    ids = [submit(client, f"job {index}\n@@run true") for index in range(6)]
    jobs = [client.wait_job(job_id, timeout=120) for job_id in ids]
    assert [job["status"] for job in jobs] == ["completed"] * 6, jobs
    placed = [node_of(cluster, job["sandbox_id"]) for job in jobs]
    assert None not in placed, placed
    counts = {worker["id"]: placed.count(worker["id"]) for worker in cluster["workers"]}
    # Least-loaded placement by live sandboxes: six jobs on three empty workers go two by two.
    assert sorted(counts.values()) == [2, 2, 2], counts


def test_continue_runs_on_the_node_of_its_sandbox(cluster):
    client = api(cluster)
    parent = client.wait_job(submit(client, "Write notes\n@@write notes.txt\nremember me\n@@end", "cursor_task"), timeout=120)
    assert parent["status"] == "completed", parent
    home = node_of(cluster, parent["sandbox_id"])
    resp = client.post(f"/jobs/{parent['id']}/continue", json={"spec": {"job_type": "cursor_task", "prompt": "again\n@@run cat notes.txt"}})
    assert resp.status_code == 200, describe(resp)
    child = client.wait_job(resp.json()["job_id"], timeout=120)
    assert child["status"] == "completed", child
    assert child["sandbox_id"] == parent["sandbox_id"]
    assert node_of(cluster, child["sandbox_id"]) == home
    text = json.dumps(client.cursor_events(child["id"]))
    assert "Resuming session" in text and "remember me" in text, text[:2000]


def test_the_api_node_streams_a_job_running_on_a_worker(cluster):
    client = api(cluster)
    job_id = submit(client, "first words\n@@sleep 2")
    response, messages = sse_read(client.base_url, f"/jobs/{job_id}/cursor/stream",
                                  headers={"Authorization": f"Bearer {cluster['admin_key']}"}, deadline_s=120)
    assert response.status_code == 200
    assert messages and messages[-1].data.get("type") == "done", [m.data for m in messages][-3:]
    assert messages[-1].data.get("status") == "completed"
    said = " ".join(m.data.get("message") or "" for m in messages if m.data.get("type") == "agent_message")
    assert "Working on: first words" in said and "Done." in said, said
    job = client.job(job_id)
    assert node_of(cluster, job["sandbox_id"]) in {w["id"] for w in cluster["workers"]}


def test_a_killed_worker_is_lost_and_comes_back(cluster):
    client = api(cluster)
    job_id = submit(client, "long\n@@sleep 120")
    job = client.wait_stage(job_id, "agent_started", timeout=120)
    victim = node_of(cluster, job["sandbox_id"])
    assert victim is not None
    started = time.monotonic()
    cluster_sh("kill", victim)
    try:
        failed = client.wait_job(job_id, timeout=cluster["lease"] + 30)
        elapsed = time.monotonic() - started
        assert failed["status"] == "failed" and "node lost" in (failed.get("error") or ""), failed
        assert failed["error_code"] == "SANDBOX_ERROR"
        assert failed["sandbox_state"] == "lost", failed
        assert elapsed < cluster["lease"] + 15, f"declared lost after {elapsed:.1f} s"
        assert nodes(cluster)[victim]["state"] == "lost"
        # The container is still on the dead node's engine: nobody but that node may touch it.
        assert job["sandbox_id"] in engine_sandboxes(next(w for w in cluster["workers"] if w["id"] == victim)["docker_host"])

        # New work goes to the others.
        later = [client.wait_job(submit(client, f"after {i}\n@@run true"), timeout=120) for i in range(3)]
        assert all(j["status"] == "completed" for j in later), later
        assert victim not in {node_of(cluster, j["sandbox_id"]) for j in later}
    finally:
        # Back with the same id and engine, whatever happened above.
        cluster_sh("start", victim)

    # Up again, and its reconciler removes the lost sandbox's container.
    engine = next(w for w in cluster["workers"] if w["id"] == victim)["docker_host"]
    wait_for(lambda: job["sandbox_id"] not in engine_sandboxes(engine), timeout=60, interval=0.5,
             message="the lost sandbox's container to be reaped")
    wait_for(lambda: nodes(cluster)[victim]["state"] == "up", timeout=30, interval=0.5, message="the node to be up again")


def coordinators(cluster: dict) -> list[str]:
    found = []
    for node in cluster["api"] + cluster["workers"]:
        info = health(node["url"])
        if info and info.get("cluster", {}).get("coordinator"):
            found.append(node["id"])
    return found


def test_the_scheduler_fails_over_and_fires_a_slot_once(cluster):
    # One coordinator at a time.
    current = wait_for(lambda: coordinators(cluster), timeout=30, interval=0.5, message="a coordinator")
    assert len(current) == 1, current
    old = current[0]
    survivors = [n for n in cluster["api"] + cluster["workers"] if n["id"] != old]
    url = survivors[0]["url"]

    created = subprocess.run([".build/debug/knify-sandbox", "client", "create", "--store", cluster["store"], "--name", "failover",
                              "--user", "sched-user", "--json"], cwd=cluster_root(), capture_output=True, text=True,
                             timeout=60, check=True)
    credentials = json.loads(created.stdout)
    token = requests.post(url + "/api/oauth/token", data={"grant_type": "client_credentials", "client_id": credentials["client_id"],
                                                          "client_secret": credentials["client_secret"]}, timeout=30)
    assert token.status_code == 200, describe(token)
    knaps = Client(url, token.json()["access_token"], "knaps")
    slot = (datetime.now(timezone.utc) + timedelta(seconds=70)).replace(second=0, microsecond=0)
    resp = knaps.post("/api/studio/knap-tools", json={"name": "failover", "tool_metadata": {
        "action_description": "scheduled\n@@run echo scheduled", "schedule_description": f"daily at {slot:%H:%M}"}})
    assert resp.status_code == 201, describe(resp)
    knap = resp.json()
    assert parse_ts(knap["next_run_at"]) == slot

    # The coordinator dies before the slot; PostgreSQL drops its session lock and another node takes over.
    cluster_sh("kill", old)
    try:
        new = wait_for(lambda: [n for n in coordinators(cluster) if n != old], timeout=30, interval=0.5,
                       message="another node to become coordinator")
        assert len(new) == 1 and new[0] != old, new

        def runs():
            resp = knaps.get(f"/api/studio/knap-tools/{knap['uuid']}/runs")
            assert resp.status_code == 200, describe(resp)
            return resp.json()["runs"]

        # Polled every 2 s: the client's window (100 per minute) is counted for the whole cluster.
        fired = wait_for(runs, timeout=150, interval=2, message=f"the slot {slot.isoformat()} to fire")
        assert len(fired) == 1 and parse_ts(fired[0]["slot_at"]) == slot, fired
        done = wait_for(lambda: [r for r in runs() if r["status"] in TERMINAL], timeout=120, interval=2,
                        message="the scheduled run to finish")
        assert [r["status"] for r in done] == ["completed"], done
        assert len(runs()) == 1, "a slot fires once"
    finally:
        cluster_sh("start", old)


def test_stream_tokens_and_rate_windows_are_the_clusters(cluster):
    client = api(cluster)
    job_id = submit(client, "short\n@@run true")
    assert client.wait_job(job_id, timeout=120)["status"] == "completed"
    # A stream token minted by the API node is honoured by a worker node: the signing key is shared in the store.
    minted = client.post(f"/jobs/{job_id}/stream-token")
    assert minted.status_code == 200, describe(minted)
    worker = cluster["workers"][-1]["url"]
    response, messages = sse_read(worker, minted.json()["stream_url"].split("?")[0],
                                  params={"token": minted.json()["token"]}, deadline_s=60)
    assert response.status_code == 200 and messages[-1].data.get("type") == "done", [m.data for m in messages][-2:]
    # One key's window is counted once for the whole cluster: alternating nodes, the remaining budget falls by one
    # at each request.
    urls = [cluster["api"][0]["url"], cluster["workers"][0]["url"], cluster["api"][0]["url"], worker]
    remaining = []
    for url in urls:
        reply = requests.get(f"{url}/jobs/{job_id}", headers={"Authorization": f"Bearer {cluster['admin_key']}"}, timeout=30)
        assert reply.status_code == 200, describe(reply)
        remaining.append(int(reply.headers["X-RateLimit-Remaining"]))
    assert remaining == [remaining[0] - step for step in range(4)], remaining
