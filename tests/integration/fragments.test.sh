#!/usr/bin/env bash
# fragments: UDP datagrams larger than the MTU to a resource, with real
# traffic: an allowed port gets the whole datagram (every fragment passes
# behind its first), a denied port gets nothing (no fragment of it passes).
#
# Topology (namespaces unique to the run), veth MTU 1500:
#   cli  c0  198.18.0.1/24  fd00:5a7e::1/64
#   res  r0  198.18.0.2/24  fd00:5a7e::2/64
# res runs a UDP receiver (python3) on 5353 (allowed) and 5354 (denied)
# that writes "PORT SIZE TAG" for each datagram it gets.
#
# Policy: frag4  198.18.0.2    udp 5353  drop
#         frag6  fd00:5a7e::2  udp 5353  drop
#
# Run 1: daemon in res, XDP on r0 (fragments seen before reassembly).
# Run 2: daemon in cli, tc egress on c0 (fragments made by the sender's stack).
# Each run sends, per family, a 4000-byte datagram to 5354 (denied) then one
# to 5353 (allowed, the marker): once the marker has arrived whole, the denied
# one must not have arrived at all.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require jq python3 ip
zt_require_bins

RES4=198.18.0.2 RES6=fd00:5a7e::2
SIZE=4000

section "topology"
zt_pair cli c0 res r0
C=$(zt_ns cli)
R=$(zt_ns res)
zt_addr "$C" c0 198.18.0.1/24 fd00:5a7e::1/64
zt_addr "$R" r0 $RES4/24 $RES6/64
[[ $(ip -n "$R" -j link show dev r0 | jq '.[0].mtu') == 1500 ]] || fail "r0 MTU is not 1500"

cat >"$ZT_TMP/recv.py" <<'EOF'
import select, socket, sys
out = open(sys.argv[1], "a", buffering=1)
socks = []
for port in (5353, 5354):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    socks.append((s, port))
while True:
    ready, _, _ = select.select([s for s, _ in socks], [], [])
    for s, port in socks:
        if s in ready:
            data, _ = s.recvfrom(65535)
            out.write("%d %d %s\n" % (port, len(data), data[:16].decode(errors="replace").strip("x")))
EOF
cat >"$ZT_TMP/send.py" <<'EOF'
import socket, sys
addr, port, size, tag = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
payload = tag.encode().ljust(16, b"x") + b"y" * (size - 16)
s.sendto(payload, (addr, port))
EOF
RECV_LOG=$ZT_TMP/received.txt
: >"$RECV_LOG"
zt_bg receiver "$R" python3 "$ZT_TMP/recv.py" "$RECV_LOG"
wait_until 5 zt_udp_bound "$R" 5353 || fail "receiver not bound on 5353"
wait_until 5 zt_udp_bound "$R" 5354 || fail "receiver not bound on 5354"

send() { ip netns exec "$C" python3 "$ZT_TMP/send.py" "$@"; }	# send ADDR PORT SIZE TAG
got() { grep -q "^$1 $2 $3\$" "$RECV_LOG"; }			# got PORT SIZE TAG
SEQ=0
# round WHAT ADDR: a denied datagram then the allowed marker, both SIZE bytes.
round() {
	local what=$1 addr=$2 tag
	SEQ=$((SEQ + 1))
	tag=t$SEQ
	send "$addr" 5354 $SIZE "${tag}d"
	send "$addr" 5353 $SIZE "${tag}a"
	wait_until 10 got 5353 $SIZE "${tag}a" ||
		fail "$what: the $SIZE-byte datagram to allowed $addr:5353 did not arrive whole; got: $(zt_oneline <"$RECV_LOG")"
	log "ok: $what: $SIZE bytes to allowed $addr:5353 arrived whole"
	if grep -q "${tag}d" "$RECV_LOG"; then
		fail "$what: the datagram to denied $addr:5354 arrived"
	fi
	log "ok: $what: nothing of the datagram to denied $addr:5354 arrived"
}

section "baseline: no policy, both ports get the whole datagram"
send $RES4 5354 $SIZE base4
wait_until 10 got 5354 $SIZE base4 || fail "baseline: $RES4:5354 did not get $SIZE bytes"
send $RES6 5354 $SIZE base6
wait_until 10 got 5354 $SIZE base6 || fail "baseline: $RES6:5354 did not get $SIZE bytes"
log "ok: baseline"

add_policy() {
	ztc resource add frag4 --address $RES4 --udp 5353 --deny-mode drop >/dev/null ||
		fail "resource add frag4"
	ztc resource add frag6 --address $RES6 --udp 5353 --deny-mode drop >/dev/null ||
		fail "resource add frag6"
}

# denied_at_least N: the resource's denied packet counter reached N.
denied_at_least() { (( $(ztc --json stats | jq '[.resources[].denied_packets] | add // 0') >= $1 )); }

section "run 1: daemon in res, XDP on r0"
zt_daemon_setup "$R" res
zt_daemon_start --xdp r0
add_policy
round "xdp v4" $RES4
round "xdp v6" $RES6
# 4000 bytes over a 1500 MTU: 3 fragments each, all of the denied ones dropped.
wait_until 5 denied_at_least 6 || fail "xdp: denied fragments not counted: $(ztc --json stats)"
log "ok: xdp: the denied datagrams' fragments were counted as denied"
ztc --json stats | jq -e '.events | (.lost >= 0) and (.suppressed >= 0) and (.scan_suppressed >= 0) and (.replies_suppressed >= 0)' >/dev/null ||
	fail "stats: no events counters: $(ztc --json stats)"
ztc stats | grep -q '^events: [0-9]* lost' || fail "ztgate stats prints no events line"
log "ok: stats reports lost and rate-limited events"
zt_daemon_stop TERM
zt_daemon_teardown || fail "teardown (run 1)"

section "run 2: daemon in cli, tc egress on c0"
zt_daemon_setup "$C" cli
zt_daemon_start --tc-egress c0
add_policy
round "tc-egress v4" $RES4
round "tc-egress v6" $RES6
# The first fragment dropped at egress fails the send: the stack does not
# even try the others. One denied packet per family.
wait_until 5 denied_at_least 2 || fail "tc egress: denied fragments not counted: $(ztc --json stats)"
log "ok: tc egress: the denied datagrams' first fragments were counted as denied"
zt_daemon_stop TERM
zt_daemon_teardown || fail "teardown (run 2)"

log "fragments: all checks passed"
