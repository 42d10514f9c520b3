#!/usr/bin/env bash
# nat_matrix: which path two peers end up on, NAT by NAT (issue 10,
# docs/RELAY.md "Opening our own NAT first"). One topology (tests/lib.sh
# zt_nat_topology), the routers switched between rows with zt_nat_set_mode /
# zt_nat_set_input_firewall (each flushes conntrack), the connector and the
# row's client restarted for every row.
#
#   relay  198.18.0.10 `ztgated relay`
#   rta    router A 198.18.1.2 | cli  192.168.1.2  laptop  (client behind A)
#   rtb    router B 198.18.2.2 | conn 192.168.2.2  office  (connector behind B)
#                              | cli2 192.168.2.3  laptop2 (client behind B too)
#   pub    198.18.4.2 laptop3, a client with a public address (no NAT)
#
# Rows (router A / router B; "fw": the router drops what comes from wan to
# itself unless established, "no fw": it takes everything, issue 10):
#   eim fw / eim fw            direct
#   eim no fw / eim no fw      direct; 5 MB through the tunnel, none of it relayed
#   eim no fw / eim fw         direct
#   eim fw / eim no fw         direct
#   fully-random no fw / eim no fw   relayed-udp, and stays so through the probes
#   UDP blocked at A / eim no fw     relayed-tcp (client --relay-tcp)
#   public client / eim no fw        direct
#   hairpin: client and connector behind B (no fw, NAT loopback to the
#   connector's port): direct on the LAN, 192.168.2.x on both sides
# Direct rows: both sides say direct within 10 s of the first packet (the
# time is printed), and then the relay forwards nothing while traffic flows.
# Every row runs; a table at the end; the test fails if any row did.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require dnsmasq ncat socat jq nsenter curl python3 ping ss nft conntrack dig timeout
zt_require_bins
if why=$(zt_nat_why_unavailable); then fail "NAT traversal is not in this build: $why"; fi

DNS=100.95.0.251
R1=$ZT_NAT_RELAY_IP:$ZT_NAT_RELAY_PORT
R1TCP=$ZT_NAT_RELAY_IP:$ZT_NAT_RELAY_TCP_PORT
DIRECT_WITHIN=10

section "topology, relay, connector, three clients"
zt_nat_topology --client-nat eim --conn-nat eim
zt_nat_add_lan_host nat-cli2 b 3
zt_nat_add_host nat-pub 4
declare -A NS_OF=([laptop]=$ZT_NS_CLI [laptop2]=$(zt_ns nat-cli2) [laptop3]=$(zt_ns nat-pub))
declare -A ADDR_OF=([laptop]=100.64.0.2 [laptop2]=100.64.0.3 [laptop3]=100.64.0.4)
zt_tunnel_services
for tag in laptop laptop2 laptop3; do zt_tunnel_client_resolver "${NS_OF[$tag]}"; done
CONN_PUB=$(zt_keygen "$ZT_TMP/conn.key")
zt_nat_relay_start relay $ZT_NAT_RELAY_IP
start_conn() {
	zt_daemon_as conn "$ZT_NS_CONN" connector --listen "$ZT_NAT_CONN_IP:$ZT_NAT_CONN_PORT" \
		--key "$ZT_TMP/conn.key" --dns $ZT_TUN_NAS_IP --relay "$R1"
}
start_client() {	# start_client TAG RELAY-ARGS...
	local tag=$1
	shift
	zt_daemon_as "$tag" "${NS_OF[$tag]}" client --address "${ADDR_OF[$tag]}" --key "$ZT_TMP/$tag.key" \
		--upstream $ZT_TUN_GW_IP "$@"
}
zc() { zt_cli "$@" >/dev/null || fail "ztgate ($1): ${*:2}: failed"; }
start_conn
zc conn resource add nas --address nas.home.int --tcp 80 --udp 7 --icmp
for tag in laptop laptop2 laptop3; do
	pub=$(zt_keygen "$ZT_TMP/$tag.key")
	zc conn device add "$tag" --pubkey "$pub" --address "${ADDR_OF[$tag]}"
	zc conn grant "$tag" nas
	start_client "$tag" --relay "$R1"
	zc "$tag" connector add office --pubkey "$CONN_PUB"
	zc "$tag" resource add nas --address nas.home.int --tcp 80 --udp 7 --icmp --connector office
	zt_daemon_stop_tag "$tag"
done
head -c 5000000 /dev/urandom >"$ZT_TMP/www/5m.bin"
WANT_5M=$(sha256sum <"$ZT_TMP/www/5m.bin")

fwd() { zt_nat_forwarded relay; }
paths() { echo "client '$(zt_nat_path "$1" office)', connector '$(zt_nat_path conn "$1")'"; }
both_path() { zt_nat_path_is "$1" office "$2" && zt_nat_path_is conn "$1" "$2"; }
nas_ip() { ip netns exec "${NS_OF[$1]}" dig +time=2 +tries=1 @$DNS +short nas.home.int A; }
ping_ok() { ip netns exec "${NS_OF[$1]}" ping -n -c 1 -W 1 "$2" >/dev/null 2>&1; }
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
conntrack_dump() {	# both routers' UDP conntrack entries, for a failed row
	local r
	for r in a b; do
		echo "    router $r:"
		ip netns exec "$(zt_nat_router_ns "$r")" conntrack -L -p udp 2>/dev/null | sed 's/^/      /'
	done
}

# row_start TAG [CLIENT-ARGS...]: fresh connector and client TAG (routers
# already set: conntrack flushed), the first packet sent. Sets NAS, T0.
row_start() {
	local tag=$1 t
	shift
	for t in laptop laptop2 laptop3 conn; do
		zt_daemon_select "$t"
		[[ -z $DAEMON_PID ]] || zt_daemon_stop_tag "$t"
	done
	zt_nat_flush a
	zt_nat_flush b
	ROW_LOG_FROM=$(( $(wc -l <"$(zt_daemon_out conn)") + 1 ))
	ROW_CLIENT_LOG_FROM=$(( $(wc -l <"$(zt_daemon_out "$tag")") + 1 ))
	start_conn
	(( $# )) || set -- --relay "$R1"
	start_client "$tag" "$@"
	NAS=$(nas_ip "$tag")
	[[ $NAS =~ ^100\. ]] || { ROW_WHY="nas.home.int: '$NAS', want a fake IP"; return 1; }
	T0=$(date +%s%N)
	ping_ok "$tag" "$NAS" || true	# the first packet: the session comes up through the relay
}

# direct_row TAG: both sides direct within DIRECT_WITHIN s of T0, traffic
# works, and the relay forwards nothing more while it flows.
direct_row() {
	local tag=$1 f0 f1 got
	if ! wait_until $DIRECT_WITHIN both_path "$tag" direct; then
		ROW_WHY="not direct within ${DIRECT_WITHIN} s: $(paths "$tag")"$'\n'"$(conntrack_dump)"
		return 1
	fi
	ROW_MS=$(ms_since "$T0")
	sleep 0.3	# what was in flight through the relay lands
	f0=$(fwd)
	got=$(ip netns exec "${NS_OF[$tag]}" ping -n -q -c 40 -i 0.05 -W 1 "$NAS" | grep -o '[0-9]* received') || true
	f1=$(fwd)
	(( ${got%% *} >= 38 )) || { ROW_WHY="direct, yet only '$got' of 40 pings"; return 1; }
	(( f1 == f0 )) || { ROW_WHY="direct, yet the relay forwarded during 2 s of ping: $f0 -> $f1"; return 1; }
	ROW_NOTE="client -> $(zt_nat_peer "$tag" office | jq -r '"\(.endpoint) (upgrades \(.upgrades), fallbacks \(.fallbacks))"'), connector -> $(zt_nat_peer conn "$tag" | jq -r '"\(.endpoint) (upgrades \(.upgrades), fallbacks \(.fallbacks))"'); relay idle ($f0) over $got pings"
}

# relayed_row TAG PATH HOLD: PATH on the client (relayed-* on the connector),
# traffic through the relay, and still so HOLD s after the first packet.
relayed_row() {
	local tag=$1 want=$2 hold=$3 f0 p
	if ! wait_until 20 zt_nat_path_is "$tag" office "$want"; then
		ROW_WHY="client path '$(zt_nat_path "$tag" office)', want $want"
		return 1
	fi
	wait_until 20 ping_ok "$tag" "$NAS" || { ROW_WHY="$want: ping does not get through"; return 1; }
	ROW_MS=$(ms_since "$T0")
	f0=$(fwd)
	while (( $(ms_since "$T0") < hold * 1000 )); do
		p=$(zt_nat_path "$tag" office)
		[[ $p == "$want" ]] || { ROW_WHY="client path became '$p' ($(ms_since "$T0") ms), want $want"; return 1; }
		sleep 0.5
	done
	[[ $(zt_nat_path conn "$tag") == relayed* ]] || { ROW_WHY="connector path '$(zt_nat_path conn "$tag")'"; return 1; }
	ping_ok "$tag" "$NAS" || { ROW_WHY="$want: ping failed after ${hold} s"; return 1; }
	(( $(fwd) > f0 )) || { ROW_WHY="$want, yet the relay forwarded nothing ($f0)"; return 1; }
	ROW_NOTE="$want on the client, $(zt_nat_path conn "$tag") on the connector, for ${hold} s; relay forwarding ($f0 -> $(fwd))"
}

RESULTS=()
FAILED=0
row() {	# row NAME FUNCTION ARGS...: run one row, record its result
	local name=$1 rc=0
	shift
	section "row: $name"
	ROW_WHY='' ROW_NOTE='' ROW_MS=''
	"$@" || rc=$?
	if (( rc == 0 )); then
		log "ok: $name: ${ROW_MS} ms; $ROW_NOTE"
		RESULTS+=("$(printf '%-44s ok    %6s ms' "$name" "$ROW_MS")")
	else
		log "FAILED: $name: $ROW_WHY"
		RESULTS+=("$(printf '%-44s FAIL  %s' "$name" "$(head -n 1 <<<"$ROW_WHY")")")
		FAILED=$((FAILED + 1))
	fi
}

eim_row() {	# eim_row FW-A FW-B [5m]: both EIM, input firewalls as given
	zt_nat_set_mode a eim
	zt_nat_set_mode b eim
	zt_nat_set_input_firewall a "$1"
	zt_nat_set_input_firewall b "$2"
	row_start laptop || return 1
	direct_row laptop || return 1
	[[ ${3:-} == 5m ]] || return 0
	local f0 got
	f0=$(fwd)
	got=$(ip netns exec "$ZT_NS_CLI" curl -sS --max-time 60 http://nas.home.int/5m.bin | sha256sum) || true
	[[ $got == "$WANT_5M" ]] || { ROW_WHY="5 MB through the direct path: checksum differs"; return 1; }
	(( $(fwd) == f0 )) || { ROW_WHY="5 MB while direct: the relay forwarded $f0 -> $(fwd)"; return 1; }
	ROW_NOTE+="; 5 MB intact, relay forwarded none of it"
}

random_row() {
	zt_nat_set_mode a random
	zt_nat_set_mode b eim
	zt_nat_set_input_firewall a off
	zt_nat_set_input_firewall b off
	row_start laptop || return 1
	# Candidates and PRIMED go at once, the probes then last 10 s.
	relayed_row laptop relayed-udp 13
}

udp_blocked_row() {
	zt_nat_set_mode a udp-blocked
	zt_nat_set_mode b eim
	zt_nat_set_input_firewall a off
	zt_nat_set_input_firewall b off
	row_start laptop --relay-tcp "$R1TCP" || return 1
	relayed_row laptop relayed-tcp 3
}

public_row() {
	zt_nat_set_mode a eim
	zt_nat_set_mode b eim
	zt_nat_set_input_firewall a off
	zt_nat_set_input_firewall b off
	row_start laptop3 || return 1
	direct_row laptop3
}

on_lan() {
	[[ $(zt_nat_peer laptop2 office | jq -r .endpoint) == "$ZT_NAT_CONN_IP":* &&
	   $(zt_nat_peer conn laptop2 | jq -r .endpoint) == 192.168.2.3:* ]]
}
hairpin_row() {
	local ep_c ep_n
	zt_nat_set_mode a eim
	zt_nat_set_mode b eim
	zt_nat_set_input_firewall a off
	zt_nat_set_input_firewall b off
	zt_nat_set_hairpin b $ZT_NAT_CONN_PORT $ZT_NAT_CONN_IP
	row_start laptop2 || return 1
	direct_row laptop2 || return 1
	# Both find the LAN path (the hairpin through router B works too, but
	# the peer's own address on our subnet is preferred).
	wait_until 6 on_lan || {
		ROW_WHY="direct, but not on the LAN: client -> $(zt_nat_peer laptop2 office | jq -r .endpoint), connector -> $(zt_nat_peer conn laptop2 | jq -r .endpoint)"
		return 1
	}
	ep_c=$(zt_nat_peer laptop2 office | jq -r .endpoint)
	ep_n=$(zt_nat_peer conn laptop2 | jq -r .endpoint)
	ROW_NOTE="on the LAN: client -> $ep_c, connector -> $ep_n; ${ROW_NOTE##*; }"
	log "how they got there (the daemons' path log):"
	tail -n "+$ROW_CLIENT_LOG_FROM" "$(zt_daemon_out laptop2)" | grep -h '"path to' | jq -r '"    client:    " + .msg'
	tail -n "+$ROW_LOG_FROM" "$(zt_daemon_out conn)" | grep -h '"path to' | jq -r '"    connector: " + .msg'
	zt_nat_set_hairpin b off
}

row "eim fw / eim fw" eim_row on on
row "eim no-fw / eim no-fw (issue 10)" eim_row off off 5m
row "eim no-fw / eim fw" eim_row off on
row "eim fw / eim no-fw" eim_row on off
row "fully-random no-fw / eim no-fw: relayed" random_row
row "udp blocked at A / eim no-fw: relayed-tcp" udp_blocked_row
row "public client / eim no-fw" public_row
row "hairpin: both behind B (no-fw)" hairpin_row

section "matrix"
printf '  %s\n' "${RESULTS[@]}"
for tag in laptop laptop2 laptop3 conn relay; do
	zt_daemon_select "$tag"
	[[ -z $DAEMON_PID ]] || zt_daemon_stop_tag "$tag"
done
(( FAILED == 0 )) || fail "$FAILED of ${#RESULTS[@]} rows failed"
log "nat_matrix: all passed"
