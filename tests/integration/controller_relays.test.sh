#!/usr/bin/env bash
# controller_relays: the controller's relays changed while its nodes run
# reach them without a restart (docs/CONTROLLER.md "Relays"): added relays
# are registered with and carry the traffic, removed ones are closed and
# their paths move to another relay; the node's own --relay stays.
#
# Topology (tests/lib.sh zt_nat_topology, plus a host for the controller):
#   relay  198.18.0.10 relay R1, 198.18.0.11 relay R2 (udp 3478)
#   ctl    198.18.5.2  ztgated controller --listen 198.18.5.2:7443 [--relay ...]
#   cli    192.168.1.2 behind router A (masquerade; UDP only to and from the
#          relays' subnet 198.18.0.0/24: no direct path to the connector)
#   conn   192.168.2.2 behind router B, connector office-gw, --relay R2 of its own,
#          its XDP uplink guard on u0 (it must admit each new relay by address)
#   priv   10.10.0.5 nas (http 80)
# Everything set up with `ztgate admin` and enrollment tokens. The
# controller's relay set is its --relay options and its relay objects
# (`ztgate admin relay add|rm`): the objects change while everything runs,
# the options by restarting the controller; the client and the connector
# keep running throughout.
# Asserts, each through `ztgate --json status` and the relays' counters:
#   1 no relay of the controller's: the client has none, no path, curl fails
#   2 `admin relay add r1 --address R1` (no restart): within seconds the
#     client registers with R1 and curl works, both sides relayed-udp
#     through R1 (time measured)
#   3 R1 replaced by R2 (`admin relay add r2`, `admin relay rm r1`, no
#     restart): the client closes R1 and moves to R2, curl works,
#     the connector drops R1 but keeps R2 (its own --relay), R1 forwards
#     nothing more while traffic flows; the TUN MTU stays 1380 throughout;
#     bad `admin relay` input (address, duplicate, unknown name) fails with
#     one line and changes nothing
#   4 `admin relay rm r2`, then the controller restarted with --relay naming
#     a relay by name: the connector (--uplink: its guard
#     admits relays by address) refuses the change with one error line, keeps
#     its relays and runs on; the client closes R2 and takes the new one (no
#     address: never registered), curl fails again; the connector restarted
#     with that view persisted starts all the same, with its own relay
# (The last relay removed, a relay added beside a direct path: tests/unit/test_paths.c.)
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require dnsmasq ncat jq curl dig nft conntrack
zt_require_bins

CTL_IP=198.18.5.2
CTL=$CTL_IP:7443
R1=$ZT_NAT_RELAY_IP:$ZT_NAT_RELAY_PORT
R2=$ZT_NAT_RELAY2_IP:$ZT_NAT_RELAY_PORT
LISTEN=$ZT_NAT_CONN_IP:$ZT_NAT_CONN_PORT

section "1. topology: two NATs, no direct UDP between the nodes, two relays, a controller"
zt_nat_topology --client-nat eim --conn-nat eim
C=$ZT_NS_CLI
N=$ZT_NS_CONN
# Router A lets UDP pass only to and from the relays' subnet (and the
# resolver on it): the client can reach the connector only through a relay.
ip netns exec "$ZT_NS_RTA" nft add rule ip zt_nat udp_policy \
	meta l4proto udp ip daddr != 198.18.0.0/24 ip saddr != 198.18.0.0/24 drop ||
	fail "nft: router A udp policy"
zt_nat_flush a
zt_tunnel_services
zt_tunnel_client_resolver "$C"
zt_nat_add_host ctl 5
K=$(zt_ns ctl)
zt_nat_relay_start relay $ZT_NAT_RELAY_IP
zt_nat_relay_start relay2 $ZT_NAT_RELAY2_IP
zt_keygen "$ZT_TMP/ctl.key" >/dev/null
# ctl_start RELAY...: the controller (again, same state) naming RELAYs in every view.
ctl_start() {
	local args=() r
	for r in "$@"; do args+=(--relay "$r"); done
	zt_daemon_as ctl "$K" controller --listen "$CTL" --key "$ZT_TMP/ctl.key" "${args[@]}"
	CTL_UP_NS=$(date +%s%N)
}
ctl_start
adm() { zt_cli ctl admin "$@"; }
admin_ok() { adm "$@" 2>"$ZT_TMP/adm.err" || fail "ztgate admin $*: $(cat "$ZT_TMP/adm.err")"; }
token_of() { tail -n 1 | tr -d '[:space:]'; }
admin_ok network add office >/dev/null
CONN_TOKEN=$(admin_ok connector add office-gw --network office | token_of)
admin_ok resource add nas --network office --address nas.home.int --tcp 80 --icmp >/dev/null
admin_ok group add eng >/dev/null
admin_ok user add alice@example.com --group eng >/dev/null
admin_ok access add --group eng --resource nas >/dev/null
ALICE_TOKEN=$(admin_ok device token --user alice@example.com | token_of)
[[ $CONN_TOKEN == ztgt1_* && $ALICE_TOKEN == ztgt1_* ]] || fail "tokens: '$CONN_TOKEN' '$ALICE_TOKEN'"

zt_daemon_as conn "$N" connector --controller "$CTL" --token "$CONN_TOKEN" --listen "$LISTEN" \
	--dns $ZT_TUN_NAS_IP --relay "$R2" --uplink u0
zt_daemon_as alice "$C" client --controller "$CTL" --token "$ALICE_TOKEN" --upstream $ZT_TUN_GW_IP
all_applied() { [[ $(adm --json status | jq -r '"\(.applied)/\(.nodes)"') == "2/2" ]]; }
wait_until 20 all_applied || fail "the nodes did not apply their views: $(adm status)"
ALICE_PID=$(zt_daemon_select alice; echo "$DAEMON_PID")
CONN_PID=$(zt_daemon_select conn; echo "$DAEMON_PID")
zt_daemon_select ctl

# Helpers on `ztgate --json status` (TAG: alice or conn).
relays_of() { zt_cli "$1" --json status | jq -r '[.relays[] | .relay] | sort | join(",")'; }
registered() { zt_cli "$1" --json status | jq -e --arg r "$2" '[.relays[] | select(.relay == $r and .registered)] | length == 1' >/dev/null; }
peer_of() { zt_cli "$1" --json status | jq -c '.peers[0] // {}'; }
path_via() {	# path_via TAG RELAY: the (only) peer is relayed-udp through RELAY
	zt_cli "$1" --json status | jq -e --arg r "$2" '.peers | length == 1 and .[0].path == "relayed-udp" and .[0].endpoint == $r' >/dev/null
}
page_ok() { [[ $(ip netns exec "$C" curl -sS --max-time "${1:-3}" http://nas.home.int/ 2>/dev/null) == "$ZT_TUN_PAGE" ]]; }
# page_fails: no page within 1.5 s (through a working relay it takes milliseconds).
page_fails() { ! page_ok 1.5; }
fwd() { zt_nat_forwarded "$1"; }
mtu_of() { ip -n "$1" -j link show "$2" | jq -r '.[0].mtu'; }
# changes TAG: how many relay changes TAG's daemon logged (the view that changed them applied).
changes() { grep -c "the controller's relays changed" "$(zt_daemon_out "$1")" || true; }
# view_then MAX CHECK...: wait for the client's next relay change, then for CHECK;
# prints the ms from the controller up to the view and from the view to CHECK.
view_then() {
	local max=$1 c0 tv
	shift
	c0=$(changes alice)
	wait_until "$max" eval '(( $(changes alice) > c0 ))' || fail "the client logged no relay change within $max s"
	tv=$(date +%s%N)
	wait_until "$max" "$@" || return 1
	echo "$(( (tv - CTL_UP_NS) / 1000000 )) ms to the view, then $(( ($(date +%s%N) - tv) / 1000000 )) ms"
}
alive() { zt_pid_alive "$ALICE_PID" && zt_pid_alive "$CONN_PID" || fail "a node exited: $(tail -n 3 "$(zt_daemon_out alice)" "$(zt_daemon_out conn)")"; }

section "2. no relay of the controller's: no path"
[[ -z $(relays_of alice) ]] || fail "the client has relays '$(relays_of alice)' with none in its view"
wait_until 10 registered conn "$R2" || fail "the connector did not register with its own --relay $R2: $(zt_cli conn --json status | jq -c .relays)"
page_fails || fail "curl through the tunnel works with no relay and no direct path"
log "ok: no controller relay: client relays '', connector relays '$(relays_of conn)'; curl fails; client's peer $(peer_of alice)"
log "client TUN MTU $(mtu_of "$C" ztg0) (managed: the relayed MTU from the start)"
[[ $(mtu_of "$C" ztg0) == 1380 ]] || fail "managed client TUN MTU $(mtu_of "$C" ztg0), want 1380"

CTL_PID=$DAEMON_PID
rev() { adm --json status | jq -r .rev; }

section "3. admin relay add r1 (no controller restart): the running nodes take it"
CTL_UP_NS=$(date +%s%N)
admin_ok relay add r1 --address "$R1" >/dev/null
ms=$(view_then 30 page_ok) || fail "curl did not work within 30 s of the client taking $R1; client: $(zt_cli alice --json status | jq -c '{peers, relays}'); connector: $(zt_cli conn --json status | jq -c '{peers, relays}')"
alive
[[ $(relays_of alice) == "$R1" ]] || fail "the client's relays: '$(relays_of alice)', want $R1"
[[ $(relays_of conn) == "$R1,$R2" ]] || fail "the connector's relays: '$(relays_of conn)', want $R1,$R2"
registered alice "$R1" || fail "the client is not registered with $R1"
path_via alice "$R1" || fail "the client's path: $(peer_of alice), want relayed-udp via $R1"
# The connector's guard on u0 admits relays by address: R1's datagrams pass it since the view.
wait_until 5 path_via conn "$R1" || fail "the connector's path: $(peer_of conn), want relayed-udp via $R1"
(( $(zt_cli conn --json stats | jq '.uplink.passed // 0') > 0 )) || fail "the connector's uplink guard passed nothing"
(( $(fwd relay) > 0 )) || fail "relay R1 forwarded nothing, yet curl works"
zt_cli alice status | grep -E "^office-gw +relayed-udp +$R1" >/dev/null ||
	fail "ztgate status (text) does not show office-gw relayed-udp via $R1: $(zt_cli alice status)"
grep -q "the controller's relays changed" "$(zt_daemon_out alice)" || fail "the client did not log the change"
zt_daemon_select ctl
[[ $DAEMON_PID == "$CTL_PID" ]] && zt_pid_alive "$CTL_PID" || fail "the controller restarted"
log "ok: admin relay add r1 --address $R1: $ms curl works (no node nor controller restarted); both sides relayed-udp via $R1"

section "4. R1 replaced by R2 (admin relay add r2, rm r1): the nodes move, R1's counters stop"
CTL_UP_NS=$(date +%s%N)
admin_ok relay add r2 --address "$R2" >/dev/null
admin_ok relay rm r1 >/dev/null
moved() { [[ $(relays_of alice) == "$R2" ]] && path_via alice "$R2" && page_ok; }
ms=$(view_then 30 moved) || fail "the client did not move to $R2 within 30 s: $(zt_cli alice --json status | jq -c '{peers, relays}')"
alive
[[ $(relays_of conn) == "$R2" ]] || fail "the connector's relays: '$(relays_of conn)', want $R2 (its own --relay kept, $R1 gone)"
wait_until 5 path_via conn "$R2" || fail "the connector's path: $(peer_of conn), want relayed-udp via $R2"
f1=$(fwd relay)
g1=$(fwd relay2)
for i in 1 2 3 4 5; do page_ok || fail "curl $i through $R2 failed"; done
f2=$(fwd relay)
g2=$(fwd relay2)
(( f2 == f1 )) || fail "relay R1 still forwards after its removal: $f1 -> $f2"
(( g2 > g1 )) || fail "relay R2 forwarded nothing for 5 curls: $g1 -> $g2"
[[ $(mtu_of "$C" ztg0) == 1380 ]] || fail "client TUN MTU changed to $(mtu_of "$C" ztg0)"
log "ok: R1 -> R2: $ms the client moved (relays, path, curl); R1 forwarded $f1 -> $f2 over 5 curls, R2 $g1 -> $g2; connector relays '$(relays_of conn)'"
[[ $(adm --json relay list | jq -r '[.items[] | "\(.name)=\(.address)"] | join(",")') == "r2=$R2" ]] ||
	fail "admin relay list: $(adm relay list)"
adm relay list | grep -E "^r2 +$R2 " >/dev/null || fail "admin relay list (text): $(adm relay list)"
[[ $(adm --json relay show r2 | jq -r .object.address) == "$R2" ]] || fail "admin relay show r2: $(adm relay show r2)"
# refuses CMD... WANT: a non-zero exit, one error line holding WANT, no new revision.
refuses() {
	local want=${*: -1} r0 out
	r0=$(rev)
	if out=$(adm "${@:1:$#-1}" 2>&1); then fail "ztgate admin ${*:1:$#-1} worked: $out"; fi
	[[ $(wc -l <<<"$out") == 1 && $out == *"$want"* ]] || fail "ztgate admin ${*:1:$#-1}: '$out', want one line with '$want'"
	[[ $(rev) == "$r0" ]] || fail "ztgate admin ${*:1:$#-1} failed but moved the revision"
}
refuses relay add bad --address "$ZT_NAT_RELAY_IP" "invalid relay address"
refuses relay add bad --address "$ZT_NAT_RELAY_IP:99999" "invalid relay address"
refuses relay add r2 --address "$R1" "already exists"
refuses relay add r3 --address "$R2" "has the address"
refuses relay rm r9 "no relay 'r9'"
refuses relay add r3 "--address"
[[ $(relays_of alice) == "$R2" ]] || fail "refused admin relay commands changed the client's relays: '$(relays_of alice)'"
log "ok: bad admin relay input refused, one line each, nothing changed: $(adm relay add bad --address x 2>&1 || true)"

section "5. admin relay rm r2, the controller restarted with --relay by name: the client takes it, the connector (--uplink) refuses it"
admin_ok relay rm r2 >/dev/null
wait_until 30 eval '[[ -z $(relays_of alice) ]]' || fail "admin relay rm r2: the client still has '$(relays_of alice)'"
zt_daemon_stop_tag ctl
ctl_start relay.example:3478
refused() { grep -q "the controller's relays (view rev [0-9]*): with --uplink, --relay must be IP:PORT.*relay.example:3478" "$(zt_daemon_out conn)"; }
wait_until 30 refused || fail "the connector did not refuse a relay by name: $(grep relays "$(zt_daemon_out conn)" | tail -n 2)"
taken() { [[ $(relays_of alice) == relay.example:3478 ]]; }
wait_until 10 taken || fail "the client's relays: '$(relays_of alice)', want relay.example:3478 only"
alive
[[ $(grep -c "must be IP:PORT" "$(zt_daemon_out conn)") == 1 ]] || fail "the refusal is not one line"
[[ $(relays_of conn) == "$R2" ]] || fail "the connector's relays changed to '$(relays_of conn)' on a refused relay"
registered conn "$R2" || fail "the connector is no longer registered with $R2"
! registered alice relay.example:3478 || fail "the client registered with a relay that has no address"
page_fails || fail "curl works with R2 gone from the client and no direct path"
log "ok: the connector refused a relay by name ($(grep -o 'with --uplink[^"]*' "$(zt_daemon_out conn)" | head -n 1)) and kept '$(relays_of conn)'; the client closed $R2 and has '$(relays_of alice)' (unregistered): curl fails; its peer $(peer_of alice)"
log "ok: no node restarted: client pid $ALICE_PID, connector pid $CONN_PID alive"

# Its persisted view names the relay it refused: the connector restarted starts
# all the same (the same refusal, one line), with its own relay.
zt_daemon_stop_tag conn
zt_daemon_as conn "$N" connector --controller "$CTL" --listen "$LISTEN" --dns $ZT_TUN_NAS_IP --relay "$R2" --uplink u0
[[ $(relays_of conn) == "$R2" ]] || fail "the restarted connector's relays: '$(relays_of conn)', want $R2"
grep -q "the controller's relays (persisted view): with --uplink, --relay must be IP:PORT" "$(zt_daemon_out conn)" ||
	fail "the restarted connector did not say why it left the persisted view's relay out"
log "ok: restarted with that view persisted, the connector starts with '$(relays_of conn)' (the relay by name refused, one line)"
