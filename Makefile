# Knify — one machine, from a fresh Debian: `make run` starts everything, `make test` proves it.
# Every target installs or starts what it needs and leaves what is already there alone.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# The engine socket. A user's running engine is used as it is; otherwise `make engine` starts one here.
DOCKER_SOCK ?= /var/run/docker.sock
export DOCKER_HOST := unix://$(DOCKER_SOCK)
STATE_DIR ?= $(CURDIR)/.knify
# chromium + chromium-driver: the console's browser tests (Tests/blackbox/test_console.py, headless).
# postgresql: the cluster store's server (`make postgres`), started on loopback only.
# runsc: gVisor, the user-space kernel the strict policy prefers; registered in the engine `make engine` starts.
DEBIAN_PACKAGES := docker.io busybox-static curl gcc libc6-dev libcurl4-openssl-dev libseccomp-dev libcap-dev libsqlite3-dev zlib1g-dev \
  chromium chromium-driver postgresql runsc
SWIFT_BUILD_FLAGS ?=
BIN := .build/debug
TEST_FLAGS ?=
BENCH_ITERATIONS ?= 15
# A PostgreSQL server for tests and the local cluster: Debian's binaries, data under STATE_DIR, loopback only.
PG_PORT ?= 55432
PG_DIR := $(STATE_DIR)/postgres
export KNIFY_TEST_POSTGRES ?= postgres://knify@127.0.0.1:$(PG_PORT)/knify

.PHONY: help deps engine engine-stop postgres postgres-stop build probe image test blackbox chaos fuzz cluster-up cluster-status cluster-down cluster-test bench run clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

deps: ## Install the Debian packages Knify needs (only the missing ones).
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing: $$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	else echo "deps: all installed"; fi

# The engine `make engine` starts reads its own daemon.json (a user's /etc/docker is left alone): gVisor registered
# as `runsc`. --network=none: gVisor refuses NetworkMode none otherwise; --oci-seccomp: the policy's seccomp profile
# applies inside gVisor too; --platform=ptrace: needs no KVM.
define ENGINE_CONFIG
{"runtimes": {"runsc": {"path": "/usr/bin/runsc", "runtimeArgs": ["--network=none", "--platform=ptrace", "--oci-seccomp"]}}}
endef
export ENGINE_CONFIG

engine: deps ## Start dockerd (no bridge, no iptables, gVisor registered) unless an engine already answers on DOCKER_SOCK.
	@if curl -sf --max-time 3 --unix-socket $(DOCKER_SOCK) http://localhost/_ping >/dev/null 2>&1; then \
	  echo "engine: answering on $(DOCKER_SOCK) (left as configured; knify-sandbox doctor lists its runtimes)"; \
	else \
	  mkdir -p $(STATE_DIR); \
	  echo "$$ENGINE_CONFIG" >$(STATE_DIR)/daemon.json; \
	  echo "engine: starting dockerd with runsc registered (log: $(STATE_DIR)/dockerd.log)"; \
	  setsid nohup dockerd --host unix://$(DOCKER_SOCK) --config-file $(STATE_DIR)/daemon.json --bridge=none --iptables=false --ip-masq=false \
	    --pidfile $(STATE_DIR)/dockerd.pid >$(STATE_DIR)/dockerd.log 2>&1 < /dev/null & \
	  for i in $$(seq 1 60); do \
	    curl -sf --max-time 2 --unix-socket $(DOCKER_SOCK) http://localhost/_ping >/dev/null 2>&1 && { echo "engine: up"; exit 0; }; \
	    sleep 0.5; \
	  done; \
	  echo "engine: dockerd did not answer within 30 s; last log lines:"; tail -n 20 $(STATE_DIR)/dockerd.log; exit 1; \
	fi

engine-stop: ## Stop the dockerd that `make engine` started (a user's own engine is left alone).
	@if [ -f $(STATE_DIR)/dockerd.pid ]; then kill $$(cat $(STATE_DIR)/dockerd.pid) 2>/dev/null || true; rm -f $(STATE_DIR)/dockerd.pid; echo "engine: stopped"; fi

postgres: deps ## Start a PostgreSQL server on 127.0.0.1:PG_PORT (data in .knify/postgres, role and database knify) unless one answers.
	@bin=/usr/lib/postgresql/$$(ls /usr/lib/postgresql | sort -V | tail -1)/bin; \
	if $$bin/pg_isready -q -h 127.0.0.1 -p $(PG_PORT); then echo "postgres: answering on 127.0.0.1:$(PG_PORT)"; exit 0; fi; \
	mkdir -p $(PG_DIR); chown postgres:postgres $(PG_DIR); chmod 700 $(PG_DIR); \
	if [ ! -f $(PG_DIR)/data/PG_VERSION ]; then \
	  echo "postgres: initdb in $(PG_DIR)/data (trust on loopback: a test and development server)"; \
	  runuser -u postgres -- $$bin/initdb -D $(PG_DIR)/data -U postgres --auth=trust -E UTF8 >$(PG_DIR)/initdb.log; \
	fi; \
	runuser -u postgres -- $$bin/pg_ctl -D $(PG_DIR)/data -l $(PG_DIR)/server.log -w -t 30 \
	  -o "-c listen_addresses=127.0.0.1 -p $(PG_PORT) -k $(PG_DIR) -c max_connections=300 -c fsync=off" start >/dev/null; \
	$$bin/psql -q -h 127.0.0.1 -p $(PG_PORT) -U postgres -tc "SELECT 1 FROM pg_roles WHERE rolname = 'knify'" | grep -q 1 || \
	  $$bin/psql -q -h 127.0.0.1 -p $(PG_PORT) -U postgres -c "CREATE ROLE knify LOGIN CREATEDB"; \
	$$bin/psql -q -h 127.0.0.1 -p $(PG_PORT) -U postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'knify'" | grep -q 1 || \
	  $$bin/psql -q -h 127.0.0.1 -p $(PG_PORT) -U postgres -c "CREATE DATABASE knify OWNER knify"; \
	echo "postgres: up on 127.0.0.1:$(PG_PORT) (log: $(PG_DIR)/server.log)"

postgres-stop: ## Stop the PostgreSQL server `make postgres` started.
	@bin=/usr/lib/postgresql/$$(ls /usr/lib/postgresql | sort -V | tail -1)/bin; \
	if [ -f $(PG_DIR)/data/postmaster.pid ]; then runuser -u postgres -- $$bin/pg_ctl -D $(PG_DIR)/data -m fast -w stop >/dev/null && echo "postgres: stopped"; fi

build: deps ## Build Knify and its tests once (debug); every later step reuses this build.
	swift build --build-tests $(SWIFT_BUILD_FLAGS)

probe: .build/knify-probe .build/knify-confine ## Compile the static escape-suite probe and seccomp launcher that go into the image.
.build/knify-probe: Images/local/probe/knify-probe.c
	@mkdir -p .build
	gcc -static -Os -Wall -Wextra -o $@ $<
.build/knify-confine: Images/local/confine/knify-confine.c
	@mkdir -p .build
	gcc -static -Os -Wall -Wextra -o $@ $<

image: build engine probe ## Build the offline sandbox image knify/sandbox:local through Knify's own engine client.
	$(BIN)/knify-sandbox image build

test: image postgres ## Run the whole test suite against the real engine: Swift tests, black-box HTTP, cluster, bounded chaos (BLACKBOX=0, CLUSTER=0, CHAOS=0 skip one).
	swift test --skip-build $(TEST_FLAGS)
	$(if $(filter 0,$(BLACKBOX)),@echo "black-box suite skipped (BLACKBOX=0)",bash Tests/blackbox/run.sh)
	$(if $(filter 0,$(CLUSTER)),@echo "cluster suite skipped (CLUSTER=0)",bash Tests/cluster/run.sh)
	$(if $(filter 0,$(CHAOS)),@echo "chaos suite skipped (CHAOS=0)",CHAOS_SCALE=bounded bash Tests/chaos/run.sh)

blackbox: image ## Black-box HTTP suite (pytest + schemathesis) against a real `knify serve`.
	bash Tests/blackbox/run.sh

chaos: build probe ## The chaos suite at full scale: kill -9 during 20 jobs, engine restart mid-job, a 1,000-job burst, a full data disk.
	CHAOS_SCALE=full bash Tests/chaos/run.sh

FUZZ_ITERATIONS ?= 20000
FUZZ_EXAMPLES ?= 300
fuzz: image ## Property-based fuzzing of the parsers (FUZZ_ITERATIONS cases each), then schemathesis with FUZZ_EXAMPLES per operation.
	KNIFY_FUZZ_ITERATIONS=$(FUZZ_ITERATIONS) swift test --skip-build --filter Fuzz
	KNIFY_BB_SKIP_PYTEST=1 KNIFY_BB_MAX_EXAMPLES=$(FUZZ_EXAMPLES) bash Tests/blackbox/run.sh

NODES ?= 3
API_NODES ?= 1
LEASE ?= 15
CLUSTER_ENV = NODES=$(NODES) API_NODES=$(API_NODES) LEASE=$(LEASE) PG_PORT=$(PG_PORT) STATE_DIR=$(STATE_DIR)

cluster-up: image postgres ## A local cluster: NODES engines + workers and API_NODES API nodes on one PostgreSQL (README "a cluster").
	$(CLUSTER_ENV) bash scripts/cluster.sh up

cluster-status: ## Which cluster processes and engines run, and the nodes as the store sees them.
	@$(CLUSTER_ENV) bash scripts/cluster.sh status

cluster-down: ## Stop the local cluster: its servers, engines and their containers; nothing left running or mounted.
	@$(CLUSTER_ENV) bash scripts/cluster.sh down

cluster-test: image postgres ## The cluster suite alone (3 workers on 3 engines, an API node, kill -9, failover).
	bash Tests/cluster/run.sh

bench: image ## Measure Knify against the raw engine, docker-py and its goals in one run, release build: one table, JSON and chart.png in bench/results/.
	@python3 -c 'import docker, matplotlib' 2>/dev/null || pip install --quiet docker matplotlib
	@for tool in wrk socat; do command -v $$tool >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$tool >/dev/null; done
	swift build -c release --product knify-bench
	swift build -c release --product knify
	swift build -c release --product knify-sandbox
	mkdir -p bench/results
	python3 bench/dockerpy_lifecycle.py --iterations $(BENCH_ITERATIONS) > bench/results/dockerpy.json
	.build/release/knify-bench --iterations $(BENCH_ITERATIONS) --dockerpy bench/results/dockerpy.json $(BENCH_FLAGS)
	python3 bench/http_bench.py --bin .build/release --out bench/results/http.json $(HTTP_BENCH_FLAGS)
	python3 bench/report.py --results bench/results

run: image ## Start everything and run the Knify server on 127.0.0.1:8080 (a warm pool of one), printing a fresh dev API key.
	@key=$$($(BIN)/knify-sandbox api-key create --name make-run --scopes jobs:read,jobs:write,admin --tier pro --replace 2>/dev/null) && \
	  echo "dev API key (admin, replaces the previous make-run key): $$key" && \
	  echo "try: curl -s -H \"Authorization: Bearer $$key\" http://127.0.0.1:8080/jobs"
	KNIFY_WARM_POOL=$${KNIFY_WARM_POOL:-1} $(BIN)/knify serve

clean: ## Remove build output and every container, volume and image Knify created.
	-@if curl -sf --max-time 3 --unix-socket $(DOCKER_SOCK) http://localhost/_ping >/dev/null 2>&1; then \
	  ids=$$(curl -sf --unix-socket $(DOCKER_SOCK) -G http://localhost/containers/json --data-urlencode all=true \
	    --data-urlencode 'filters={"label":["io.knify.sandbox"]}' | grep -o '"Id":"[0-9a-f]*"' | cut -d'"' -f4); \
	  for id in $$ids; do curl -sf -X DELETE --unix-socket $(DOCKER_SOCK) "http://localhost/containers/$$id?force=true&v=true" >/dev/null || true; done; \
	fi
	rm -rf .build $(STATE_DIR)
