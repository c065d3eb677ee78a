#!/usr/bin/env bash
# A local Knify cluster on one machine: one PostgreSQL (`make postgres`), N Docker engines side by side (each with its
# own data-root, exec-root, socket and pidfile; no bridge, no iptables), N workers and API_NODES API nodes on loopback.
#
#   scripts/cluster.sh up | status | down | start NODE | kill NODE
#
# Variables: NODES (3), API_NODES (1), LEASE (15 s), SCHEDULER_INTERVAL (5 s), PG_PORT (55432), BASE_PORT (8180: API
# nodes from here, workers from BASE_PORT+10), STATE_DIR (.knify), BIN (.build/debug), CLUSTER_FRESH=1 (new database).
# `up` writes STATE_DIR/cluster/cluster.json (URLs, sockets, the admin key's file) for scripts and tests.
set -euo pipefail
cd "$(dirname "$0")/.."

NODES=${NODES:-3}
API_NODES=${API_NODES:-1}
LEASE=${LEASE:-15}
SCHEDULER_INTERVAL=${SCHEDULER_INTERVAL:-5}
PG_PORT=${PG_PORT:-55432}
BASE_PORT=${BASE_PORT:-8180}
STATE_DIR=${STATE_DIR:-.knify}
BIN=${BIN:-.build/debug}
CLUSTER_DIR=$(realpath -m "$STATE_DIR/cluster")
# Short on purpose: containerd's sockets live under the exec-root, and a socket path must fit in 108 bytes.
RUN_DIR=/run/knify-cluster
DATABASE=knify_cluster
STORE="postgres://knify@127.0.0.1:$PG_PORT/$DATABASE"
PG_BIN=/usr/lib/postgresql/$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1)/bin

say() { echo "cluster: $*"; }
socket() { echo "$RUN_DIR/$1/docker.sock"; }
ping_engine() { curl -sf --max-time 2 --unix-socket "$(socket "$1")" http://localhost/_ping >/dev/null 2>&1; }
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
port_of() {  # api1 → BASE_PORT+1, n1 → BASE_PORT+11
  case $1 in api*) echo $((BASE_PORT + ${1#api})) ;; n*) echo $((BASE_PORT + 10 + ${1#n})) ;; esac
}

psql_admin() { "$PG_BIN/psql" -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 "$@"; }

database() {
  if [ "${CLUSTER_FRESH:-0}" = 1 ]; then psql_admin -c "DROP DATABASE IF EXISTS $DATABASE WITH (FORCE)"; fi
  psql_admin -tc "SELECT 1 FROM pg_database WHERE datname = '$DATABASE'" | grep -q 1 ||
    psql_admin -c "CREATE DATABASE $DATABASE OWNER knify"
}

start_engine() {
  local node=$1 dir="$CLUSTER_DIR/$1"
  if ping_engine "$node"; then return; fi
  mkdir -p "$dir/docker" "$RUN_DIR/$node"
  setsid nohup dockerd --host "unix://$(socket "$node")" --data-root "$dir/docker" --exec-root "$RUN_DIR/$node/exec" \
    --pidfile "$RUN_DIR/$node/dockerd.pid" --bridge=none --iptables=false --ip-masq=false \
    >"$dir/dockerd.log" 2>&1 </dev/null &
  for _ in $(seq 1 60); do ping_engine "$node" && return; sleep 0.5; done
  say "engine of $node did not answer; last log lines:"; tail -n 20 "$dir/dockerd.log"; exit 1
}

# Starts one knify process (api1… or n1…) unless it runs; waits until it answers.
start() {
  local node=$1 dir="$CLUSTER_DIR/$1" port role engine
  port=$(port_of "$node")
  mkdir -p "$dir"
  if alive "$dir/knify.pid"; then return; fi
  case $node in
    api*) role=api; engine=/var/run/docker.sock ;;
    *) role=worker; engine=$(socket "$node") ;;
  esac
  setsid nohup "$BIN/knify" serve --role "$role" --node-id "$node" --store "$STORE" --docker-host "unix://$engine" \
    --port "$port" --data-dir "$CLUSTER_DIR/data" --lease "$LEASE" --scheduler-interval "$SCHEDULER_INTERVAL" \
    --shutdown-grace 5 >>"$dir/knify.log" 2>&1 </dev/null &
  echo $! >"$dir/knify.pid"
  for _ in $(seq 1 120); do
    curl -sf --max-time 2 "http://127.0.0.1:$port/" >/dev/null 2>&1 && return
    alive "$dir/knify.pid" || break
    sleep 0.25
  done
  say "$node did not answer on port $port; last log lines:"; tail -n 20 "$dir/knify.log"; exit 1
}

up() {
  [ -x "$BIN/knify" ] || { say "build first (make build)"; exit 1; }
  mkdir -p "$CLUSTER_DIR/data"
  database
  local workers=() apis=()
  for i in $(seq 1 "$NODES"); do workers+=("n$i"); done
  for i in $(seq 1 "$API_NODES"); do apis+=("api$i"); done
  for node in "${workers[@]}"; do
    start_engine "$node"
    DOCKER_HOST="unix://$(socket "$node")" "$BIN/knify-sandbox" image build >/dev/null
    say "engine of $node up, image loaded ($(socket "$node"))"
  done
  for node in "${workers[@]}" "${apis[@]}"; do start "$node"; say "$node up on 127.0.0.1:$(port_of "$node")"; done
  local key
  key=$("$BIN/knify-sandbox" api-key create --store "$STORE" --name cluster --scopes jobs:read,jobs:write,admin \
    --tier enterprise --replace)
  (umask 077; echo "$key" >"$CLUSTER_DIR/admin-key")
  python3 - "$CLUSTER_DIR" "$STORE" "$RUN_DIR" "${workers[*]}" "${apis[*]}" "$BASE_PORT" <<'PY'
import json, sys
directory, store, run, workers, apis, base = sys.argv[1:]
node = lambda n: {"id": n, "url": f"http://127.0.0.1:{int(base) + (int(n[3:]) if n.startswith('api') else 10 + int(n[1:]))}",
                  "pidfile": f"{directory}/{n}/knify.pid", "log": f"{directory}/{n}/knify.log"}
json.dump({"store": store, "admin_key_file": f"{directory}/admin-key",
           "api": [node(n) for n in apis.split()],
           "workers": [dict(node(n), docker_host=f"unix://{run}/{n}/docker.sock") for n in workers.split()]},
          open(f"{directory}/cluster.json", "w"), indent=1)
PY
  say "store $STORE; admin key in $CLUSTER_DIR/admin-key; API on http://127.0.0.1:$(port_of api1)"
}

status() {
  for dir in "$CLUSTER_DIR"/api* "$CLUSTER_DIR"/n*; do
    [ -d "$dir" ] || continue
    local node; node=$(basename "$dir")
    local state=stopped; alive "$dir/knify.pid" && state="running (pid $(cat "$dir/knify.pid"))"
    case $node in n*) if ping_engine "$node"; then state="$state; engine answers"; else state="$state; engine down"; fi ;; esac
    say "$node: $state"
  done
  "$BIN/knify-sandbox" nodes ls --store "$STORE" || true
}

# kill -9, as a crash would: for tests of node loss.
kill_node() {
  local pidfile="$CLUSTER_DIR/$1/knify.pid"
  alive "$pidfile" && kill -9 "$(cat "$pidfile")"
  rm -f "$pidfile"
}

stop_pid() {  # TERM, up to $2 seconds, then KILL
  local pid=$1 wait=$2
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 1 $((wait * 4))); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.25; done
  kill -9 "$pid" 2>/dev/null || true
}

down() {
  for pidfile in "$CLUSTER_DIR"/*/knify.pid; do
    [ -f "$pidfile" ] || continue
    alive "$pidfile" && stop_pid "$(cat "$pidfile")" 15
    rm -f "$pidfile"
  done
  for dir in "$RUN_DIR"/n*; do
    [ -d "$dir" ] || continue
    local node; node=$(basename "$dir")
    if ping_engine "$node"; then
      for id in $(curl -sf --unix-socket "$(socket "$node")" -G http://localhost/containers/json --data-urlencode all=true \
          --data-urlencode 'filters={"label":["io.knify.sandbox"]}' | grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4); do
        curl -sf -X DELETE --unix-socket "$(socket "$node")" "http://localhost/containers/$id?force=true&v=true" >/dev/null || true
      done
    fi
    [ -f "$dir/dockerd.pid" ] && stop_pid "$(cat "$dir/dockerd.pid")" 20
    # dockerd's own containerd, if it outlived it.
    pkill -9 -f "containerd --config $dir/exec/containerd" 2>/dev/null || true
  done
  # Anything still mounted under the engines' roots (overlay layers, netns, shm), deepest first.
  awk -v a="$RUN_DIR" -v b="$CLUSTER_DIR" 'index($2, a) == 1 || index($2, b) == 1 { print $2 }' /proc/mounts | sort -r |
    while read -r mount; do umount "$mount" 2>/dev/null || umount -l "$mount"; done
  rm -rf "$RUN_DIR"
  local left
  left=$(awk -v a="$RUN_DIR" -v b="$CLUSTER_DIR" 'index($2, a) == 1 || index($2, b) == 1' /proc/mounts | wc -l)
  [ "$left" = 0 ] || { say "still mounted:"; grep -E "$RUN_DIR|$CLUSTER_DIR" /proc/mounts; exit 1; }
  if pgrep -f "dockerd --host unix://$RUN_DIR" >/dev/null || pgrep -f "knify serve --role .* --store $STORE" >/dev/null; then
    say "processes are still running"; exit 1
  fi
  say "down: no process running, nothing mounted"
}

case ${1:-} in
  up) up ;;
  status) status ;;
  down) down ;;
  start) start "${2:?node, e.g. n1}" ;;
  kill) kill_node "${2:?node, e.g. n1}" ;;
  *) echo "usage: $0 up|status|down|start NODE|kill NODE" >&2; exit 64 ;;
esac
