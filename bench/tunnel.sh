#!/usr/bin/env bash
# bench/tunnel.sh (called by bench/run.sh, i.e. `make bench`; runs alone too):
# issue 4's "Speed": one topology, one run, three ways from the client to the
# resource host, each measured the same way:
#
#   cli 198.18.0.2 -- inet (router) -- conn 198.19.0.2 | 10.10.0.1 -- priv nas 10.10.0.5
#   (tests/lib.sh zt_tunnel_topology --routed; namespaces unique to the run)
#
#   bare          plain routing over the veths: inet routes 10.10.0.0/24 to the
#                 connector, nas routes the client's range back through it
#   wireguard-go  Debian's wireguard-go (userspace, a TUN) in cli and in conn,
#                 configured with wg(8): 10.10.0.0/24 routed into it on the
#                 client, masqueraded into the private network on the connector
#   ztgate        `ztgated client` and `ztgated connector` (issue 4): nas.home.int
#                 (a name resource: fake IP, bind, DNAT), tcp 5201 and icmp granted
#
# For each: ping RTT (BENCH_TUNNEL_PINGS pings, default 200, 10 ms apart: avg,
# p50, p99, on the idle path) and then iperf3 TCP throughput, one stream,
# -t BENCH_TUNNEL_SECONDS (default 5) after a 1 s omitted ramp-up, client ->
# nas (the client sends). Every run is bounded by `timeout`. Prints a table and
# ztgate/wireguard-go ratios against the issue's targets (throughput >= 3x,
# RTT no worse). If this build has no tunnel yet the ztgate row says why, the
# other rows are still measured, and the script exits 1.
#
# Environment: BENCH_TUNNEL_SECONDS, BENCH_TUNNEL_PINGS, ZTGATED/ZTGATE
# (default: the optimized build/ binaries, not the sanitizer ones).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ZTGATED=${ZTGATED:-$ROOT/build/ztgated}
export ZTGATE=${ZTGATE:-$ROOT/build/ztgate}
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

SECS=${BENCH_TUNNEL_SECONDS:-5}
PINGS=${BENCH_TUNNEL_PINGS:-200}
IPERF_PORT=5201
WG_PORT=51821

zt_require_root
zt_require iperf3 ping wireguard-go wg nft jq dnsmasq dig timeout awk

section "tunnel bench: topology"
zt_tunnel_topology --routed
C=$ZT_NS_CLI
N=$ZT_NS_CONN
P=$ZT_NS_PRIV
zt_bg iperf3 "$P" iperf3 -s -p $IPERF_PORT
wait_until 5 zt_tcp_listening "$P" $IPERF_PORT || fail "iperf3 server did not come up: $(cat "$ZT_TMP/iperf3.err")"
zt_tunnel_private_dns	# for the ztgate leg's nas.home.int
log "iperf3 server on nas $ZT_TUN_NAS_IP:$IPERF_PORT; ${PINGS} pings, ${SECS}s iperf3 per leg"

# via NS DEST: the device `ip route get` picks for DEST in NS.
via() { ip -n "$1" -j route get "$2" | jq -r '.[0].dev'; }
tx_bytes() { ip -n "$1" -s -j link show dev "$2" | jq '.[0].stats64.tx.bytes'; }

# ping_stats FILE: "replies avg p50 p99" (ms, nearest-rank percentiles).
ping_stats() {
	grep -o 'time=[0-9.]*' "$1" | cut -d= -f2 | sort -g |
		awk '{ v[NR] = $1; s += $1 }
		function rank(q,   i) { i = int(q * NR); if (i < q * NR) i++; if (i < 1) i = 1; return v[i] }
		END { if (NR == 0) { print "0 - - -"; exit } printf "%d %.3f %.3f %.3f\n", NR, s / NR, rank(0.5), rank(0.99) }'
}

# UDP receive-buffer overflows in the client's and the connector's namespaces:
# where a tunnel loses packets when its reader falls behind (explains retransmits).
# shellcheck disable=SC2016 # awk program
udp_rcvbuf_errors() {
	local ns total=0 n
	for ns in "$C" "$N"; do
		n=$(ip netns exec "$ns" awk '/^Udp:/ { if (!h) { for (i = 1; i <= NF; i++) c[$i] = i; h = 1 } else print $c["RcvbufErrors"] }' /proc/net/snmp)
		total=$((total + n))
	done
	echo "$total"
}

# measure LEG TARGET: ping, then iperf3, from cli to TARGET. Writes
# "gbps replies avg p50 p99 retransmits sent_bytes" to $ZT_TMP/LEG.result.
measure() {
	local leg=$1 target=$2 stats gbps retr sent drops0
	ip netns exec "$C" timeout $((PINGS / 50 + 20)) ping -n -c "$PINGS" -i 0.01 -W 1 "$target" \
		>"$ZT_TMP/ping-$leg.out" 2>&1 || true	# losses are reported, not fatal
	stats=$(ping_stats "$ZT_TMP/ping-$leg.out")
	(( ${stats%% *} > 0 )) || fail "$leg: no ping reply from $target: $(tail -n 3 "$ZT_TMP/ping-$leg.out")"
	drops0=$(udp_rcvbuf_errors)
	ip netns exec "$C" timeout $((SECS + 30)) iperf3 -c "$target" -p $IPERF_PORT -t "$SECS" -O 1 -J \
		>"$ZT_TMP/iperf-$leg.json" 2>"$ZT_TMP/iperf-$leg.err" ||
		fail "$leg: iperf3 to $target failed: $(jq -r '.error // empty' "$ZT_TMP/iperf-$leg.json" 2>/dev/null) $(tail -n 3 "$ZT_TMP/iperf-$leg.err")"
	gbps=$(jq '.end.sum_received.bits_per_second / 1e9' "$ZT_TMP/iperf-$leg.json")
	retr=$(jq '.end.sum_sent.retransmits // 0' "$ZT_TMP/iperf-$leg.json")
	sent=$(jq '.end.sum_sent.bytes' "$ZT_TMP/iperf-$leg.json")
	echo "$gbps $stats $retr $sent" >"$ZT_TMP/$leg.result"
	log "$leg: $(printf '%.2f' "$gbps") Gbit/s ($retr retransmits, $(( $(udp_rcvbuf_errors) - drops0 )) UDP receive-buffer drops); ping replies/avg/p50/p99: $stats"
}

# ---------------------------------------------------------------------------
section "bare: plain routing over the veths"
[[ $(via "$C" $ZT_TUN_NAS_IP) == c0 ]] || fail "bare: $ZT_TUN_NAS_IP not routed through c0"
measure bare $ZT_TUN_NAS_IP

# ---------------------------------------------------------------------------
section "wireguard-go: userspace WireGuard, cli <-> conn"
WGC=wgc$ZT_ID	# interface names are also UAPI socket names in
WGS=wgs$ZT_ID	# /var/run/wireguard, shared by every namespace: unique per run
zt_defer rm -f "/var/run/wireguard/$WGC.sock" "/var/run/wireguard/$WGS.sock"
umask 077
wg genkey >"$ZT_TMP/wgc.key"
wg genkey >"$ZT_TMP/wgs.key"
WGC_PUB=$(wg pubkey <"$ZT_TMP/wgc.key")
WGS_PUB=$(wg pubkey <"$ZT_TMP/wgs.key")
wg_up() {	# wg_up NS IF: wireguard-go in the foreground (so the trap can kill it)
	zt_bg "wireguard-go-$2" "$1" wireguard-go -f "$2"
	WG_PIDS+=("$ZT_BG_PID")
	wait_until 5 bash -c "ip -n '$1' link show '$2' && [[ -S /var/run/wireguard/$2.sock ]]" ||
		fail "wireguard-go $2 did not come up: $(cat "$ZT_TMP/wireguard-go-$2.err")"
}
WG_PIDS=()
wg_up "$C" "$WGC"
wg_up "$N" "$WGS"
# Userspace for real: a TUN driven by the process we started, not the kernel's wireguard.
ip -n "$C" -d link show "$WGC" | grep -q 'tun type tun' || fail "$WGC is not wireguard-go's TUN"
ip netns exec "$N" wg set "$WGS" listen-port $WG_PORT private-key "$ZT_TMP/wgs.key" \
	peer "$WGC_PUB" allowed-ips 100.64.0.2/32
ip netns exec "$C" wg set "$WGC" private-key "$ZT_TMP/wgc.key" \
	peer "$WGS_PUB" endpoint $ZT_TUN_CONN_IP:$WG_PORT allowed-ips 10.10.0.0/24,100.64.0.1/32
ip -n "$N" addr add 100.64.0.1/32 dev "$WGS"
ip -n "$C" addr add 100.64.0.2/32 dev "$WGC"
ip -n "$N" link set "$WGS" up
ip -n "$C" link set "$WGC" up
ip -n "$N" route add 100.64.0.2/32 dev "$WGS"
ip -n "$C" route add 10.10.0.0/24 dev "$WGC" src 100.64.0.2
ip netns exec "$N" nft -f - <<EOF || fail "nft masquerade on the connector"
table ip ztbench_wg {
	chain post {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "p0" ip saddr 100.64.0.0/10 masquerade
	}
}
EOF
[[ $(via "$C" $ZT_TUN_NAS_IP) == "$WGC" ]] || fail "wireguard-go: $ZT_TUN_NAS_IP not routed into $WGC"
tx0=$(tx_bytes "$C" "$WGC")
measure wireguard-go $ZT_TUN_NAS_IP
tx1=$(tx_bytes "$C" "$WGC")
read -r _ _ _ _ _ _ sent <"$ZT_TMP/wireguard-go.result"
(( tx1 - tx0 >= sent )) || fail "wireguard-go: $WGC carried $((tx1 - tx0)) bytes, iperf3 sent $sent: not through the tunnel"
ip netns exec "$C" wg show "$WGC" latest-handshakes | awk '$2 > 0 { ok = 1 } END { exit !ok }' ||
	fail "wireguard-go: no handshake recorded"
log "wireguard-go: $WGC carried $((tx1 - tx0)) bytes for iperf3's $sent (handshake done, userspace TUN)"
for pid in "${WG_PIDS[@]}"; do zt_kill_pid "$pid"; done
ip netns exec "$N" nft delete table ip ztbench_wg
wait_until 5 bash -c "! ip -n '$C' link show '$WGC' 2>/dev/null" || fail "$WGC still there after wireguard-go exited"

# ---------------------------------------------------------------------------
section "ztgate: ztgated client <-> ztgated connector"
# In a subshell: a failure anywhere in it (fail exits) makes this row "not
# available" with the reason, and the other rows are still printed. Its own
# EXIT trap stops the daemons it started (the parent's trap does not run in it).
ztgate_leg() (
	# shellcheck disable=SC2034 # read by the EXIT trap
	leg_pids_from=${#ZT_PIDS[@]}	# (a subshell: no local needed; its trap reads it)
	trap 'zt_daemons_cleanup; for p in "${ZT_PIDS[@]:leg_pids_from}"; do zt_kill_pid "$p"; done' EXIT
	local why conn_pub dev_pub nas
	if why=$(zt_tunnel_why_unavailable); then
		fail "$why"
	fi
	zc() { zt_cli "$@" >/dev/null || fail "ztgate ($1) ${*:2} failed"; }
	conn_pub=$(zt_keygen "$ZT_TMP/conn.key")
	dev_pub=$(zt_keygen "$ZT_TMP/dev.key")
	zt_daemon_as conn "$N" connector --listen $ZT_TUN_CONN_IP:$ZT_TUN_CONN_PORT \
		--key "$ZT_TMP/conn.key" --dns $ZT_TUN_NAS_IP
	zc conn device add bench --pubkey "$dev_pub" --address 100.64.0.2
	zc conn resource add nas --address nas.home.int --tcp $IPERF_PORT --icmp
	zc conn grant bench nas
	zt_daemon_as client "$C" client --address 100.64.0.2 --key "$ZT_TMP/dev.key" --upstream $ZT_TUN_GW_IP
	zc client connector add office --pubkey "$conn_pub" --endpoint $ZT_TUN_CONN_IP:$ZT_TUN_CONN_PORT
	zc client resource add nas --address nas.home.int --tcp $IPERF_PORT --icmp --connector office
	nas=$(ip netns exec "$C" dig +short +time=2 +tries=1 @100.95.0.251 nas.home.int A)
	[[ $nas =~ ^100\. ]] || fail "nas.home.int on the client: '$nas', want a fake IP"
	[[ $(via "$C" "$nas") == ztg0 ]] || fail "$nas not routed into ztg0"
	measure ztgate "$nas"
	zt_daemon_stop_tag client
	zt_daemon_stop_tag conn
)
ZTGATE_WHY=
leg_rc=0
ztgate_leg 2>"$ZT_TMP/ztgate-leg.err" || leg_rc=$?
cat "$ZT_TMP/ztgate-leg.err" >&2
if (( leg_rc != 0 )); then
	ZTGATE_WHY=$(sed -n 's/^FAIL: //p' "$ZT_TMP/ztgate-leg.err" | tail -n 1)
	ZTGATE_WHY=${ZTGATE_WHY:-the leg failed (see above)}
	rm -f "$ZT_TMP/ztgate.result"
fi

# ---------------------------------------------------------------------------
section "results: cli -> nas, iperf3 TCP ${SECS}s one stream, ${PINGS} pings at 10 ms"
printf '%-14s %10s %8s %10s %10s %10s %8s\n' path Gbit/s retrans "rtt avg" "rtt p50" "rtt p99" replies
declare -A G P50
for leg in bare wireguard-go ztgate; do
	if [[ ! -f $ZT_TMP/$leg.result ]]; then
		printf '%-14s not available (%s)\n' "$leg" "${ZTGATE_WHY:-no result}"
		continue
	fi
	read -r g n avg p50 p99 retr _ <"$ZT_TMP/$leg.result"
	G[$leg]=$g P50[$leg]=$p50
	printf '%-14s %10.2f %8d %8s ms %7s ms %7s ms %4d/%d\n' "$leg" "$g" "$retr" "$avg" "$p50" "$p99" "$n" "$PINGS"
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
echo "wireguard-go / bare throughput: $(ratio "${G[wireguard-go]}" "${G[bare]}")x"
if [[ -n ${G[ztgate]:-} ]]; then
	r=$(ratio "${G[ztgate]}" "${G[wireguard-go]}")
	echo "ztgate / wireguard-go throughput: ${r}x   (target >= 3x)"
	echo "ztgate / bare throughput:         $(ratio "${G[ztgate]}" "${G[bare]}")x"
	echo "ztgate - wireguard-go RTT p50:    $(awk -v a="${P50[ztgate]}" -v b="${P50[wireguard-go]}" 'BEGIN { printf "%+.3f ms", a - b }')   (target <= 0)"
	awk -v r="$r" 'BEGIN { exit !(r >= 3) }' || echo "NOTE: ztgate below 3x wireguard-go's throughput"
	awk -v a="${P50[ztgate]}" -v b="${P50[wireguard-go]}" 'BEGIN { exit !(a <= b) }' ||
		echo "NOTE: ztgate's median RTT above wireguard-go's"
else
	echo "ztgate / wireguard-go throughput: n/a (ztgate: not available: $ZTGATE_WHY)"
	exit 1
fi
