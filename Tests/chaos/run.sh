#!/usr/bin/env bash
# The chaos suite: real `knify serve` processes on an engine of the suite's own (Tests/chaos/conftest.py), killed
# with SIGKILL mid-job, their engine stopped and restarted, flooded with jobs, their disk filled. Builds nothing:
# needs the debug binaries (`make build`) and the static probe and launcher the image holds (`make probe`).
#
#   CHAOS_SCALE=bounded bash Tests/chaos/run.sh   # inside `make test`: 3 kill points, a 100-job burst
#   CHAOS_SCALE=full bash Tests/chaos/run.sh      # `make chaos`: up to 10 kill points, a 1,000-job burst
#   CHAOS_SEED=1234 …                             # repeat a run's random kill points
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${KNIFY_BB_VENV:-$root/.knify/venv}"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pytest, pytest_timeout, requests, httpx, httpx_sse' 2>/dev/null; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r "$root/Tests/blackbox/requirements.txt"
fi
export KNIFY_BIN_DIR="${KNIFY_BIN_DIR:-.build/debug}"
scale="${CHAOS_SCALE:-bounded}"
timeout=600; [ "$scale" = full ] && timeout=3600
cd "$here"
echo "chaos: scale $scale"
CHAOS_SCALE="$scale" PYTHONDONTWRITEBYTECODE=1 "$venv/bin/python" -m pytest -p no:cacheprovider -v -s -ra \
  --timeout "$timeout" "$@" test_chaos.py
