# The two commands a newcomer needs: `make run` and `make test`.
GO      ?= go
BIN     := bin/scrm
PKGS    := ./...

.PHONY: run build test lint generate check-generated migration bench bench-seed clean

## run: build, seed the demo data on the embedded default if empty, serve with GraphiQL on :8080
run: build
	./$(BIN) seed --demo --if-empty
	./$(BIN) serve

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

clean:
	rm -rf bin data
