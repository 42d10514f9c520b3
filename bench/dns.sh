#!/usr/bin/env bash
# bench/dns.sh (called by bench/run.sh; runs alone too): the client's DNS
# server under dnsperf (UDP), in namespaces of its own.
#
#   cli  c0 198.18.0.1/24    `ztgated client --upstream 198.18.0.53` (DNS on
#                            100.95.0.251:53), a local dnsmasq on 127.0.0.53,
#                            and dnsperf
#   up   u0 198.18.0.53/24   the upstream: dnsmasq answering fwdNNN.example.test
#                            from address= lines
#
#  (a) resource names: 20 name resources (svcNN.corp.int) and 4 wildcard
#      resources (*.zoneK.int, 20 names under each): 100 names, warmed up once
#      so every name already has its fake IP, then dnsperf against the client
#      vs dnsperf against a dnsmasq in the same namespace answering the same
#      names with the same addresses from `address=/name/ip` lines.
#      Target: ztgate >= 1.5x dnsmasq.
#  (b) forwarded names (100 names the upstream answers from its config, TTL
#      15 s): dnsperf through the client vs dnsperf straight to the upstream.
#      Target: overhead <= 20%. Two client legs:
#        b1 as a user runs it: the answer cache on (the default); after the
#           first pass the client answers from its cache and refetches each
#           name when its TTL runs out;
#        b3 `--dns-cache 0`: every query goes through c-ares to the upstream
#           and back, the raw cost of forwarding.
#      The daemon is restarted with --dns-cache 0 for b3 and back for the
#      others, every round (its fake IPs persist; the restart is outside the
#      measured window).
# Every leg runs ROUNDS times, interleaved (a1 a2 b1 b2 b3, a1 a2 b1 b2 b3,
# ...), each bounded by dnsperf -l and by timeout; the median round is
# reported, with each round's figure.
#
# The CPU columns say who was the limit: the server process (% of one CPU),
# dnsperf, and everything else on the machine (other processes, e.g. other
# builds; the upstream dnsmasq in b1/b3 counts as "other" too). A server under
# 100% while dnsperf is near its share was not measured at its capacity: the
# "per server CPU-second" lines then compare the servers' costs per query.
#
# Environment: BENCH_DNS_SECONDS (per run, default 4), BENCH_DNS_ROUNDS
# (default 5), BENCH_DNS_CLIENTS (dnsperf -c, default 8), BENCH_DNS_OUTSTANDING
# (dnsperf -q, default 100), BENCH_DNS_THREADS (dnsperf -T, default 2),
# BENCH_DNS_PIN=1 to pin every server to CPU 1 and dnsperf to CPU 0 (then
# dnsperf runs one thread; fair on an idle machine only: with other work on
# the machine the pinned processes cannot move off a busy CPU), ZTGATED/ZTGATE (default: the optimized build/
# binaries, not the sanitizer ones).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ZTGATED=${ZTGATED:-$ROOT/build/ztgated}
export ZTGATE=${ZTGATE:-$ROOT/build/ztgate}
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

SECS=${BENCH_DNS_SECONDS:-4}
ROUNDS=${BENCH_DNS_ROUNDS:-5}
CLIENTS=${BENCH_DNS_CLIENTS:-8}
OUTSTANDING=${BENCH_DNS_OUTSTANDING:-100}
THREADS=${BENCH_DNS_THREADS:-2}
PIN=${BENCH_DNS_PIN:-}
NCPU=$(nproc)
if [[ -n $PIN ]]; then
	(( NCPU >= 2 )) || fail "BENCH_DNS_PIN needs two CPUs"
	THREADS=1
	GEN_PIN=(taskset -c 0)
else
	GEN_PIN=()
fi
# Servers to CPU 1 (every thread), when pinning.
pin_server() { [[ -z $PIN ]] || taskset -apc 1 "$1" >/dev/null; }
DNS=100.95.0.251
LOCAL=127.0.0.53	# the comparison dnsmasq, in the client namespace
UPSTREAM=198.18.0.53
N_NAMES=20	# name resources
N_WILD=4	# wildcard resources
N_PER_WILD=20	# names queried under each wildcard
N_FWD=100	# forwarded names

zt_require_root
zt_require dnsperf dnsmasq dig jq nsenter awk timeout taskset
zt_require_bins

# ---------------------------------------------------------------------------
section "(c) DNS: topology"
zt_pair cli c0 up u0
C=$(zt_ns cli)
U=$(zt_ns up)
zt_addr "$C" c0 198.18.0.1/24
zt_addr "$U" u0 $UPSTREAM/24

# dnsmasq, quiet, from a config of address= lines only: no resolv.conf, no
# hosts, no cache involvement, the same 15 s TTL as the client's default.
dnsmasq_args() {	# dnsmasq_args LISTEN CONF
	echo --no-daemon --no-resolv --no-hosts --conf-file="$2" --user=root --pid-file= \
		--listen-address="$1" --bind-interfaces --local-ttl=15
}
: >"$ZT_TMP/up.conf"
for (( i = 0; i < N_FWD; i++ )); do
	printf 'address=/fwd%03d.example.test/198.18.9.%d\n' "$i" $((i + 1)) >>"$ZT_TMP/up.conf"
done
# shellcheck disable=SC2046 # word splitting of the argument list is intended
zt_bg dnsmasq-up "$U" dnsmasq $(dnsmasq_args $UPSTREAM "$ZT_TMP/up.conf")
# shellcheck disable=SC2034 # read through SERVER_PIDS
UP_PID=$ZT_BG_PID
wait_until 5 zt_udp_bound "$U" 53 || fail "upstream dnsmasq did not come up: $(cat "$ZT_TMP/dnsmasq-up.err")"
pin_server "$UP_PID"

export ZT_DAEMON_ROLE=client
zt_daemon_setup "$C" dnsbench
CACHE_MODE=on
daemon_mode() {	# daemon_mode on|off: the client daemon with its cache on or off
	[[ $CACHE_MODE == "$1" && -n $DAEMON_PID ]] && return 0
	zt_daemon_stop TERM
	if [[ $1 == off ]]; then
		zt_daemon_start --upstream $UPSTREAM --dns-cache 0 >/dev/null
	else
		zt_daemon_start --upstream $UPSTREAM >/dev/null
	fi
	CACHE_MODE=$1
	pin_server "$DAEMON_PID"
}
zt_daemon_start --upstream $UPSTREAM
pin_server "$DAEMON_PID"
for (( i = 0; i < N_NAMES; i++ )); do
	ztc resource add "svc$i" --address "$(printf 'svc%02d.corp.int' "$i")" --tcp 443 >/dev/null ||
		fail "resource add svc$i"
done
for (( k = 0; k < N_WILD; k++ )); do
	ztc resource add "zone$k" --address "*.zone$k.int" --tcp 22 >/dev/null || fail "resource add zone$k"
done

# Query files: one "NAME A" per line.
: >"$ZT_TMP/q-res.txt"
for (( i = 0; i < N_NAMES; i++ )); do printf 'svc%02d.corp.int A\n' "$i" >>"$ZT_TMP/q-res.txt"; done
for (( k = 0; k < N_WILD; k++ )); do
	for (( j = 0; j < N_PER_WILD; j++ )); do printf 'host%02d.zone%d.int A\n' "$j" "$k" >>"$ZT_TMP/q-res.txt"; done
done
: >"$ZT_TMP/q-fwd.txt"
for (( i = 0; i < N_FWD; i++ )); do printf 'fwd%03d.example.test A\n' "$i" >>"$ZT_TMP/q-fwd.txt"; done
N_RES=$(wc -l <"$ZT_TMP/q-res.txt")

# dnsperf SERVER QUERYFILE [EXTRA...] in the client namespace, bounded by -l
# and by timeout; output kept in $ZT_TMP/dnsperf.last.
run_dnsperf() {
	local server=$1 qf=$2
	shift 2
	ip netns exec "$C" timeout -k 2 $((SECS + 15)) "${GEN_PIN[@]}" \
		dnsperf -s "$server" -d "$qf" -c "$CLIENTS" -q "$OUTSTANDING" -T "$THREADS" -t 2 "$@" \
		>"$ZT_TMP/dnsperf.last" 2>&1 || fail "dnsperf against $server: $(tail -n 5 "$ZT_TMP/dnsperf.last")"
}

# Warm-up: every resource name gets its fake IP once (one pass of the file),
# so the measured runs only answer names that already have mappings.
run_dnsperf $DNS "$ZT_TMP/q-res.txt" -n 1
n_map=$(ztc --json dns | jq '.mappings | length')
(( n_map == N_RES )) || fail "warm-up: $n_map mappings for $N_RES names"
log "warm-up: $n_map names mapped to fake IPs"

# The comparison dnsmasq answers exactly the same names with the same addresses.
ztc --json dns | jq -r '.mappings[] | "address=/\(.name)/\(.fake_ip)"' >"$ZT_TMP/local.conf"
ip -n "$C" addr add $LOCAL/32 dev lo	# a listen address of its own for --bind-interfaces
# shellcheck disable=SC2046
zt_bg dnsmasq-local "$C" dnsmasq $(dnsmasq_args $LOCAL "$ZT_TMP/local.conf")
# shellcheck disable=SC2034 # read through SERVER_PIDS
LOCAL_PID=$ZT_BG_PID
pin_server "$LOCAL_PID"
wait_until 5 bash -c "ip netns exec '$C' ss -Hlun 'src $LOCAL and sport = :53' | grep -q ." ||
	fail "local dnsmasq did not come up: $(cat "$ZT_TMP/dnsmasq-local.err")"
qd() { ip netns exec "$C" dig +time=2 +tries=1 +short "@$1" "$2" A; }
for n in svc00.corp.int svc19.corp.int host07.zone3.int; do
	a=$(qd $DNS $n); b=$(qd $LOCAL $n)
	[[ -n $a && $a == "$b" ]] || fail "$n: ztgate '$a', dnsmasq '$b': not the same answer"
done
[[ $(qd $DNS fwd042.example.test) == 198.18.9.43 ]] || fail "forwarded name not answered through the client"
[[ $(qd $UPSTREAM fwd042.example.test) == 198.18.9.43 ]] || fail "upstream not answering directly"
log "same answers from both servers; forwarding works; dnsperf -c $CLIENTS -q $OUTSTANDING -T $THREADS, ${SECS}s runs, $ROUNDS rounds${PIN:+, servers pinned to CPU 1, dnsperf to CPU 0}"

# ---------------------------------------------------------------------------
declare -A QPS LOST LAT SCPU GCPU OCPU USQ GUSQ
LEGS=(zt_res dnsmasq_res zt_fwd direct_fwd zt_fwd_nocache)
# CPU time (ticks) of the processes that serve each leg, and of dnsperf (our
# reaped children), so the table shows who was busy: with two CPUs the load
# generator can be the limit as much as the server.
declare -A SERVER_PIDS=([zt_res]=DAEMON_PID [dnsmasq_res]=LOCAL_PID [zt_fwd]=DAEMON_PID [direct_fwd]=UP_PID [zt_fwd_nocache]=DAEMON_PID)
HZ=$(getconf CLK_TCK)
pid_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
children_ticks() { awk '{ print $16 + $17 }' /proc/$$/stat; }
sys_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }	# busy idle
leg_ticks() {	# leg_ticks LEG: CPU ticks used so far by the processes serving LEG
	local v t=0
	for v in ${SERVER_PIDS[$1]}; do t=$(( t + $(pid_ticks "${!v}") )); done
	echo $t
}
declare -A SERVER=([zt_res]=$DNS [dnsmasq_res]=$LOCAL [zt_fwd]=$DNS [direct_fwd]=$UPSTREAM [zt_fwd_nocache]=$DNS)
declare -A QFILE=([zt_res]=q-res.txt [dnsmasq_res]=q-res.txt [zt_fwd]=q-fwd.txt [direct_fwd]=q-fwd.txt [zt_fwd_nocache]=q-fwd.txt)
declare -A MODE=([zt_res]=on [dnsmasq_res]=on [zt_fwd]=on [direct_fwd]=on [zt_fwd_nocache]=off)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

section "(c) DNS: dnsperf runs"
for (( r = 1; r <= ROUNDS; r++ )); do
	for leg in "${LEGS[@]}"; do
		daemon_mode "${MODE[$leg]}"
		s0=$(leg_ticks "$leg"); g0=$(children_ticks); y0=$(sys_ticks); t0=$(date +%s%N)
		run_dnsperf "${SERVER[$leg]}" "$ZT_TMP/${QFILE[$leg]}" -l "$SECS"
		s1=$(leg_ticks "$leg"); g1=$(children_ticks); y1=$(sys_ticks); t1=$(date +%s%N)
		busy=$(awk -v a="$y0" -v b="$y1" -v n="$NCPU" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%d", (y[1] - x[1]) * 100 * n / (y[1] - x[1] + y[2] - x[2]) }')
		sc=$(awk -v a="$s0" -v b="$s1" -v hz="$HZ" -v ns=$((t1 - t0)) 'BEGIN { printf "%d", (b - a) / hz * 1e11 / ns }')
		gc=$(awk -v a="$g0" -v b="$g1" -v hz="$HZ" -v ns=$((t1 - t0)) 'BEGIN { printf "%d", (b - a) / hz * 1e11 / ns }')
		q=$(awk '/Queries per second:/ { printf "%d", $4 }' "$ZT_TMP/dnsperf.last")
		l=$(awk '/Queries lost:/ { print $3 }' "$ZT_TMP/dnsperf.last")
		s=$(awk '/Queries sent:/ { print $3 }' "$ZT_TMP/dnsperf.last")
		lat=$(awk '/Average Latency/ { printf "%.3f", $4 * 1000 }' "$ZT_TMP/dnsperf.last")
		noerr=$(awk '/Response codes:/ { print $4 }' "$ZT_TMP/dnsperf.last")
		[[ -n $q && $q -gt 0 ]] || fail "$leg: no QPS figure: $(cat "$ZT_TMP/dnsperf.last")"
		other=$(( busy - sc - gc )); (( other > 0 )) || other=0
		USQ[$leg]+="$(awk -v c="$sc" -v q="$q" 'BEGIN { printf "%.3f", c * 1e4 / q }') "
		GUSQ[$leg]+="$(awk -v c="$gc" -v q="$q" 'BEGIN { printf "%.3f", c * 1e4 / q }') "
		QPS[$leg]+="$q "; LOST[$leg]+="$l "; LAT[$leg]+="$lat "; SCPU[$leg]+="$sc "; GCPU[$leg]+="$gc "; OCPU[$leg]+="$other "
		[[ $leg != zt_fwd ]] || CACHE_STATS=$(ztc --json stats | jq -c '.dns.cache')
		log "round $r $(printf '%-14s' "$leg") ${SERVER[$leg]}: $q qps, $s sent, $l lost, NOERROR $noerr, avg latency ${lat} ms, CPU (% of one): server ${sc}, dnsperf ${gc}, everything else ${other}"
	done
done
zt_pid_alive "$DAEMON_PID" || fail "the client daemon died during the bench"
zt_daemon_stop TERM
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

median() { tr ' ' '\n' | grep . | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A M MS MG MO
for leg in "${LEGS[@]}"; do
	M[$leg]=$(median <<<"${QPS[$leg]}")
	MS[$leg]=$(median <<<"${SCPU[$leg]}"); MG[$leg]=$(median <<<"${GCPU[$leg]}"); MO[$leg]=$(median <<<"${OCPU[$leg]}")
done
ratio=$(awk -v a="${M[zt_res]}" -v b="${M[dnsmasq_res]}" 'BEGIN { printf "%.2f", a / b }')
overhead_of() { awk -v v="${M[$1]}" -v d="${M[direct_fwd]}" 'BEGIN { printf "%.1f", (d - v) * 100 / d }'; }
overhead=$(overhead_of zt_fwd)
overhead_raw=$(overhead_of zt_fwd_nocache)
# Queries per server CPU-second, and server CPU microseconds per query.
per_cpu() { awk -v q="${M[$1]}" -v c="${MS[$1]}" 'BEGIN { if (c > 0) printf "%d", q * 100 / c; else print "n/a" }'; }
us_per_q() { awk -v q="${M[$1]}" -v c="${2:-${MS[$1]}}" 'BEGIN { if (q > 0) printf "%.2f", c * 1e4 / q; else print "n/a" }'; }

section "(c) DNS results (dnsperf UDP -c $CLIENTS -q $OUTSTANDING -T $THREADS, ${SECS}s runs, median of $ROUNDS; $NCPU CPUs${PIN:+; servers on CPU 1, dnsperf on CPU 0})"
echo "load average before / after: $LOAD0 / $LOAD1"
echo "CPU columns: % of one CPU over the run (medians): the server process, dnsperf, everything else."
printf '%-44s %9s  %-34s %-6s %-28s %6s %7s %6s\n' "leg" "qps (med)" "qps per round" "lost" "avg ms per round" "server" "dnsperf" "other"
row() {
	printf '%-44s %9s  %-34s %-6s %-28s %5s%% %6s%% %5s%%\n' "$1" "${M[$2]}" "${QPS[$2]% }" \
		"$(tr ' ' '\n' <<<"${LOST[$2]}" | awk '{ t += $1 } END { print t + 0 }')" "${LAT[$2]% }" "${MS[$2]}" "${MG[$2]}" "${MO[$2]}"
}
row "a1 ztgate client, resource names ($N_RES)" zt_res
row "a2 dnsmasq address= lines, same names" dnsmasq_res
row "b1 forwarded via ztgate, cache on (default)" zt_fwd
row "b2 direct: upstream dnsmasq" direct_fwd
row "b3 forwarded via ztgate, --dns-cache 0" zt_fwd_nocache
echo "(b1/b3: the server column is ztgated alone; the upstream dnsmasq is in 'other'.)"
echo "cache after the last b1 run: $CACHE_STATS"
echo
# Per round (its legs ran back to back): dnsmasq's server CPU per query over
# ztgate's, i.e. the qps ratio were both servers the limit; and the most
# the qps ratio can be when the machine is: every query costs server plus
# dnsperf CPU, so (dnsmasq + its dnsperf) / (ztgate + its dnsperf).
per_round() {	# per_round AWK-EXPR-of-z,d,gz,gd: one value per round, median
	paste <(tr ' ' '\n' <<<"${USQ[zt_res]}") <(tr ' ' '\n' <<<"${USQ[dnsmasq_res]}") \
		<(tr ' ' '\n' <<<"${GUSQ[zt_res]}") <(tr ' ' '\n' <<<"${GUSQ[dnsmasq_res]}") |
		awk "NF == 4 && \$1 > 0 && \$3 + \$1 > 0 { z = \$1; d = \$2; gz = \$3; gd = \$4; printf \"%.2f \", $1 }" | median
}
capacity=$(per_round 'd / z')
ceiling=$(per_round '(d + gd) / (z + gz)')
capacity_rounds=$(paste <(tr ' ' '\n' <<<"${USQ[zt_res]}") <(tr ' ' '\n' <<<"${USQ[dnsmasq_res]}") |
	awk 'NF == 2 && $1 > 0 { printf "%.2f ", $2 / $1 }')
echo "(a) resource names, ztgate / dnsmasq:          ${ratio}x qps  (target >= 1.5x);" \
	"${capacity}x queries per server CPU-second (per round: ${capacity_rounds% })"
echo "    server CPU per query: ztgate $(us_per_q zt_res) us, dnsmasq $(us_per_q dnsmasq_res) us" \
	"($(per_cpu zt_res) vs $(per_cpu dnsmasq_res) qps per server CPU-second);" \
	"dnsperf CPU per query: $(us_per_q zt_res "${MG[zt_res]}") us vs $(us_per_q dnsmasq_res "${MG[dnsmasq_res]}") us"
echo "    with server and dnsperf sharing the machine, the qps ratio can be at most" \
	"(dnsmasq + dnsperf) / (ztgate + dnsperf) CPU per query: ${ceiling}x (median of rounds)"
echo "(b) forwarded names, overhead vs direct:       ${overhead}% with the cache (what a user sees), ${overhead_raw}% with --dns-cache 0 (raw forwarding)  (target <= 20%)"
echo "    server CPU per query: ztgated $(us_per_q zt_fwd) us cached, $(us_per_q zt_fwd_nocache) us forwarding;" \
	"upstream dnsmasq direct $(us_per_q direct_fwd) us"
awk -v r="$ratio" 'BEGIN { exit !(r >= 1.5) }' || echo "NOTE: resource names below 1.5x dnsmasq"
awk -v o="$overhead" 'BEGIN { exit !(o <= 20) }' || echo "NOTE: forwarding overhead (cache on) above 20%"
awk -v o="$overhead_raw" 'BEGIN { exit !(o <= 20) }' || echo "NOTE: raw forwarding overhead (--dns-cache 0) above 20%"
awk -v s="${MS[dnsmasq_res]}" 'BEGIN { exit !(s < 90) }' &&
	echo "NOTE: dnsmasq was under 90% of a CPU in (a): the load generator, not the servers, set the
      pace, so the qps ratio understates the difference; compare the CPU per query above."
true
