#!/usr/bin/env bash
# bench/relay.sh (called by bench/run.sh, i.e. `make bench`; runs alone too):
# issue 5's benchmark: throughput and round-trip time from a client behind NAT
# to a resource host behind a connector behind another NAT, over the three
# paths ztgate can take, in one topology and one run:
#
#   cli 192.168.1.2 -- router A 198.18.1.2 -- inet (relay 198.18.0.10) --
#     router B 198.18.2.2 -- conn 192.168.2.2 | 10.10.0.1 -- priv nas 10.10.0.5
#   (tests/lib.sh zt_nat_topology; nftables masquerade on both routers)
#
#   direct       both NATs endpoint-independent: the peers punch through and
#                the path becomes direct (checked with `ztgate status`)
#   relayed-udp  router A lets UDP out only to the relay (udp-relay-only): no
#                direct path can exist; the tunnel goes through the relay
#   relayed-tcp  router A drops all UDP (udp-blocked); the client has
#                --relay-tcp: the tunnel goes through the relay's TCP port
#   *-nolimit    the same two, the relay restarted without its per-peer limit
#
# For each: ping RTT (BENCH_RELAY_PINGS, default 200, 10 ms apart: avg, p50,
# p99) and iperf3 TCP, one stream, -t BENCH_RELAY_SECONDS (default 5) after a
# 1 s omitted ramp-up, client -> nas. Every run is bounded by `timeout`. Prints
# a table and each relayed path's ratios against direct. A leg that cannot run
# (this build has no relay yet, the path never becomes what the leg needs) says
# why in its row; the script then exits 1.
#
# Environment: BENCH_RELAY_SECONDS, BENCH_RELAY_PINGS, ZTGATED/ZTGATE
# (default: the optimized build/ binaries, not the sanitizer ones).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ZTGATED=${ZTGATED:-$ROOT/build/ztgated}
export ZTGATE=${ZTGATE:-$ROOT/build/ztgate}
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

SECS=${BENCH_RELAY_SECONDS:-5}
PINGS=${BENCH_RELAY_PINGS:-200}
IPERF_PORT=5201
LEGS=(direct relayed-udp relayed-tcp relayed-udp-nolimit relayed-tcp-nolimit)
# The relay's per-peer limit (default 20,000 packets/s, 100 MB/s) caps one
# peer near 0.2 Gbit/s of full-size packets: the relayed legs measure it as a
# user meets it, the *-nolimit legs the relay's forwarding itself.
NOLIMIT=(--peer-pps 1000000000 --peer-bps 1000000000000)

zt_require_root
zt_require iperf3 ping nft conntrack jq dnsmasq dig timeout awk

section "relay bench: topology"
zt_nat_topology --client-nat eim --conn-nat eim
C=$ZT_NS_CLI
N=$ZT_NS_CONN
P=$ZT_NS_PRIV
zt_bg iperf3 "$P" iperf3 -s -p $IPERF_PORT
wait_until 5 zt_tcp_listening "$P" $IPERF_PORT || fail "iperf3 server did not come up: $(cat "$ZT_TMP/iperf3.err")"
zt_tunnel_private_dns
log "iperf3 server on nas $ZT_TUN_NAS_IP:$IPERF_PORT; ${PINGS} pings, ${SECS}s iperf3 per leg"

# ping_stats FILE: "replies avg p50 p99" (ms, nearest-rank percentiles).
ping_stats() {
	grep -o 'time=[0-9.]*' "$1" | cut -d= -f2 | sort -g |
		awk '{ v[NR] = $1; s += $1 }
		function rank(q,   i) { i = int(q * NR); if (i < q * NR) i++; if (i < 1) i = 1; return v[i] }
		END { if (NR == 0) { print "0 - - -"; exit } printf "%d %.3f %.3f %.3f\n", NR, s / NR, rank(0.5), rank(0.99) }'
}

# measure LEG TARGET: ping, then iperf3, from cli to TARGET. Writes
# "gbps replies avg p50 p99 retransmits" to $ZT_TMP/LEG.result.
measure() {
	local leg=$1 target=$2 stats gbps retr
	ip netns exec "$C" timeout $((PINGS / 50 + 20)) ping -n -c "$PINGS" -i 0.01 -W 1 "$target" \
		>"$ZT_TMP/ping-$leg.out" 2>&1 || true	# losses are reported, not fatal
	stats=$(ping_stats "$ZT_TMP/ping-$leg.out")
	(( ${stats%% *} > 0 )) || fail "$leg: no ping reply from $target: $(tail -n 3 "$ZT_TMP/ping-$leg.out")"
	ip netns exec "$C" timeout $((SECS + 30)) iperf3 -c "$target" -p $IPERF_PORT -t "$SECS" -O 1 -J \
		>"$ZT_TMP/iperf-$leg.json" 2>"$ZT_TMP/iperf-$leg.err" ||
		fail "$leg: iperf3 to $target failed: $(jq -r '.error // empty' "$ZT_TMP/iperf-$leg.json" 2>/dev/null) $(tail -n 3 "$ZT_TMP/iperf-$leg.err")"
	gbps=$(jq '.end.sum_received.bits_per_second / 1e9' "$ZT_TMP/iperf-$leg.json")
	retr=$(jq '.end.sum_sent.retransmits // 0' "$ZT_TMP/iperf-$leg.json")
	echo "$gbps $stats $retr" >"$ZT_TMP/$leg.result"
	log "$leg: $(printf '%.3f' "$gbps") Gbit/s ($retr retransmits); ping replies/avg/p50/p99: $stats"
}

R1=$ZT_NAT_RELAY_IP:$ZT_NAT_RELAY_PORT
R1TCP=$ZT_NAT_RELAY_IP:$ZT_NAT_RELAY_TCP_PORT
zc() { zt_cli "$@" >/dev/null || fail "ztgate ($1) ${*:2} failed"; }
start_conn() {
	zt_daemon_as conn "$N" connector --listen "$ZT_NAT_CONN_IP:$ZT_NAT_CONN_PORT" \
		--key "$ZT_TMP/conn.key" --dns $ZT_TUN_NAS_IP --relay "$R1"
}
start_client() { zt_daemon_as client "$C" client --address 100.64.0.2 --key "$ZT_TMP/dev.key" --upstream $ZT_TUN_GW_IP "$@"; }
nas_ip() { ip netns exec "$C" dig +short +time=2 +tries=1 @100.95.0.251 nas.home.int A; }
client_path() { zt_nat_path client office; }
# reach NAS: one ping answered through the tunnel (the session is up).
reach() { ip netns exec "$C" ping -n -c 1 -W 1 "$1"; }

leg_cleanup() {	# in a leg's subshell, at its exit: its peers and processes
	local tag p
	set +e
	for tag in client conn; do
		[[ -n ${ZT_DAEMON_TAGS[$tag]:-} ]] || continue
		zt_daemon_select "$tag"
		zt_daemon_cleanup
	done
	for p in "${ZT_PIDS[@]:leg_pids_from}"; do zt_kill_pid "$p"; done
}

# leg LEG MODE PATH CLIENT-RELAY-ARGS...: router A in MODE, both peers
# (re)started, wait for the client's path to be PATH, measure. In a subshell:
# a failure makes this row "not available" with the reason; its EXIT trap stops
# the peers it started (the parent's trap does not run in it).
leg() (
	local name=$1 mode=$2 want=$3 nas
	shift 3
	# shellcheck disable=SC2034 # read by the EXIT trap
	leg_pids_from=${#ZT_PIDS[@]}
	trap 'leg_cleanup' EXIT
	zt_nat_set_mode a "$mode"
	zt_nat_flush b
	start_conn
	start_client "$@"
	nas=$(nas_ip)
	[[ $nas =~ ^100\. ]] || fail "$name: nas.home.int on the client: '$nas', want a fake IP"
	wait_until 30 reach "$nas" || fail "$name: no ping answered through the tunnel within 30 s (path '$(client_path)')"
	wait_until 40 zt_nat_path_is client office "$want" ||
		fail "$name: the client's path is '$(client_path)', not $want, after 40 s"
	log "$name: router A $mode, path $(client_path) ($(zt_nat_peer client office))"
	measure "$name" "$nas"
	zt_nat_path_is client office "$want" || fail "$name: the path left $want during the measurement ($(client_path))"
)

section "relay bench: keys, relay, policy"
declare -A WHY=()
if why=$(zt_nat_why_unavailable); then
	for l in "${LEGS[@]}"; do WHY[$l]="this build has no NAT traversal: $why"; done
else
	conn_pub=$(zt_keygen "$ZT_TMP/conn.key")
	dev_pub=$(zt_keygen "$ZT_TMP/dev.key")
	zt_nat_relay_start relay $ZT_NAT_RELAY_IP
	start_conn
	zc conn device add bench --pubkey "$dev_pub" --address 100.64.0.2
	zc conn resource add nas --address nas.home.int --tcp $IPERF_PORT --icmp
	zc conn grant bench nas
	start_client --relay "$R1"
	zc client connector add office --pubkey "$conn_pub"
	zc client resource add nas --address nas.home.int --tcp $IPERF_PORT --icmp --connector office
	zt_daemon_stop_tag client
	zt_daemon_stop_tag conn
	for l in "${LEGS[@]}"; do
		section "relay bench: $l"
		case $l in
		direct) args=(eim direct --relay "$R1") ;;
		relayed-udp) args=(udp-relay-only relayed-udp --relay "$R1") ;;
		relayed-tcp) args=(udp-blocked relayed-tcp --relay-tcp "$R1TCP") ;;
		relayed-udp-nolimit) args=(udp-relay-only relayed-udp --relay "$R1") ;;
		relayed-tcp-nolimit) args=(udp-blocked relayed-tcp --relay-tcp "$R1TCP") ;;
		esac
		if [[ $l == relayed-udp-nolimit ]]; then
			zt_daemon_stop_tag relay
			zt_nat_relay_start relay $ZT_NAT_RELAY_IP "${NOLIMIT[@]}"
			log "relay restarted without per-peer limit (${NOLIMIT[*]})"
		fi
		rc=0
		leg "$l" "${args[@]}" 2>"$ZT_TMP/leg-$l.err" || rc=$?
		cat "$ZT_TMP/leg-$l.err" >&2
		if (( rc != 0 )); then
			WHY[$l]=$(sed -n 's/^FAIL: //p' "$ZT_TMP/leg-$l.err" | tail -n 1)
			WHY[$l]=${WHY[$l]:-the leg failed (see above)}
			rm -f "$ZT_TMP/$l.result"
		fi
	done
fi

section "results: cli -> nas through two NATs, iperf3 TCP ${SECS}s one stream, ${PINGS} pings at 10 ms"
printf '%-20s %10s %8s %10s %10s %10s %8s\n' path Gbit/s retrans "rtt avg" "rtt p50" "rtt p99" replies
declare -A G P50
for l in "${LEGS[@]}"; do
	if [[ ! -f $ZT_TMP/$l.result ]]; then
		printf '%-20s not available (%s)\n' "$l" "${WHY[$l]:-no result}"
		continue
	fi
	read -r g n avg p50 p99 retr <"$ZT_TMP/$l.result"
	G[$l]=$g P50[$l]=$p50
	printf '%-20s %10.3f %8d %8s ms %7s ms %7s ms %4d/%d\n' "$l" "$g" "$retr" "$avg" "$p50" "$p99" "$n" "$PINGS"
done
echo
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'; }
for l in relayed-udp relayed-tcp relayed-udp-nolimit relayed-tcp-nolimit; do
	if [[ -n ${G[$l]:-} && -n ${G[direct]:-} ]]; then
		echo "$l / direct: throughput $(ratio "${G[$l]}" "${G[direct]}")x, RTT p50 $(ratio "${P50[$l]}" "${P50[direct]}")x"
	else
		echo "$l / direct: n/a"
	fi
done
for l in "${LEGS[@]}"; do
	[[ -f $ZT_TMP/$l.result ]] || exit 1
done
