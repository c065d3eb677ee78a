"""The cluster suite's one fixture: a local cluster (`scripts/cluster.sh up`), 3 workers on 3 engines and one API
node on one PostgreSQL, with a short lease; always brought down at the end, whatever happened."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "Tests" / "blackbox"))

LEASE = 3
ENV = {**os.environ, "NODES": "3", "API_NODES": "1", "LEASE": str(LEASE), "SCHEDULER_INTERVAL": "1", "CLUSTER_FRESH": "1"}


def cluster_sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(ROOT / "scripts" / "cluster.sh"), *args], cwd=ROOT, env=ENV, text=True,
                          capture_output=True, timeout=300, check=check)


@pytest.fixture(scope="session")
def cluster():
    cluster_sh("down", check=False)  # whatever an earlier run left
    up = cluster_sh("up", check=False)
    try:
        assert up.returncode == 0, f"cluster up failed:\n{up.stdout}\n{up.stderr}"
        state_dir = Path(os.environ.get("STATE_DIR", ROOT / ".knify"))
        info = json.loads((state_dir / "cluster" / "cluster.json").read_text())
        info["admin_key"] = Path(info["admin_key_file"]).read_text().strip()
        info["lease"] = LEASE
        yield info
    finally:
        down = cluster_sh("down", check=False)
        print(down.stdout, down.stderr)
        assert down.returncode == 0, f"cluster down left something behind:\n{down.stdout}\n{down.stderr}"
