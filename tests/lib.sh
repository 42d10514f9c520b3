# shellcheck shell=bash
# tests/lib.sh: helpers shared by the integration tests, the demo and the bench.
#
# Source it from a `set -euo pipefail` bash script. It gives:
#   - names unique to the run (ZT_ID, zt_ns NAME), a per-run temp dir (ZT_TMP)
#     and a per-run BPF pin base (ZT_PIN_BASE=/sys/fs/bpf/ztgate/test-ID);
#   - a cleanup registry run on every exit path (EXIT, INT, TERM): processes
#     killed by pid, namespaces deleted, pins removed, sanitizer reports checked;
#   - network namespaces and veth pairs created directly inside them (nothing
#     is ever created in, attached to or changed in the host's own namespace);
#   - wait_until TIMEOUT CMD...: poll a condition against a deadline;
#   - the daemon started in a namespace with nsenter --net (never ip netns exec,
#     which remounts /sys and so hides bpffs pins), and the CLI.
#
# Environment: ZTGATED / ZTGATE override the binaries (default: the sanitizer
# builds build/san/* when present, else build/*). ZT_LOG_DIR, when set (run.sh
# sets it), receives a copy of every daemon log at exit.

ZT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ZT_ID=${ZT_ID:-$$}
ZT_PIN_BASE=/sys/fs/bpf/ztgate/test-$ZT_ID
ZT_TMP=$(mktemp -d "/tmp/ztgate-test-$ZT_ID.XXXXXX")
ZT_NAMESPACES=()
ZT_CLEANUP=()
ZT_PIDS=()
ZT_SAN_PATTERN='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer|AddressSanitizer:DEADLYSIGNAL|SUMMARY: AddressSanitizer'

# Sanitizer failures are fatal (the san builds read these; normal builds ignore them).
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-exitcode=23}

zt_pick_bin() {	# zt_pick_bin NAME: the san build if present, else the normal one
	if [[ -x $ZT_ROOT/build/san/$1 ]]; then
		echo "$ZT_ROOT/build/san/$1"
	else
		echo "$ZT_ROOT/build/$1"
	fi
}
ZTGATED=${ZTGATED:-$(zt_pick_bin ztgated)}
ZTGATE=${ZTGATE:-$(zt_pick_bin ztgate)}

log() { printf '[%s] %s\n' "$(date +%T)" "$*"; }
section() { printf '\n=== %s ===\n' "$*"; }

fail() {
	printf 'FAIL: %s\n' "$*" >&2
	exit 1
}

# check DESCRIPTION CMD...: run CMD, log ok or fail with DESCRIPTION.
check() {
	local what=$1
	shift
	if "$@" >/dev/null; then
		log "ok: $what"
	else
		fail "$what"
	fi
}

zt_require() {	# zt_require TOOL...: every tool present, or fail loudly
	local t
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || fail "required tool '$t' not found (make deps)"
	done
}

zt_require_root() {
	[[ $(id -u) -eq 0 ]] || fail "needs root (network namespaces, BPF)"
}

zt_require_bins() {
	[[ -x $ZTGATED ]] || fail "daemon binary $ZTGATED missing (make all san)"
	[[ -x $ZTGATE ]] || fail "CLI binary $ZTGATE missing (make all san)"
}

# ---------------------------------------------------------------------------
# wait_until TIMEOUT_SECONDS CMD...: poll CMD (every 50 ms) until it succeeds;
# returns 1 if the deadline passes first. TIMEOUT may be fractional.
wait_until() {
	local timeout=$1
	shift
	local deadline now
	# %.0f, not %d: mawk's %d stops at 2^31-1, which capped every wait at 2.1 s.
	deadline=$(( $(date +%s%N) + $(awk -v t="$timeout" 'BEGIN { printf "%.0f", t * 1e9 }') ))
	while :; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		now=$(date +%s%N)
		if (( now >= deadline )); then
			return 1
		fi
		sleep 0.05
	done
}

# ---------------------------------------------------------------------------
# Cleanup registry: zt_defer CMD ARGS... runs at exit, last registered first.
zt_defer() {
	local q
	q=$(printf '%q ' "$@")
	ZT_CLEANUP+=("$q")
}

# A pid is alive while it exists and is not a zombie (our children stay
# zombies, and kill -0 keeps succeeding, until we wait for them).
zt_pid_alive() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
	[[ -n $st && $st != Z ]]
}
zt_pid_dead() { ! zt_pid_alive "$1"; }

# zt_kill_pid PID: TERM, wait up to 5 s, then KILL. Only pids we started.
zt_kill_pid() {
	local pid=$1
	zt_pid_alive "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || true
	if ! wait_until 5 zt_pid_dead "$pid"; then
		kill -KILL "$pid" 2>/dev/null || true
		wait_until 5 zt_pid_dead "$pid" || true
	fi
	wait "$pid" 2>/dev/null || true
}

zt_san_scan() {	# zt_san_scan FILE...: print sanitizer reports found; 1 if any
	local f found=0
	for f in "$@"; do
		[[ -f $f ]] || continue
		if grep -Eq "$ZT_SAN_PATTERN" "$f"; then
			printf 'sanitizer report in %s:\n' "$f" >&2
			grep -E -A 30 "$ZT_SAN_PATTERN" "$f" | head -n 60 >&2
			found=1
		fi
	done
	return $(( found ))
}

zt_cleanup() {
	local rc=$? i ns pid
	trap - EXIT INT TERM
	set +e
	for (( i = ${#ZT_CLEANUP[@]} - 1; i >= 0; i-- )); do
		eval "${ZT_CLEANUP[i]}" >/dev/null 2>&1
	done
	for pid in "${ZT_PIDS[@]}"; do
		zt_kill_pid "$pid"
	done
	for ns in "${ZT_NAMESPACES[@]}"; do
		[[ -e /run/netns/$ns ]] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -KILL "$pid" 2>/dev/null
		done
		ip netns del "$ns" 2>/dev/null
	done
	[[ -d $ZT_PIN_BASE ]] && rm -rf "$ZT_PIN_BASE"
	if [[ -n ${ZT_LOG_DIR:-} ]]; then
		mkdir -p "$ZT_LOG_DIR"
		for f in "$ZT_TMP"/*.err "$ZT_TMP"/*.out; do
			[[ -f $f ]] && cp "$f" "$ZT_LOG_DIR/$(basename "$0" .sh).$ZT_ID.$(basename "$f")"
		done
	fi
	if ! zt_san_scan "$ZT_TMP"/*.err; then
		echo "FAIL: sanitizer reported errors (see above)" >&2
		(( rc == 0 )) && rc=1
	fi
	# Leftovers are failures too: our namespaces and pins must be gone.
	for ns in "${ZT_NAMESPACES[@]}"; do
		if [[ -e /run/netns/$ns ]]; then
			echo "FAIL: namespace $ns left behind" >&2
			(( rc == 0 )) && rc=1
		fi
	done
	if [[ -e $ZT_PIN_BASE ]]; then
		echo "FAIL: pin dir $ZT_PIN_BASE left behind" >&2
		(( rc == 0 )) && rc=1
	fi
	if (( rc == 0 )) || [[ -z ${ZT_KEEP_TMP:-} ]]; then
		rm -rf "$ZT_TMP"
	else
		echo "logs kept in $ZT_TMP" >&2
	fi
	exit "$rc"
}
trap zt_cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------------------
# Namespaces and links.

zt_ns() { echo "zt-$ZT_ID-$1"; }	# the run-unique name of namespace NAME

# zt_netns_add NAME: create namespace zt-ID-NAME with lo up; deleted at exit.
zt_netns_add() {
	local ns
	ns=$(zt_ns "$1")
	[[ -e /run/netns/$ns ]] && fail "namespace $ns already exists"
	ip netns add "$ns" || fail "ip netns add $ns"
	ZT_NAMESPACES+=("$ns")
	ip -n "$ns" link set lo up
	# Deterministic v6: no DAD delays, no router solicitations.
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0
}

# zt_veth NS1 IF1 NS2 IF2: a veth pair created directly inside the namespaces
# (full names from zt_ns), both ends up.
zt_veth() {
	local ns1=$1 if1=$2 ns2=$3 if2=$4
	ip link add "$if1" netns "$ns1" type veth peer name "$if2" netns "$ns2" ||
		fail "creating veth $ns1/$if1 <-> $ns2/$if2"
	ip -n "$ns1" link set "$if1" up
	ip -n "$ns2" link set "$if2" up
}

# zt_addr NS IF ADDR/LEN...: add addresses (v6 without DAD).
# zt_pair A IFA B IFB: namespaces A and B (run-unique names, see zt_ns) joined by
# a veth pair IFA <-> IFB, both ends up.
zt_pair() {
	zt_netns_add "$1"
	zt_netns_add "$3"
	zt_veth "$(zt_ns "$1")" "$2" "$(zt_ns "$3")" "$4"
	wait_until 5 zt_link_up "$(zt_ns "$1")" "$2" || fail "$1/$2 not up"
}

zt_addr() {
	local ns=$1 dev=$2 a
	shift 2
	for a in "$@"; do
		if [[ $a == *:* ]]; then
			ip -n "$ns" addr add "$a" dev "$dev" nodad
		else
			ip -n "$ns" addr add "$a" dev "$dev"
		fi
	done
}

zt_link_up() {	# zt_link_up NS IF: operstate up (veth peers come up together)
	[[ $(ip -n "$1" -o link show dev "$2" 2>/dev/null) == *"state UP"* ]]
}

# zt_bg NAME NS CMD...: run CMD in namespace NS (ip netns exec) in the
# background; output in $ZT_TMP/NAME.out/.err; killed at exit. Sets ZT_BG_PID.
zt_bg() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >"$ZT_TMP/$name.out" 2>"$ZT_TMP/$name.err" </dev/null &
	ZT_BG_PID=$!
	ZT_PIDS+=("$ZT_BG_PID")
}

# zt_icmp_echo NS ADDR: one ICMP/ICMPv6 echo answered. `ping` is not in
# `make deps`; nmap's echo probe is (ARP/ND ping off so only echo counts).
zt_icmp_echo() {
	local fam=
	[[ $2 == *:* ]] && fam=-6
	ip netns exec "$1" nmap $fam -sn -n -PE --disable-arp-ping --max-retries 1 --reason "$2" 2>&1 |
		grep 'received echo-reply' >/dev/null
}

# zt_xdp_const NS IF ACTION [MODE]: attach a one-instruction XDP program
# returning ACTION (pass or drop) to IF; MODE xdpdrv (native, default) or
# xdpgeneric. Not pinned: it goes with the namespace. Needs clang.
zt_xdp_const() {
	local ns=$1 dev=$2 action=$3 mode=${4:-xdpdrv} code obj
	case $action in
	pass) code=2 ;;
	drop) code=1 ;;
	*) fail "zt_xdp_const: action '$action'" ;;
	esac
	obj=$ZT_TMP/xdp_$action.o
	if [[ ! -f $obj ]]; then
		cat >"$ZT_TMP/xdp_$action.c" <<EOF2
#define SEC(n) __attribute__((section(n), used))
SEC("xdp") int xdp_$action(void *ctx) { return $code; }
char _license[] SEC("license") = "GPL";
EOF2
		clang -O2 -target bpf -c "$ZT_TMP/xdp_$action.c" -o "$obj" || fail "building xdp_$action"
	fi
	ip -n "$ns" link set dev "$dev" "$mode" obj "$obj" sec xdp || fail "attaching xdp_$action to $ns/$dev"
}
zt_xdp_off() { ip -n "$1" link set dev "$2" xdpdrv off 2>/dev/null; ip -n "$1" link set dev "$2" xdpgeneric off 2>/dev/null; true; }

# zt_xdp_pass NS IF: a pass-through XDP program on IF (native). On veth,
# frames the peer sends with XDP_TX / XDP_REDIRECT are only accepted when this
# end runs NAPI, i.e. has an XDP program (or GRO on, which needs ethtool); a
# real NIC's link partner needs nothing of the sort.
zt_xdp_pass() { zt_xdp_const "$1" "$2" pass xdpdrv; }

# Listening sockets in a namespace (ss inside it).
# (grep without -q: an early exit would SIGPIPE the writer and, with
# pipefail, fail the pipeline.)
zt_tcp_listening() { ip netns exec "$1" ss -Hltn "sport = :$2" | grep LISTEN >/dev/null; }
zt_udp_bound() { ip netns exec "$1" ss -Hlun "sport = :$2" | grep . >/dev/null; }

# zt_bpf_net_empty NS DEV: bpftool sees no XDP, tc or tcx program on DEV.
zt_bpf_net_empty() {
	ip netns exec "$1" bpftool -j net show dev "$2" |
		jq -e '[.[] | to_entries[] | select(.key != "flow_dissector") | .value | length] | add == 0' >/dev/null
}

# zt_tcp_listeners NS PORT...: socat TCP listeners (dual stack) answering
# "hello from PORT" to each connection.
zt_tcp_listeners() {
	local ns=$1 p
	shift
	for p in "$@"; do
		zt_bg "tcp-$p" "$ns" socat "TCP6-LISTEN:$p,ipv6only=0,reuseaddr,fork" \
			"SYSTEM:echo hello from $p"
	done
	for p in "$@"; do
		wait_until 5 zt_tcp_listening "$ns" "$p" || fail "TCP listener on $p did not come up"
	done
}

# zt_udp_responders NS PORT...: UDP listeners (dual stack) replying to every
# datagram, empty ones included, so nmap -sU sees "open" rather than
# "open|filtered". socat forks a child per peer that answers and exits.
zt_udp_responders() {
	local ns=$1 p
	shift
	for p in "$@"; do
		zt_bg "udp-$p" "$ns" socat -T1 "UDP6-RECVFROM:$p,ipv6only=0,reuseaddr,fork" \
			"SYSTEM:echo pong from $p"
	done
	for p in "$@"; do
		wait_until 5 zt_udp_bound "$ns" "$p" || fail "UDP listener on $p did not come up"
	done
}

# ---------------------------------------------------------------------------
# The daemon. One at a time per script: DAEMON_NS, DAEMON_PIN, DAEMON_STATE,
# DAEMON_SOCK, DAEMON_OUT (stdout: JSON lines), DAEMON_ERR, DAEMON_PID.

DAEMON_PID=
# zt_daemon_setup NS TAG: choose per-run paths for a daemon in NS.
zt_daemon_setup() {
	DAEMON_NS=$1
	DAEMON_PIN=$ZT_PIN_BASE/$2
	DAEMON_STATE=$ZT_TMP/state-$2
	DAEMON_SOCK=$ZT_TMP/$2.sock
	DAEMON_OUT=$ZT_TMP/daemon-$2.out
	DAEMON_ERR=$ZT_TMP/daemon-$2.err
	mkdir -p "$DAEMON_STATE"
	: >"$DAEMON_OUT"
	: >"$DAEMON_ERR"
}

zt_ready_count() { grep -c '"event":"ready"' "$DAEMON_OUT" || true; }
zt_ready_more_than() { (( $(zt_ready_count) > $1 )); }

# zt_daemon_start ARGS...: `ztgated ${ZT_DAEMON_ROLE:-enforce}` in DAEMON_NS with the per-run
# paths plus ARGS; waits for its "ready" line (20 s) or fails with its stderr.
zt_daemon_start() {
	local before
	before=$(zt_ready_count)
	zt_bpffs
	nsenter --net="/run/netns/$DAEMON_NS" -- "$ZTGATED" "${ZT_DAEMON_ROLE:-enforce}" \
		--state-dir "$DAEMON_STATE" --socket "$DAEMON_SOCK" --pin-dir "$DAEMON_PIN" \
		"$@" >>"$DAEMON_OUT" 2>>"$DAEMON_ERR" </dev/null &
	DAEMON_PID=$!
	ZT_PIDS+=("$DAEMON_PID")
	if ! wait_until 20 zt_daemon_ready_or_dead "$before"; then
		fail "daemon not ready within 20 s; stderr: $(tail -n 20 "$DAEMON_ERR")"
	fi
	if ! zt_pid_alive "$DAEMON_PID"; then
		wait "$DAEMON_PID" 2>/dev/null || true
		fail "daemon exited at start; stderr: $(tail -n 20 "$DAEMON_ERR"); stdout: $(tail -n 5 "$DAEMON_OUT")"
	fi
	[[ -S $DAEMON_SOCK ]] || fail "daemon ready but no socket at $DAEMON_SOCK"
	log "daemon pid $DAEMON_PID ready in $DAEMON_NS ($*)"
}
zt_daemon_ready_or_dead() { zt_ready_more_than "$1" || ! zt_pid_alive "$DAEMON_PID"; }

# zt_daemon_stop [SIGNAL]: stop the daemon (default TERM: it exits leaving
# programs attached); fails if a TERM stop is not clean.
zt_daemon_stop() {
	local sig=${1:-TERM} rc=0
	[[ -n $DAEMON_PID ]] || return 0
	kill "-$sig" "$DAEMON_PID" 2>/dev/null || true
	wait_until 10 zt_pid_dead "$DAEMON_PID" || fail "daemon $DAEMON_PID ignored SIG$sig for 10 s"
	wait "$DAEMON_PID" 2>/dev/null || rc=$?
	if [[ $sig == TERM || $sig == INT ]] && (( rc != 0 )); then
		fail "daemon exited $rc on SIG$sig; stderr: $(tail -n 20 "$DAEMON_ERR")"
	fi
	DAEMON_PID=
}

# zt_daemon_teardown: `ztgated enforce --teardown` in the daemon's namespace.
zt_daemon_teardown() {
	nsenter --net="/run/netns/$DAEMON_NS" -- "$ZTGATED" enforce --teardown \
		--pin-dir "$DAEMON_PIN" >>"$DAEMON_OUT" 2>>"$DAEMON_ERR" </dev/null
}

# At exit: stop a daemon still running, then tear down its attachments.
zt_daemon_cleanup() {
	if [[ -n $DAEMON_PID ]] && zt_pid_alive "$DAEMON_PID"; then
		kill -TERM "$DAEMON_PID" 2>/dev/null
		wait_until 10 zt_pid_dead "$DAEMON_PID" || kill -KILL "$DAEMON_PID"
		wait "$DAEMON_PID" 2>/dev/null
	fi
	if [[ -n ${DAEMON_NS:-} && -e /run/netns/$DAEMON_NS && -d ${DAEMON_PIN:-/nonexistent} ]]; then
		zt_daemon_teardown
	fi
	return 0
}
zt_defer zt_daemon_cleanup

# ztc ARGS...: the CLI against the current daemon's socket.
ztc() { "$ZTGATE" --socket "$DAEMON_SOCK" "$@"; }

# The events a daemon printed, filtered: zt_daemon_events TYPE -> JSON lines.
zt_daemon_events() { grep "\"event\":\"$1\"" "$DAEMON_OUT" || true; }

# ---------------------------------------------------------------------------
# Make sure bpffs is mounted at /sys/fs/bpf (a fresh machine may not have it;
# the daemon would mount it too). Mounting it is not a network change.
zt_bpffs() {
	if [[ $(stat -f -c %T /sys/fs/bpf 2>/dev/null) != bpf_fs ]]; then
		mount -t bpf bpf /sys/fs/bpf || fail "cannot mount bpffs at /sys/fs/bpf"
	fi
}
