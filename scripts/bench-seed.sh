#!/usr/bin/env bash
# Seeds the benchmark database once: drops and rebuilds it only when it does
# not hold the requested number of customers and orders yet.
set -euo pipefail
server="$1" db="$2" customers="$3" orders="$4"
url="mysql://${server}/${db}?parseTime=true"
host_port="$(sed -E 's/.*tcp\(([^)]*)\).*/\1/' <<<"$server")"
user="$(sed -E 's/^([^:@]*).*/\1/' <<<"$server")"
mysql_cli=(mariadb -h "${host_port%:*}" -P "${host_port#*:}" -u "$user")
# Reseed when the counts differ or the data predates encryption at rest
# under the benchmark's key (SCRM_PII_KEYS, set by make bench).
have="$("${mysql_cli[@]}" -N -e "SELECT CONCAT((SELECT COUNT(*) FROM ${db}.customers c JOIN ${db}.tenants t ON t.id = c.tenant_id WHERE t.slug = 'demo'), ' ', (SELECT COUNT(*) FROM ${db}.orders o JOIN ${db}.tenants t ON t.id = o.tenant_id WHERE t.slug = 'demo'), ' ', (SELECT COUNT(*) FROM ${db}.customers WHERE phone LIKE 'pii1:bench1:%'))" 2>/dev/null || true)"
if [[ "$have" == "$customers $orders "* && "${have##* }" != "0" ]]; then
	SCRM_DATABASE_URL="$url" ./bin/scrm migrate >/dev/null
	echo "bench: ${db} already holds ${customers} customers and ${orders} orders"
	exit 0
fi
echo "bench: seeding ${db} with ${customers} customers and ${orders} orders (once)"
"${mysql_cli[@]}" -e "DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db} CHARACTER SET utf8mb4"
SCRM_DATABASE_URL="$url" ./bin/scrm migrate
time SCRM_DATABASE_URL="$url" SCRM_LOG_LEVEL=debug ./bin/scrm seed --demo --customers "$customers" --orders "$orders"
