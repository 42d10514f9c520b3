#!/usr/bin/env bash
# attacks_paths: issue 10 A12, path candidates as an attack (docs/SECURITY.md
# "Path candidates").
#
# Topology (tests/lib.sh zt_nat_topology), both routers EIM with a firewall:
#   relay  198.18.0.10
#   rta    198.18.1.2 | cli  192.168.1.2  laptop  100.64.0.2: a malicious device
#   rtb    198.18.2.2 | conn 192.168.2.2 (u0, the uplink) | p0 10.10.0.1 -> nas 10.10.0.5
#                     | cli2 192.168.2.3  laptop2 100.64.0.3: a device on the connector's LAN
# laptop advertises (`--advertise`) the private side's nas 10.10.0.5:7 (the UDP
# echo that logs what it gets), the connector's own 10.10.0.1:53 and
# 192.168.2.2:22, and 10.99.0.1:7 (a private address routed nowhere near a LAN
# of the connector's). Checked:
#   - the connector sends nothing from its tunnel port to the private side
#     (nft counter on p0) or to itself (lo), and nas's UDP 7 logs nothing;
#     `ztgate status` on the connector lists each as refused, with why;
#   - laptop still goes direct (its public endpoint, as the relay saw it);
#   - what the connector advertises (the client's status: taken + refused)
#     is its public endpoint and its uplink address only: never 10.10.0.1;
#   - laptop2's own candidates never include its TUN's addresses, and its LAN
#     address (private, on the connector's uplink subnet) is taken: direct on
#     the LAN, as nat_matrix's hairpin row;
#   - with `--advertise none` the connector advertises only what the relay saw
#     and probes no private candidate (laptop2's LAN address refused);
#   - bad --advertise values exit 2 with one line.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require dnsmasq ncat socat jq nsenter curl python3 ping ss nft dig timeout
zt_require_bins
if why=$(zt_nat_why_unavailable); then fail "NAT traversal is not in this build: $why"; fi

R1=$ZT_NAT_RELAY_IP:$ZT_NAT_RELAY_PORT
DNS=100.95.0.251

section "bad --advertise: one line, exit 2"
for bad in 127.0.0.1 224.0.0.1:9 169.254.169.254 100.64.0.9 0.0.0.0 fe80::1 1.2.3.4:0 host:1; do
	set +e
	out=$("$ZTGATED" connector --listen 192.0.2.1:51820 --key /nonexistent --advertise "$bad" 2>&1)
	rc=$?
	set -e
	(( rc == 2 )) && [[ $(wc -l <<<"$out") == 1 && $out == *"--advertise '$bad'"* ]] ||
		fail "--advertise $bad: exit $rc, want 2 and one line: $out"
done
log "ok: loopback, multicast, link-local, ztgate range, unspecified, port 0, names refused"

section "topology, relay, connector, two devices"
zt_nat_topology --client-nat eim --conn-nat eim
zt_nat_add_lan_host nat-cli2 b 3
NS_LAPTOP2=$(zt_ns nat-cli2)
zt_tunnel_services
zt_tunnel_client_resolver "$ZT_NS_CLI"
zt_tunnel_client_resolver "$NS_LAPTOP2"
CONN_PUB=$(zt_keygen "$ZT_TMP/conn.key")
zt_nat_relay_start relay $ZT_NAT_RELAY_IP

# The connector's tunnel datagrams (source port: its --listen port) on the
# private side and to itself: probes sent where a device said.
ip netns exec "$ZT_NS_CONN" nft -f - <<NFT || fail "nft counters in the connector's namespace"
table inet zt_probe_watch {
	counter to_private { }
	counter to_self { }
	chain out {
		type filter hook output priority 0; policy accept;
		oifname "p0" udp sport $ZT_NAT_CONN_PORT counter name to_private
		oifname "lo" udp sport $ZT_NAT_CONN_PORT counter name to_self
	}
}
NFT
probes_to() {	# probes_to to_private|to_self: packets counted
	ip netns exec "$ZT_NS_CONN" nft -j list counter inet zt_probe_watch "$1" |
		jq '.nftables[] | select(.counter) | .counter.packets'
}

zt_daemon_as conn "$ZT_NS_CONN" connector --listen "$ZT_NAT_CONN_IP:$ZT_NAT_CONN_PORT" \
	--key "$ZT_TMP/conn.key" --dns $ZT_TUN_NAS_IP --relay "$R1"
zc() { zt_cli "$@" >/dev/null || fail "ztgate ($1): ${*:2}: failed"; }
zc conn resource add nas --address nas.home.int --tcp 80 --udp 7 --icmp
declare -A NS_OF=([laptop]=$ZT_NS_CLI [laptop2]=$NS_LAPTOP2)
declare -A ADDR_OF=([laptop]=100.64.0.2 [laptop2]=100.64.0.3)
declare -A EXTRA=([laptop]="--advertise 10.10.0.5:7 --advertise 10.10.0.1:53 --advertise $ZT_NAT_CONN_IP:22 --advertise 10.99.0.1:7" [laptop2]="")
for tag in laptop laptop2; do
	pub=$(zt_keygen "$ZT_TMP/$tag.key")
	zc conn device add "$tag" --pubkey "$pub" --address "${ADDR_OF[$tag]}"
	zc conn grant "$tag" nas
	# shellcheck disable=SC2086 # EXTRA: words
	zt_daemon_as "$tag" "${NS_OF[$tag]}" client --address "${ADDR_OF[$tag]}" \
		--key "$ZT_TMP/$tag.key" --upstream $ZT_TUN_GW_IP --relay "$R1" ${EXTRA[$tag]}
	zc "$tag" connector add office --pubkey "$CONN_PUB"
	zc "$tag" resource add nas --address nas.home.int --tcp 80 --udp 7 --icmp --connector office
done

section "a device names private-side and local addresses as its candidates"
: >"$ZT_TMP/udp7.log"
NAS=$(ip netns exec "$ZT_NS_CLI" dig +time=2 +tries=1 @$DNS +short nas.home.int A)
[[ $NAS =~ ^100\. ]] || fail "nas.home.int: '$NAS', want a fake IP"
ip netns exec "$ZT_NS_CLI" ping -n -c 1 -W 2 "$NAS" >/dev/null || true	# the session comes up (relay)
laptop_refused() { zt_nat_peer conn laptop | jq -e '.candidates_refused | length >= 4' >/dev/null; }
wait_until 10 laptop_refused || fail "the connector never got laptop's candidates: $(zt_nat_peer conn laptop)"
wait_until 10 eval 'zt_nat_path_is laptop office direct && zt_nat_path_is conn laptop direct' ||
	fail "laptop not direct: client '$(zt_nat_path laptop office)', connector '$(zt_nat_path conn laptop)'"
# Probes go every 2 s for 10 s after candidates: give them two rounds more.
sleep 4
peer=$(zt_nat_peer conn laptop)
log "connector's view of laptop: $(jq -c '{endpoint, candidates, candidates_refused}' <<<"$peer")"
why_of() { jq -r --arg c "$1" '.candidates_refused[] | select(.candidate == $c) | .why' <<<"$peer"; }
[[ $(why_of 10.10.0.5:7) == private-side ]] || fail "10.10.0.5:7 not refused as private-side: $peer"
[[ $(why_of 10.10.0.1:53) == ours ]] || fail "10.10.0.1:53 not refused as ours: $peer"
[[ $(why_of $ZT_NAT_CONN_IP:22) == ours ]] || fail "$ZT_NAT_CONN_IP:22 not refused as ours: $peer"
[[ $(why_of 10.99.0.1:7) == private-not-on-lan ]] || fail "10.99.0.1:7 not refused: $peer"
jq -e --arg a "$ZT_NAT_A_WAN" '[.candidates[] | startswith($a + ":")] | all and length >= 1' \
	<<<"$peer" >/dev/null || fail "laptop's candidates taken should be its public endpoint only: $peer"
n=$(probes_to to_private)
(( n == 0 )) || fail "the connector sent $n datagrams from its tunnel port into the private network"
n=$(probes_to to_self)
(( n == 0 )) || fail "the connector sent $n datagrams from its tunnel port to itself"
[[ ! -s $ZT_TMP/udp7.log ]] || fail "nas's UDP 7 got datagrams: $(head -c 200 "$ZT_TMP/udp7.log" | od -c | head -3)"
log "ok: nothing sent to 10.10.0.5:7, 10.10.0.1, 192.168.2.2 or 10.99.0.1; laptop direct via $(jq -r .endpoint <<<"$peer")"

section "what the connector advertises: its public endpoint and its uplink address"
office=$(zt_nat_peer laptop office)
log "laptop's view of the connector: $(jq -c '{candidates, candidates_refused}' <<<"$office")"
got=$(jq -r '[.candidates[], (.candidates_refused[] | .candidate)] | map(sub(":[0-9]+$"; "")) | unique | join(" ")' <<<"$office")
[[ $got == "$ZT_NAT_CONN_IP $ZT_NAT_B_WAN" ]] ||
	fail "the connector advertised '$got', want '$ZT_NAT_CONN_IP $ZT_NAT_B_WAN' (never 10.10.0.1 or its TUN)"
# 192.168.2.2 is private and not on laptop's LAN: laptop does not probe it either.
[[ $(jq -r --arg c "$ZT_NAT_CONN_IP:$ZT_NAT_CONN_PORT" '.candidates_refused[] | select(.candidate == $c) | .why' \
	<<<"$office") == private-not-on-lan ]] || fail "laptop took the connector's LAN address: $office"
log "ok: advertised $got"

section "a device on the connector's LAN: its LAN address is taken, its TUN's never sent"
NAS2=$(ip netns exec "$NS_LAPTOP2" dig +time=2 +tries=1 @$DNS +short nas.home.int A)
ip netns exec "$NS_LAPTOP2" ping -n -c 1 -W 2 "$NAS2" >/dev/null || true
on_lan() { [[ $(zt_nat_peer conn laptop2 | jq -r .endpoint) == 192.168.2.3:* ]]; }
wait_until 15 eval 'zt_nat_path_is conn laptop2 direct && on_lan' ||
	fail "laptop2 not direct on the LAN: $(zt_nat_peer conn laptop2)"
peer2=$(zt_nat_peer conn laptop2)
log "connector's view of laptop2: $(jq -c '{endpoint, candidates, candidates_refused}' <<<"$peer2")"
jq -e '[.candidates[] | startswith("192.168.2.3:")] | any' <<<"$peer2" >/dev/null ||
	fail "laptop2's LAN address not taken: $peer2"
jq -e '[.candidates[], (.candidates_refused[] | .candidate)] | map(select(startswith("100."))) | length == 0' \
	<<<"$peer2" >/dev/null || fail "laptop2 advertised an address of its TUN (100.64.0.0/10): $peer2"
ip netns exec "$NS_LAPTOP2" curl -fsS --max-time 5 "http://$NAS2/" | grep -qF "$ZT_TUN_PAGE" ||
	fail "laptop2: nas over the LAN path"
log "ok: laptop2 direct on the LAN ($(jq -r .endpoint <<<"$peer2"))"

section "connector --advertise none: only what the relay saw, and no LAN candidate probed"
for tag in laptop2 conn; do zt_daemon_stop_tag "$tag"; done
zt_daemon_as conn "$ZT_NS_CONN" connector --listen "$ZT_NAT_CONN_IP:$ZT_NAT_CONN_PORT" \
	--key "$ZT_TMP/conn.key" --dns $ZT_TUN_NAS_IP --relay "$R1" --advertise none
zt_daemon_as laptop2 "$NS_LAPTOP2" client --address 100.64.0.3 --key "$ZT_TMP/laptop2.key" \
	--upstream $ZT_TUN_GW_IP --relay "$R1"
ip netns exec "$NS_LAPTOP2" ping -n -c 1 -W 2 "$NAS2" >/dev/null || true
got_cands() { zt_nat_peer conn laptop2 | jq -e '(.candidates | length) + (.candidates_refused | length) >= 2' >/dev/null; }
wait_until 10 got_cands || fail "the connector never got laptop2's candidates: $(zt_nat_peer conn laptop2)"
peer2=$(zt_nat_peer conn laptop2)
# Its link is no LAN link any more: its subnet is refused as the private side's.
[[ $(jq -r '.candidates_refused[] | select(.candidate | startswith("192.168.2.3:")) | .why' <<<"$peer2") == private-side ]] ||
	fail "--advertise none: laptop2's LAN address should be refused: $peer2"
wait_until 10 eval '[[ $(zt_nat_peer laptop2 office | jq -r "[.candidates[], (.candidates_refused[] | .candidate)] | join(\" \")") == $ZT_NAT_B_WAN:* ]]' ||
	fail "--advertise none: the connector advertised more than its public endpoint: $(zt_nat_peer laptop2 office)"
log "ok: --advertise none: advertised $(zt_nat_peer laptop2 office | jq -c .candidates), laptop2's LAN address refused"

for tag in laptop laptop2 conn relay; do zt_daemon_stop_tag "$tag"; done
log "attacks_paths: PASS"
