# The two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     := bin/scrm
PKGS    := ./...

.PHONY: run build test lint generate check-generated migration conformance schema schema-check pq-check bench bench-seed bench-realtime bench-sync clean

## run: build, seed the demo data on the embedded default if empty, start the demo platforms
## (fake WeCom, Taobao, Douyin and WeChat mini-program sign-in on 127.0.0.1:8090) and serve with GraphiQL on :8080
FAKES := 127.0.0.1:8090
run: build
	./$(BIN) seed --demo --if-empty
	@./$(BIN) fake-platforms --addr $(FAKES) & fakes=$$!; trap "kill $$fakes" EXIT; \
	SCRM_WECOM_BASE_URL=http://$(FAKES) SCRM_TAOBAO_BASE_URL=http://$(FAKES)/router/rest \
	SCRM_DOUYIN_BASE_URL=http://$(FAKES) SCRM_WECHAT_BASE_URL=http://$(FAKES) ./$(BIN) serve

build:
	$(GO) build -o $(BIN) ./cmd/scrm

## test: the whole suite, on SQLite + in-process Redis and on MariaDB + Redis
## (-count=1: results depend on those services, so they are never taken from the cache)
test: lint
	@$(GO) run ./internal/testenv/probe
	$(GO) test -race -count=1 $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

## pq-check: the trusted documents of our own clients (graph/trusted) against the current schema
## (make test runs the same check in internal/persisted)
pq-check:
	$(GO) run ./cmd/scrm pq check graph/trusted/*.json

## generate: regenerate ent (and graph/ent.graphql) then gqlgen from ent/schema and graph/*.graphql
generate:
	$(GO) run -mod=mod ./ent/entc.go
	$(GO) tool gqlgen generate

## check-generated: fail when committed generated code differs from what make generate writes,
## or go.mod is not tidy
check-generated: generate
	@$(GO) mod tidy -diff >/dev/null || (echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1)
	@if [ -n "$$(git status --porcelain -- ent graph resolvers gqlgen.yml go.mod go.sum)" ]; then \
		git status --short -- ent graph resolvers gqlgen.yml go.mod go.sum; \
		echo "generated code is stale: run make generate and commit the result"; exit 1; fi

## conformance: run the graphql-http audits (GraphQL over HTTP) against bin/scrm serve on a free port,
## with a throwaway SQLite database and in-process Redis; fails on any MUST or SHOULD (needs Node and npm)
conformance: build
	./scripts/conformance/run.sh

## schema: write graph/schema.graphql, the SDL clients are given, from the schema bin/scrm serves
schema: build
	./$(BIN) schema print > graph/schema.graphql.tmp && mv graph/schema.graphql.tmp graph/schema.graphql

## schema-check: list breaking changes against graph/schema.graphql; fail on any, or when it is stale
schema-check: build
	./$(BIN) schema check

## migration NAME=x: write a versioned MySQL migration for schema changes (needs a local MariaDB)
migration:
	@test -n "$(NAME)" || (echo "usage: make migration NAME=add_something"; exit 1)
	$(GO) run -mod=mod ./ent/migrate/diff.go $(NAME)

## bench: seed MariaDB with 100k customers / 1M orders (once) and compare the agent console
## query through the full HTTP stack with the same data fetched by hand-written SQL
BENCH_DB      ?= scrm_bench
BENCH_SERVER  ?= root@tcp(127.0.0.1:3306)
BENCH_URL     := mysql://$(BENCH_SERVER)/$(BENCH_DB)?parseTime=true
BENCH_CUSTOMERS ?= 100000
BENCH_ORDERS    ?= 1000000
# Fixed keys for the benchmark's throwaway data: seeding and the benchmark
# must encrypt and decrypt alike.
BENCH_PII := SCRM_PII_KEYS='bench1:aes-256-gcm:YmVuY2gtb25seS1rZXktMDEyMzQ1Njc4OWFiY2RlZiE=' SCRM_PII_INDEX_KEY='YmVuY2gtb25seS1pbmRleC0wMTIzNDU2Nzg5YWJjZCE='
bench: build
	@$(BENCH_PII) ./scripts/bench-seed.sh "$(BENCH_SERVER)" "$(BENCH_DB)" "$(BENCH_CUSTOMERS)" "$(BENCH_ORDERS)"
	$(BENCH_PII) SCRM_BENCH_DATABASE_URL='$(BENCH_URL)' $(GO) test ./e2e -run '^$$' -bench AgentConsole -benchtime 2000x -count 1

## bench-realtime: live updates under load (internal/loadgen): for N = 1k, 5k and 15k subscribers over
## loopback, each against a fresh `scrm serve` it starts, the connect rate, server memory per idle
## subscription, time until all N received an event (median and worst of 20), server CPU per delivery;
## then commit-to-screen p50/p99 at 1k subscribers with 50 mutations/s. Recreates the database
## scrm_bench_rt with the demo data each time. Quick run:
##   make bench-realtime BENCH_RT_FLAGS='--n 200 --events 5 --c2s-subs 100 --c2s-rate 20 --c2s-seconds 3'
## BENCH_RT_REDIS=private runs a redis-server of the bench's own (Pub/Sub ignores database numbers,
## so on a shared Redis the bench and any other scrm, e.g. a test run, would hear each other's events);
## BENCH_RT_REDIS=redis://127.0.0.1:6379/7 uses the machine's.
BENCH_RT_DB    ?= scrm_bench_rt
BENCH_RT_URL   := mysql://$(BENCH_SERVER)/$(BENCH_RT_DB)?parseTime=true
BENCH_RT_REDIS ?= private
BENCH_RT_FLAGS ?= --n 1000,5000,15000
BENCH_MYSQL    ?= mariadb -h 127.0.0.1 -P 3306 -u root
bench-realtime: build
	$(BENCH_MYSQL) -e "DROP DATABASE IF EXISTS $(BENCH_RT_DB); CREATE DATABASE $(BENCH_RT_DB) CHARACTER SET utf8mb4"
	$(BENCH_PII) SCRM_DATABASE_URL='$(BENCH_RT_URL)' ./$(BIN) migrate
	$(BENCH_PII) SCRM_DATABASE_URL='$(BENCH_RT_URL)' SCRM_LOG_LEVEL=warn ./$(BIN) seed --demo
	$(BENCH_PII) ./$(BIN) bench realtime --database-url '$(BENCH_RT_URL)' --redis-url '$(BENCH_RT_REDIS)' $(BENCH_RT_FLAGS)

## bench-sync: the path of one order on MariaDB + Redis (database 3; internal/syncbench): order
## backfill rate through the real pull path, statements per ordersync.Store, and Douyin push →
## realtime subscriber latency at 200 pushes/s for 30 s. SYNCBENCH_ORDERS=1000000 for the full
## backfill (hours on 2 cores); SYNCBENCH_POLL sets the worker's idle poll (100ms, as serve runs).
SYNCBENCH_ORDERS  ?= 100000
SYNCBENCH_SHOPS   ?= 10
SYNCBENCH_RATE    ?= 200
SYNCBENCH_SECONDS ?= 30
SYNCBENCH_POLL    ?= 100ms
SYNCBENCH_RUN     ?= StoreStatements|PushToEvent|OrderBackfill
bench-sync:
	SCRM_SYNCBENCH_ORDERS=$(SYNCBENCH_ORDERS) SCRM_SYNCBENCH_SHOPS=$(SYNCBENCH_SHOPS) \
	SCRM_SYNCBENCH_RATE=$(SYNCBENCH_RATE) SCRM_SYNCBENCH_SECONDS=$(SYNCBENCH_SECONDS) SCRM_SYNCBENCH_POLL=$(SYNCBENCH_POLL) \
	$(GO) test ./internal/syncbench -run '^$$' -bench '$(SYNCBENCH_RUN)' -benchtime 1x -count 1 -timeout 24h

clean:
	rm -rf bin data
