"""The job lifecycle a user would script with docker-py instead of Knify: create, start, exec the agent, collect
its output file, remove. Prints the median and samples (ms) as JSON for `make bench`."""
import argparse
import io
import json
import statistics
import tarfile
import time

import docker


def one_cycle(client, image):
    container = client.containers.create(
        image, ["sleep", "infinity"], user="1000:1000", network_mode="none", working_dir="/workspace",
        labels={"io.knify.bench": "dockerpy"}, read_only=True, tmpfs={"/tmp": "size=64m", "/home/agent": "size=32m,uid=1000,gid=1000"},
        mem_limit="512m", memswap_limit="512m", nano_cpus=1_000_000_000, pids_limit=256, cap_drop=["ALL"],
        security_opt=["no-new-privileges"], mounts=[docker.types.Mount("/workspace", None, type="volume")],
    )
    try:
        container.start()
        exit_code, output = container.exec_run(
            ["cursor-agent", "-p", "--output-format", "stream-json", "--trust", "--force", "--workspace", "/workspace",
             "--model", "auto", "bench turn"], workdir="/workspace")
        assert exit_code == 0, output
        lines = [json.loads(line) for line in output.decode().splitlines() if line.strip()]
        assert lines[-1]["type"] == "result"
        stream, _ = container.get_archive("/workspace/AGENT_TASK.md")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as archive:
            assert archive.getmembers()
    finally:
        container.remove(force=True, v=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--image", default="knify/sandbox:local")
    args = parser.parse_args()
    client = docker.from_env()
    samples = []
    for _ in range(args.iterations):
        start = time.perf_counter()
        one_cycle(client, args.image)
        samples.append((time.perf_counter() - start) * 1000)
    print(json.dumps({"median_ms": statistics.median(samples), "samples_ms": samples}))


if __name__ == "__main__":
    main()
