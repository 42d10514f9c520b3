#!/usr/bin/env bash
# controller_e2e: issue 11's main path in network namespaces, everything set
# up through `ztgate admin` and enrollment tokens (no local policy command on
# any node).
#
# Topology (tests/lib.sh zt_tunnel_topology plus three namespaces on inet):
#   ctl    198.18.5.2   ztgated controller --listen 198.18.5.2:7443
#   cli    198.18.0.2   alice's laptop (group eng: nas)
#   bob    198.18.3.2   bob's laptop (group ops: vault)
#   ci     198.18.4.2   service account ci (group eng: nas), a headless client
#   conn   198.19.0.2 / 10.10.0.1   connector office-gw of network office
#   priv   10.10.0.5 nas (http 80, ncat 8080), 10.10.0.7 vault (same host)
# Asserts: each client reaches exactly its granted resources and learns
# nothing of the others'; a group change and a revocation reach the
# connector's data plane within 1 s (measured), as deltas on its view, and cut an open flow (a user
# leaving a group, disabled users and service accounts, deleted devices and
# service account keys; each time printed in ms); connection lines carry who,
# device and network, and `admin connections [--follow]` shows them; a local
# edit on a managed node is refused; with the controller killed, nodes keep
# working and a restarted node keeps its last view; the controller restarted
# keeps its state; the audit trail verifies and names every step; a security
# policy's session lifetime (10 s) denies at the connector until `ztgate reauth`.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require dig dnsmasq ncat socat jq nsenter curl nmap python3 ss
zt_require_bins

CTL_IP=198.18.5.2
CTL=$CTL_IP:7443
ENDPOINT=$ZT_TUN_CONN_IP:$ZT_TUN_CONN_PORT
PAGE_URL=http://nas.home.int/

section "1. topology and services"
zt_tunnel_topology
C=$ZT_NS_CLI
N=$ZT_NS_CONN
zt_tunnel_add_client bob 3
zt_tunnel_add_client ci 4
zt_tunnel_add_client ctl 5
B=$(zt_ns bob)
S=$(zt_ns ci)
K=$(zt_ns ctl)
zt_tunnel_services
zt_tunnel_assert_isolated
for ns in "$C" "$B" "$S"; do zt_tunnel_client_resolver "$ns"; done

section "2. the controller and the model, through the admin CLI only"
zt_keygen "$ZT_TMP/ctl.key" >/dev/null
zt_daemon_as ctl "$K" controller --listen "$CTL" --key "$ZT_TMP/ctl.key"
adm() { zt_cli ctl admin "$@"; }
# admin_ok ARGS...: must succeed; its output on stdout.
admin_ok() { adm "$@" 2>"$ZT_TMP/adm.err" || fail "ztgate admin $*: $(cat "$ZT_TMP/adm.err")"; }
# admin_refused WHAT ARGS...: must fail with exactly one line on stderr.
admin_refused() {
	local what=$1 out rc=0
	shift
	out=$(adm "$@" 2>&1 >/dev/null) || rc=$?
	(( rc != 0 )) || fail "$what: 'ztgate admin $*' succeeded"
	(( $(wc -l <<<"$out") == 1 )) || fail "$what: want one line on stderr, got: $out"
	log "ok: refused ($what): $out"
}
token_of() { tail -n 1 | tr -d '[:space:]'; }

admin_ok network add office >/dev/null
CONN_TOKEN=$(admin_ok connector add office-gw --network office | token_of)
[[ $CONN_TOKEN == ztgt1_* ]] || fail "connector add: last line is not a token: $CONN_TOKEN"
admin_ok resource add nas --network office --address nas.home.int --tcp 80,8080 --icmp >/dev/null
admin_ok resource add vault --network office --address $ZT_TUN_VAULT_IP --tcp 80 >/dev/null
admin_ok group add eng >/dev/null
admin_ok group add ops >/dev/null
admin_ok user add alice@example.com --group eng >/dev/null
admin_ok user add bob@example.com --group ops >/dev/null
admin_ok access add --group eng --resource nas >/dev/null
admin_ok access add --group ops --resource vault >/dev/null
admin_ok service-account add ci --group eng >/dev/null
ALICE_TOKEN=$(admin_ok device token --user alice@example.com | token_of)
BOB_TOKEN=$(admin_ok device token --user bob@example.com | token_of)
CI_TOKEN=$(admin_ok device token --service-account ci | token_of)
for t in "$ALICE_TOKEN" "$BOB_TOKEN" "$CI_TOKEN"; do [[ $t == ztgt1_* ]] || fail "device token: '$t'"; done
log "ok: network, connector, 2 resources, 2 groups, 2 users, a service account, 4 tokens"

# Bad input: one line, nothing changed.
before=$(admin_ok --json resource list | jq -c '[.items[].name] | sort')
admin_refused "unknown group" user add carol@example.com --group nosuch
admin_refused "duplicate email" user add alice@example.com --group eng
admin_refused "unknown network" resource add x --network nosuch --address 10.1.2.3 --tcp 80
admin_refused "bad ports" resource add y --network office --address 10.1.2.4 --tcp 70000
after=$(admin_ok --json resource list | jq -c '[.items[].name] | sort')
[[ $before == "$after" ]] || fail "a refused command changed the resources: $before -> $after"

section "3. nodes enroll with their tokens"
zt_daemon_as conn "$N" connector --controller "$CTL" --token "$CONN_TOKEN" --listen "$ENDPOINT" \
	--dns $ZT_TUN_NAS_IP
zt_daemon_as alice "$C" client --controller "$CTL" --token "$ALICE_TOKEN" --upstream $ZT_TUN_GW_IP
zt_daemon_as bob "$B" client --controller "$CTL" --token "$BOB_TOKEN" --upstream 198.18.3.1
zt_daemon_as ci "$S" client --controller "$CTL" --token "$CI_TOKEN" --upstream 198.18.4.1
ctl_of() { zt_cli "$1" --json status | jq -c '.controller'; }
applied_rev() { zt_cli "$1" --json status | jq -r '.controller.rev_applied // 0'; }
model_rev() { adm --json status | jq -r .rev; }
# up_to_date TAG...: every node applied a view at least as new as the last
# change that concerned it (the controller's own count).
all_applied() { [[ $(adm --json status | jq -r '"\(.applied)/\(.nodes)"') == "$1/$1" ]]; }
wait_until 20 all_applied 4 || fail "not every node applied its view: $(adm status)"
log "ok: $(adm status | head -n 1)"

# A token works once: a second node presenting the service account's token is refused.
zt_tunnel_add_client reuse 6
zt_bg reuse "$(zt_ns reuse)" "$ZTGATED" client --controller "$CTL" --token "$CI_TOKEN" \
	--state-dir "$ZT_TMP/state-reuse" --socket "$ZT_TMP/reuse.sock" --pin-dir "$ZT_PIN_BASE/reuse"
refused() { adm --json audit | jq -e '.records | map(select(.action == "token.refused")) | length > 0' >/dev/null; }
wait_until 30 refused || fail "a reused token was not refused in the audit trail: $(adm audit | tail -n 5)"
log "ok: a reused token is refused and audited"

section "4. each client reaches exactly what its groups grant, and learns nothing else"
curl_page() { ip netns exec "$1" curl -sS --max-time 3 "$PAGE_URL" 2>/dev/null | grep -qx "$ZT_TUN_PAGE"; }
curl_vault() { ip netns exec "$1" curl -sS --max-time 3 "http://$ZT_TUN_VAULT_IP/" 2>/dev/null | grep -qx "$ZT_TUN_PAGE"; }
wait_until 30 curl_page "$C" || fail "alice cannot fetch $PAGE_URL"
wait_until 30 curl_page "$S" || fail "the ci service account cannot fetch $PAGE_URL"
wait_until 30 curl_vault "$B" || fail "bob cannot fetch http://$ZT_TUN_VAULT_IP/"
log "ok: alice and ci reach nas, bob reaches vault"
! curl_vault "$C" || fail "alice reaches vault (granted to ops only)"
! curl_page "$B" || fail "bob reaches nas (granted to eng only)"
names() { zt_cli "$1" --json resource list | jq -r '[.resources[].name] | sort | join(",")'; }
[[ $(names alice) == nas ]] || fail "alice's view holds resources '$(names alice)', want nas only"
[[ $(names ci) == nas ]] || fail "ci's view holds '$(names ci)', want nas only"
[[ $(names bob) == vault ]] || fail "bob's view holds '$(names bob)', want vault only"
[[ $(names conn) == nas,vault ]] || fail "the connector's view holds '$(names conn)'"
for t in alice bob ci; do
	if zt_cli "$t" --json export | grep -q -e "@example.com" -e '"ops"' -e '"eng"'; then
		fail "$t's view names users or groups: $(zt_cli "$t" --json export | head -c 300)"
	fi
done
bob_view=$(zt_cli bob --json export)
grep -q nas.home.int <<<"$bob_view" && fail "bob's view mentions nas.home.int"
zt_expect_states "nmap from alice to nas (tcp 80, 8080 granted)" \
	"22:filtered 80:open 443:filtered 8080:open 9000:filtered" \
	"$(zt_nmap_states "$C" "$(ip netns exec "$C" dig +short +time=2 +tries=1 @100.95.0.251 nas.home.int A)" 22,80,443,8080,9000)"
log "ok: views hold only the granted resources; nmap through alice's tunnel tells the truth"

section "5. a local edit on a managed node is refused"
rc=0
err=$(zt_cli alice resource add x --address 10.1.2.3 --tcp 80 2>&1 >/dev/null) || rc=$?
(( rc != 0 )) || fail "a local resource add succeeded on a managed client"
grep -q 'managed by its controller' <<<"$err" || fail "local edit refused with '$err'"
log "ok: $err"

section "6. revocation reaches the connector within 1 s and cuts the open flow"
# session_open NS TAG: an ncat session from NS to nas:8080 through the tunnel
# (on fd 7), TAG seen by nas.
session_open() {
	local ns=$1 tag=$2 fake
	fake=$(ip netns exec "$ns" dig +short +time=2 +tries=1 @100.95.0.251 nas.home.int A)
	rm -f "$ZT_TMP/sess.in"
	mkfifo "$ZT_TMP/sess.in"
	exec 7<>"$ZT_TMP/sess.in"
	ip netns exec "$ns" ncat -4 "$fake" 8080 <&7 >/dev/null 2>&1 &
	SESS_PID=$!
	ZT_PIDS+=("$SESS_PID")
	echo "before-$tag-$ZT_ID" >&7
	wait_until 10 grep -q "before-$tag-$ZT_ID" "$ZT_TMP/tcp8080.log" || fail "$tag: the open session carried nothing"
}
# session_cut TAG: what the session sends after the revocation never reaches nas.
session_cut() {
	echo "after-$1-$ZT_ID" >&7 || true
	! wait_until 3 grep -q "after-$1-$ZT_ID" "$ZT_TMP/tcp8080.log" ||
		fail "$1: the open session still carries data after the revocation"
	exec 7>&-
	kill "$SESS_PID" 2>/dev/null || true
}
device_of() { adm --json device list | jq -r --arg o "$1" '[.items[] | select(.owner == $o) | .name] | first // ""'; }
# revoke_ms DEVICE ADMIN-ARGS...: run the admin command, then poll the
# connector's live policy until DEVICE is gone from it; prints the milliseconds.
revoke_ms() {
	local dev=$1 t0 t1 i
	shift
	t0=$(date +%s%N)
	adm "$@" >/dev/null 2>"$ZT_TMP/adm.err" || fail "ztgate admin $*: $(cat "$ZT_TMP/adm.err")"
	for ((i = 0; i < 250; i++)); do
		if zt_cli conn export | jq -e --arg d "$dev" '[.devices[]? | select(.name == $d)] | length == 0' >/dev/null; then
			t1=$(date +%s%N)
			echo $(( (t1 - t0) / 1000000 ))
			return 0
		fi
		sleep 0.02
	done
	fail "admin $*: $dev is still in the connector's policy after 5 s"
}
# revoke CASE NS DEVICE ADMIN-ARGS...: an open session from NS, the admin
# command, DEVICE gone from the connector within 1 s, the session cut.
revoke() {
	local what=$1 ns=$2 dev=$3 ms
	shift 3
	session_open "$ns" "$what"
	ms=$(revoke_ms "$dev" "$@")
	(( ms <= 1000 )) || fail "$what: took $ms ms to reach the connector (want <= 1000)"
	session_cut "$what"
	log "ok: revocation ($what): $dev out of the connector's policy in $ms ms after 'admin $*'; its open session carries nothing"
}
ALICE_DEV=$(device_of alice@example.com)
CI_DEV=$(device_of ci)
[[ -n $ALICE_DEV && -n $CI_DEV ]] || fail "devices: alice '$ALICE_DEV', ci '$CI_DEV': $(adm device list)"

conn_views() { zt_cli conn --json status | jq -r ".controller.$1"; }
DELTAS0=$(conn_views views_delta)
revoke "user leaves group" "$C" "$ALICE_DEV" group rm-member eng alice@example.com
! curl_page "$C" || fail "alice still fetches the page after leaving eng"
curl_page "$S" || fail "ci lost nas when alice left eng"
admin_ok group add-member eng alice@example.com >/dev/null
wait_until 10 curl_page "$C" || fail "alice back in eng cannot fetch the page"
log "ok: alice back in eng reaches nas again; ci was never affected"
# Both group changes reached the connector as deltas on the view it held
# (view_delta), rebuilt byte for byte (its hash and signature held: nothing
# asked again whole), and its live policy has alice's device and grant back.
(( $(conn_views views_delta) >= DELTAS0 + 2 )) ||
	fail "the connector took $(( $(conn_views views_delta) - DELTAS0 )) deltas for two group changes: $(zt_cli conn --json status | jq -c .controller)"
[[ $(conn_views views_requested_whole) == 0 ]] || fail "the connector asked for whole views: $(grep 'asking for it whole' "$(zt_daemon_out conn)" | tail -n 2)"
zt_cli conn export | jq -e --arg d "$ALICE_DEV" '([.devices[] | select(.name == $d)] | length == 1) and
	([.grants[] | select(.device == $d and .resource == "nas")] | length == 1)' >/dev/null ||
	fail "after the deltas the connector's policy lacks alice's device or grant: $(zt_cli conn export | jq -c '{devices: [.devices[].name], grants}')"
log "ok: the connector took the group changes as deltas: $(adm --json status | jq -r '.server | "\(.views_delta) deltas (\(.view_bytes_delta) bytes), \(.views_whole) whole views (\(.view_bytes_whole) bytes)"') from the controller"

# The connector's lines name who, which device, which network; the controller has them.
ended_revoked() {
	adm --json connections | jq -s -e --arg d "$ALICE_DEV" '[.[] | select(.event == "connection_end"
		and .device == $d and .user == "alice@example.com" and .status == "REVOKED"
		and .remote_network == "office" and .connector == "office-gw" and (.device_id | type) == "number")] | length > 0' >/dev/null
}
wait_until 5 ended_revoked || fail "no REVOKED connection_end line with alice's identity at the controller: $(adm --json connections | tail -n 3)"
started_ci() {
	adm --json connections | jq -s -e '[.[] | select(.event == "connection_start" and .service_account == "ci")] | length > 0' >/dev/null
}
wait_until 5 started_ci || fail "no connection_start line of the ci service account: $(adm --json connections | tail -n 3)"
grep -q '"user":"alice@example.com"' "$(zt_daemon_out conn)" ||
	fail "the connector's own log lines do not name alice: $(grep connection_ "$(zt_daemon_out conn)" | tail -n 2)"
adm connections | grep -q "alice@example.com" || fail "admin connections (table) does not show alice: $(adm connections | tail -n 3)"
timeout -k 1 2 "$ZTGATE" --socket "$ZT_TMP/ctl.sock" --json admin connections --follow >"$ZT_TMP/follow.out" 2>&1 &
FOLLOW_PID=$!
sleep 0.5
curl_page "$S" || fail "ci cannot fetch the page"
wait "$FOLLOW_PID" || true
jq -e -s '[.[] | select(.service_account == "ci")] | length > 0' "$ZT_TMP/follow.out" >/dev/null ||
	fail "admin connections --follow printed no line of ci's: $(tail -n 3 "$ZT_TMP/follow.out")"
log "ok: connection lines carry user/service account, device id, network and connector; admin connections [--follow] shows them"

revoke "user disabled" "$C" "$ALICE_DEV" user set alice@example.com --disable
wait_until 3 bash -c "! $ZTGATE --socket $ZT_TMP/alice.sock --json status | jq -e .controller.connected >/dev/null" ||
	fail "alice's controller session is still up after she was disabled"
admin_ok user set alice@example.com --enable >/dev/null
revoke "service account disabled" "$S" "$CI_DEV" service-account set ci --disable
admin_ok service-account set ci --enable >/dev/null
wait_until 40 curl_page "$C" || fail "alice enabled again cannot fetch the page"
wait_until 40 curl_page "$S" || fail "ci enabled again cannot fetch the page"
log "ok: alice and ci enabled again reach nas"

section "7. the controller down: nodes keep working; a node restarted keeps its view"
zt_daemon_stop_tag ctl KILL
curl_page "$C" || fail "alice lost nas with the controller down"
zt_daemon_stop_tag alice
zt_daemon_as alice "$C" client --controller "$CTL" --upstream $ZT_TUN_GW_IP
wait_until 30 curl_page "$C" || fail "alice restarted with the controller down cannot fetch the page"
log "ok: controller killed: alice keeps nas, also after her own restart (fail static)"
zt_daemon_as ctl "$K" controller --listen "$CTL" --key "$ZT_TMP/ctl.key"
wait_until 40 all_applied 4 || fail "nodes did not come back to the restarted controller: $(adm status)"
admin_ok access rm --group ops --resource vault >/dev/null
wait_until 5 bash -c "! ip netns exec '$B' curl -sS --max-time 1 http://$ZT_TUN_VAULT_IP/ >/dev/null 2>&1" ||
	fail "bob still reaches vault after access rm through the restarted controller"
log "ok: the restarted controller kept its model and its changes reach the nodes"

section "8. the audit trail"
adm audit --verify >/dev/null || fail "audit --verify failed: $(adm audit --verify 2>&1)"
audit=$(adm --json audit)
for a in token.used token.refused; do
	jq -e --arg a "$a" '.records | map(select(.action == $a)) | length > 0' <<<"$audit" >/dev/null || fail "no $a record"
done
log "ok: audit trail verifies; $(jq '.records | length' <<<"$audit") records"

section "9. deleting a device and revoking a service account's key"
conn_keys() { zt_cli conn export | jq -r '[.devices[]?.pubkey] | join(" ")'; }
for who in alice ci; do
	if [[ $who == alice ]]; then ns=$C dev=$ALICE_DEV; else ns=$S dev=$CI_DEV; fi
	key=$(zt_cli conn export | jq -r --arg d "$dev" '.devices[] | select(.name == $d) | .pubkey')
	[[ -n $key ]] || fail "$dev has no key at the connector before its removal"
	wait_until 10 bash -c "$ZTGATE --socket $ZT_TMP/$who.sock --json status | jq -e .controller.connected >/dev/null" ||
		fail "$who is not connected to the controller"
	revoke "device rm ($who)" "$ns" "$dev" device rm "$dev"
	[[ " $(conn_keys) " != *" $key "* ]] || fail "$dev's key is still in the connector's devices"
	wait_until 2 bash -c "! $ZTGATE --socket $ZT_TMP/$who.sock --json status | jq -e .controller.connected >/dev/null" ||
		fail "$who's controller session is still up after device rm"
	! curl_page "$ns" || fail "$who still fetches the page after device rm"
	log "ok: $dev removed: its key left the connector, its controller session closed"
done
adm --json audit | jq -e --arg d "$CI_DEV" '[.records[] | select(.action == "node.disconnect" and .name == $d)] | length > 0' >/dev/null ||
	fail "no node.disconnect record for $CI_DEV"

section "10. security policy session lifetime: denied at the connector until re-authenticated"
BOB_DEV=$(device_of bob@example.com)
admin_refused "session lifetime under 10 s" policy add tooshort --session-lifetime 5s
admin_ok policy add short --session-lifetime 10s >/dev/null
admin_ok access add --group ops --resource vault --policy short >/dev/null
bob_known() { zt_cli conn export | jq -e --arg d "$BOB_DEV" '[.devices[]? | select(.name == $d)] | length > 0' >/dev/null; }
bob_granted() { zt_cli conn export | jq -e --arg d "$BOB_DEV" '[.grants[]? | select(.device == $d and .resource == "vault")] | length > 0' >/dev/null; }
denied() { zt_cli conn --json stats | jq --arg r "$1" '[.resources[] | select(.name == $r) | .denied_packets] | add // 0'; }
# Bob enrolled well over 10 s ago: his device is known at the connector, without the grant.
wait_until 5 bob_known || fail "bob's device is not at the connector: $(zt_cli conn export | jq -c .devices)"
! bob_granted || fail "bob's expired session still has the grant to vault"
d0=$(denied vault)
! curl_vault "$B" || fail "bob reaches vault with an expired session"
(( $(denied vault) > d0 )) || fail "the connector counted no denied packet to vault for bob's expired session"
# REAUTH_FROM_NS / REAUTH_NS: just before and just after the command (the
# re-authentication happened between them).
reauth_ok() {
	local out
	REAUTH_FROM_NS=$(date +%s%N)
	out=$(zt_cli bob reauth "$1" 2>&1) || fail "ztgate reauth: $out"
	REAUTH_NS=$(date +%s%N)
}
reauth_ok "$(admin_ok device token --user bob@example.com | token_of)"
wait_until 2 bob_granted || fail "bob re-authenticated, but the connector has no grant"
wait_until 10 curl_vault "$B" || fail "bob re-authenticated cannot reach vault"
log "ok: an expired session is denied at the connector (curl fails, denied packets counted); ztgate reauth restores it"
used=$(admin_ok device token --user bob@example.com | token_of)
reauth_ok "$used"
rc=0; err=$(zt_cli bob reauth "$used" 2>&1) || rc=$?
(( rc != 0 )) || fail "a used token re-authenticated bob"
other=$(admin_ok device token --user alice@example.com | token_of)
rc=0; err2=$(zt_cli bob reauth "$other" 2>&1) || rc=$?
(( rc != 0 )) || fail "alice's token re-authenticated bob's device"
log "ok: refused: used token ($err); another user's token ($err2)"
# The lifetime passes: the controller's timer drops the grant at the connector.
d0=$(denied vault)
wait_until 14 bash -c "! $ZTGATE --socket $ZT_TMP/conn.sock export | jq -e --arg d '$BOB_DEV' '[.grants[]? | select(.device == \$d and .resource == \"vault\")] | length > 0' >/dev/null" ||
	fail "bob's grant is still at the connector 14 s after his re-authentication (lifetime 10 s)"
# The controller keeps whole seconds: the session ends 9 to 10 s after the
# re-authentication itself, which lies between the two stamps.
gone_ns=$(date +%s%N)
ms=$(( (gone_ns - REAUTH_NS) / 1000000 ))
ms_from=$(( (gone_ns - REAUTH_FROM_NS) / 1000000 ))
(( ms_from >= 9000 && ms <= 11500 )) ||
	fail "the grant went $ms-$ms_from ms after the re-authentication (lifetime 10 s, want 9000-11500)"
! curl_vault "$B" || fail "bob reaches vault after his session expired"
(( $(denied vault) > d0 )) || fail "no denied packets counted after bob's session expired"
log "ok: session lifetime 10 s: bob's grant left the connector $ms ms after his re-authentication; curl fails, denied packets counted"
reauth_ok "$(admin_ok device token --user bob@example.com | token_of)"
wait_until 10 curl_vault "$B" || fail "bob re-authenticated again cannot reach vault"
adm --json audit | jq -e '[.records[] | select(.action == "device.reauth")] | length >= 3' >/dev/null ||
	fail "re-authentications are not in the audit trail"
log "ok: re-authenticated again, bob reaches vault; each re-authentication audited"
