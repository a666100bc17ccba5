#!/usr/bin/env bash
# make conformance: start bin/scrm serve on a free port over a throwaway
# SQLite database and in-process Redis, seed the demo data, and run the
# graphql-http audits (audit.mjs) against it as demo's admin.
set -euo pipefail
cd "$(dirname "$0")"
scrm=../../bin/scrm

data=$(mktemp -d)
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	rm -rf "$data"
}
trap cleanup EXIT

export SCRM_DATA_DIR=$data SCRM_DATABASE_URL= SCRM_REDIS_URL= SCRM_ENV=development SCRM_LOG_LEVEL=warn
port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
export SCRM_HTTP_ADDR=127.0.0.1:$port

$scrm seed --demo >"$data/seed.log" 2>&1 || { cat "$data/seed.log"; exit 1; }
$scrm serve >"$data/serve.log" 2>&1 &
pid=$!
token=$($scrm token --tenant demo --user admin)

npm ci --no-audit --no-fund --loglevel=error
if ! SCRM_GRAPHQL_URL="http://$SCRM_HTTP_ADDR/graphql" SCRM_TOKEN=$token node audit.mjs; then
	echo "--- scrm serve log (tail)"
	tail -n 50 "$data/serve.log"
	exit 1
fi
