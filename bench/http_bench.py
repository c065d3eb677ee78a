#!/usr/bin/env python3
"""HTTP benchmarks of `knify serve` (issue #5), measured next to the raw Docker Engine API in the same run.

  * GET /jobs/{id} and GET / under wrk at 64 connections (req/s, p99; the median of --repeats runs), against the engine's own
    GET /containers/{id}/json and GET /_ping under the same wrk settings. The engine only listens on its Unix socket,
    so it is reached through socat (one extra local hop: it flatters the engine's latency, not ours).
  * SSE fan-out: N clients on one job's /cursor/stream, read by `knify-bench sse-clients`; delivery latency = arrival
    time - the event's timestamp (when Knify parsed the agent's line; same host clock), p50/p99 over every event of
    every client.
  * POST /jobs admission with the warm pool full: how many jobs per second are accepted, and the p99 of one POST.

Usage: bench/http_bench.py --bin .build/release [--duration 10] [--sse-clients 1000] [--out bench/results/http.json]
"""
import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))
    return ordered[index]


class Server:
    def __init__(self, bin_dir, socket_path, warm_pool):
        self.bin_dir = bin_dir
        self.data = tempfile.mkdtemp(prefix="knify-bench-http-")
        self.port = free_port()
        self.node = f"bench-http-{os.getpid()}"
        key = subprocess.run([f"{bin_dir}/knify-sandbox", "api-key", "create", "--data-dir", self.data, "--name", "bench",
                              "--scopes", "jobs:read,jobs:write,admin", "--tier", "enterprise",
                              "--rate-limit", "100000000", "--json"], check=True, capture_output=True, text=True)
        self.key = json.loads(key.stdout)["api_key"]
        self.log = open(os.path.join(self.data, "server.log"), "w")
        self.process = subprocess.Popen(
            [f"{bin_dir}/knify", "serve", "--port", str(self.port), "--data-dir", self.data, "--node-id", self.node,
             "--docker-host", f"unix://{socket_path}", "--warm-pool", str(warm_pool), "--concurrency", "4"],
            stdout=self.log, stderr=self.log, env={**os.environ, "KNIFY_LOG_LEVEL": "warning"})
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if self.request("GET", "/", auth=False)[0] == 200:
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("knify serve did not start; see " + self.log.name)

    def request(self, method, path, body=None, auth=True):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Authorization": f"Bearer {self.key}"} if auth else {}
        if body is not None:
            headers["Content-Type"] = "application/json"
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        data = response.read()
        connection.close()
        return response.status, json.loads(data) if data.startswith(b"{") else data

    def submit(self, job_type, prompt):
        status, body = self.request("POST", "/jobs", {"spec": {"job_type": job_type, "prompt": prompt}})
        assert status == 200, body
        return body["job_id"]

    def wait(self, job_id, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, job = self.request("GET", f"/jobs/{job_id}")
            if job["status"] in ("completed", "failed", "cancelled"):
                return job
            time.sleep(0.05)
        raise SystemExit(f"job {job_id} did not finish")

    def settle(self, pooled, timeout=120):
        """Waits until the warm pool holds `pooled` started sandboxes: a refill's creates must not run beside a
        measurement (they load the engine and the CPUs, and every store write they make invalidates the read cache)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, body = self.request("GET", "/sandboxes")
            ready = [s for s in body.get("data", []) if s.get("pooled") and s.get("state") == "active"] if status == 200 else []
            if len(ready) >= pooled:
                return
            time.sleep(0.1)
        raise SystemExit(f"the warm pool did not refill to {pooled} within {timeout} s")

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.log.close()


def wrk_once(url, duration, connections, headers=()):
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run(command + [url], check=True, capture_output=True, text=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", output)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return {"req_per_s": rate, "p99_ms": float(p99.group(1)) * scale, "non_2xx": int(errors.group(1)) if errors else 0}


def medians(runs, keys):
    """The median of each figure over repeated runs, with every run kept."""
    summary = {key: statistics.median(run[key] for run in runs) for key in keys}
    summary["runs"] = runs
    return summary


def wrk(url, duration, connections, headers=(), repeats=3):
    runs = [wrk_once(url, duration, connections, headers) for _ in range(repeats)]
    result = medians(runs, ("req_per_s", "p99_ms"))
    result["non_2xx"] = sum(run["non_2xx"] for run in runs)
    return result


def fan_out(server, clients, repeats=3, pooled=0):
    """SSE fan-out, the median of `repeats` jobs (see fan_out_once), each on a full warm pool."""
    runs = []
    for _ in range(repeats):
        server.settle(pooled)
        runs.append(fan_out_once(server, clients))
    result = medians(runs, ("p50_ms", "p99_ms", "max_ms"))
    result["clients"] = clients
    return result


def fan_out_once(server, clients):
    """SSE fan-out, read by `knify-bench sse-clients` (one poll(2) thread: a Python reader of 1,000 sockets saturated
    a core and measured itself). The agent waits 4 s for the clients, then emits an event pair every 100 ms."""
    prompt = "fan-out\n@@sleep 4\n" + "".join("@@run true\n@@sleep 0.1\n" for _ in range(20))
    job_id = server.submit("claude_task", prompt)
    reader = subprocess.run([f"{server.bin_dir}/knify-bench", "sse-clients", "--port", str(server.port), "--job", job_id,
                             "--clients", str(clients)], env={**os.environ, "KNIFY_BENCH_KEY": server.key},
                            check=True, capture_output=True, text=True, timeout=180)
    result = json.loads(reader.stdout)
    server.request("POST", f"/jobs/{job_id}/cleanup")
    if result["opened"] != clients or result["ended"] != clients:
        raise SystemExit(f"SSE fan-out: {result['opened']} of {clients} streams opened, {result['ended']} ended")
    return result


def admission(server, jobs, threads):
    latencies, ids, lock = [], [], threading.Lock()

    def worker(count):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        for _ in range(count):
            body = json.dumps({"spec": {"job_type": "gemini_task", "prompt": "admission"}})
            began = time.perf_counter()
            connection.request("POST", "/jobs", body=body, headers={"Authorization": f"Bearer {server.key}",
                                                                     "Content-Type": "application/json"})
            response = connection.getresponse()
            reply = json.loads(response.read())
            elapsed = (time.perf_counter() - began) * 1000
            assert response.status == 200, reply
            with lock:
                latencies.append(elapsed)
                ids.append(reply["job_id"])
        connection.close()

    began = time.perf_counter()
    workers = [threading.Thread(target=worker, args=(jobs // threads,)) for _ in range(threads)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    seconds = time.perf_counter() - began
    for job_id in ids:
        server.request("POST", f"/jobs/{job_id}/cancel")
    for job_id in ids:
        server.request("POST", f"/jobs/{job_id}/cleanup")
    return {"jobs": len(ids), "threads": threads, "jobs_per_s": len(ids) / seconds, "p99_ms": percentile(latencies, 99)}


def rss_at_sandboxes(server, count):
    """The server's resident memory with `count` live sandboxes: `count` jobs run to their end, each leaving its
    sandbox paused for a continue (as a user's finished jobs do), then VmRSS and the peak VmHWM are read."""
    def memory():
        fields = dict(line.split(":", 1) for line in open(f"/proc/{server.process.pid}/status"))
        return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}

    before = memory()
    ids = [server.submit("gemini_task", f"rss {index}") for index in range(count)]
    for job_id in ids:
        job = server.wait(job_id, timeout=600)
        assert job["status"] == "completed", job
    status, sandboxes = server.request("GET", "/sandboxes")
    live = len(sandboxes["data"]) if status == 200 else None  # the warm pool's sandboxes included
    after = memory()
    for job_id in ids:
        server.request("POST", f"/jobs/{job_id}/cleanup")
    return {"sandboxes": count, "live_reported": live, "rss_idle_mib": before["VmRSS"], "rss_mib": after["VmRSS"],
            "peak_rss_mib": after["VmHWM"]}


def sweep(socket_path, node):
    """Removes every container and volume of the bench's node: its warm pool outlives the server by design
    (a restart re-adopts it), and a run that failed half-way must not leave sandboxes behind either."""
    class UnixConnection(http.client.HTTPConnection):
        def connect(self):
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.connect(socket_path)

    def call(method, path):
        connection = UnixConnection("localhost", timeout=60)
        connection.request(method, path)
        response = connection.getresponse()
        body = response.read()
        connection.close()
        return json.loads(body) if body.startswith((b"[", b"{")) else None

    label = urllib.parse.quote(json.dumps({"label": [f"io.knify.node={node}"]}))
    for container in call("GET", f"/containers/json?all=true&filters={label}") or []:
        call("DELETE", f"/containers/{container['Id']}?force=true&v=true")
    for volume in (call("GET", f"/volumes?filters={label}") or {}).get("Volumes") or []:
        call("DELETE", f"/volumes/{urllib.parse.quote(volume['Name'])}?force=true")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=".build/release")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3, help="runs of each wrk and fan-out measure (medians reported)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--sse-clients", type=int, default=1000)
    parser.add_argument("--admission-jobs", type=int, default=192)
    parser.add_argument("--warm-pool", type=int, default=4)
    parser.add_argument("--rss-sandboxes", type=int, default=200, help="live sandboxes for the RSS measure (0 skips it)")
    parser.add_argument("--out", default="bench/results/http.json")
    args = parser.parse_args()
    socket_path = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock").removeprefix("unix://")
    for tool in ("wrk", "socat"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is missing: make bench installs it (apt-get install -y {tool})")

    server = Server(args.bin, socket_path, args.warm_pool)
    engine_port = free_port()
    # socat reports every connection wrk closes mid-reply as a broken pipe: noise, not a result.
    proxy = subprocess.Popen(["socat", f"TCP-LISTEN:{engine_port},fork,reuseaddr,bind=127.0.0.1", f"UNIX-CONNECT:{socket_path}"],
                             stderr=subprocess.DEVNULL)
    results = {}
    try:
        job = server.wait(server.submit("gemini_task", "bench target"))
        container = "knify-" + job["sandbox_id"]
        auth = f"Authorization: Bearer {server.key}"
        base = f"http://127.0.0.1:{server.port}"
        engine = f"http://127.0.0.1:{engine_port}"
        time.sleep(0.5)  # let socat bind before wrk connects
        server.settle(args.warm_pool)
        results["get_job"] = wrk(f"{base}/jobs/{job['id']}", args.duration, args.connections, [auth], args.repeats)
        results["engine_inspect"] = wrk(f"{engine}/v1.41/containers/{container}/json", args.duration, args.connections,
                                        repeats=args.repeats)
        results["get_health"] = wrk(f"{base}/", args.duration, args.connections, repeats=args.repeats)
        results["engine_ping"] = wrk(f"{engine}/_ping", args.duration, args.connections, repeats=args.repeats)
        results["sse_fan_out"] = fan_out(server, args.sse_clients, args.repeats, args.warm_pool)
        results["admission"] = admission(server, args.admission_jobs, 16)
        if args.rss_sandboxes:
            results["rss"] = rss_at_sandboxes(server, args.rss_sandboxes)
        server.request("POST", f"/jobs/{job['id']}/cleanup")
    finally:
        proxy.terminate()
        server.stop()
        sweep(socket_path, server.node)

    results["ratios"] = {
        "get_job_vs_engine_inspect_req_per_s": results["get_job"]["req_per_s"] / results["engine_inspect"]["req_per_s"],
        "get_job_vs_engine_inspect_p99": results["get_job"]["p99_ms"] / results["engine_inspect"]["p99_ms"],
        "health_vs_engine_ping_req_per_s": results["get_health"]["req_per_s"] / results["engine_ping"]["req_per_s"],
        "health_vs_engine_ping_p99": results["get_health"]["p99_ms"] / results["engine_ping"]["p99_ms"],
    }
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(args.out, "w") as handle:
        json.dump(results, handle, indent=2)
    r = results
    print(f"| measure | Knify | raw engine | ratio |")
    print(f"|---|---|---|---|")
    print(f"| GET /jobs/{{id}} req/s ({args.connections} conns) | {r['get_job']['req_per_s']:.0f} | "
          f"{r['engine_inspect']['req_per_s']:.0f} (inspect) | {r['ratios']['get_job_vs_engine_inspect_req_per_s']:.2f} |")
    print(f"| GET /jobs/{{id}} p99 ms | {r['get_job']['p99_ms']:.2f} | {r['engine_inspect']['p99_ms']:.2f} | "
          f"{r['ratios']['get_job_vs_engine_inspect_p99']:.2f} |")
    print(f"| GET / req/s | {r['get_health']['req_per_s']:.0f} | {r['engine_ping']['req_per_s']:.0f} (_ping) | "
          f"{r['ratios']['health_vs_engine_ping_req_per_s']:.2f} |")
    print(f"| GET / p99 ms | {r['get_health']['p99_ms']:.2f} | {r['engine_ping']['p99_ms']:.2f} | "
          f"{r['ratios']['health_vs_engine_ping_p99']:.2f} |")
    s = r["sse_fan_out"]
    print(f"| SSE fan-out, {s['clients']} clients: delivery p50 / p99 ms | {s['p50_ms']:.1f} / {s['p99_ms']:.1f} | | |")
    a = r["admission"]
    print(f"| POST /jobs admission, warm pool full: jobs/s, p99 ms | {a['jobs_per_s']:.0f}, {a['p99_ms']:.1f} | | |")
    if "rss" in r:
        m = r["rss"]
        print(f"| orchestrator RSS at {m['sandboxes']} live sandboxes: MiB (idle, peak) | {m['rss_mib']:.0f} "
              f"({m['rss_idle_mib']:.0f}, {m['peak_rss_mib']:.0f}) | | |")
    if any(r[k]["non_2xx"] for k in ("get_job", "get_health")):
        raise SystemExit("wrk saw non-2xx replies from Knify")


if __name__ == "__main__":
    main()
