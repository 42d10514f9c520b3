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
#   zt_pg_start DIR NETNS
#                    the same, and also TCP on 127.0.0.1:5432 inside network
#                    namespace NETNS (made by the test) with TLS on: a CA
#                    and a server certificate for 127.0.0.1/localhost made
#                    with the openssl CLI in DIR; exports ZT_PG_TCP_URL
#                    (postgresql://root@127.0.0.1:5432/ztgate, no sslmode)
#                    and ZT_PG_CA (the CA's certificate, for sslrootcert)
#   zt_pg_psql SQL   one query as postgres over the Unix socket (never TLS),
#                    its rows unaligned, '|' between columns
#   zt_pg_stop       pg_ctl stop (immediate) and remove DIR
# Run as a script, it starts a server, runs the controller's unit tests
# against it (ZT_TEST_PG_URL; test_controller_ha opens two models on it), and
# stops it:
#   bash tests/pg.sh [build/san/test_controller_model ...]
# Sourced by tests/integration/controller_admin.test.sh (one controller),
# controller_ha.test.sh (two controllers, both active, on one server) and
# controller_pg_tls.test.sh (TLS to the server, NETNS form).
set -euo pipefail

ZT_PG_BIN=${ZT_PG_BIN:-/usr/lib/postgresql/15/bin}
ZT_PG_DIR=

# zt_pg_certs DIR USER: ca.crt/ca.key and server.crt/server.key (P-256, two
# days) in DIR, the server's key readable by USER only.
zt_pg_certs() {
	local dir=$1 user=$2 ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	{
		openssl req -x509 "${ec[@]}" -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 2 \
			-subj "/CN=ztgate test CA" &&
		openssl req -new "${ec[@]}" -keyout "$dir/server.key" -out "$dir/server.csr" \
			-subj "/CN=127.0.0.1" &&
		openssl x509 -req -in "$dir/server.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" \
			-CAcreateserial -days 2 -out "$dir/server.crt" \
			-extfile <(printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n')
	} >"$dir/certs.log" 2>&1 || { cat "$dir/certs.log" >&2; return 1; }
	chown "$user" "$dir/server.key" "$dir/server.crt"
	chmod 0600 "$dir/server.key"
}

zt_pg_start() {
	ZT_PG_DIR=$1
	local netns=${2:-} user=${ZT_PG_USER:-postgres} opts
	local -a in_ns=()
	[[ -x $ZT_PG_BIN/initdb ]] || { echo "pg: $ZT_PG_BIN/initdb missing (make deps)" >&2; return 1; }
	mkdir -p "$ZT_PG_DIR"
	chown "$user" "$ZT_PG_DIR"
	chmod 0755 "$ZT_PG_DIR"
	runuser -u "$user" -- "$ZT_PG_BIN/initdb" -D "$ZT_PG_DIR/data" -A trust -U postgres \
		--no-sync >"$ZT_PG_DIR/initdb.log" 2>&1 ||
		{ cat "$ZT_PG_DIR/initdb.log" >&2; return 1; }
	opts="-c listen_addresses='' -k $ZT_PG_DIR -c fsync=off"
	if [[ -n $netns ]]; then
		# TCP only inside the test's namespace: its loopback, its own port space.
		zt_pg_certs "$ZT_PG_DIR" "$user"
		in_ns=(ip netns exec "$netns")
		opts="-c listen_addresses=127.0.0.1 -k $ZT_PG_DIR -c fsync=off"
		# In the file, not -c: ALTER SYSTEM SET ssl = off (a test) overrides it.
		printf "ssl = on\nssl_cert_file = '%s'\nssl_key_file = '%s'\n" "$ZT_PG_DIR/server.crt" \
			"$ZT_PG_DIR/server.key" >>"$ZT_PG_DIR/data/postgresql.conf"
	fi
	"${in_ns[@]}" runuser -u "$user" -- "$ZT_PG_BIN/pg_ctl" -D "$ZT_PG_DIR/data" \
		-l "$ZT_PG_DIR/server.log" -o "$opts" -w start >/dev/null ||
		{ cat "$ZT_PG_DIR/server.log" >&2; return 1; }
	zt_pg_psql "CREATE ROLE root LOGIN SUPERUSER" >/dev/null
	zt_pg_psql "CREATE DATABASE ztgate OWNER root" >/dev/null
	export ZT_PG_URL="postgresql:///ztgate?host=$ZT_PG_DIR&user=root"
	if [[ -n $netns ]]; then
		export ZT_PG_TCP_URL="postgresql://root@127.0.0.1:5432/ztgate" ZT_PG_CA=$ZT_PG_DIR/ca.crt
	fi
}

zt_pg_psql() {
	"$ZT_PG_BIN/psql" -qXAt -h "$ZT_PG_DIR" -U postgres -d postgres -c "$1"
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
