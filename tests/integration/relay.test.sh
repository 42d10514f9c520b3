#!/usr/bin/env bash
# relay: `ztgated relay` (daemon/relay/server.c) with real peers in namespaces.
#
# Topology (namespaces unique to the run): the relay's namespace routes
# between one /24 per peer; every peer's default route points at it.
#   relay  ra 198.18.41.1  rb 198.18.42.1  rc 198.18.43.1  rd 198.18.44.1
#   pa     a0 198.18.41.2   (peers A, C and the unregistered source)
#   pb     b0 198.18.42.2   (peer B)
#   pd     d0 198.18.44.2   (peers D and E, over TCP)
#   pn     n0 198.18.43.2   behind a NAT namespace? no: netcheck runs here
# The relay listens on UDP 3478 and TCP 3443; a second relay on 3479 gives
# netcheck two destinations.
#
# Checked: (a) coturn's turnutils_stunclient reads the client's own address
# and port as the mapped address; (b) two peers registered with
# tests/tools/relay_tool (daemon/relay/client.c) exchange datagrams through
# the relay over UDP, over TCP, and UDP<->TCP; (c) a peer the other does not
# accept gets nothing forwarded, and an unregistered source sending `send`
# messages gets nothing forwarded and no reply larger than its request
# (captured with tcpdump on the sender); (d) `ztgate netcheck --relay`
# prints the endpoint the relay saw; the relay's counters say the same;
# (e) `--max-accept N` (bad values: exit 2, one line) refuses a register
# whose accept list is longer.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require jq nsenter ip tcpdump turnutils_stunclient
TOOL=${RELAY_TOOL:-$(zt_pick_bin relay_tool)}
[[ -x $TOOL ]] || fail "$TOOL missing (make san)"

section "topology"
zt_bpffs
zt_netns_add relay
RL=$(zt_ns relay)
i=41
for p in pa pb pn pd; do
	zt_netns_add "$p"
	ns=$(zt_ns "$p")
	zt_veth "$RL" "r$i" "$ns" "${p:1}0"
	zt_addr "$RL" "r$i" "198.18.$i.1/24"
	zt_addr "$ns" "${p:1}0" "198.18.$i.2/24"
	ip -n "$ns" route add default via "198.18.$i.1"
	i=$((i + 1))
done
ip netns exec "$RL" sysctl -qw net.ipv4.ip_forward=1
PA=$(zt_ns pa) PB=$(zt_ns pb) PN=$(zt_ns pn) PD=$(zt_ns pd)
RELAY=198.18.41.1:3478
RELAY_B=198.18.42.1:3478
RELAY_D_TCP=198.18.44.1:3443
wait_until 5 zt_icmp_echo "$PB" 198.18.41.2 || fail "no route between the peers' namespaces"

section "relay"
zt_keygen "$ZT_TMP/relay.key" >/dev/null
# The XDP guard on the interface facing pn: everything from there passes it first.
zt_daemon_as relay "$RL" relay --listen 0.0.0.0:3478 --tcp-listen 0.0.0.0:3443 \
	--key "$ZT_TMP/relay.key" --uplink r43
zt_udp_bound "$RL" 3478 || fail "relay not bound on UDP 3478"
zt_tcp_listening "$RL" 3443 || fail "relay not listening on TCP 3443"
zt_daemon_as relay2 "$RL" relay --listen 0.0.0.0:3479 --key "$ZT_TMP/relay.key"
stats() { zt_cli relay --json stats; }
rstat() { stats | jq -r "$1"; }

section "(a) STUN: coturn's client reads our mapped address"
out=$(ip netns exec "$PA" turnutils_stunclient -L 198.18.41.2 -p 3478 198.18.41.1 2>&1) ||
	fail "turnutils_stunclient failed: $out"
log "$(grep -i 'addr' <<<"$out" | head -3 | zt_oneline)"
mapped=$(grep -oE 'UDP reflexive addr: [0-9.]+:[0-9]+' <<<"$out" | awk '{print $4}')
[[ $mapped == 198.18.41.2:* ]] || fail "turnutils_stunclient saw mapped address '$mapped', want 198.18.41.2:*: $out"
(( $(rstat .relay.stun_answered) >= 1 )) || fail "stun_answered did not count the request"
log "ok: mapped address $mapped"

section "(b) two peers through the relay over UDP"
for k in a b c d e; do
	eval "KEY_$k=\$(zt_keygen \"\$ZT_TMP/$k.key\")"
done
zt_bg echo-a "$PA" "$TOOL" echo "$RELAY" "$ZT_TMP/a.key" --accept "$KEY_b" --accept "$KEY_d"
wait_until 10 grep -q '^registered 198.18.41.2:' "$ZT_TMP/echo-a.out" ||
	fail "A did not register: $(cat "$ZT_TMP/echo-a.out" "$ZT_TMP/echo-a.err")"
out=$(ip netns exec "$PB" "$TOOL" ping "$RELAY_B" "$ZT_TMP/b.key" --to "$KEY_a" \
	--accept "$KEY_a" --count 50) || fail "B: $out"
log "B: $(zt_oneline <<<"$out")"
grep -q '^registered 198.18.42.2:' <<<"$out" || fail "B's observed endpoint is wrong: $out"
grep -q '^sent 50 echoed 50 ' <<<"$out" || fail "B->A->B over UDP lost datagrams: $out"
(( $(rstat .relay.forwarded_packets) >= 100 )) || fail "relay counted $(rstat .relay.forwarded_packets) forwarded, want >= 100"
(( $(stats | jq '[.peers[] | select(.key == "'"$KEY_a"'")][0].rx_packets') >= 50 )) ||
	fail "A's per-peer counters: $(stats | jq -c .peers)"

section "(b) over TCP, and TCP <-> UDP"
zt_bg echo-e "$PD" "$TOOL" echo "$RELAY_D_TCP" "$ZT_TMP/e.key" --tcp --accept "$KEY_d"
wait_until 10 grep -q '^registered 198.18.44.2:' "$ZT_TMP/echo-e.out" ||
	fail "E did not register over TCP: $(cat "$ZT_TMP/echo-e.out" "$ZT_TMP/echo-e.err")"
[[ $(stats | jq -r '.peers[] | select(.key == "'"$KEY_e"'") | .transport') == tcp ]] ||
	fail "E's registration is not TCP: $(stats | jq -c .peers)"
# D pings E (both TCP) and A (UDP), one after the other with one key each time.
out=$(ip netns exec "$PD" "$TOOL" ping "$RELAY_D_TCP" "$ZT_TMP/d.key" --tcp --to "$KEY_e" \
	--accept "$KEY_e" --count 50) || fail "D: $out"
log "D->E (TCP/TCP): $(zt_oneline <<<"$out")"
grep -q '^sent 50 echoed 50 ' <<<"$out" || fail "D->E->D over TCP lost datagrams: $out"
out=$(ip netns exec "$PD" "$TOOL" ping "$RELAY_D_TCP" "$ZT_TMP/d.key" --tcp --to "$KEY_a" \
	--accept "$KEY_a" --count 50) || fail "D: $out"
log "D->A (TCP/UDP): $(zt_oneline <<<"$out")"
grep -q '^sent 50 echoed 50 ' <<<"$out" || fail "D->A->D over TCP and UDP lost datagrams: $out"

section "(c) a peer that is not accepted gets nothing forwarded"
before=$(rstat .relay.dropped.not_accepted)
recv_before=$(grep -c "^recv $KEY_c" "$ZT_TMP/echo-a.out" || true)
out=$(ip netns exec "$PA" "$TOOL" ping "$RELAY" "$ZT_TMP/c.key" --to "$KEY_a" --accept "$KEY_a" \
	--count 20 --timeout 2) || fail "C: $out"
log "C: $(zt_oneline <<<"$out")"
grep -q '^sent 20 echoed 0 ' <<<"$out" || fail "C, not accepted by A, got echoes: $out"
grep -qE 'errors [1-9]' <<<"$out" || fail "C was not told it is not accepted: $out"
(( $(grep -c "^recv $KEY_c" "$ZT_TMP/echo-a.out" || true) == recv_before )) ||
	fail "A received datagrams from C, which it does not accept"
(( $(rstat .relay.dropped.not_accepted) >= before + 20 )) ||
	fail "not_accepted counted $(rstat .relay.dropped.not_accepted), want >= $((before + 20))"

section "(c) an unregistered source: nothing forwarded, nothing amplified"
fwd_before=$(rstat .relay.forwarded_packets)
lines_before=$(wc -l <"$ZT_TMP/echo-a.out")
zt_capture_start raw "$PN" n0 "udp and host 198.18.43.1"
# The relay's MAC first: a burst sent to an unresolved neighbour waits in a
# small queue and may lose datagrams before they reach the wire.
ip netns exec "$PN" ping -n -c 1 -W 2 198.18.43.1 >/dev/null || fail "the unregistered host cannot reach the relay"
for size in 37 100 1200; do
	out=$(ip netns exec "$PN" "$TOOL" raw 198.18.43.1:3478 --to "$KEY_a" --count 30 --size "$size") ||
		fail "raw: $out"
	log "unregistered, $size-byte sends: $out"
	max=$(awk '{print $4}' <<<"$out")
	(( max <= size )) || fail "a $size-byte send was answered with $max bytes"
	[[ $(awk '{print $6}' <<<"$out") == 30 ]] || fail "raw: not all 30 sent: $out"
done
if ! wait_until 5 zt_capture_at_least raw "src host 198.18.43.2 and udp" 90; then
	n=$(zt_capture_count raw "src host 198.18.43.2 and udp")
	zt_capture_stop raw
	fail "capture missed the sends: $n of 90 ($(grep -h 'dropped by' "$ZT_TMP/tcpdump-raw.err" | zt_oneline))"
fi
zt_capture_stop raw
# Every datagram from the relay to the source, against the smallest request sent.
biggest=$(tcpdump -n -r "$ZT_TMP/raw.pcap" "src host 198.18.43.1" 2>/dev/null |
	grep -oE 'length [0-9]+' | awk '{ if ($2 > m) m = $2 } END { print m + 0 }')
replies=$(zt_capture_count raw "src host 198.18.43.1")
log "capture: $replies replies to 90 sends, largest $biggest bytes"
(( biggest <= 8 )) || fail "the relay answered an unregistered source with $biggest bytes"
(( replies <= 30 )) || fail "$replies errors for 90 junk sends: not rate-limited"
(( $(rstat .relay.forwarded_packets) == fwd_before )) || fail "the relay forwarded an unregistered source's sends"
(( $(wc -l <"$ZT_TMP/echo-a.out") == lines_before )) || fail "A received something from the unregistered source"
(( $(rstat .relay.dropped.not_registered) >= 90 )) || fail "not_registered: $(rstat .relay.dropped.not_registered)"

section "(d) ztgate netcheck"
out=$(ip netns exec "$PN" "$ZTGATE" netcheck --relay 198.18.43.1:3478 --relay 198.18.43.1:3479 --json) ||
	fail "netcheck: $out"
log "$out"
jq -e '.udp == true' <<<"$out" >/dev/null || fail "netcheck: UDP not reported working: $out"
[[ $(jq -r '.relays[0].endpoint' <<<"$out") == 198.18.43.2:* ]] || fail "netcheck endpoint: $out"
jq -e '.hard_nat == false' <<<"$out" >/dev/null || fail "netcheck: no NAT here, yet hard_nat: $out"
human=$(ip netns exec "$PN" "$ZTGATE" netcheck --relay 198.18.43.1:3478)
log "$(zt_oneline <<<"$human")"
grep -q '198.18.43.2:' <<<"$human" || fail "netcheck's table lacks the endpoint: $human"
grep -q 'UDP: yes' <<<"$human" || fail "netcheck's table: $human"
# Nothing listens on 3480: that relay is reported unreachable, not hung on.
out=$(ip netns exec "$PN" timeout 20 "$ZTGATE" netcheck --relay 198.18.43.1:3480 --json || true)
jq -e '.udp == false' <<<"$out" >/dev/null || fail "netcheck with no relay answering: $out"

section "(e) --max-accept: the accept-list cap is the operator's"
set +e
out=$("$ZTGATED" relay --max-accept 0 --key "$ZT_TMP/relay.key" 2>&1)
rc=$?
set -e
(( rc == 2 )) && [[ $(wc -l <<<"$out") == 1 && $out == *"--max-accept '0'"* ]] ||
	fail "--max-accept 0: exit $rc, want 2 and one line: $out"
zt_daemon_as relay3 "$RL" relay --listen 0.0.0.0:3481 --key "$ZT_TMP/relay.key" --max-accept 1
wait_until 5 zt_udp_bound "$RL" 3481 || fail "relay3 not bound on UDP 3481"
# Two keys on the accept list: past the cap, refused without an answer.
if out=$(ip netns exec "$PB" "$TOOL" ping 198.18.42.1:3481 "$ZT_TMP/b.key" --to "$KEY_a" \
	--accept "$KEY_a" --accept "$KEY_c" --count 1 --timeout 3 2>&1); then
	fail "registered with 2 accepted keys past --max-accept 1: $out"
fi
(( $(zt_cli relay3 --json stats | jq -r .relay.dropped.peer_limit) >= 1 )) ||
	fail "relay3 did not count the refusal: $(zt_cli relay3 --json stats | jq -c .relay.dropped)"
out=$(ip netns exec "$PB" "$TOOL" ping 198.18.42.1:3481 "$ZT_TMP/b.key" --to "$KEY_a" \
	--accept "$KEY_a" --count 1 --timeout 5 2>&1) || fail "one accepted key: not registered: $out"
zt_daemon_stop_tag relay3
log "ok: --max-accept 1: 2 keys refused (peer_limit), 1 key registered"

section "XDP guard: junk from pn never reaches the relay's socket"
malformed_before=$(rstat .relay.dropped.malformed)
guard_before=$(rstat .uplink.dropped_malformed)
ip netns exec "$PN" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for junk in (b"x" * 10, b"\x10" + bytes(94), b"\x04" + bytes(147), b"\x14\0\0\0" + bytes(32)):
    for _ in range(5):
        s.sendto(junk, ("198.18.43.1", 3478))'
wait_until 5 eval '(( $(rstat .uplink.dropped_malformed) >= guard_before + 20 ))' ||
	fail "guard counted $(rstat .uplink.dropped_malformed - guard_before) drops, want 20: $(stats | jq -c .uplink)"
(( $(rstat .relay.dropped.malformed) == malformed_before )) || fail "junk reached the relay's socket"
(( $(rstat .uplink.passed) >= 90 )) || fail "the guard passed only $(rstat .uplink.passed) datagrams"
log "ok: $(stats | jq -c .uplink)"

section "stats"
stats | jq -c .relay
zt_daemon_stop_tag relay2
zt_daemon_stop_tag relay
log "relay: PASS"
