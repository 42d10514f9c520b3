#!/usr/bin/env bash
# tests/pg.sh: a throwaway PostgreSQL 15 server for the controller's tests.
#
# Sourced, it gives:
#   zt_pg_start DIR  initdb + pg_ctl start in DIR as the unprivileged
#                    `postgres` user (Debian's postgresql-15), listening only
#                    on a Unix socket in DIR (no TCP port, trust auth for the
#                    local socket); exports ZT_PG_URL, a libpq URL to the
#                    database `ztgate` (owned by role root, which the tests
#                    connect as)
#   zt_pg_stop       pg_ctl stop (immediate) and remove DIR
# Run as a script, it starts a server, runs the controller's unit tests
# against it (ZT_TEST_PG_URL; test_controller_ha opens two models on it), and
# stops it:
#   bash tests/pg.sh [build/san/test_controller_model ...]
# Sourced by tests/integration/controller_admin.test.sh (one controller) and
# controller_ha.test.sh (two controllers, both active, on one server).
set -euo pipefail

ZT_PG_BIN=${ZT_PG_BIN:-/usr/lib/postgresql/15/bin}
ZT_PG_DIR=

zt_pg_start() {
	ZT_PG_DIR=$1
	local user=${ZT_PG_USER:-postgres}
	[[ -x $ZT_PG_BIN/initdb ]] || { echo "pg: $ZT_PG_BIN/initdb missing (make deps)" >&2; return 1; }
	mkdir -p "$ZT_PG_DIR"
	chown "$user" "$ZT_PG_DIR"
	chmod 0755 "$ZT_PG_DIR"
	runuser -u "$user" -- "$ZT_PG_BIN/initdb" -D "$ZT_PG_DIR/data" -A trust -U postgres \
		--no-sync >"$ZT_PG_DIR/initdb.log" 2>&1 ||
		{ cat "$ZT_PG_DIR/initdb.log" >&2; return 1; }
	runuser -u "$user" -- "$ZT_PG_BIN/pg_ctl" -D "$ZT_PG_DIR/data" -l "$ZT_PG_DIR/server.log" \
		-o "-c listen_addresses='' -k $ZT_PG_DIR -c fsync=off" -w start >/dev/null ||
		{ cat "$ZT_PG_DIR/server.log" >&2; return 1; }
	"$ZT_PG_BIN/psql" -qX -h "$ZT_PG_DIR" -U postgres -d postgres \
		-c "CREATE ROLE root LOGIN SUPERUSER" -c "CREATE DATABASE ztgate OWNER root" >/dev/null
	export ZT_PG_URL="postgresql:///ztgate?host=$ZT_PG_DIR&user=root"
}

zt_pg_stop() {
	[[ -n $ZT_PG_DIR && -d $ZT_PG_DIR/data ]] || return 0
	runuser -u "${ZT_PG_USER:-postgres}" -- "$ZT_PG_BIN/pg_ctl" -D "$ZT_PG_DIR/data" -m immediate \
		-w stop >/dev/null 2>&1 || true
	rm -rf "$ZT_PG_DIR"
	ZT_PG_DIR=
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	root=$(cd "$(dirname "$0")/.." && pwd)
	dir=$(mktemp -d /tmp/ztgate-pg.XXXXXX)
	trap zt_pg_stop EXIT
	zt_pg_start "$dir"
	export ZT_TEST_PG_URL=$ZT_PG_URL
	tests=("$@")
	(( ${#tests[@]} )) || tests=("$root"/build/san/test_controller_model
				     "$root"/build/san/test_controller_view
				     "$root"/build/san/test_controller_audit
				     "$root"/build/san/test_controller_ha)
	for t in "${tests[@]}"; do
		echo "== $t (PostgreSQL)"
		"$t"
	done
fi
