#!/usr/bin/env bash
# controller_pg_tls: the controller's storage over TLS to a real PostgreSQL
# 15 (tests/pg.sh with a namespace: ssl=on, a CA and a server certificate
# made with the openssl CLI), libpq and its OpenSSL loaded into a link-map
# namespace of their own (daemon/controller/pq.c) beside the daemon's
# BoringSSL:
#   - the binary links neither libpq nor OpenSSL (readelf -d), yet both
#     libcrypto.so.0 (BoringSSL) and OpenSSL's libssl.so.3 are mapped in the
#     running controller;
#   - --db ...?sslmode=require: admin writes, a connector and a service
#     account's device enroll (build/san/ctlload, the real node protocol) and
#     are sent views, an access rule removed reaches the connector's view;
#     every connection of the controller's process to the server is TLS
#     (its TCP ports from ss, matched in pg_stat_activity/pg_stat_ssl);
#   - SIGKILL, restart with sslmode=verify-full and the test CA: the same
#     model, the audit chain verifies, still TLS;
#   - verify-full against a CA that did not sign the server's certificate,
#     and sslmode=require against the server with TLS turned off: refused at
#     start with one line on stderr, exit non-zero.
#
# Topology: one namespace; the server listens on its loopback (and a Unix
# socket, which the test's psql uses), the controller's node port too.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/pg.sh
source "$(dirname "$0")/../pg.sh"

zt_require_root
zt_require jq nsenter openssl readelf ss
zt_require_bins
CTLLOAD=$(dirname "$ZTGATE")/ctlload
[[ -x $CTLLOAD ]] || fail "$CTLLOAD missing (make san)"

section "the binaries: BoringSSL linked, libpq and OpenSSL not"
for bin in "$ZTGATED" "$ZT_ROOT/build/ztgated"; do
	[[ -x $bin ]] || continue
	needed=" $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | zt_oneline) "
	for lib in libpq.so.5 libssl.so.3 libcrypto.so.3; do
		[[ $needed != *" $lib "* ]] || fail "$bin links $lib:$needed"
	done
	[[ $needed == *" libcrypto.so.0 "* ]] || fail "$bin does not link BoringSSL:$needed"
	log "ok: $bin NEEDED:$needed"
done

zt_netns_add ctl
zt_daemon_setup "$(zt_ns ctl)" ctl
zt_pg_start "$(mktemp -d /tmp/ztgate-pg.XXXXXX)" "$DAEMON_NS"	# not in ZT_TMP: postgres must reach it
zt_defer zt_pg_stop
"$ZTGATE" keygen --out "$ZT_TMP/controller.key" >/dev/null
export ZT_DAEMON_ROLE=controller
start_ctl() { zt_daemon_start --listen 127.0.0.1:7450 --key "$ZT_TMP/controller.key" --db "$1"; }

# tls_sessions: one "PORT|SSL|VERSION" line per TCP connection of the
# controller's process to the server: its local ports (ss, in the namespace),
# looked up by the server's side (pg_stat_activity.client_port, pg_stat_ssl).
tls_sessions() {
	local ports
	ports=$(ip netns exec "$DAEMON_NS" ss -Htnp state established '( dport = :5432 )' |
		grep "pid=$DAEMON_PID," | awk '{ n = split($3, a, ":"); print a[n] }' | paste -sd, -)
	[[ -n $ports ]] || return 0
	zt_pg_psql "SELECT a.client_port, s.ssl, s.version FROM pg_stat_activity a
		JOIN pg_stat_ssl s USING (pid) WHERE a.client_port IN ($ports) ORDER BY 1"
}
# all_tls: the statements' connection and the LISTENing one, both TLS.
all_tls() {
	local rows
	rows=$(tls_sessions)
	(( $(grep -c . <<<"$rows") >= 2 )) && ! grep -qv '|t|TLSv1\.[23]$' <<<"$rows"
}
# refused WHAT PATTERN URL: a controller on URL exits non-zero at start with
# exactly one line on stderr holding PATTERN.
refused() {
	local what=$1 pattern=$2 url=$3 rc=0 err=$ZT_TMP/refused-$1.err
	nsenter --net="/run/netns/$DAEMON_NS" -- "$ZTGATED" controller --listen 127.0.0.1:7999 \
		--key "$ZT_TMP/controller.key" --db "$url" --state-dir "$ZT_TMP/state-$what" \
		--socket "$ZT_TMP/$what.sock" >/dev/null 2>"$err" </dev/null || rc=$?
	(( rc != 0 )) || fail "$what: the controller started"
	[[ $(wc -l <"$err") -eq 1 ]] || fail "$what: stderr not one line: $(cat "$err")"
	grep -qF -- "$pattern" "$err" || fail "$what: stderr '$(cat "$err")' lacks '$pattern'"
	log "ok: $what refused (exit $rc): $(cat "$err")"
}

section "sslmode=require: admin writes, enrollment, views"
start_ctl "$ZT_PG_TCP_URL?sslmode=require"
grep -q '"db":"postgresql://127.0.0.1:5432/ztgate' "$DAEMON_OUT" ||
	fail "not on the TCP server: $(tail -n 1 "$DAEMON_OUT")"
ztc admin network add office >/dev/null
echo "connector $(ztc admin connector add office-gw --network office | tail -n 1)" >"$ZT_TMP/tokens"
ztc admin resource add nas --network office --address 10.0.0.5 --tcp 80 >/dev/null
ztc admin group add eng >/dev/null
ztc admin service-account add ci --group eng >/dev/null
ztc admin access add --group eng --resource nas >/dev/null
ztc admin device token --service-account ci | tail -n 1 >>"$ZT_TMP/tokens"
mkdir "$ZT_TMP/views"
nsenter --net="/run/netns/$DAEMON_NS" -- "$CTLLOAD" --connect 127.0.0.1:7450 \
	--tokens "$ZT_TMP/tokens" --time 60 --save "$ZT_TMP/views" >"$ZT_TMP/load.out" 2>"$ZT_TMP/load.err" &
ZT_PIDS+=("$!")
CONN=$ZT_TMP/views/0.views	# the tokens' order: the connector is node 0, the device node 1
device_named() { dev=$(ztc --json admin device list | jq -er '.items[] | select(.owner == "ci") | .name'); }
# conn_grants N: the connector's last view holds N grants for $dev.
conn_grants() {
	[[ -f $CONN ]] && tail -n 1 "$CONN" | cut -d' ' -f2- |
		jq -e --arg d "$dev" --argjson n "$1" '[.policy.grants[] | select(.device == $d)] | length == $n'
}
wait_until 20 device_named || fail "the device did not enroll: $(cat "$ZT_TMP/load.out")"
wait_until 10 conn_grants 1 || fail "the connector was not sent $dev's grant: $(tail -n 2 "$CONN" 2>&1)"
[[ -s $ZT_TMP/views/1.views ]] || fail "the device was sent no view"
ztc admin access rm --group eng --resource nas >/dev/null
wait_until 10 conn_grants 0 || fail "access rm did not reach the connector: $(tail -n 1 "$CONN")"
log "ok: $dev enrolled, its grant at office-gw sent and then taken back"

wait_until 10 all_tls || fail "not every connection is TLS: $(tls_sessions)"
log "ok: the controller's connections (port|ssl|version): $(tls_sessions | zt_oneline)"
maps=/proc/$DAEMON_PID/maps
grep -q 'android/libcrypto\.so\.0' "$maps" || fail "BoringSSL is not mapped"
grep -q '/libssl\.so\.3' "$maps" || fail "OpenSSL's libssl is not mapped"
log "ok: one process, both mapped: $(grep -oE '[^/ ]*/(libcrypto|libssl)\.so\.[0-9]+' "$maps" | sort -u | zt_oneline) ($(grep VmRSS "/proc/$DAEMON_PID/status" | tr -s ' \t' ' '))"

section "killed, restarted with sslmode=verify-full and the test CA"
before=$(ztc admin export | jq -S .)
zt_daemon_stop KILL
start_ctl "$ZT_PG_TCP_URL?sslmode=verify-full&sslrootcert=$ZT_PG_CA"
[[ $(ztc admin export | jq -S .) == "$before" ]] || fail "the model changed across the restart"
ztc admin access add --group eng --resource nas >/dev/null
ztc admin audit --verify | grep -q 'audit chain ok' || fail "audit --verify"
wait_until 10 all_tls || fail "not every connection is TLS: $(tls_sessions)"
wait_until 10 conn_grants 1 || fail "the connector did not come back to the grant: $(tail -n 1 "$CONN")"
log "ok: state kept, chain verified, the connector back with its grant, TLS: $(tls_sessions | zt_oneline)"

section "refused at start with one line"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
	-subj "/CN=another CA" -keyout "$ZT_TMP/other.key" -out "$ZT_TMP/other.crt" >/dev/null 2>&1
refused other-ca "certificate verify failed" \
	"$ZT_PG_TCP_URL?sslmode=verify-full&sslrootcert=$ZT_TMP/other.crt"
zt_daemon_stop TERM
zt_pg_psql "ALTER SYSTEM SET ssl = off" >/dev/null
zt_pg_psql "SELECT pg_reload_conf()" >/dev/null
ssl_off() { [[ $(zt_pg_psql "SHOW ssl") == off ]]; }
wait_until 10 ssl_off || fail "the server kept ssl on"
refused no-tls "server does not support SSL, but SSL was required" "$ZT_PG_TCP_URL?sslmode=require"
log "PASS"
