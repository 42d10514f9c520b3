#!/usr/bin/env bash
# uplink_xdp: the connector's uplink guard (bpf/zt_uplink.bpf.c via
# daemon/dataplane/uplink.c) on a real veth, with real sockets on both sides.
#
# Topology (namespaces unique to the run):
#   snd  s0  198.18.7.1/24 198.18.7.3/24  fd00:7e::1/64 fd00:7e::3/64
#   rcv  r0  198.18.7.2/24                fd00:7e::2/64
# rcv runs UDP listeners on the tunnel port 51820 and on 51821 (not the
# tunnel's), each logging "TYPE SIZE SOURCE" per datagram received.
# build/san/uplink_tool attaches the guard to r0 (in rcv, through nsenter so
# the pins are on the host's bpffs) and sends datagrams from snd.
#
# Checked: malformed datagrams to the port never reach the listener and are
# counted (bpftool's view of zt_uplink_stats); well-formed ones all arrive;
# a flood of initiations from one source is cut to burst + rate x time while
# another source, and IPv6, keep their own budget; other ports are
# untouched; a second attach swaps the program in place keeping the
# counters; a foreign XDP program is refused; detach and teardown leave
# nothing behind.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require bpftool jq nsenter ss ip awk clang
TOOL=${UPLINK_TOOL:-$(zt_pick_bin uplink_tool)}
[[ -x $TOOL ]] || fail "$TOOL missing (make san)"

PORT=51820
OTHER_PORT=51821
RATE=10
BURST=20

section "topology"
zt_bpffs
zt_pair snd s0 rcv r0
S=$(zt_ns snd)
R=$(zt_ns rcv)
zt_addr "$S" s0 198.18.7.1/24 198.18.7.3/24 fd00:7e::1/64 fd00:7e::3/64
zt_addr "$R" r0 198.18.7.2/24 fd00:7e::2/64
PIN=$ZT_PIN_BASE/uplink
RX=$ZT_TMP/recv.out
RX2=$ZT_TMP/recv2.out

# The tool's stderr goes to *.err files, which lib.sh scans for sanitizer reports.
tool_r() { nsenter --net="/run/netns/$R" -- "$TOOL" "$@" 2>>"$ZT_TMP/tool.err"; }
send() { ip netns exec "$S" "$TOOL" send "$@" 2>>"$ZT_TMP/tool.err"; }

zt_bg recv "$R" "$TOOL" recv $PORT
zt_bg recv2 "$R" "$TOOL" recv $OTHER_PORT
wait_until 5 zt_udp_bound "$R" $PORT || fail "listener on $PORT did not come up"
wait_until 5 zt_udp_bound "$R" $OTHER_PORT || fail "listener on $OTHER_PORT did not come up"

# rx_count FILE PATTERN: lines of FILE matching "TYPE SIZE SOURCE" regex PATTERN.
rx_count() { grep -cE "^$2\$" "$1" || true; }
rx_at_least() { (( $(rx_count "$1" "$2") >= $3 )); }

# stat FIELD: zt_uplink_stats summed over CPUs, as bpftool prints the pinned map
# (-j gives raw bytes and, under "formatted", the BTF-named fields).
stat() {
	bpftool -j map dump pinned "$PIN/zt_uplink_stats" |
		jq -e "[.[0].formatted.values[].value.$1] | add"
}
stat_is() { [[ $(stat "$1") == "$2" ]]; }
# The tool's own reading (daemon/dataplane/uplink.c's summing) must agree with bpftool's.
tool_stat() { tool_r stats "$PIN" | jq -e ".$1"; }

xdp_on_r0() { ip -n "$R" -d link show dev r0 | grep -E 'prog/xdp id' >/dev/null; }

section "baseline: no guard, anything reaches the listener"
# Also resolves the neighbours, so later bursts are not cut at the sender's ARP queue.
send 198.18.7.2 $PORT 9 100 1 >/dev/null
send -b 198.18.7.3 198.18.7.2 $PORT 9 100 1 >/dev/null
send fd00:7e::2 $PORT 9 100 1 >/dev/null
wait_until 5 rx_at_least "$RX" "9 100 .*" 3 || fail "baseline datagrams did not arrive"
log "ok: baseline, 3 malformed datagrams arrive without the guard"

section "attach"
out=$(tool_r attach "$PIN" r0 $PORT $RATE $BURST) || fail "attach: $(tail -n 3 "$ZT_TMP/tool.err")"
log "attach: $out"
[[ $(jq -r .mode <<<"$out") == native ]] || fail "veth should take native XDP: $out"
[[ $(jq -r .replaced <<<"$out") == false ]] || fail "first attach replaced something: $out"
PROG_ID=$(jq -r .prog_id <<<"$out")
check "r0 runs the guard in native mode" xdp_on_r0
check "the program is pinned beside the maps" bpftool prog show pinned "$PIN/zt_uplink"
check "bpftool prints the config with field names" \
	bash -c "bpftool -j map dump pinned '$PIN/zt_uplink_cfg' | jq -e '.[0].formatted.value.port == $PORT and .[0].formatted.value.init_rate == $RATE'"

section "malformed datagrams to the port are dropped in XDP"
N=50
bad=("1 147" "1 149" "2 91" "2 93" "3 63" "3 65" "4 31" "4 1" "9 148" "0 64" "255 92")
for b in "${bad[@]}"; do
	# shellcheck disable=SC2086
	send 198.18.7.2 $PORT $b $N >/dev/null
	# shellcheck disable=SC2086
	send fd00:7e::2 $PORT $b $N >/dev/null
done
want_bad=$(( ${#bad[@]} * N * 2 ))
# A well-formed transport datagram sent last, on the same path: once it is in,
# everything sent before it has been through the guard.
send 198.18.7.2 $PORT 4 200 1 >/dev/null
send fd00:7e::2 $PORT 4 200 1 >/dev/null
wait_until 5 rx_at_least "$RX" "4 200 .*" 2 || fail "marker datagrams did not arrive"
wait_until 5 stat_is dropped_malformed "$want_bad" ||
	fail "dropped_malformed is $(stat dropped_malformed), want $want_bad"
got=$(( $(wc -l <"$RX") - 3 - 2 ))
(( got == 0 )) || fail "$got malformed datagrams reached the listener: $(tail -n 5 "$RX")"
[[ $(tool_stat dropped_malformed) == "$want_bad" ]] || fail "uplink_tool stats disagree with bpftool"
log "ok: $want_bad malformed datagrams dropped, none reached the listener"

section "well-formed datagrams all arrive"
for g in "2 92" "3 64" "4 32" "4 1400"; do
	# shellcheck disable=SC2086
	send 198.18.7.2 $PORT $g $N >/dev/null
	# shellcheck disable=SC2086
	send fd00:7e::2 $PORT $g $N >/dev/null
	wait_until 5 rx_at_least "$RX" "${g} .*" $(( 2 * N )) ||
		fail "only $(rx_count "$RX" "$g .*") of $((2 * N)) '$g' datagrams arrived"
done
stat_is passed $(( 2 + 8 * N )) || fail "passed is $(stat passed), want $(( 2 + 8 * N ))"
stat_is dropped_malformed "$want_bad" || fail "well-formed datagrams were counted malformed"
log "ok: responses, cookie replies and transport of every size pass"

section "an initiation flood from one source is cut to its budget"
FLOOD=3000
out=$(send 198.18.7.2 $PORT 1 148 $FLOOD) || fail "send failed"
secs=${out% *}
wait_until 10 stat_is initiations_seen $FLOOD || fail "initiations_seen $(stat initiations_seen), want $FLOOD"
dropped=$(stat dropped_ratelimited)
admitted=$(( FLOOD - dropped ))
wait_until 5 rx_at_least "$RX" "1 148 ::ffff:198.18.7.1" "$admitted" ||
	fail "$admitted initiations admitted but $(rx_count "$RX" "1 148 ::ffff:198.18.7.1") arrived"
got=$(rx_count "$RX" "1 148 ::ffff:198.18.7.1")
# Sent in $secs s, counted within a second after: at most burst + rate x (secs + 1).
max=$(awk -v b=$BURST -v r=$RATE -v s="$secs" 'BEGIN { printf "%d", b + r * (s + 1) }')
log "sent $FLOOD initiations in ${secs}s: $got reached the listener (burst $BURST, max $max), $dropped dropped"
(( got == admitted )) || fail "listener got $got, guard admitted $admitted"
(( got >= BURST )) || fail "only $got initiations passed, the burst is $BURST"
(( got <= max )) || fail "$got initiations passed, more than $max"
# The source's bucket, as bpftool shows it.
rl=$(bpftool -j map dump pinned "$PIN/zt_uplink_rl")
jq -e --argjson a "$admitted" --argjson d "$dropped" \
	'[.[].formatted | select(.key.addr == [0,0,0,0,0,0,0,0,0,0,255,255,198,18,7,1]) | .value] |
	 length == 1 and .[0].admitted == $a and .[0].dropped == $d' <<<"$rl" >/dev/null ||
	fail "zt_uplink_rl entry for 198.18.7.1 does not match: $rl"
log "ok: flood cut to $got, the bucket entry agrees"

section "other sources keep their own budget"
send -b 198.18.7.3 198.18.7.2 $PORT 1 148 5 >/dev/null
wait_until 5 rx_at_least "$RX" "1 148 ::ffff:198.18.7.3" 5 ||
	fail "a second IPv4 source got $(rx_count "$RX" "1 148 ::ffff:198.18.7.3") of 5 through"
out=$(send -b fd00:7e::1 fd00:7e::2 $PORT 1 148 $(( BURST + 30 )))
secs=${out% *}
wait_until 5 rx_at_least "$RX" "1 148 fd00:7e::1" $BURST ||
	fail "IPv6 source got $(rx_count "$RX" "1 148 fd00:7e::1") of its burst $BURST through"
wait_until 5 stat_is initiations_seen $(( FLOOD + 5 + BURST + 30 )) || fail "initiations not all seen"
got6=$(rx_count "$RX" "1 148 fd00:7e::1")
max=$(awk -v b=$BURST -v r=$RATE -v s="$secs" 'BEGIN { printf "%d", b + r * (s + 1) }')
(( got6 <= max )) || fail "IPv6 source got $got6 initiations through, more than $max"
log "ok: a second v4 source passes 5/5, the v6 source $got6 of $(( BURST + 30 ))"

section "a sustained flood gets the rate, not more, not less"
# Two seconds flat out from a fresh source: burst + rate x 2 = 40 expected.
seen_before=$(stat initiations_seen)
out=$(send -b fd00:7e::3 -t 2 fd00:7e::2 $PORT 1 148 0) || fail "send failed"
secs=${out% *}
sent=${out#* }
wait_until 10 stat_is initiations_seen $(( seen_before + sent )) ||
	fail "initiations_seen $(stat initiations_seen), want $(( seen_before + sent ))"
got=$(rx_count "$RX" "1 148 fd00:7e::3")
min=$(awk -v b=$BURST -v r=$RATE -v s="$secs" 'BEGIN { printf "%d", b + r * (s - 0.5) }')
max=$(awk -v b=$BURST -v r=$RATE -v s="$secs" 'BEGIN { printf "%d", b + r * (s + 1) }')
wait_until 5 rx_at_least "$RX" "1 148 fd00:7e::3" "$min" ||
	fail "sustained flood: only $got initiations passed in ${secs}s, want at least $min (refill)"
got=$(rx_count "$RX" "1 148 fd00:7e::3")
(( got <= max )) || fail "sustained flood: $got initiations passed in ${secs}s, more than $max"
log "ok: $sent initiations in ${secs}s from one source, $got passed (expected $min..$max)"

section "other ports are none of the guard's business"
send 198.18.7.2 $OTHER_PORT 9 5 $N >/dev/null
send fd00:7e::2 $OTHER_PORT 1 147 $N >/dev/null
wait_until 5 rx_at_least "$RX2" ".*" $(( 2 * N )) || fail "traffic to port $OTHER_PORT was dropped"
log "ok: $((2 * N)) odd datagrams to $OTHER_PORT arrive"

section "a restarted loader swaps the program in place, counters kept"
passed_before=$(stat passed)
out=$(tool_r attach "$PIN" r0 $PORT $RATE $BURST) || fail "re-attach: $(tail -n 3 "$ZT_TMP/tool.err")"
[[ $(jq -r .replaced <<<"$out") == true ]] || fail "re-attach did not replace: $out"
[[ $(jq -r .mode <<<"$out") == native ]] || fail "re-attach changed mode: $out"
(( $(jq -r .prog_id <<<"$out") != PROG_ID )) || fail "same program id after re-attach"
stat_is passed "$passed_before" || fail "counters reset by the re-attach"
send 198.18.7.2 $PORT 3 65 1 >/dev/null
wait_until 5 stat_is dropped_malformed $(( want_bad + 1 )) || fail "the new program does not count into the pinned stats"
log "ok: replaced ($out)"

section "detach, a foreign program, teardown"
tool_r detach "$PIN" r0 || fail "detach failed"
wait_until 5 zt_bpf_net_empty "$R" r0 || fail "XDP still on r0 after detach"
before=$(rx_count "$RX" "2 93 .*")
send 198.18.7.2 $PORT 2 93 1 >/dev/null
wait_until 5 rx_at_least "$RX" "2 93 .*" $(( before + 1 )) || fail "malformed datagram dropped with the guard detached"
zt_xdp_const "$R" r0 pass
if tool_r attach "$PIN" r0 $PORT $RATE $BURST >/dev/null; then
	fail "attached over a foreign XDP program"
fi
grep -q "already runs another XDP program 'xdp_pass'" "$ZT_TMP/tool.err" ||
	fail "no clear refusal: $(tail -n 2 "$ZT_TMP/tool.err")"
sed -i "/already runs another XDP program/d" "$ZT_TMP/tool.err"
zt_xdp_off "$R" r0
log "ok: foreign program refused"
tool_r attach "$PIN" r0 $PORT $RATE $BURST >/dev/null || fail "attach after foreign program gone"
check "attached again" xdp_on_r0
tool_r teardown "$PIN" || fail "teardown failed"
wait_until 5 zt_bpf_net_empty "$R" r0 || fail "XDP still on r0 after teardown"
[[ ! -e $PIN ]] || fail "teardown left $PIN"
rmdir "$ZT_PIN_BASE" 2>/dev/null || true
log "ok: teardown"
[[ ! -s $ZT_TMP/tool.err ]] || fail "uplink_tool complained: $(cat "$ZT_TMP/tool.err")"
log "PASS"
