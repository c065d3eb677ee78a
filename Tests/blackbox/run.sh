#!/usr/bin/env bash
# Knify black-box HTTP suite: pytest against a real `knify serve`, then schemathesis against the live server's
# /openapi.json. Builds nothing: the binaries must already be in KNIFY_BIN_DIR (default .build/debug), the engine
# must answer on DOCKER_HOST and the sandbox image must exist (`make blackbox` sees to all three).
#
#   bash Tests/blackbox/run.sh                    # everything
#   bash Tests/blackbox/run.sh -k sse -x          # extra arguments go to pytest
#   KNIFY_BB_SKIP_SCHEMATHESIS=1 bash Tests/blackbox/run.sh   # or KNIFY_BB_SKIP_PYTEST=1
#   KNIFY_BB_MAX_EXAMPLES=5 bash Tests/blackbox/run.sh
#
# Exit status: non-zero when pytest or schemathesis failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${KNIFY_BB_VENV:-$root/.knify/venv}"
export KNIFY_BIN_DIR="${KNIFY_BIN_DIR:-.build/debug}"
export DOCKER_HOST="${DOCKER_HOST:-unix:///var/run/docker.sock}"
export PYTHONDONTWRITEBYTECODE=1

# The virtual environment, made and filled only when something is missing.
if [ ! -x "$venv/bin/python" ]; then
  echo "blackbox: creating $venv"
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -c 'import pytest, pytest_timeout, requests, httpx, httpx_sse, schemathesis' 2>/dev/null; then
  echo "blackbox: installing $here/requirements.txt into $venv"
  "$venv/bin/pip" install -q -r "$here/requirements.txt"
fi

bin="$KNIFY_BIN_DIR"
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
for program in knify knify-sandbox; do
  if [ ! -x "$bin/$program" ]; then
    echo "blackbox: $bin/$program is missing; build Knify first (make build)" >&2
    exit 1
  fi
done

cd "$here"
status=0

if [ "${KNIFY_BB_SKIP_PYTEST:-0}" != "1" ]; then
  echo "blackbox: pytest (server $bin/knify, engine $DOCKER_HOST)"
  "$venv/bin/python" -m pytest "$@" || status=$?
fi

if [ "${KNIFY_BB_SKIP_SCHEMATHESIS:-0}" != "1" ]; then
  echo "blackbox: schemathesis against a fresh server's /openapi.json"
  examples="${KNIFY_BB_MAX_EXAMPLES:-20}"
  # Runs inside `knify_server.py exec`, which starts a server, creates an admin enterprise key and one finished
  # job, exports KNIFY_BB_URL / KNIFY_BB_ADMIN_KEY / KNIFY_BB_JOB_ID, and removes the server's sandboxes afterwards.
  # 1. The read operations (GET) with job_id fixed to the finished job (and an artifact path of it), so their
  #    200 replies are checked against the document's schemas too, not only 404s.
  # 2. The per-job POSTs (continue, cleanup, cancel, stream-token) with generated ids and bodies; POST /jobs and
  #    POST /workspaces, which create sandboxes and workspaces, are left out.
  # 3. POST /jobs with schema-violating bodies only (negative mode): every one must be a 4xx, none a job.
  # Schemathesis and Hypothesis keep caches in the working directory: keep them out of the source tree.
  work="$root/.knify/blackbox"
  mkdir -p "$work"
  cd "$work"
  "$venv/bin/python" "$here/knify_server.py" exec -- bash -c '
    set -u
    st="$0"; examples="$1"
    config="$(mktemp --suffix .toml)"
    trap "rm -f \"$config\"" EXIT
    printf "[parameters]\n\"path.job_id\" = \"%s\"\n\"path.path\" = \"hello.txt\"\n" "$KNIFY_BB_JOB_ID" > "$config"
    common=(--header "Authorization: Bearer $KNIFY_BB_ADMIN_KEY"
            --checks not_a_server_error,response_schema_conformance
            --phases examples,coverage,fuzzing --seed 1 --workers 2 --request-timeout 15
            --generation-database none --generation-with-security-parameters false --no-color)
    rc=0
    echo "schemathesis 1/3: GET operations on job $KNIFY_BB_JOB_ID"
    "$st" --config-file "$config" run "$KNIFY_BB_URL/openapi.json" "${common[@]}" --max-examples "$examples" \
      --include-method GET || rc=1
    echo "schemathesis 2/3: the per-job POSTs (continue, cleanup, cancel, stream-token), generated ids"
    "$st" run "$KNIFY_BB_URL/openapi.json" "${common[@]}" --max-examples "$examples" \
      --include-method POST --exclude-name "POST /jobs" --exclude-name "POST /workspaces" || rc=1
    echo "schemathesis 3/3: POST /jobs, negative mode"
    "$st" run "$KNIFY_BB_URL/openapi.json" "${common[@]}" --max-examples "$(( (examples + 1) / 2 ))" \
      --include-name "POST /jobs" --mode negative || rc=1
    exit $rc
  ' "$venv/bin/schemathesis" "$examples" || status=1
fi

if [ "$status" -eq 0 ]; then echo "blackbox: all passed"; else echo "blackbox: FAILED" >&2; fi
exit "$status"
