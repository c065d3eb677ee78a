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
if ! "$venv/bin/python" -c 'import pytest, pytest_timeout, requests, httpx, httpx_sse, schemathesis, selenium' 2>/dev/null; then
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
  # Runs inside `knify_server.py exec`, which starts a server (no scheduler, a Knaps limit no run can reach),
  # creates an admin enterprise key, one finished job, an org admin's Knaps client with an access token and one
  # knap of it, exports KNIFY_BB_URL / KNIFY_BB_ADMIN_KEY / KNIFY_BB_JOB_ID / KNIFY_BB_KNAPS_TOKEN /
  # KNIFY_BB_KNAP_UUID, and removes the server's sandboxes afterwards.
  # Steps 1-3 are the Knify job API (every path but /api/…, with the admin key); step 4 is the Knaps API (/api/…,
  # with the Knaps token).
  # 1. The read operations (GET) with job_id fixed to the finished job (and an artifact path of it), so their
  #    200 replies are checked against the document's schemas too, not only 404s.
  # 2. The per-job POSTs (continue, cleanup, cancel, stream-token) with generated ids and bodies; POST /jobs and
  #    POST /workspaces, which create sandboxes and workspaces, are left out.
  # 3. POST /jobs with schema-violating bodies only (negative mode): every one must be a 4xx, none a job.
  # 4. The Knaps operations with uuid fixed to the seeded knap, so GET/PUT/PATCH answer 200 with real knaps; the
  #    run and the meeting-transcription trigger, which start sandboxes, are left out. DELETE runs last, on its
  #    own, since it removes that knap.
  # Schemathesis and Hypothesis keep caches in the working directory: keep them out of the source tree.
  work="$root/.knify/blackbox"
  mkdir -p "$work"
  cd "$work"
  "$venv/bin/python" "$here/knify_server.py" exec -- bash -c '
    set -u
    st="$0"; examples="$1"
    config="$(mktemp --suffix .toml)"
    knaps_config="$(mktemp --suffix .toml)"
    trap "rm -f \"$config\" \"$knaps_config\"" EXIT
    printf "[parameters]\n\"path.job_id\" = \"%s\"\n\"path.path\" = \"hello.txt\"\n" "$KNIFY_BB_JOB_ID" > "$config"
    printf "[parameters]\n\"path.uuid\" = \"%s\"\n" "$KNIFY_BB_KNAP_UUID" > "$knaps_config"
    # One worker: with two, Hypothesis parses sources in two threads at once, which CPython 3.11 can fail
    # ("SystemError: AST constructor recursion depth mismatch") — a generator error, not a finding. One is fast.
    settings=(--checks not_a_server_error,response_schema_conformance
              --phases examples,coverage,fuzzing --seed 1 --workers 1 --request-timeout 15
              --generation-database none --generation-with-security-parameters false --no-color)
    common=(--header "Authorization: Bearer $KNIFY_BB_ADMIN_KEY" "${settings[@]}" --exclude-path-regex "^/api/")
    knaps=(--header "Authorization: Bearer $KNIFY_BB_KNAPS_TOKEN" "${settings[@]}")
    rc=0
    echo "schemathesis 1/4: GET operations on job $KNIFY_BB_JOB_ID"
    "$st" --config-file "$config" run "$KNIFY_BB_URL/openapi.json" "${common[@]}" --max-examples "$examples" \
      --include-method GET || rc=1
    echo "schemathesis 2/4: the per-job POSTs (continue, cleanup, cancel, stream-token), generated ids"
    "$st" run "$KNIFY_BB_URL/openapi.json" "${common[@]}" --max-examples "$examples" \
      --include-method POST --exclude-name "POST /jobs" --exclude-name "POST /workspaces" || rc=1
    echo "schemathesis 3/4: POST /jobs, negative mode"
    "$st" run "$KNIFY_BB_URL/openapi.json" "${common[@]}" --max-examples "$(( (examples + 1) / 2 ))" \
      --include-name "POST /jobs" --mode negative || rc=1
    echo "schemathesis 4/4: the Knaps API (/api/…) on knap $KNIFY_BB_KNAP_UUID, no runs"
    "$st" --config-file "$knaps_config" run "$KNIFY_BB_URL/openapi.json" "${knaps[@]}" --max-examples "$examples" \
      --include-path-regex "^/api/" --exclude-name "POST /api/knap-tools/run" \
      --exclude-name "POST /api/studio/knap-tools/events/meeting-transcription" \
      --exclude-method DELETE || rc=1
    # (Two --include-… options select operations matching either: name the one operation alone.)
    echo "schemathesis 4/4: DELETE /api/studio/knap-tools/{uuid}"
    "$st" --config-file "$knaps_config" run "$KNIFY_BB_URL/openapi.json" "${knaps[@]}" --max-examples "$examples" \
      --include-name "DELETE /api/studio/knap-tools/{uuid}" || rc=1
    exit $rc
  ' "$venv/bin/schemathesis" "$examples" || status=1
fi

if [ "$status" -eq 0 ]; then echo "blackbox: all passed"; else echo "blackbox: FAILED" >&2; fi
exit "$status"
