#!/usr/bin/env bash
# srcroute: IPv4 source routes (issue 10, A10) with real packets. A UDP
# socket may set IP_OPTIONS with a loose source route (any socket on older
# kernels; recent ones ask CAP_NET_RAW for a route, and any host on the path
# can send one anyway): the header's destination is then only the first hop,
# and the host that owns it (accept_source_route on) forwards the packet on
# to the route's last address.
# The enforcer must drop such a packet whatever the first hop is, while the
# same datagram without options to an allowed port passes.
#
# Topology (namespaces unique to the run):
#   cli  c0  198.18.0.1/24
#   res  r0  198.18.0.2/24 (the resource), 198.18.0.3/24 (no resource: a hop)
# res accepts source routes (net.ipv4.conf.{all,r0}.accept_source_route=1)
# and runs a UDP receiver (python3) on 5353 that writes "PORT TAG" lines.
#
# Policy: sr4  198.18.0.2  udp 5353  drop
#
# Baseline (no enforcer): LSRR via 198.18.0.3 to 198.18.0.2:5353 arrives (the
# test would prove nothing otherwise). Then, with XDP on r0 (daemon in res)
# and with tc egress on c0 (daemon in cli): LSRR via the non-resource hop, and
# LSRR naming the resource itself as its hop, are dropped and reported as
# reason source_route; the plain datagram to 5353 arrives.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require jq python3 ip
zt_require_bins

RES=198.18.0.2 HOP=198.18.0.3

section "topology"
zt_pair cli c0 res r0
C=$(zt_ns cli)
R=$(zt_ns res)
zt_addr "$C" c0 198.18.0.1/24
zt_addr "$R" r0 $RES/24 $HOP/24
ip netns exec "$R" sysctl -qw net.ipv4.conf.all.accept_source_route=1
ip netns exec "$R" sysctl -qw net.ipv4.conf.r0.accept_source_route=1

cat >"$ZT_TMP/recv.py" <<'EOF'
import socket, sys
out = open(sys.argv[1], "a", buffering=1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    data, _ = s.recvfrom(2048)
    out.write("5353 %s\n" % data.decode(errors="replace"))
EOF
# send FINAL TAG [HOP]: one datagram to FINAL:5353, through HOP by a loose
# source route if given (NOP + LSRR of one address; the kernel makes HOP the
# header's destination and FINAL the route's last address).
SEND_PY='
import socket, sys
final, tag = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if len(sys.argv) > 3:
    s.setsockopt(socket.IPPROTO_IP, socket.IP_OPTIONS, bytes([1, 131, 7, 4]) + socket.inet_aton(sys.argv[3]))
try:
    s.sendto(tag.encode(), (final, 5353))
except OSError as e:
    print("send %s: %s" % (tag, e))	# a drop at tc egress may fail the send
'
send() { ip netns exec "$C" python3 -c "$SEND_PY" "$@"; }
RECV_LOG=$ZT_TMP/received.txt
: >"$RECV_LOG"
zt_bg receiver "$R" python3 "$ZT_TMP/recv.py" "$RECV_LOG"
wait_until 5 zt_udp_bound "$R" 5353 || fail "receiver not bound on 5353"
got() { grep -q "^5353 $1\$" "$RECV_LOG"; }

section "baseline: no enforcer, the source route reaches the resource"
send $RES base
wait_until 10 got base || fail "baseline: plain datagram to $RES:5353 did not arrive"
send $RES basesr $HOP
wait_until 10 got basesr || fail "baseline: LSRR via $HOP to $RES:5353 did not arrive (res does not forward source routes?)"
log "ok: baseline: LSRR via $HOP reaches $RES:5353 without an enforcer"

SEQ=0
# round WHAT: both source routes, then the plain marker; once the marker has
# arrived, neither source-routed datagram may have.
round() {
	local what=$1 tag
	SEQ=$((SEQ + 1))
	tag=t$SEQ
	send $RES "${tag}hop" $HOP
	send $RES "${tag}self" $RES
	send $RES "${tag}plain"
	wait_until 10 got "${tag}plain" || fail "$what: the plain datagram to allowed $RES:5353 did not arrive"
	log "ok: $what: the plain datagram to allowed $RES:5353 arrived"
	if grep -qE "^5353 ${tag}(hop|self)\$" "$RECV_LOG"; then
		fail "$what: a source-routed datagram arrived: $(zt_oneline <"$RECV_LOG")"
	fi
	log "ok: $what: LSRR via $HOP and via $RES itself were dropped"
	wait_until 5 bash -c "(( \$(grep '\"event\":\"deny\"' '$DAEMON_OUT' | grep -c '\"reason\":\"source_route\"') >= 2 ))" ||
		fail "$what: no source_route deny events: $(zt_daemon_events deny | tail -n 3 | zt_oneline)"
	zt_daemon_events deny | grep '"reason":"source_route"' | grep -q "\"dst\":\"$HOP\"" ||
		fail "$what: no event for the hop $HOP"
	log "ok: $what: reported as reason source_route, first hop $HOP included"
}

section "run 1: daemon in res, XDP on r0"
zt_daemon_setup "$R" res
zt_daemon_start --xdp r0
ztc resource add sr4 --address $RES --udp 5353 --deny-mode drop >/dev/null || fail "resource add sr4"
round "xdp"
(( $(ztc --json stats | jq '[.resources[] | select(.name == "sr4") | .denied_packets] | add // 0') >= 1 )) ||
	fail "xdp: the source route through the resource itself was not counted: $(ztc --json stats)"
log "ok: xdp: counted as denied for sr4"
zt_daemon_stop TERM
zt_daemon_teardown || fail "teardown (run 1)"

section "run 2: daemon in cli, tc egress on c0"
zt_daemon_setup "$C" cli
zt_daemon_start --tc-egress c0
ztc resource add sr4 --address $RES --udp 5353 --deny-mode drop >/dev/null || fail "resource add sr4"
round "tc-egress"
zt_daemon_stop TERM
zt_daemon_teardown || fail "teardown (run 2)"

log "srcroute: all checks passed"
