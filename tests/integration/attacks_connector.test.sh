#!/usr/bin/env bash
# attacks_connector: issue 10's connector findings, as attacks in namespaces.
#
# Topology (tests/lib.sh zt_tunnel_topology) plus a second client:
#   cli     198.18.0.2  laptop 100.64.0.2: granted corp = *.corp.int tcp 80,443
#           (its own policy also claims raw5 = 10.10.0.5 tcp 80, which the
#           connector knows nothing of: a forged route to test stale bindings)
#   phone   198.18.1.2  phone 100.64.0.3: granted vault = 10.10.0.7 tcp 80
#   conn    `ztgated connector --dns 10.10.0.7 --deny-address 10.10.0.9/32`
#   priv    10.10.0.5-7, 10.10.0.9: http 80, banners; a dnsmasq on 10.10.0.7 for
#           corp.int from a hosts file (re-read on SIGHUP):
#             vaultalias.corp.int -> 10.10.0.7 (the IP resource vault)
#             meta.corp.int       -> 169.254.169.254
#             self.corp.int       -> 10.10.0.1 (the connector's own address)
#             denied.corp.int     -> 10.10.0.9 (--deny-address)
#             web.corp.int        -> 10.10.0.5, later 10.10.0.6
# A2: a name binding must not relabel another resource's address (laptop gets
#     nothing on vault, phone keeps vault), must refuse metadata/own/denied
#     addresses (DENIED logged with the address), and a name that moves takes
#     its old address out of the maps (laptop cannot reach 10.10.0.5 any more).
# A3: a private host sending unsolicited UDP / TCP SYN to a device's tunnel
#     address: nothing reaches the device (capture on the client's TUN), the
#     connector counts it as unsolicited.
# A7: phone opens 300 connections to vault at once (--device-flows 64): past
#     its quota they are dropped (device_full), laptop keeps working, and phone
#     gets its room back as its flows end.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require dig dnsmasq socat jq nsenter curl tcpdump python3 ss
zt_require_bins

LAPTOP=100.64.0.2
PHONE=100.64.0.3
ENDPOINT=$ZT_TUN_CONN_IP:$ZT_TUN_CONN_PORT
CORP_DNS=$ZT_TUN_VAULT_IP

section "1. topology, services, corp.int DNS"
# shellcheck disable=SC2119 # no --routed: the private network stays isolated
zt_tunnel_topology
C=$ZT_NS_CLI
N=$ZT_NS_CONN
P=$ZT_NS_PRIV
ip -n "$P" addr add 10.10.0.6/24 dev n0
ip -n "$P" addr add 10.10.0.9/24 dev n0
zt_tunnel_services
zt_tunnel_client_resolver "$C"
HOSTS=$ZT_TMP/corp.hosts
write_hosts() {	# write_hosts WEB-ADDRESS
	cat >"$HOSTS" <<EOF
$ZT_TUN_VAULT_IP vaultalias.corp.int
169.254.169.254 meta.corp.int
10.10.0.1 self.corp.int
10.10.0.9 denied.corp.int
$1 web.corp.int
EOF
}
write_hosts 10.10.0.5
zt_bg dns-corp "$P" dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
	--user=root --pid-file= --listen-address=$CORP_DNS --bind-interfaces \
	--local=/corp.int/ --addn-hosts="$HOSTS" --local-ttl=1
CORP_DNS_PID=$ZT_BG_PID	# ip netns exec execs dnsmasq: the same pid
wait_until 5 bash -c "ip netns exec '$P' dig +short +time=1 +tries=1 @$CORP_DNS web.corp.int A | grep -qx 10.10.0.5" ||
	fail "corp dnsmasq did not come up: $(cat "$ZT_TMP/dns-corp.err")"
# A host in the private network that routes the device range to the connector.
ip -n "$P" route add 100.64.0.0/12 via 10.10.0.1

section "2. connector, laptop, phone"
zc() { zt_cli "$@" >/dev/null || fail "ztgate ($1): ${*:2}: failed"; }
flows() {	# flows JQ-CONDITION: the connector's connection-log lines matching
	jq -cR "fromjson? | select((.event? // \"\" | startswith(\"connection_\")) and ($1))" "$(zt_daemon_out conn)"
}
flow_seen() { [[ -n $(flows "$1") ]]; }
stat_of() { zt_cli conn --json stats | jq "$1 // 0"; }
CONN_PUB=$(zt_keygen "$ZT_TMP/conn.key")
LAPTOP_PUB=$(zt_keygen "$ZT_TMP/laptop.key")
PHONE_PUB=$(zt_keygen "$ZT_TMP/phone.key")
zt_daemon_as conn "$N" connector --listen "$ENDPOINT" --key "$ZT_TMP/conn.key" --dns $CORP_DNS \
	--deny-address 10.10.0.9/32 --device-flows 64
zc conn device add laptop --pubkey "$LAPTOP_PUB" --address $LAPTOP
zc conn device add phone --pubkey "$PHONE_PUB" --address $PHONE
zc conn resource add corp --address '*.corp.int' --tcp 80,443
zc conn resource add vault --address $ZT_TUN_VAULT_IP --tcp 80
zc conn grant laptop corp
zc conn grant phone vault

zt_daemon_as laptop "$C" client --address $LAPTOP --key "$ZT_TMP/laptop.key" --upstream $ZT_TUN_GW_IP
zc laptop connector add office --pubkey "$CONN_PUB" --endpoint "$ENDPOINT"
zc laptop resource add corp --address '*.corp.int' --tcp 80,443 --connector office
zc laptop resource add raw5 --address $ZT_TUN_NAS_IP --tcp 80 --connector office

zt_tunnel_add_client phone 1
F=$(zt_ns phone)
zt_daemon_as phone "$F" client --address $PHONE --key "$ZT_TMP/phone.key" --upstream $ZT_TUN_GW_IP
zc phone connector add office --pubkey "$CONN_PUB" --endpoint "$ENDPOINT"
zc phone resource add vault --address $ZT_TUN_VAULT_IP --tcp 80 --connector office

on_cli() { ip netns exec "$C" "$@"; }
on_phone() { ip netns exec "$F" "$@"; }
page=$(on_phone curl -sS --max-time 10 "http://$ZT_TUN_VAULT_IP/") || fail "control: phone cannot reach vault"
[[ $page == "$ZT_TUN_PAGE" ]] || fail "control: phone got '$page' from vault"
page=$(on_cli curl -sS --max-time 10 http://web.corp.int/) || fail "control: laptop cannot reach web.corp.int"
[[ $page == "$ZT_TUN_PAGE" ]] || fail "control: laptop got '$page' from web.corp.int"
log "ok: control: phone reaches vault, laptop reaches web.corp.int"

section "3. A2: a wildcard name resolving to another resource's address"
for port in 80 443; do
	if on_cli curl -sS --max-time 3 "http://vaultalias.corp.int:$port/" >/dev/null 2>&1; then
		fail "laptop reached vault (10.10.0.7:$port) through vaultalias.corp.int: a binding relabelled it"
	fi
done
wait_until 5 flow_seen ".status == \"DENIED\" and .resource == \"corp\" and .resolved_ip == \"$ZT_TUN_VAULT_IP\"" ||
	fail "no DENIED line for vaultalias.corp.int -> $ZT_TUN_VAULT_IP"
page=$(on_phone curl -sS --max-time 5 "http://$ZT_TUN_VAULT_IP/") ||
	fail "phone lost vault after laptop bound a name resolving to it"
[[ $page == "$ZT_TUN_PAGE" ]] || fail "phone got '$page' from vault"
log "ok: laptop got nothing on vault, phone keeps it"

section "4. A2: names resolving to metadata, the connector, a denied address"
for pair in meta.corp.int=169.254.169.254 self.corp.int=10.10.0.1 denied.corp.int=10.10.0.9; do
	name=${pair%%=*} addr=${pair#*=}
	if on_cli curl -sS --max-time 3 "http://$name/" >/dev/null 2>&1; then
		fail "laptop reached $name ($addr)"
	fi
	wait_until 5 flow_seen ".status == \"DENIED\" and .resource == \"corp\" and .resolved_ip == \"$addr\"" ||
		fail "no DENIED line for $name -> $addr"
	log "ok: $name -> $addr refused: $(flows ".resolved_ip == \"$addr\"" | tail -n 1)"
done
(( $(stat_of .connector.bind_refused) >= 4 )) || fail "bind_refused $(stat_of .connector.bind_refused), want >= 4"

section "5. A2: a name that moves leaves no stale binding"
write_hosts 10.10.0.6
kill -HUP "$CORP_DNS_PID"
moved() {
	on_cli curl -sS --max-time 2 http://web.corp.int/ >/dev/null 2>&1 || true
	flow_seen '.event == "connection_start" and .resource == "corp" and .resolved_ip == "10.10.0.6"'
}
wait_until 30 moved || fail "web.corp.int never moved to 10.10.0.6 on the connector"
if on_cli curl -sS --max-time 3 "http://$ZT_TUN_NAS_IP/" >/dev/null 2>&1; then
	fail "laptop still reaches $ZT_TUN_NAS_IP (web.corp.int's old address): a stale binding"
fi
log "ok: web.corp.int moved to 10.10.0.6; 10.10.0.5 no longer reachable for laptop"

section "6. A3: the private network pushing packets into a device"
# Dropped either by the kernel (the nftables forward chain: no connection a
# device opened) or, past it, by the connector (no flow in its table).
dropped() {
	local k u
	k=$(ip netns exec "$N" nft list counter ip "$(zt_cli conn --json status | jq -r .nft_table)" unsolicited 2>/dev/null |
		grep -o 'packets [0-9]*' | cut -d' ' -f2)
	u=$(zt_cli conn --json stats | jq '.connector.unsolicited // 0')
	echo $(( ${k:-0} + u ))
}
dropped_above() { (( $(dropped) > $1 )); }
d0=$(dropped)
zt_capture_start push "$C" ztg0 "src net 10.10.0.0/24 and (udp port 9999 or tcp port 9998)"
for i in 1 2 3; do
	printf 'push %s\n' "$i" | ip netns exec "$P" socat -T1 - "UDP4:$LAPTOP:9999,bind=$ZT_TUN_NAS_IP" || true
	ip netns exec "$P" socat -T1 - "TCP4:$LAPTOP:9998,bind=$ZT_TUN_NAS_IP,connect-timeout=1" </dev/null >/dev/null 2>&1 || true
done
wait_until 10 dropped_above "$d0" || fail "no unsolicited packet counted as dropped ($(dropped))"
sleep 1
zt_capture_stop push
got=$(zt_capture_count push "")
(( got == 0 )) || fail "$got unsolicited packets from the private network reached laptop's TUN"
log "ok: unsolicited UDP and SYN from 10.10.0.5 to $LAPTOP dropped ($(dropped) counted)"
# The device's own flows still get their replies.
page=$(on_cli curl -sS --max-time 5 http://web.corp.int/) || fail "laptop lost web.corp.int"
log "ok: replies to laptop's own flows still arrive"

section "7. A7: one device flooding the flow table"
full0=$(stat_of .flows.device_full)
on_phone python3 - "$ZT_TUN_VAULT_IP" <<'PY'
import socket, sys, time
socks = []
for _ in range(300):
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect((sys.argv[1], 80))
    except BlockingIOError:
        pass
    socks.append(s)
time.sleep(1)
for s in socks:
    s.close()
PY
device_full_grew() { (( $(stat_of .flows.device_full) > full0 )); }
wait_until 10 device_full_grew || fail "phone's flood never hit its flow quota (device_full $(stat_of .flows.device_full))"
(( $(stat_of .flows.active) <= 64 + 16 )) || fail "flows.active $(stat_of .flows.active) after phone's flood"
page=$(on_cli curl -sS --max-time 5 http://web.corp.int/) || fail "laptop lost web.corp.int during phone's flood"
log "ok: phone held to its quota (device_full $(stat_of .flows.device_full)), laptop unaffected"
phone_back() { [[ $(on_phone curl -sS --max-time 2 "http://$ZT_TUN_VAULT_IP/" 2>/dev/null) == "$ZT_TUN_PAGE" ]]; }
wait_until 40 phone_back || fail "phone never got its flow quota back"
log "ok: phone reaches vault again once its flows ended"

section "8. the connector stops cleanly"
zt_daemon_stop_tag laptop
zt_daemon_stop_tag phone
zt_daemon_stop_tag conn
log "PASS"
