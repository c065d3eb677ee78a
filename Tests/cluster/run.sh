#!/usr/bin/env bash
# The cluster suite: real `knify serve` processes (3 workers, 1 API node) on 3 Docker engines and one PostgreSQL,
# brought up and down by scripts/cluster.sh. Builds nothing; needs `make build`, `make engine`, `make postgres`
# (`make cluster-test` sees to all three). Extra arguments go to pytest.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${KNIFY_BB_VENV:-$root/.knify/venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pytest, pytest_timeout, requests, httpx, httpx_sse' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/Tests/blackbox/requirements.txt"
fi
# A failed run must not leave engines or servers behind.
trap 'bash "$root/scripts/cluster.sh" down >/dev/null 2>&1 || true' EXIT
cd "$here"
PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -p no:cacheprovider -v --timeout 300 "$@" test_cluster.py
