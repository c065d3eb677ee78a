"""`knify-sandbox` sandbox and job commands against the running server's store and the real engine: JSON shapes and
exit codes (0 success, 1 failure, 3 engine unavailable, 64 usage)."""

import json

from knify_server import sandbox_cli

SANDBOX_FIELDS = {"id", "job", "session", "state", "policy", "node", "created_at", "age_seconds", "idle_seconds",
                  "cpu_seconds", "memory_bytes"}
JOB_FIELDS = {"id", "job_type", "status", "tenant", "sandbox_id", "parent_job_id", "created_at", "completed_at", "error",
              "error_code"}


def cli(server, *args, check=True, env=None):
    return sandbox_cli(*args, "--data-dir", str(server.data_dir), check=check, env=env)


def sandbox_args(server):
    return ["--node-id", server.node_id, "--data-dir", str(server.data_dir)]


def test_ls_inspect_exec_pause_unpause_rm(server, rw):
    job = rw.run_job({"job_type": "gemini_task", "prompt": "cli target"})
    sandbox_id = job["sandbox_id"]
    listed = json.loads(sandbox_cli("ls", "--json", *sandbox_args(server)).stdout)
    mine = [s for s in listed if s["id"] == sandbox_id]
    assert len(mine) == 1 and set(mine[0]) == SANDBOX_FIELDS, listed
    assert mine[0]["state"] == "paused" and mine[0]["job"] == job["id"] and mine[0]["node"] == server.node_id
    assert mine[0]["cpu_seconds"] is not None and mine[0]["cpu_seconds"] >= 0
    table = sandbox_cli("ls", *sandbox_args(server)).stdout
    assert table.splitlines()[0].split() == ["ID", "JOB", "SESSION", "STATE", "POLICY", "AGE", "IDLE", "CPU", "MEM"]
    assert sandbox_id in table

    inspected = json.loads(sandbox_cli("inspect", sandbox_id, *sandbox_args(server)).stdout)
    assert inspected["sandbox"]["id"] == sandbox_id and inspected["container_state"] == "paused"
    assert inspected["container"] == f"knify-{sandbox_id}"

    # exec needs an active sandbox: a paused one is refused with a clear error.
    refused = sandbox_cli("exec", sandbox_id, *sandbox_args(server), "--", "true", check=False)
    assert refused.returncode == 1 and "paused" in refused.stderr, refused
    assert "active" in sandbox_cli("unpause", sandbox_id, *sandbox_args(server)).stdout
    ran = sandbox_cli("exec", sandbox_id, *sandbox_args(server), "--", "sh", "-c", "echo out; echo err >&2; exit 7",
                      check=False)
    assert (ran.returncode, ran.stdout, ran.stderr.strip().splitlines()[-1]) == (7, "out\n", "err"), ran
    assert "paused" in sandbox_cli("pause", sandbox_id, *sandbox_args(server)).stdout

    assert sandbox_cli("rm", sandbox_id, *sandbox_args(server)).stdout.strip() == f"{sandbox_id} removed"
    # Idempotent: a removed sandbox removes again.
    assert sandbox_cli("rm", sandbox_id, *sandbox_args(server)).returncode == 0
    assert json.loads(sandbox_cli("inspect", sandbox_id, *sandbox_args(server)).stdout)["sandbox"]["state"] == "cleaned"
    assert rw.get(f"/jobs/{job['id']}").json()["sandbox_state"] == "cleaned"


def test_unknown_ids_and_usage_errors(server):
    unknown = sandbox_cli("rm", "sbx_doesNotExist", *sandbox_args(server), check=False)
    assert unknown.returncode == 1 and "no sandbox" in unknown.stderr
    assert sandbox_cli("inspect", "sbx_doesNotExist", *sandbox_args(server), check=False).returncode == 1
    assert sandbox_cli("exec", "sbx_doesNotExist", *sandbox_args(server), "--", "true", check=False).returncode == 1
    assert sandbox_cli("exec", "sbx_x", check=False).returncode == 64
    assert sandbox_cli("jobs", "ls", "--status", "done", check=False).returncode == 64


def test_engine_unavailable_is_exit_3(server, tmp_path):
    env = {"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"}
    for args in (["ls"], ["reconcile"]):
        proc = sandbox_cli(*args, *sandbox_args(server), check=False, env=env)
        assert proc.returncode == 3, (args, proc)
        assert "engine" in proc.stderr.lower(), proc.stderr


def test_reconcile_adopts_the_servers_sandboxes(server, rw):
    job = rw.run_job({"job_type": "claude_task", "prompt": "reconcile me"})
    report = json.loads(sandbox_cli("reconcile", "--json", *sandbox_args(server)).stdout)
    assert set(report) == {"adopted", "removed_orphans", "marked_lost", "removed_stopped"}
    assert job["sandbox_id"] in report["adopted"] and report["removed_orphans"] == []


def test_jobs_ls_and_show(server, rw):
    job = rw.run_job({"job_type": "gemini_task", "prompt": "listed by the cli"})
    listed = json.loads(cli(server, "jobs", "ls", "--json", "--status", "completed").stdout)
    assert listed and all(set(j) == JOB_FIELDS and j["status"] == "completed" for j in listed)
    assert job["id"] in [j["id"] for j in listed]
    shown = json.loads(cli(server, "jobs", "show", job["id"]).stdout)
    assert set(shown) == JOB_FIELDS | {"stages"}
    assert [s["stage"] for s in shown["stages"]][-1] == "completed"
    missing = cli(server, "jobs", "show", "job_doesNotExist", check=False)
    assert missing.returncode == 1 and "no job" in missing.stderr


def test_pool_fill_status_drain(server):
    args = sandbox_args(server)
    filled = sandbox_cli("pool", "fill", "--size", "2", *args)
    assert filled.stdout.strip() == "default: 2 ready", filled
    status = json.loads(sandbox_cli("pool", "status", "--json", *args).stdout)
    assert status == [{"policy": "default", "ready": 2}]
    pooled = [s for s in json.loads(sandbox_cli("ls", "--json", *args).stdout) if s["job"] is None]
    assert len(pooled) == 2 and all(s["state"] == "active" for s in pooled)
    assert sandbox_cli("pool", "drain", *args).stdout.strip() == "drained 2"
    assert json.loads(sandbox_cli("pool", "status", "--json", *args).stdout) == []
    assert sandbox_cli("pool", "fill", "--size", "0", *args, check=False).returncode == 64


def test_logs_of_a_sandbox(server, rw):
    job = rw.run_job({"job_type": "gemini_task", "prompt": "logs"})
    assert sandbox_cli("logs", job["sandbox_id"], "--tail", "5", *sandbox_args(server)).returncode == 0
    assert sandbox_cli("logs", "sbx_doesNotExist", *sandbox_args(server), check=False).returncode == 1


def test_doctor_passes_here_and_names_a_missing_engine(server, tmp_path):
    checks = json.loads(sandbox_cli("doctor", "--json", *sandbox_args(server)).stdout)
    assert {c["check"] for c in checks} == {"engine", "seccomp", "cgroups", "runtimes", "image", "store", "disk"}
    assert all(c["ok"] for c in checks), checks
    # make engine registers gVisor, and strict prefers it.
    runtimes = next(c for c in checks if c["check"] == "runtimes")["detail"]
    assert "runsc" in runtimes and "strict → runsc" in runtimes and "default → runc" in runtimes, runtimes
    down = sandbox_cli("doctor", *sandbox_args(server), check=False,
                       env={"DOCKER_HOST": f"unix://{tmp_path}/no-engine.sock"})
    assert down.returncode == 3
    assert "FAIL engine" in down.stdout and "fix: start an engine" in down.stdout, down.stdout



def _create_orphan(node_id: str) -> str:
    """A container with this node's labels that no record knows: what a crash between create and record leaves."""
    import secrets
    import urllib.parse

    from knify_server import UnixHTTPConnection, docker_host

    sandbox_id = "sbx_orphan" + secrets.token_hex(4)
    body = json.dumps({"Image": "knify/sandbox:local", "Cmd": ["sleep", "300"],
                       "Labels": {"io.knify.sandbox": sandbox_id, "io.knify.node": node_id},
                       "HostConfig": {"NetworkMode": "none"}})
    conn = UnixHTTPConnection(urllib.parse.urlparse(docker_host()).path)
    conn.request("POST", f"/containers/create?name=knify-{sandbox_id}", body=body,
                 headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    assert response.status == 201, response.read()
    conn.close()
    return sandbox_id


def test_prune_dry_run_changes_nothing_then_prune_removes_orphans(server):
    from knify_server import engine_call

    orphan = _create_orphan(server.node_id)
    args = sandbox_args(server)
    planned = json.loads(sandbox_cli("prune", "--dry-run", "--grace", "0", "--json", *args).stdout)
    assert planned["dry_run"] is True and orphan in planned["orphans"], planned
    assert engine_call("GET", f"/containers/knify-{orphan}/json")[0] == 200, "dry run removed the orphan"
    assert f"would remove orphan {orphan}" in sandbox_cli("prune", "--dry-run", "--grace", "0", *args).stdout
    done = json.loads(sandbox_cli("prune", "--grace", "0", "--json", *args).stdout)
    assert done["dry_run"] is False and orphan in done["orphans"]
    assert engine_call("GET", f"/containers/knify-{orphan}/json")[0] == 404


def test_jobs_cancel_and_cleanup(server, rw):
    finished = rw.run_job({"job_type": "gemini_task", "prompt": "done"})
    assert "already completed" in cli(server, "jobs", "cancel", finished["id"]).stdout
    cleaned = cli(server, "jobs", "cleanup", finished["id"], "--node-id", server.node_id)
    assert f"sandbox {finished['sandbox_id']} destroyed" in cleaned.stdout
    assert "already cleaned" in cli(server, "jobs", "cleanup", finished["id"], "--node-id", server.node_id).stdout
    assert rw.get(f"/jobs/{finished['id']}").json()["sandbox_state"] == "cleaned"

    running = rw.create_job({"job_type": "claude_task", "prompt": "wait\n@@sleep 300"})
    rw.wait_job(running, until={"running"})
    refused = cli(server, "jobs", "cancel", running, check=False)
    assert refused.returncode == 1 and "through the API" in refused.stderr, refused
    assert cli(server, "jobs", "cancel", "job_doesNotExist", check=False).returncode == 1
    rw.cancel(running)


def test_policy_test_runs_the_escape_suite_in_a_live_sandbox(server):
    args = sandbox_args(server)
    before = {s["id"] for s in json.loads(sandbox_cli("ls", "--json", *args).stdout)}
    results = json.loads(sandbox_cli("policy", "test", "default", "--check", "mount", "--check", "keyctl",
                                     "--check", "raw_socket", "--json", *args).stdout)
    assert [r["check"] for r in results] == ["mount", "keyctl", "raw_socket"]
    assert all(r["blocked"] and "EPERM" in r["detail"] for r in results), results
    table = sandbox_cli("policy", "test", "strict", "--check", "mount", *args).stdout
    assert table.splitlines()[0].split() == ["CHECK", "RESULT", "DETAIL"] and "blocked" in table
    # The sandbox it made is gone again.
    assert {s["id"] for s in json.loads(sandbox_cli("ls", "--json", *args).stdout)} == before
    assert sandbox_cli("policy", "test", "no-such-policy", *args, check=False).returncode == 64
