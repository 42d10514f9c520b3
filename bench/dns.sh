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
#  Two tables. Table 1, the headline for (a): a1 and a2 again with each
#      server in a cgroup of its own under the same CPU quota (half a CPU by
#      default) and dnsperf free on the rest of the machine, so the server
#      is the bottleneck and the qps ratio is the capacity ratio (the
#      throttled column shows the server used its whole budget). Table 2:
#      every leg unconstrained; on two CPUs dnsperf (which costs more per
#      query than either server) shares the machine with the server, so (a)
#      there measures the pair, not the server; (b) is read from it.
# Every leg runs ROUNDS times, interleaved (a1cap a2cap a1 a2 b1 b2 b3,
# a1cap ...), each bounded by dnsperf -l and by timeout; the median round is
# reported, with each round's figure.
#
# The CPU columns say who was the limit: the server process (% of one CPU),
# dnsperf, and everything else on the machine (other processes, e.g. other
# builds; the upstream dnsmasq in b1/b3 counts as "other" too). A server under
# 100% while dnsperf is near its share was not measured at its capacity: the
# "per server CPU-second" lines then compare the servers' costs per query.
#
# Environment: BENCH_DNS_CPU_QUOTA_US (each server's budget per 100 ms in
# Table 1, default 50000), BENCH_DNS_CAP=0 to leave Table 1 out (it needs a
# cgroup cpu controller, v2 or v1), BENCH_DNS_SECONDS (per run, default 4), BENCH_DNS_ROUNDS
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
# The capped legs keep more queries in flight: a server held to its quota must
# find work queued whenever it runs, even while dnsperf waits for a CPU.
CAP_OUTSTANDING=${BENCH_DNS_CAP_OUTSTANDING:-200}
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
# place_server PID [GROUP]: pinned if asked, and into its CPU-budget cgroup.
place_server() { pin_server "$1"; [[ -z ${2:-} ]] || cg_move "$2" "$1"; }
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
# Equal CPU budget for the servers (the capped legs). On two CPUs dnsperf
# shares the machine with the server it loads, and costs more CPU per query
# than either server: unconstrained, the qps ratio measures mostly the load
# generator. So each server gets a cgroup of its own with the same CPU quota
# (BENCH_DNS_CPU_QUOTA_US of every 100 ms, default 50 ms = half a CPU), and
# dnsperf, left where it is, has the rest: the server is the bottleneck, and
# queries per second under the same budget is the capacity ratio. The groups
# hold only the server processes this script starts (moved in right after
# start, before any measured run); the quota is lifted (max) for the
# unconstrained legs. cgroup v2 (cpu.max) when its cpu controller is
# available to our cgroup, else cgroup v1's cpu hierarchy (cpu.cfs_quota_us,
# hybrid hosts). At exit any process still inside goes back to our own
# cgroup, the groups are removed, and a subtree_control we changed is restored.
CAP_QUOTA_US=${BENCH_DNS_CPU_QUOTA_US:-50000}
CAP_PERIOD_US=100000
CAP=${BENCH_DNS_CAP:-1}
CAP_WEIGHT=${BENCH_DNS_CPU_WEIGHT:-8}
# In the capped legs the servers also run on one CPU (the last): CFS
# bandwidth hands quota to each CPU in 5 ms slices, and a server that hops
# between CPUs (dnsmasq does, on every poll wakeup) is throttled while
# unspent runtime sits on the other CPU, i.e. held well below its quota.
# BENCH_DNS_CAP_CPU=all leaves them free (better when other work loads that CPU).
CAP_CPU=${BENCH_DNS_CAP_CPU:-$(( $(nproc) - 1 ))}
CG_VER=		# 2 or 1; empty: no capped legs
CG_HOME=	# the cgroup this script runs in (the groups' parent)
CG_TOP=		# $CG_HOME/ztgate-bench-$$
CG_ENABLED=()	# subtree_control files we wrote +cpu to, restored at exit
CG_WHY=

# cg_mount TYPE [CONTROLLER]: "ROOT MOUNTPOINT" of the first mount of fstype
# TYPE (cgroup2, or cgroup v1 carrying CONTROLLER).
cg_mount() {
	awk -v t="$1" -v c="${2:-}" '{
		for (i = 7; i <= NF && $i != "-"; i++);
		if ($(i + 1) != t) next
		if (c != "") { n = split($(i + 3), o, ","); f = 0; for (j = 1; j <= n; j++) if (o[j] == c) f = 1; if (!f) next }
		print $4, $5; exit
	}' /proc/self/mountinfo
}
# cg_self_path HIERARCHY: our path in the v2 hierarchy (""), or in the v1
# hierarchy carrying that controller.
cg_self_path() {
	awk -F: -v c="$1" '{
		if (c == "" && $1 == "0" && $2 == "") { print $3; exit }
		if (c != "") { n = split($2, o, ","); for (j = 1; j <= n; j++) if (o[j] == c) { print $3; exit } }
	}' /proc/self/cgroup
}
cg_join() {	# cg_join MOUNT-ROOT MOUNTPOINT PATH: the directory of PATH
	local root=$1 mnt=$2 path=$3
	[[ $root == / ]] || path=${path#"$root"}
	echo "${mnt%/}${path%/}"
}
cg_detect() {	# sets CG_VER and CG_HOME, or CG_WHY
	local mr mp p
	read -r mr mp < <(cg_mount cgroup2); p=$(cg_self_path "")
	if [[ -n $mp && -n $p ]]; then
		CG_HOME=$(cg_join "$mr" "$mp" "$p")
		if grep -qw cpu "$CG_HOME/cgroup.controllers" 2>/dev/null; then
			CG_VER=2
			return 0
		fi
	fi
	mr='' mp=''
	read -r mr mp < <(cg_mount cgroup cpu); p=$(cg_self_path cpu)
	if [[ -n $mp && -n $p ]]; then
		CG_HOME=$(cg_join "$mr" "$mp" "$p")
		if [[ -w $CG_HOME/cgroup.procs && -e $CG_HOME/cpu.cfs_quota_us ]]; then
			CG_VER=1
			return 0
		fi
	fi
	CG_WHY="no cgroup cpu controller available to this shell's cgroup (v2 cgroup.controllers without cpu, no v1 cpu hierarchy)"
	return 1
}
# cg_enable_cpu DIR: the cpu controller for DIR's children (v2).
cg_enable_cpu() {
	grep -qw cpu "$1/cgroup.subtree_control" && return 0
	echo +cpu >"$1/cgroup.subtree_control" || return 1
	CG_ENABLED+=("$1/cgroup.subtree_control")
}
cg_cleanup() {
	local g pid i
	[[ -n $CG_TOP && -d $CG_TOP ]] || return 0
	for g in "$CG_TOP"/*/; do
		[[ -f $g/cgroup.procs ]] || continue
		while read -r pid; do echo "$pid" >"$CG_HOME/cgroup.procs"; done <"$g/cgroup.procs"
		rmdir "$g"
	done
	rmdir "$CG_TOP"
	for (( i = ${#CG_ENABLED[@]} - 1; i >= 0; i-- )); do echo -cpu >"${CG_ENABLED[i]}"; done
	[[ ! -d $CG_TOP ]] || echo "FAIL: cgroup $CG_TOP left behind" >&2
}
cg_setup() {	# cg_setup GROUP...: $CG_TOP/GROUP for each, no quota yet
	local g
	cg_detect || return 1
	CG_TOP=$CG_HOME/ztgate-bench-$$
	[[ ! -e $CG_TOP ]] || { CG_WHY="$CG_TOP exists"; CG_TOP=; return 1; }
	if [[ $CG_VER == 2 ]] && ! cg_enable_cpu "$CG_HOME"; then
		CG_WHY="cannot enable the cpu controller in $CG_HOME/cgroup.subtree_control (a non-root cgroup with processes in it?)"
		return 1
	fi
	mkdir "$CG_TOP" || { CG_WHY="mkdir $CG_TOP failed"; CG_TOP=; return 1; }
	zt_defer cg_cleanup
	[[ $CG_VER == 1 ]] || cg_enable_cpu "$CG_TOP" || { CG_WHY="cannot enable cpu in $CG_TOP"; return 1; }
	for g in "$@"; do
		mkdir "$CG_TOP/$g" || { CG_WHY="mkdir $CG_TOP/$g failed"; return 1; }
		cg_weight "$g"
	done
}
# cg_weight GROUP: CAP_WEIGHT times the default CPU weight. Other work on the
# machine (other builds, tests) then takes CPU from the bench's processes
# only once they have what they ask for: the servers their quota, dnsperf
# the rest.
cg_weight() {
	if [[ $CG_VER == 2 ]]; then
		echo $((100 * CAP_WEIGHT)) >"$CG_TOP/$1/cpu.weight"
	else
		echo $((1024 * CAP_WEIGHT)) >"$CG_TOP/$1/cpu.shares"
	fi
}
cg_move() {	# cg_move GROUP PID: the whole process (every thread) into GROUP
	[[ -z $CG_VER ]] || echo "$2" >"$CG_TOP/$1/cgroup.procs" || fail "moving pid $2 into $CG_TOP/$1"
}
cg_quota() {	# cg_quota GROUP QUOTA_US|max
	local g=$CG_TOP/$1
	if [[ $CG_VER == 2 ]]; then
		echo "$2 $CAP_PERIOD_US" >"$g/cpu.max"
	else
		echo $CAP_PERIOD_US >"$g/cpu.cfs_period_us"
		echo "${2/max/-1}" >"$g/cpu.cfs_quota_us"
	fi
}
cg_throttle() {	# cg_throttle GROUP: "periods throttled-periods throttled-us" so far
	awk '$1 == "nr_periods" { p = $2 } $1 == "nr_throttled" { n = $2 }
		$1 == "throttled_usec" { t = $2 } $1 == "throttled_time" { t = $2 / 1000 }
		END { printf "%d %d %d\n", p, n, t }' "$CG_TOP/$1/cpu.stat"
}

# ---------------------------------------------------------------------------
section "(c) DNS: topology"
GEN_CG=()
if [[ $CAP != 0 ]] && ! cg_setup zt dnsmasq gen; then
	log "NOTE: no equal-CPU legs: $CG_WHY"
	CG_VER=
fi
if [[ -n $CG_VER ]]; then
	# dnsperf in a group of its own, no quota, same weight as the servers':
	# the wrapper moves itself in before `ip netns exec` (which remounts /sys).
	# shellcheck disable=SC2016 # $$ and $@ are the wrapper's
	GEN_CG=(sh -c 'echo $$ >"$0" && exec "$@"' "$CG_TOP/gen/cgroup.procs")
fi
[[ -z $CG_VER ]] || log "CPU budget: cgroup v$CG_VER groups $CG_TOP/{zt,dnsmasq}, ${CAP_QUOTA_US} us per ${CAP_PERIOD_US} us each in the capped legs"
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
	place_server "$DAEMON_PID" zt
}
zt_daemon_start --upstream $UPSTREAM
place_server "$DAEMON_PID" zt
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
	"${GEN_CG[@]}" ip netns exec "$C" timeout -k 2 $((SECS + 15)) "${GEN_PIN[@]}" \
		dnsperf -s "$server" -d "$qf" -c "$CLIENTS" -q "${DNSPERF_Q:-$OUTSTANDING}" -T "$THREADS" -t 2 "$@" \
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
place_server "$LOCAL_PID" dnsmasq
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
declare -A QPS LOST LAT SCPU GCPU OCPU USQ GUSQ THR
# The capped legs first (the headline figure), then the unconstrained ones.
LEGS=(zt_res dnsmasq_res zt_fwd direct_fwd zt_fwd_nocache)
[[ -z $CG_VER ]] || LEGS=(zt_res_cap dnsmasq_res_cap "${LEGS[@]}")
# CPU time of the processes that serve each leg, and of dnsperf (our
# reaped children), so the table shows who was busy: with two CPUs the load
# generator can be the limit as much as the server.
declare -A SERVER_PIDS=([zt_res]=DAEMON_PID [dnsmasq_res]=LOCAL_PID [zt_fwd]=DAEMON_PID [direct_fwd]=UP_PID [zt_fwd_nocache]=DAEMON_PID
	[zt_res_cap]=DAEMON_PID [dnsmasq_res_cap]=LOCAL_PID)
HZ=$(getconf CLK_TCK)
# A server's CPU time in ns, exact: the scheduler's runtime of every thread
# (/proc/PID/task/*/schedstat). Tick sampling (utime + stime) misjudges a
# server held to a quota, whose runs start and stop off the tick.
pid_ns() {
	if [[ -r /proc/$1/schedstat ]]; then
		cat /proc/"$1"/task/*/schedstat | awk '{ t += $1 } END { printf "%.0f\n", t }'
	else
		awk -v hz="$HZ" '{ printf "%.0f\n", ($14 + $15) * 1e9 / hz }' "/proc/$1/stat"
	fi
}
children_ticks() { awk '{ print $16 + $17 }' /proc/$$/stat; }
sys_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }	# busy idle
leg_ns() {	# leg_ns LEG: CPU ns used so far by the processes serving LEG
	local v t=0
	for v in ${SERVER_PIDS[$1]}; do t=$(( t + $(pid_ns "${!v}") )); done
	echo $t
}
declare -A SERVER=([zt_res]=$DNS [dnsmasq_res]=$LOCAL [zt_fwd]=$DNS [direct_fwd]=$UPSTREAM [zt_fwd_nocache]=$DNS
	[zt_res_cap]=$DNS [dnsmasq_res_cap]=$LOCAL)
declare -A QFILE=([zt_res]=q-res.txt [dnsmasq_res]=q-res.txt [zt_fwd]=q-fwd.txt [direct_fwd]=q-fwd.txt [zt_fwd_nocache]=q-fwd.txt
	[zt_res_cap]=q-res.txt [dnsmasq_res_cap]=q-res.txt)
declare -A MODE=([zt_res]=on [dnsmasq_res]=on [zt_fwd]=on [direct_fwd]=on [zt_fwd_nocache]=off
	[zt_res_cap]=on [dnsmasq_res_cap]=on)
declare -A CGROUP=([zt_res_cap]=zt [dnsmasq_res_cap]=dnsmasq)	# capped legs: the server's group
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

section "(c) DNS: dnsperf runs"
for (( r = 1; r <= ROUNDS; r++ )); do
	for leg in "${LEGS[@]}"; do
		daemon_mode "${MODE[$leg]}"
		g=${CGROUP[$leg]:-}
		if [[ -n $CG_VER ]]; then
			# Both groups under the same quota in a capped leg, none otherwise.
			quota=max
			[[ -z $g ]] || quota=$CAP_QUOTA_US
			cg_quota zt "$quota"
			cg_quota dnsmasq "$quota"
		fi
		if [[ -n $CG_VER ]]; then
			cpus=0-$((NCPU - 1))
			[[ -z $PIN ]] || cpus=1
			[[ -z $g || $CAP_CPU == all ]] || cpus=$CAP_CPU
			taskset -apc "$cpus" "$DAEMON_PID" >/dev/null
			taskset -apc "$cpus" "$LOCAL_PID" >/dev/null
		fi
		[[ -z $g ]] || th0=$(cg_throttle "$g")
		s0=$(leg_ns "$leg"); g0=$(children_ticks); y0=$(sys_ticks); t0=$(date +%s%N)
		DNSPERF_Q=$OUTSTANDING
		[[ -z $g ]] || DNSPERF_Q=$CAP_OUTSTANDING
		run_dnsperf "${SERVER[$leg]}" "$ZT_TMP/${QFILE[$leg]}" -l "$SECS"
		s1=$(leg_ns "$leg"); g1=$(children_ticks); y1=$(sys_ticks); t1=$(date +%s%N)
		busy=$(awk -v a="$y0" -v b="$y1" -v n="$NCPU" 'BEGIN { split(a, x, " "); split(b, y, " "); printf "%d", (y[1] - x[1]) * 100 * n / (y[1] - x[1] + y[2] - x[2]) }')
		sc=$(awk -v a="$s0" -v b="$s1" -v ns=$((t1 - t0)) 'BEGIN { printf "%d", (b - a) * 100 / ns }')
		gc=$(awk -v a="$g0" -v b="$g1" -v hz="$HZ" -v ns=$((t1 - t0)) 'BEGIN { printf "%d", (b - a) / hz * 1e11 / ns }')
		q=$(awk '/Queries per second:/ { printf "%d", $4 }' "$ZT_TMP/dnsperf.last")
		l=$(awk '/Queries lost:/ { print $3 }' "$ZT_TMP/dnsperf.last")
		s=$(awk '/Queries sent:/ { print $3 }' "$ZT_TMP/dnsperf.last")
		lat=$(awk '/Average Latency/ { printf "%.3f", $4 * 1000 }' "$ZT_TMP/dnsperf.last")
		noerr=$(awk '/Response codes:/ { print $4 }' "$ZT_TMP/dnsperf.last")
		[[ -n $q && $q -gt 0 ]] || fail "$leg: no QPS figure: $(cat "$ZT_TMP/dnsperf.last")"
		other=$(( busy - sc - gc )); (( other > 0 )) || other=0
		thr=
		if [[ -n $g ]]; then
			# Share of the quota periods in which the server ran out of budget.
			thr=$(awk -v a="$th0" -v b="$(cg_throttle "$g")" 'BEGIN { split(a, x, " "); split(b, y, " ");
				p = y[1] - x[1]; printf "%d", (p > 0 ? (y[2] - x[2]) * 100 / p : 0) }')
			THR[$leg]+="$thr "
		fi
		USQ[$leg]+="$(awk -v c="$sc" -v q="$q" 'BEGIN { printf "%.3f", c * 1e4 / q }') "
		GUSQ[$leg]+="$(awk -v c="$gc" -v q="$q" 'BEGIN { printf "%.3f", c * 1e4 / q }') "
		QPS[$leg]+="$q "; LOST[$leg]+="$l "; LAT[$leg]+="$lat "; SCPU[$leg]+="$sc "; GCPU[$leg]+="$gc "; OCPU[$leg]+="$other "
		[[ $leg != zt_fwd ]] || CACHE_STATS=$(ztc --json stats | jq -c '.dns.cache')
		log "round $r $(printf '%-15s' "$leg") ${SERVER[$leg]}: $q qps, $s sent, $l lost, NOERROR $noerr, avg latency ${lat} ms, CPU (% of one): server ${sc}${thr:+ (throttled in ${thr}% of periods)}, dnsperf ${gc}, everything else ${other}"
	done
done
[[ -z $CG_VER ]] || { cg_quota zt max; cg_quota dnsmasq max; }
zt_pid_alive "$DAEMON_PID" || fail "the client daemon died during the bench"
zt_daemon_stop TERM
LOAD1=$(cut -d' ' -f1-3 /proc/loadavg)

# An empty list (e.g. no round where ztgated used CPU: the BPF fast path answered) gives "n/a".
median() { tr ' ' '\n' | { grep . || true; } | sort -g | awk '{ v[NR] = $1 } END { print NR ? v[int((NR + 1) / 2)] : "n/a" }'; }
declare -A M MS MG MO MT
for leg in "${LEGS[@]}"; do
	M[$leg]=$(median <<<"${QPS[$leg]}")
	MS[$leg]=$(median <<<"${SCPU[$leg]}"); MG[$leg]=$(median <<<"${GCPU[$leg]}"); MO[$leg]=$(median <<<"${OCPU[$leg]}")
	[[ -z ${THR[$leg]:-} ]] || MT[$leg]=$(median <<<"${THR[$leg]}")
done
ratio=$(awk -v a="${M[zt_res]}" -v b="${M[dnsmasq_res]}" 'BEGIN { printf "%.2f", a / b }')
overhead_of() { awk -v v="${M[$1]}" -v d="${M[direct_fwd]}" 'BEGIN { printf "%.1f", (d - v) * 100 / d }'; }
overhead=$(overhead_of zt_fwd)
overhead_raw=$(overhead_of zt_fwd_nocache)
# Queries per server CPU-second, and server CPU microseconds per query.
per_cpu() { awk -v q="${M[$1]}" -v c="${MS[$1]}" 'BEGIN { if (c > 0) printf "%d", q * 100 / c; else print "n/a" }'; }
us_per_q() { awk -v q="${M[$1]}" -v c="${2:-${MS[$1]}}" 'BEGIN { if (q > 0) printf "%.2f", c * 1e4 / q; else print "n/a" }'; }
# Everything the machine spent per query (server + dnsperf + other), in us:
# with the client's BPF fast path the answer is built in the querier's own
# send, so the server column is near zero and this is the honest cost.
machine_us_per_q() { awk -v q="${M[$1]}" -v c="$(( ${MS[$1]} + ${MG[$1]} + ${MO[$1]} ))" 'BEGIN { if (q > 0) printf "%.2f", c * 1e4 / q; else print "n/a" }'; }
sum() { tr ' ' '\n' | awk '{ t += $1 } END { print t + 0 }'; }
# pair_rounds A B AWK-EXPR-of-a,b: per round (its legs ran back to back), the
# expression over the two legs' per-round lists in QPS (or the array named
# by LISTS, default QPS), as "x y z".
pair_rounds() {
	local -n l=${4:-QPS}
	paste <(tr ' ' '\n' <<<"${l[$1]}") <(tr ' ' '\n' <<<"${l[$2]}") |
		awk "NF == 2 && \$1 > 0 && \$2 > 0 { a = \$1; b = \$2; printf \"%.2f \", $3 }"
}

section "(c) DNS results (dnsperf UDP -c $CLIENTS -q $OUTSTANDING -T $THREADS, ${SECS}s runs, median of $ROUNDS interleaved rounds; $NCPU CPUs${PIN:+; servers on CPU 1, dnsperf on CPU 0})"
echo "load average before / after: $LOAD0 / $LOAD1"
echo "CPU columns: % of one CPU over the run (medians): the server process, dnsperf, everything else."
if [[ -n $CG_VER ]]; then
	cap_ratio_rounds=$(pair_rounds zt_res_cap dnsmasq_res_cap 'a / b')
	cap_ratio=$(median <<<"$cap_ratio_rounds")
	echo
	echo "Table 1, the headline for (a): server capacity under the same CPU budget. Each server"
	echo "in a cgroup of its own capped at $((CAP_QUOTA_US * 100 / CAP_PERIOD_US))% of one CPU (cgroup v$CG_VER, ${CAP_QUOTA_US}/${CAP_PERIOD_US} us) on CPU(s) $CAP_CPU, dnsperf"
	echo "unconstrained on the rest of the machine: the server is the bottleneck, so qps compares"
	echo "what each server answers with the same CPU. 'throttled' = share of quota periods in"
	echo "which the server used its whole budget (100% = it always wanted more)."
	printf '%-44s %9s  %-34s %-6s %-28s %6s %9s %7s %6s\n' "leg" "qps (med)" "qps per round" "lost" "avg ms per round" "server" "throttled" "dnsperf" "other"
	row_cap() {
		printf '%-44s %9s  %-34s %-6s %-28s %5s%% %8s%% %6s%% %5s%%\n' "$1" "${M[$2]}" "${QPS[$2]% }" \
			"$(sum <<<"${LOST[$2]}")" "${LAT[$2]% }" "${MS[$2]}" "${MT[$2]}" "${MG[$2]}" "${MO[$2]}"
	}
	row_cap "a1 ztgate client, resource names ($N_RES)" zt_res_cap
	row_cap "a2 dnsmasq address= lines, same names" dnsmasq_res_cap
	echo "(a) resource names, ztgate / dnsmasq under equal CPU: ${cap_ratio}x qps  (target >= 1.5x; per round: ${cap_ratio_rounds% })"
	echo "    server CPU per query: ztgate $(us_per_q zt_res_cap) us, dnsmasq $(us_per_q dnsmasq_res_cap) us"
	echo "    machine CPU per query (server + dnsperf + other): ztgate $(machine_us_per_q zt_res_cap) us, dnsmasq $(machine_us_per_q dnsmasq_res_cap) us"
	echo "    (ztgate's server near 0%: resource names are answered by the BPF fast path on lo, in the querier's send, outside the server's cgroup)"
	# The figure is only a capacity ratio when both servers were the limit.
	cap_ok=1
	for leg in zt_res_cap dnsmasq_res_cap; do
		if awk -v t="${MT[$leg]}" -v s="${MS[$leg]}" -v c=$((CAP_QUOTA_US * 100 / CAP_PERIOD_US)) \
			'BEGIN { exit !(t < 50 || s < c * 0.9) }'; then
			echo "NOTE: $leg: server at ${MS[$leg]}% of one CPU, throttled in ${MT[$leg]}% of periods: not held at its budget, so not the bottleneck"
			cap_ok=0
		fi
		if awk -v g="${MG[$leg]}" -v c=$((NCPU * 100 - CAP_QUOTA_US * 100 / CAP_PERIOD_US)) 'BEGIN { exit !(g > c * 0.9) }'; then
			echo "NOTE: $leg: dnsperf at ${MG[$leg]}% of one CPU, near all it had: it may have been the limit"
			cap_ok=0
		fi
	done
	(( cap_ok )) && echo "    both servers used their whole budget (throttled) while dnsperf had CPU to spare: the servers set the pace"
	awk -v r="$cap_ratio" 'BEGIN { exit !(r >= 1.5) }' || echo "NOTE: resource names below 1.5x dnsmasq under equal CPU"
else
	echo
	echo "Table 1 (equal CPU budget) not run: ${CG_WHY:-BENCH_DNS_CAP=0}. The qps ratio below is not a capacity ratio."
fi
echo
echo "Table 2: unconstrained, every process free to use the whole machine. For (a) this measures"
echo "the pair server + dnsperf on $NCPU CPUs, not the server alone: dnsperf costs more CPU per"
echo "query than either server, so the qps ratio is squeezed toward 1 (see the ceiling below)."
echo "(b) is measured here: forwarding overhead as a user sees it."
printf '%-44s %9s  %-34s %-6s %-28s %6s %7s %6s\n' "leg" "qps (med)" "qps per round" "lost" "avg ms per round" "server" "dnsperf" "other"
row() {
	printf '%-44s %9s  %-34s %-6s %-28s %5s%% %6s%% %5s%%\n' "$1" "${M[$2]}" "${QPS[$2]% }" \
		"$(sum <<<"${LOST[$2]}")" "${LAT[$2]% }" "${MS[$2]}" "${MG[$2]}" "${MO[$2]}"
}
row "a1 ztgate client, resource names ($N_RES)" zt_res
row "a2 dnsmasq address= lines, same names" dnsmasq_res
row "b1 forwarded via ztgate, cache on (default)" zt_fwd
row "b2 direct: upstream dnsmasq" direct_fwd
row "b3 forwarded via ztgate, --dns-cache 0" zt_fwd_nocache
echo "(b1/b3: the server column is ztgated alone; the upstream dnsmasq is in 'other'.)"
echo "cache after the last b1 run: $CACHE_STATS"
# Per round: dnsmasq's server CPU per query over ztgate's (the qps ratio
# were both servers the limit), and the most the qps ratio can be when the
# machine is: every query costs server plus dnsperf CPU, so
# (dnsmasq + its dnsperf) / (ztgate + its dnsperf).
per_round() {	# per_round AWK-EXPR-of-z,d,gz,gd: one value per round, median
	paste <(tr ' ' '\n' <<<"${USQ[zt_res]}") <(tr ' ' '\n' <<<"${USQ[dnsmasq_res]}") \
		<(tr ' ' '\n' <<<"${GUSQ[zt_res]}") <(tr ' ' '\n' <<<"${GUSQ[dnsmasq_res]}") |
		awk "NF == 4 && \$1 > 0 && \$3 + \$1 > 0 { z = \$1; d = \$2; gz = \$3; gd = \$4; printf \"%.2f \", $1 }" | median
}
capacity=$(per_round 'd / z')
ceiling=$(per_round '(d + gd) / (z + gz)')
capacity_rounds=$(pair_rounds zt_res dnsmasq_res 'b / a' USQ)
echo "(a) unconstrained, ztgate / dnsmasq:   ${ratio}x qps (per round: $(pair_rounds zt_res dnsmasq_res 'a / b'));" \
	"${capacity}x queries per server CPU-second (per round: ${capacity_rounds% })"
echo "    server CPU per query: ztgate $(us_per_q zt_res) us, dnsmasq $(us_per_q dnsmasq_res) us" \
	"($(per_cpu zt_res) vs $(per_cpu dnsmasq_res) qps per server CPU-second);" \
	"dnsperf CPU per query: $(us_per_q zt_res "${MG[zt_res]}") us vs $(us_per_q dnsmasq_res "${MG[dnsmasq_res]}") us"
echo "    machine CPU per query (server + dnsperf + other): ztgate $(machine_us_per_q zt_res) us, dnsmasq $(machine_us_per_q dnsmasq_res) us"
echo "    with server and dnsperf sharing the machine, the qps ratio can be at most" \
	"(dnsmasq + dnsperf) / (ztgate + dnsperf) CPU per query: ${ceiling}x (median of rounds)"
echo "(b) forwarded names, overhead vs direct:       ${overhead}% with the cache (what a user sees), ${overhead_raw}% with --dns-cache 0 (raw forwarding)  (target <= 20%)"
echo "    server CPU per query: ztgated $(us_per_q zt_fwd) us cached, $(us_per_q zt_fwd_nocache) us forwarding;" \
	"upstream dnsmasq direct $(us_per_q direct_fwd) us"
awk -v o="$overhead" 'BEGIN { exit !(o <= 20) }' || echo "NOTE: forwarding overhead (cache on) above 20%"
awk -v o="$overhead_raw" 'BEGIN { exit !(o <= 20) }' || echo "NOTE: raw forwarding overhead (--dns-cache 0) above 20%"
true
