#!/usr/bin/env bash
# controller_ha: two controllers, both active, on one PostgreSQL 15
# (tests/pg.sh; issue 11 "Several controllers may run against one
# database"). Everything is set up through `ztgate admin` and tokens.
#
# Topology (tests/lib.sh zt_tunnel_topology plus two namespaces on inet):
#   ctla   198.18.5.2   ztgated controller A --listen 198.18.5.2:7443
#   ctlb   198.18.6.2   ztgated controller B --listen 198.18.6.2:7443
#   both --db the same PostgreSQL (Unix socket), the same controller key
#   conn   connector office-gw, enrolled through A (token made on A)
#   cli    alice's laptop, enrolled through B (token made on B)
# Asserts: alice reaches nas through a connector that talks to the other
# controller (its key from the model, its endpoint from the runtime table);
# `admin status` on either counts both nodes applied; an `access rm` on B
# reaches the connector on A within 1 s (measured);
# 20 `group add` on A and 20 on B at once all land, with unique ids, the
# same model on both and one audit chain that verifies on both; a
# controller killed with SIGKILL: the nodes on it keep working, and the
# connector, given both controllers (--controller twice), moves to the other
# one, through which changes keep reaching it. (TLS to PostgreSQL:
# controller_pg_tls.test.sh.)
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/pg.sh
source "$(dirname "$0")/../pg.sh"

zt_require_root
zt_require dig dnsmasq jq nsenter curl
zt_require_bins

CTL_A=198.18.5.2:7443
CTL_B=198.18.6.2:7443
ENDPOINT=$ZT_TUN_CONN_IP:$ZT_TUN_CONN_PORT
PAGE_URL=http://nas.home.int/

section "1. topology, PostgreSQL, two controllers"
zt_tunnel_topology
C=$ZT_NS_CLI
N=$ZT_NS_CONN
zt_tunnel_add_client ctla 5
zt_tunnel_add_client ctlb 6
zt_tunnel_services
zt_tunnel_client_resolver "$C"
zt_pg_start "$(mktemp -d /tmp/ztgate-pg.XXXXXX)"	# not in ZT_TMP: postgres must reach it
zt_defer zt_pg_stop
zt_keygen "$ZT_TMP/ctl.key" >/dev/null
start_ctl() { zt_daemon_as "ctl$1" "$(zt_ns "ctl$1")" controller --listen "$2" --key "$ZT_TMP/ctl.key" --db "$ZT_PG_URL"; }
start_ctl a "$CTL_A"
start_ctl b "$CTL_B"
adm() { local c=$1; shift; zt_cli "ctl$c" admin "$@"; }
admin_ok() { adm "$@" 2>"$ZT_TMP/adm.err" || fail "ztgate admin $*: $(cat "$ZT_TMP/adm.err")"; }
token_of() { tail -n 1 | tr -d '[:space:]'; }
log "ok: controllers A and B on $(adm a --json status | jq -r .db)"

section "2. the model through A, tokens from A and from B"
admin_ok a network add office >/dev/null
CONN_TOKEN=$(admin_ok a connector add office-gw --network office | token_of)
admin_ok a resource add nas --network office --address nas.home.int --tcp 80 --icmp >/dev/null
admin_ok a group add eng >/dev/null
admin_ok a user add alice@example.com --group eng >/dev/null
admin_ok a access add --group eng --resource nas >/dev/null
# B learned all of it from A's notifications (no write on B yet).
b_has_access() { adm b --json access list | jq -e '.items | map(.name) | index("eng:nas")' >/dev/null; }
wait_until 2 b_has_access || fail "B does not see A's access rule: $(adm b access list)"
ALICE_TOKEN=$(admin_ok b device token --user alice@example.com | token_of)
[[ $CONN_TOKEN == ztgt1_* && $ALICE_TOKEN == ztgt1_* ]] || fail "tokens: '$CONN_TOKEN' '$ALICE_TOKEN'"
log "ok: model made on A is on B; connector token from A, device token from B"

section "3. a connector on A, a client on B: the client reaches nas"
zt_daemon_as conn "$N" connector --controller "$CTL_A" --controller "$CTL_B" --token "$CONN_TOKEN" --listen "$ENDPOINT" \
	--dns $ZT_TUN_NAS_IP
zt_daemon_as alice "$C" client --controller "$CTL_B" --token "$ALICE_TOKEN" --upstream $ZT_TUN_GW_IP
connected() { [[ $(adm "$1" --json status | jq -r .connected_here) == "${2:-1}" ]]; }
wait_until 20 connected a || fail "the connector is not connected to A: $(adm a status)"
wait_until 20 connected b || fail "alice is not connected to B: $(adm b status)"
curl_page() { ip netns exec "$C" curl -sS --max-time 3 "$PAGE_URL" 2>/dev/null | grep -qx "$ZT_TUN_PAGE"; }
wait_until 30 curl_page || fail "alice (on B) cannot fetch $PAGE_URL through the connector (on A):" \
	"$(zt_cli alice --json export | jq -c '.policy.connectors')"
zt_cli alice --json export | jq -e --arg ep "$ENDPOINT" '.policy.connectors[] | select(.endpoint == $ep)' \
	>/dev/null || fail "alice's view lacks the connector's endpoint $ENDPOINT"
log "ok: alice on B reaches nas through office-gw on A (endpoint $ENDPOINT shared by A)"
# Each controller counts the nodes connected to it and publishes the counts:
# `admin status` on either says both nodes are up to date.
both_applied() { [[ $(adm "$1" --json status | jq -r '"\(.rev) \(.applied)/\(.nodes) \(.applied_here)"') == "$2" ]]; }
rev=$(adm a --json status | jq .rev)
wait_until 5 both_applied a "$rev 2/2 1" || fail "admin status on A: $(adm a status) $(adm a --json status | jq -c '{applied_here, other_controllers}')"
wait_until 5 both_applied b "$rev 2/2 1" || fail "admin status on B: $(adm b status) $(adm b --json status | jq -c '{applied_here, other_controllers}')"
adm a status | grep -qx "rev $rev applied on 2 of 2 nodes (2 connected)" || fail "admin status on A prints: $(adm a status)"
log "ok: admin status on A and on B: $(adm b status | head -n 1) (one node on each)"

section "4. a change on B reaches the connector on A within 1 s"
grants() { zt_cli conn --json export | jq '[.policy.grants[]? | select(.resource == "nas")] | length'; }
[[ $(grants) == 1 ]] || fail "the connector holds $(grants) grants to nas, want alice's 1"
t0=$(date +%s%N)
admin_ok b access rm --group eng --resource nas >/dev/null
wait_until 5 bash -c "(( \$(\"$ZTGATE\" --socket '$ZT_TMP/conn.sock' --json export | jq '[.policy.grants[]? | select(.resource == \"nas\")] | length') == 0 ))" ||
	fail "the access rule removed on B is still at the connector on A: $(zt_cli conn --json export | jq -c .policy.grants)"
t1=$(date +%s%N)
poll_ms=$(( (t1 - t0) / 1000000 ))
# Where the time went, from the daemons' log lines (ms after the command started):
# the connector's "view rev N applied" is written once the policy is live.
rev=$(adm b --json status | jq .rev)
at_ms() {
	local ts
	ts=$(grep -F "$2" "$(zt_daemon_out "$1")" | tail -n 1 | jq -r .ts)
	[[ -n $ts ]] && echo $(( $(date -d "$ts" +%s%3N) - t0 / 1000000 )) || echo 99999
}
caught=$(at_ms ctla "to $rev (")
ms=$(at_ms conn "view rev $rev applied")
(( ms <= 1000 )) || fail "access rm on B took $ms ms to be live at the connector on A (want <= 1000; A caught up after $caught ms)"
log "ok: access rm on B (rev $rev) live at the connector on A after $ms ms (A caught up after $caught ms, counting the CLI's start; seen by polling the connector after $poll_ms ms)"
wait_until 5 bash -c "! ip netns exec '$C' curl -sS --max-time 1 '$PAGE_URL' >/dev/null 2>&1" ||
	fail "alice still fetches the page after access rm"
t0=$(date +%s%N)
admin_ok a access add --group eng --resource nas >/dev/null
wait_until 5 bash -c "(( \$(\"$ZTGATE\" --socket '$ZT_TMP/alice.sock' --json resource list | jq '.resources | length') == 1 ))" ||
	fail "the access rule added on A did not reach alice on B"
t1=$(date +%s%N)
log "ok: access add on A reached alice's view on B in $(( (t1 - t0) / 1000000 )) ms"
wait_until 10 curl_page || fail "alice cannot fetch the page again"

section "5. 20 writes on A and 20 on B at once"
pids=()
for i in $(seq 1 20); do
	adm a group add "a$i" >/dev/null 2>"$ZT_TMP/conc-a$i.err" & pids+=($!)
	adm b group add "b$i" >/dev/null 2>"$ZT_TMP/conc-b$i.err" & pids+=($!)
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=$((failed + 1)); done
(( failed == 0 )) || fail "$failed of 40 concurrent writes failed: $(cat "$ZT_TMP"/conc-*.err | sort | uniq -c)"
groups_of() { adm "$1" --json group list | jq -c '[.items[] | {name, id}] | sort_by(.id)'; }
has_all() { [[ $(adm "$1" --json group list | jq '[.items[] | select(.name | test("^[ab][0-9]+$"))] | length') == 40 ]]; }
wait_until 3 has_all a || fail "A holds $(adm a --json group list | jq '.items | length') groups"
wait_until 3 has_all b || fail "B holds $(adm b --json group list | jq '.items | length') groups"
ga=$(groups_of a)
[[ $ga == "$(groups_of b)" ]] || fail "A and B disagree on the groups: $ga vs $(groups_of b)"
[[ $(jq '[.[].id] | unique | length' <<<"$ga") == $(jq length <<<"$ga") ]] || fail "ids clash: $ga"
[[ $(adm a --json status | jq .rev) == $(adm b --json status | jq .rev) ]] || fail "A and B at different revisions"
for c in a b; do
	adm "$c" audit --verify >/dev/null 2>&1 || fail "audit --verify on $c: $(adm "$c" audit --verify 2>&1)"
done
retried() { grep -c "trying again" "$(zt_daemon_out "ctl$1")" || true; }
log "ok: 40 concurrent group adds landed, unique ids, same model on A and B (rev $(adm a --json status | jq .rev)), audit verifies on both; writes built again after a conflict (writers take turns, so 0 expected): A $(retried a), B $(retried b)"

section "6. controller A killed: the nodes on it keep working, the connector moves to B"
zt_daemon_stop_tag ctla KILL
curl_page || fail "alice lost nas with controller A (the connector's) killed"
admin_ok b group add after-kill >/dev/null
adm b audit --verify >/dev/null 2>&1 || fail "audit --verify on B after A was killed"
log "ok: A killed: the connector keeps serving alice (fail static); B keeps taking writes"
t0=$(date +%s%N)
wait_until 40 connected b 2 || fail "the connector did not move to B: $(adm b status)"
log "ok: the connector moved to B in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
admin_ok b access rm --group eng --resource nas >/dev/null
wait_until 2 bash -c "(( \$(\"$ZTGATE\" --socket '$ZT_TMP/conn.sock' --json export | jq '[.policy.grants[]? | select(.resource == \"nas\")] | length') == 0 ))" ||
	fail "access rm on B did not reach the connector now on B"
log "ok: a change on B reaches the connector through B"
start_ctl a "$CTL_A"
has_after_kill() { [[ $(adm a --json group list | jq '[.items[] | select(.name == "after-kill")] | length') == 1 ]]; }
wait_until 5 has_after_kill || fail "restarted A does not have B's write made while it was down"
[[ $(adm a --json status | jq .rev) == $(adm b --json status | jq .rev) ]] || fail "restarted A is at another revision than B"
log "ok: A restarted: it has B's writes made while it was down"
