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
# run.sh (ZT_RUN_IDS) names the test behind a leftover pin dir from this line.
if [[ -n ${ZT_RUN_IDS:-} ]]; then
	echo "$ZT_ID $(basename "$0" .test.sh)" >>"$ZT_RUN_IDS"
fi
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

# zt_xdp_obj ACTION: the object of a one-instruction XDP program returning
# ACTION (pass or drop), built once per run with clang; prints its path.
zt_xdp_obj() {
	local code obj=$ZT_TMP/xdp_$1.o
	case $1 in
	pass) code=2 ;;
	drop) code=1 ;;
	*) fail "zt_xdp_obj: action '$1'" ;;
	esac
	if [[ ! -f $obj ]]; then
		cat >"$ZT_TMP/xdp_$1.c" <<EOF2
#define SEC(n) __attribute__((section(n), used))
SEC("xdp") int xdp_$1(void *ctx) { return $code; }
char _license[] SEC("license") = "GPL";
EOF2
		clang -O2 -target bpf -c "$ZT_TMP/xdp_$1.c" -o "$obj" || fail "building xdp_$1"
	fi
	echo "$obj"
}

# zt_xdp_const NS IF ACTION [MODE]: attach zt_xdp_obj ACTION to IF; MODE
# xdpdrv (native, default) or xdpgeneric. Not pinned: it goes with the
# namespace.
zt_xdp_const() {
	local ns=$1 dev=$2 action=$3 mode=${4:-xdpdrv} obj
	obj=$(zt_xdp_obj "$action") || exit 1
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

# ---------------------------------------------------------------------------
# Several daemons at once (the tunnel: a connector and one or more clients).
# Each is known by a TAG; its paths follow from the tag (zt_daemon_setup):
# $ZT_TMP/TAG.sock, $ZT_TMP/daemon-TAG.out (stdout: JSON lines) and .err,
# $ZT_PIN_BASE/TAG, $ZT_TMP/state-TAG. The DAEMON_* globals above always
# describe the selected one, so zt_daemon_stop, ztc, zt_daemon_events work on
# it unchanged. All of them are stopped and torn down at exit.

declare -A ZT_DAEMON_TAGS=()	# tag -> "namespace role pid" (pid "-" once stopped)
DAEMON_TAG=

zt_daemon_remember() {	# record the selected daemon's state under its tag
	[[ -n ${DAEMON_TAG:-} ]] || return 0
	ZT_DAEMON_TAGS[$DAEMON_TAG]="$DAEMON_NS ${ZT_DAEMON_ROLE:-enforce} ${DAEMON_PID:--}"
}

# zt_daemon_select TAG: make TAG's daemon the selected one (DAEMON_*).
zt_daemon_select() {
	local tag=$1 ns role pid
	zt_daemon_remember
	[[ -n ${ZT_DAEMON_TAGS[$tag]:-} ]] || fail "no daemon tagged '$tag'"
	read -r ns role pid <<<"${ZT_DAEMON_TAGS[$tag]}"
	DAEMON_TAG=$tag
	DAEMON_NS=$ns
	ZT_DAEMON_ROLE=$role
	DAEMON_PID=${pid#-}
	DAEMON_PIN=$ZT_PIN_BASE/$tag
	DAEMON_STATE=$ZT_TMP/state-$tag
	DAEMON_SOCK=$ZT_TMP/$tag.sock
	DAEMON_OUT=$ZT_TMP/daemon-$tag.out
	DAEMON_ERR=$ZT_TMP/daemon-$tag.err
}

# zt_daemon_as TAG NS ROLE ARGS...: start `ztgated ROLE ARGS...` in NS as
# TAG (waits for its ready line, as zt_daemon_start) and select it. A tag
# already used restarts with the same state dir, pins and (appended) logs.
zt_daemon_as() {
	local tag=$1 ns=$2 role=$3
	shift 3
	zt_daemon_remember
	DAEMON_TAG=$tag
	ZT_DAEMON_ROLE=$role
	DAEMON_PID=
	if [[ -n ${ZT_DAEMON_TAGS[$tag]:-} ]]; then
		zt_daemon_select "$tag"
		DAEMON_NS=$ns
		ZT_DAEMON_ROLE=$role
		DAEMON_PID=
	else
		zt_daemon_setup "$ns" "$tag"
	fi
	zt_daemon_remember	# known to the cleanup before it can fail to start
	zt_daemon_start "$@"
	zt_daemon_remember
}

# zt_daemon_stop_tag TAG [SIGNAL]: zt_daemon_stop for TAG's daemon.
zt_daemon_stop_tag() {
	zt_daemon_select "$1"
	zt_daemon_stop "${2:-TERM}"
	zt_daemon_remember
}

zt_cli() { local tag=$1; shift; "$ZTGATE" --socket "$ZT_TMP/$tag.sock" "$@"; }	# zt_cli TAG ARGS...
zt_daemon_out() { echo "$ZT_TMP/daemon-$1.out"; }	# zt_daemon_out TAG: its stdout (JSON lines)

zt_daemons_cleanup() {	# at exit, before zt_daemon_cleanup: every tagged daemon
	local tag
	zt_daemon_remember
	for tag in "${!ZT_DAEMON_TAGS[@]}"; do
		zt_daemon_select "$tag"
		zt_daemon_cleanup
	done
	DAEMON_PID=
	return 0
}
zt_defer zt_daemons_cleanup

# ---------------------------------------------------------------------------
# The tunnel's topology (issue 4): four namespaces, one link each way.
#
#   cli   c0 198.18.0.2/24, default via 198.18.0.1     the device (ztgated client)
#   inet  i0 198.18.0.1/24, i1 198.19.0.1/24           "the internet": a router
#                                                      between its links, and a
#                                                      public resolver on 198.18.0.1
#   conn  u0 198.19.0.2/24, default via 198.19.0.1     the connector; forwarding on
#         p0 10.10.0.1/24                              (a connector is a router)
#   priv  n0 10.10.0.5/24 (nas), 10.10.0.7/24 (vault)  the resource host; no route
#                                                      beyond its subnet
#
# Without --routed nobody outside conn can reach 10.10.0.0/24: inet has no
# route to it and priv has none back (zt_tunnel_assert_isolated checks).
# --routed adds both, the bare-path baseline of bench/tunnel.sh.
# Sets ZT_NS_CLI ZT_NS_INET ZT_NS_CONN ZT_NS_PRIV (full namespace names).
ZT_TUN_CLI_IP=198.18.0.2
ZT_TUN_GW_IP=198.18.0.1	# inet's address on the client side; also the public resolver
ZT_TUN_CONN_IP=198.19.0.2	# the connector's public address (its --listen)
# shellcheck disable=SC2034 # used by the scripts that source this
ZT_TUN_CONN_PORT=51820
ZT_TUN_NAS_IP=10.10.0.5	# nas.home.int, and the private DNS server
ZT_TUN_VAULT_IP=10.10.0.7	# a second resource on the same host (an IP resource)
ZT_TUN_PAGE="ztgate e2e page $ZT_ID"	# what http://nas.home.int/ serves

zt_tunnel_topology() {
	local routed=0
	[[ ${1:-} == --routed ]] && routed=1
	zt_netns_add cli
	zt_netns_add inet
	zt_netns_add conn
	zt_netns_add priv
	ZT_NS_CLI=$(zt_ns cli)
	ZT_NS_INET=$(zt_ns inet)
	ZT_NS_CONN=$(zt_ns conn)
	ZT_NS_PRIV=$(zt_ns priv)
	zt_veth "$ZT_NS_CLI" c0 "$ZT_NS_INET" i0
	zt_veth "$ZT_NS_INET" i1 "$ZT_NS_CONN" u0
	zt_veth "$ZT_NS_CONN" p0 "$ZT_NS_PRIV" n0
	zt_addr "$ZT_NS_CLI" c0 $ZT_TUN_CLI_IP/24
	zt_addr "$ZT_NS_INET" i0 $ZT_TUN_GW_IP/24
	zt_addr "$ZT_NS_INET" i1 198.19.0.1/24
	zt_addr "$ZT_NS_CONN" u0 $ZT_TUN_CONN_IP/24
	zt_addr "$ZT_NS_CONN" p0 10.10.0.1/24
	zt_addr "$ZT_NS_PRIV" n0 $ZT_TUN_NAS_IP/24 $ZT_TUN_VAULT_IP/24
	wait_until 5 zt_link_up "$ZT_NS_CLI" c0 || fail "cli/c0 not up"
	wait_until 5 zt_link_up "$ZT_NS_CONN" u0 || fail "conn/u0 not up"
	wait_until 5 zt_link_up "$ZT_NS_PRIV" n0 || fail "priv/n0 not up"
	ip -n "$ZT_NS_CLI" route add default via $ZT_TUN_GW_IP
	ip -n "$ZT_NS_CONN" route add default via 198.19.0.1
	ip netns exec "$ZT_NS_INET" sysctl -qw net.ipv4.ip_forward=1
	ip netns exec "$ZT_NS_CONN" sysctl -qw net.ipv4.ip_forward=1
	if (( routed )); then
		ip -n "$ZT_NS_INET" route add 10.10.0.0/24 via $ZT_TUN_CONN_IP
		ip -n "$ZT_NS_PRIV" route add 198.18.0.0/15 via 10.10.0.1
	fi
	log "tunnel topology: cli $ZT_TUN_CLI_IP -> inet -> conn $ZT_TUN_CONN_IP | 10.10.0.1 -> priv nas $ZT_TUN_NAS_IP$( ((routed)) && echo ' (routed bare path)')"
}

# zt_tunnel_add_client NAME N: another client namespace (zt_ns NAME) on its
# own link to inet: c0 198.18.N.2/24, inet iN 198.18.N.1/24 (N in 1..99).
# Prints nothing; its address is 198.18.N.2.
zt_tunnel_add_client() {
	local name=$1 n=$2 ns
	zt_netns_add "$name"
	ns=$(zt_ns "$name")
	zt_veth "$ns" c0 "$ZT_NS_INET" "i$((n + 1))"
	zt_addr "$ns" c0 "198.18.$n.2/24"
	zt_addr "$ZT_NS_INET" "i$((n + 1))" "198.18.$n.1/24"
	wait_until 5 zt_link_up "$ns" c0 || fail "$name/c0 not up"
	ip -n "$ns" route add default via "198.18.$n.1"
}

# zt_tunnel_client_resolver NS: programs run with `ip netns exec NS` resolve
# through the client's DNS server (100.95.0.251).
zt_tunnel_client_resolver() {
	mkdir -p "/etc/netns/$1"
	zt_defer rm -rf "/etc/netns/$1"
	echo "nameserver ${2:-100.95.0.251}" >"/etc/netns/$1/resolv.conf"
}

# zt_tunnel_private_dns: the private network's DNS on the resource host
# ($ZT_TUN_NAS_IP:53), the only server that knows nas.home.int (-> nas) and
# vault.home.int (-> vault); every other name under home.int is NXDOMAIN.
zt_tunnel_private_dns() {
	zt_bg dns-priv "$ZT_NS_PRIV" dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
		--user=root --pid-file= --listen-address=$ZT_TUN_NAS_IP --bind-interfaces \
		--local=/home.int/ --address=/nas.home.int/$ZT_TUN_NAS_IP \
		--address=/vault.home.int/$ZT_TUN_VAULT_IP --local-ttl=30
	wait_until 5 zt_udp_bound "$ZT_NS_PRIV" 53 || fail "private dnsmasq did not come up: $(cat "$ZT_TMP/dns-priv.err")"
}

# zt_tunnel_services: everything the resource host and the internet run, each
# waited for:
#   priv: HTTP on 80 (python3 http.server serving $ZT_TUN_PAGE),
#         8080 an ncat echo that also appends what it gets to $ZT_TMP/tcp8080.log,
#         UDP 7 an echo that appends every datagram to $ZT_TMP/udp7.log,
#         banners on 22 and 443 (listening, so a denial is what hides them),
#         nothing on 9000; the private DNS (zt_tunnel_private_dns).
#   inet: a public resolver on $ZT_TUN_GW_IP that answers NXDOMAIN for home.int.
zt_tunnel_services() {
	local p
	mkdir -p "$ZT_TMP/www"
	printf '%s\n' "$ZT_TUN_PAGE" >"$ZT_TMP/www/index.html"
	# 3 MB of random bytes: full-size segments both ways through the tunnel's MTU.
	head -c 3000000 /dev/urandom >"$ZT_TMP/www/big.bin"
	: >"$ZT_TMP/tcp8080.log"
	: >"$ZT_TMP/udp7.log"
	zt_bg nas-http-80 "$ZT_NS_PRIV" python3 -m http.server 80 --bind 0.0.0.0 --directory "$ZT_TMP/www"
	zt_bg nas-ncat-8080 "$ZT_NS_PRIV" ncat -4 -l -k 8080 --sh-exec "tee -a $ZT_TMP/tcp8080.log"
	zt_bg nas-udp-7 "$ZT_NS_PRIV" socat -T1 UDP4-RECVFROM:7,reuseaddr,fork SYSTEM:"tee -a $ZT_TMP/udp7.log"
	zt_bg nas-banner-22 "$ZT_NS_PRIV" socat TCP4-LISTEN:22,reuseaddr,fork "SYSTEM:echo SSH-2.0-OpenSSH_9.2"
	zt_bg nas-banner-443 "$ZT_NS_PRIV" socat TCP4-LISTEN:443,reuseaddr,fork "SYSTEM:echo tls-ish"
	for p in 22 80 443 8080; do
		wait_until 10 zt_tcp_listening "$ZT_NS_PRIV" "$p" ||
			fail "resource host: nothing listening on tcp $p: $(cat "$ZT_TMP"/*-"$p".err)"
	done
	wait_until 5 zt_udp_bound "$ZT_NS_PRIV" 7 || fail "resource host: UDP echo on 7 did not come up"
	zt_tunnel_private_dns
	zt_bg dns-public "$ZT_NS_INET" dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
		--user=root --pid-file= --listen-address=$ZT_TUN_GW_IP --bind-interfaces \
		--local=/home.int/ --address=/www.example.test/198.18.7.7
	wait_until 5 zt_udp_bound "$ZT_NS_INET" 53 || fail "public dnsmasq did not come up: $(cat "$ZT_TMP/dns-public.err")"
	log "resource host: http 80, ncat echo 8080, udp echo 7, banners 22 443, dns; public dns on $ZT_TUN_GW_IP"
}

# zt_tunnel_assert_isolated: the private network answers inside (from conn)
# but not from the client or the internet; the public resolver does not know
# nas.home.int, the private one does.
zt_tunnel_assert_isolated() {
	local got
	got=$(ip netns exec "$ZT_NS_CONN" curl -sS --max-time 5 "http://$ZT_TUN_NAS_IP/") ||
		fail "control: the connector cannot fetch http://$ZT_TUN_NAS_IP/"
	[[ $got == "$ZT_TUN_PAGE" ]] || fail "control: http://$ZT_TUN_NAS_IP/ served '$got'"
	if ip netns exec "$ZT_NS_CLI" curl -sS --max-time 3 "http://$ZT_TUN_NAS_IP/" >/dev/null 2>&1; then
		fail "the private network is reachable from the client without the tunnel"
	fi
	if ip netns exec "$ZT_NS_INET" curl -sS --max-time 3 "http://$ZT_TUN_NAS_IP/" >/dev/null 2>&1; then
		fail "the private network is reachable from the internet namespace"
	fi
	got=$(ip netns exec "$ZT_NS_CONN" dig +short +time=2 +tries=1 @$ZT_TUN_NAS_IP nas.home.int A)
	[[ $got == "$ZT_TUN_NAS_IP" ]] || fail "private DNS: nas.home.int -> '$got'"
	got=$(ip netns exec "$ZT_NS_CLI" dig +time=2 +tries=1 @$ZT_TUN_GW_IP nas.home.int A)
	grep -q 'status: NXDOMAIN' <<<"$got" || fail "the public resolver should not know nas.home.int: $got"
	log "ok: private network reachable only from the connector; nas.home.int known only to the private DNS"
}

# zt_tunnel_why_unavailable: prints why this build cannot run the tunnel
# (connector role, client --address/--key, ztgate keygen) and returns 0; returns
# 1, printing nothing, when every piece is there.
zt_tunnel_why_unavailable() {
	local out pub
	if ! out=$("$ZTGATED" connector --help 2>&1); then
		echo "$ZTGATED has no 'connector' role (said: $(head -n 1 <<<"$out"))"
		return 0
	fi
	out=$("$ZTGATED" client --help 2>&1 || true)
	if ! grep -q -- '--address' <<<"$out" || ! grep -q -- '--key' <<<"$out"; then
		echo "'$ZTGATED client' has no --address/--key (the tunnel engine is not in this build)"
		return 0
	fi
	if ! pub=$("$ZTGATE" keygen --out "$ZT_TMP/probe.key" 2>&1) || ! zt_is_pubkey "$pub"; then
		echo "'$ZTGATE keygen --out FILE' failed or printed no base64 key (said: $(head -n 1 <<<"$pub"))"
		return 0
	fi
	rm -f "$ZT_TMP/probe.key"
	return 1
}
zt_is_pubkey() { [[ $1 =~ ^[A-Za-z0-9+/]{43}=$ ]]; }	# base64 of 32 bytes

# zt_keygen FILE: a new key pair; prints the public key (fails the run otherwise).
zt_keygen() {
	local pub
	pub=$("$ZTGATE" keygen --out "$1") || fail "ztgate keygen --out $1 failed"
	zt_is_pubkey "$pub" || fail "ztgate keygen printed '$pub', not a base64 public key"
	[[ $(stat -c %a "$1") == 600 ]] || fail "key file $1 has mode $(stat -c %a "$1"), want 600"
	echo "$pub"
}

# zt_nmap_states NS TARGET PORTS [NMAP-ARGS...]: a TCP SYN scan; prints
# "PORT:STATE" per port, sorted by port.
zt_nmap_states() {
	local ns=$1 target=$2 ports=$3
	shift 3
	ip netns exec "$ns" nmap -Pn -n -sS --max-retries 1 -T4 -p "$ports" "$@" -oG - "$target" |
		sed -n 's/.*Ports: //p' | tr ',' '\n' |
		awk -F/ 'NF > 2 { gsub(/ /, "", $1); print $1 ":" $2 }' | sort -n
}

zt_oneline() { tr '\n' ' ' | sed 's/ $//'; }	# stdin's lines joined by spaces

# zt_expect_states WHAT WANT GOT: WANT and GOT are "PORT:STATE" lists
# (whitespace-separated); fail with both unless they are the same set.
zt_expect_states() {
	local a b
	a=$(tr -s ' \n' '\n' <<<"$2" | sed '/^$/d' | sort -n)
	b=$(tr -s ' \n' '\n' <<<"$3" | sed '/^$/d' | sort -n)
	[[ $a == "$b" ]] || fail "$1: want [$(zt_oneline <<<"$a")], got [$(zt_oneline <<<"$b")]"
	log "ok: $1: $(zt_oneline <<<"$b")"
}

# zt_capture_start NAME NS IF FILTER: tcpdump -w $ZT_TMP/NAME.pcap on IF,
# packet-buffered, until zt_capture_stop NAME; returns once it is capturing.
declare -A ZT_CAPTURE_PIDS=()
zt_capture_start() {
	local name=$1 ns=$2 dev=$3 filter=$4
	# --immediate-mode: packets reach the file as they come, not when a ring block
	# times out, so a capture stopped right after the traffic holds all of it.
	# It also makes libpcap use a ring of one snaplen-sized frame per packet:
	# with the defaults (262144-byte snaplen, 2 MiB buffer) only 8 frames, and a
	# burst of 30 datagrams lost some ("dropped by kernel"). 64 KiB frames in
	# 16 MiB: about 250 packets in flight.
	zt_bg "tcpdump-$name" "$ns" tcpdump -Z root -n -U --immediate-mode -s 65535 -B 16384 \
		-i "$dev" -w "$ZT_TMP/$name.pcap" "$filter"
	ZT_CAPTURE_PIDS[$name]=$ZT_BG_PID
	wait_until 5 grep -q 'listening on' "$ZT_TMP/tcpdump-$name.err" ||
		fail "tcpdump on $ns/$dev did not start: $(cat "$ZT_TMP/tcpdump-$name.err")"
}
zt_capture_stop() { zt_kill_pid "${ZT_CAPTURE_PIDS[$1]}"; }
# zt_capture_count NAME FILTER: packets in NAME's capture matching FILTER
# (while it is still being written, too).
# (a file still being written ends in a partial record: tcpdump says so and
# fails after printing the whole ones, which are what counts.)
zt_capture_count() { { tcpdump -n -r "$ZT_TMP/$1.pcap" "$2" 2>/dev/null || true; } | wc -l; }
zt_capture_at_least() { (( $(zt_capture_count "$1" "$2") >= $3 )); }

# zt_pcap_replay NS PCAP [FIRST-BYTE]: tests/pcap_replay.py inside NS; prints
# how many datagrams it sent again.
zt_pcap_replay() { ip netns exec "$1" python3 "$ZT_ROOT/tests/pcap_replay.py" "${@:2}"; }

# ---------------------------------------------------------------------------
# NAT traversal's topology (issue 5, docs/RELAY.md): two home routers doing
# nftables masquerade in their own namespaces, no port forwarding anywhere.
#
#   relay  r0 198.18.0.10/24 (relay 1), 198.18.0.11/24 (relay 2),
#             default via 198.18.0.1                   the relay host
#   inet   i0 198.18.0.1/24 (also the public resolver), ia 198.18.1.1/24,
#          ib 198.18.2.1/24, ihN for zt_nat_add_host   "the internet": routes
#                                                      between its links only
#   rta    wan 198.18.1.2/24 (default via .1), lan 192.168.1.1/24   router A
#   cli    c0 192.168.1.2/24, default via 192.168.1.1  the device (client)
#   rtb    wan 198.18.2.2/24 (default via .1), lan 192.168.2.1/24   router B
#   conn   u0 192.168.2.2/24, default via 192.168.2.1  the connector; forwarding
#          p0 10.10.0.1/24                             on (a connector routes)
#   priv   n0 10.10.0.5/24 (nas), 10.10.0.7/24 (vault) the resource host; no route
#                                                      beyond its subnet
# A router's `lan` is a bridge (port lan0 to its host; zt_nat_add_lan_host
# adds more hosts on the same subnet: lanN), so that two hosts can sit behind
# one NAT (hairpinning). Bridged traffic skips the router's nftables
# (bridge-nf-call-iptables 0 in its namespace), as on any home router.
#
# Each router: one table `ip zt_nat` in ITS namespace (nothing on the host),
# the firewall of any home router: masquerade out of wan; forward lan -> wan,
# and wan -> lan only for established/related flows; the router itself
# accepts nothing new from wan (so an unsolicited datagram leaves no
# conntrack entry behind to steal a mapping, and gets no ICMP back).
# zt_nat_set_input_firewall R off (or zt_nat_topology --no-input-firewall)
# removes that input filter: a lab router, a cloud VM doing SNAT, a k8s node
# SNATing pods. Then a datagram from outside to the router's own address is
# delivered to the router itself, and conntrack confirms an entry for it
# (issue 10): a mapping can be stolen that way.
# Modes (zt_nat_set_mode; --client-nat for A, --conn-nat for B):
#   eim             `masquerade`: Linux keeps the source port when free, so one
#                   inside endpoint has one public mapping for every destination
#                   (endpoint-independent mapping; filtering stays per
#                   destination address and port, as conntrack does)
#   random          `masquerade fully-random`: a new random port per destination
#                   (a "hard" NAT: hole punching cannot work through it)
#   udp-blocked     eim, and every UDP datagram through the router dropped
#                   (TCP only: the relay over TCP is the way out)
#   udp-relay-only  eim, and UDP dropped unless to or from relay 1
#                   ($ZT_NAT_RELAY_IP): no direct path, the relay over UDP works
# Namespaces zt_ns nat-relay, nat-inet, nat-rta, nat-cli, nat-rtb, nat-conn,
# nat-priv; sets ZT_NS_RELAY ZT_NS_INET ZT_NS_RTA ZT_NS_CLI ZT_NS_RTB ZT_NS_CONN
# ZT_NS_PRIV (ZT_NS_CLI/CONN/PRIV/INET as zt_tunnel_topology does, so zt_tunnel_services,
# zt_tunnel_private_dns and zt_tunnel_assert_isolated work unchanged).
ZT_NAT_RELAY_IP=198.18.0.10	# relay 1: UDP $ZT_NAT_RELAY_PORT, TCP $ZT_NAT_RELAY_TCP_PORT
ZT_NAT_RELAY2_IP=198.18.0.11	# relay 2 (a second relay process: netcheck's hard-NAT test)
ZT_NAT_RELAY_PORT=3478
ZT_NAT_RELAY_TCP_PORT=443
ZT_NAT_A_WAN=198.18.1.2		# router A's outside address: the client's public address
ZT_NAT_B_WAN=198.18.2.2		# router B's outside address: the connector's public address
ZT_NAT_CLI_IP=192.168.1.2
ZT_NAT_CONN_IP=192.168.2.2
# shellcheck disable=SC2034 # used by the scripts that source this
ZT_NAT_CONN_PORT=51820		# the connector's --listen port (on $ZT_NAT_CONN_IP)

zt_nat_topology() {
	local client_nat=eim conn_nat=eim input_fw=on n
	while (( $# )); do
		case $1 in
		--client-nat) client_nat=$2; shift 2 ;;
		--conn-nat) conn_nat=$2; shift 2 ;;
		--no-input-firewall) input_fw=off; shift ;;
		*) fail "zt_nat_topology: unknown argument '$1'" ;;
		esac
	done
	# nat-*: other names than zt_tunnel_topology's, so both fit in one run (the demo).
	for n in relay inet rta cli rtb conn priv; do zt_netns_add "nat-$n"; done
	ZT_NS_RELAY=$(zt_ns nat-relay)
	ZT_NS_INET=$(zt_ns nat-inet)
	ZT_NS_RTA=$(zt_ns nat-rta)
	ZT_NS_CLI=$(zt_ns nat-cli)
	ZT_NS_RTB=$(zt_ns nat-rtb)
	ZT_NS_CONN=$(zt_ns nat-conn)
	ZT_NS_PRIV=$(zt_ns nat-priv)
	zt_veth "$ZT_NS_RELAY" r0 "$ZT_NS_INET" i0
	zt_veth "$ZT_NS_RTA" wan "$ZT_NS_INET" ia
	zt_veth "$ZT_NS_RTB" wan "$ZT_NS_INET" ib
	zt_nat_lan_bridge "$ZT_NS_RTA"
	zt_nat_lan_bridge "$ZT_NS_RTB"
	zt_veth "$ZT_NS_CLI" c0 "$ZT_NS_RTA" lan0
	zt_veth "$ZT_NS_CONN" u0 "$ZT_NS_RTB" lan0
	ip -n "$ZT_NS_RTA" link set lan0 master lan
	ip -n "$ZT_NS_RTB" link set lan0 master lan
	zt_veth "$ZT_NS_CONN" p0 "$ZT_NS_PRIV" n0
	zt_addr "$ZT_NS_RELAY" r0 $ZT_NAT_RELAY_IP/24 $ZT_NAT_RELAY2_IP/24
	zt_addr "$ZT_NS_INET" i0 $ZT_TUN_GW_IP/24
	zt_addr "$ZT_NS_INET" ia 198.18.1.1/24
	zt_addr "$ZT_NS_INET" ib 198.18.2.1/24
	zt_addr "$ZT_NS_RTA" wan $ZT_NAT_A_WAN/24
	zt_addr "$ZT_NS_RTA" lan 192.168.1.1/24
	zt_addr "$ZT_NS_RTB" wan $ZT_NAT_B_WAN/24
	zt_addr "$ZT_NS_RTB" lan 192.168.2.1/24
	zt_addr "$ZT_NS_CLI" c0 $ZT_NAT_CLI_IP/24
	zt_addr "$ZT_NS_CONN" u0 $ZT_NAT_CONN_IP/24
	zt_addr "$ZT_NS_CONN" p0 10.10.0.1/24
	zt_addr "$ZT_NS_PRIV" n0 $ZT_TUN_NAS_IP/24 $ZT_TUN_VAULT_IP/24
	wait_until 5 zt_link_up "$ZT_NS_RELAY" r0 || fail "relay/r0 not up"
	wait_until 5 zt_link_up "$ZT_NS_RTA" wan || fail "rta/wan not up"
	wait_until 5 zt_link_up "$ZT_NS_RTB" wan || fail "rtb/wan not up"
	wait_until 5 zt_link_up "$ZT_NS_CLI" c0 || fail "cli/c0 not up"
	wait_until 5 zt_link_up "$ZT_NS_CONN" u0 || fail "conn/u0 not up"
	wait_until 5 zt_link_up "$ZT_NS_PRIV" n0 || fail "priv/n0 not up"
	ip -n "$ZT_NS_RELAY" route add default via $ZT_TUN_GW_IP
	ip -n "$ZT_NS_RTA" route add default via 198.18.1.1
	ip -n "$ZT_NS_RTB" route add default via 198.18.2.1
	ip -n "$ZT_NS_CLI" route add default via 192.168.1.1
	ip -n "$ZT_NS_CONN" route add default via 192.168.2.1
	for n in "$ZT_NS_INET" "$ZT_NS_RTA" "$ZT_NS_RTB" "$ZT_NS_CONN"; do
		ip netns exec "$n" sysctl -qw net.ipv4.ip_forward=1
	done
	zt_nat_router_init a
	zt_nat_router_init b
	zt_nat_set_input_firewall a $input_fw
	zt_nat_set_input_firewall b $input_fw
	zt_nat_set_mode a "$client_nat"
	zt_nat_set_mode b "$conn_nat"
	log "nat topology: cli $ZT_NAT_CLI_IP -> router A $ZT_NAT_A_WAN ($client_nat) -> inet (relays $ZT_NAT_RELAY_IP, $ZT_NAT_RELAY2_IP) <- router B $ZT_NAT_B_WAN ($conn_nat) <- conn $ZT_NAT_CONN_IP | 10.10.0.1 -> nas $ZT_TUN_NAS_IP; input firewall $input_fw"
}

# zt_nat_lan_bridge NS: the router's `lan`, a bridge whose traffic between
# ports is not filtered by the router's nftables (see zt_nat_topology).
zt_nat_lan_bridge() {
	ip -n "$1" link add lan type bridge || fail "bridge lan in $1"
	ip -n "$1" link set lan up
	# br_netfilter (when the host has it) would pass bridged frames through
	# the router's ip hooks; per namespace, so this is the router's own.
	if ip netns exec "$1" test -e /proc/sys/net/bridge/bridge-nf-call-iptables; then
		ip netns exec "$1" sysctl -qw net.bridge.bridge-nf-call-iptables=0
	fi
}

# zt_nat_add_lan_host NAME a|b N: another host behind router a|b, on the
# same subnet as its first one: namespace zt_ns NAME, c0 192.168.{1|2}.N/24
# (N in 3..99) on the router's bridge (port lanN), default via the router.
# Its address is 192.168.{1|2}.N.
zt_nat_add_lan_host() {
	local name=$1 router=$2 n=$3 ns rns net
	rns=$(zt_nat_router_ns "$router")
	net=192.168.$([[ $router == a ]] && echo 1 || echo 2)
	zt_netns_add "$name"
	ns=$(zt_ns "$name")
	zt_veth "$ns" c0 "$rns" "lan$n"
	ip -n "$rns" link set "lan$n" master lan
	zt_addr "$ns" c0 "$net.$n/24"
	wait_until 5 zt_link_up "$ns" c0 || fail "$name/c0 not up"
	ip -n "$ns" route add default via "$net.1"
}

zt_nat_router_ns() {	# zt_nat_router_ns a|b: the router's namespace
	case $1 in
	a) echo "$ZT_NS_RTA" ;;
	b) echo "$ZT_NS_RTB" ;;
	*) fail "router '$1': want a or b" ;;
	esac
}

# zt_nat_router_init a|b: the router's table (see zt_nat_topology); the mode
# fills chains `wan_nat` and `udp_policy`.
zt_nat_router_init() {
	local ns
	ns=$(zt_nat_router_ns "$1")
	ip netns exec "$ns" nft -f - <<NFT || fail "nft ruleset on router $1"
table ip zt_nat {
	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		jump hairpin_dnat
	}
	chain hairpin_dnat {
	}
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		oifname "wan" jump wan_nat
		iifname "lan" oifname "lan" ct status dnat masquerade
	}
	chain wan_nat {
	}
	chain forward {
		type filter hook forward priority filter; policy drop;
		jump udp_policy
		ct state established,related accept
		iifname "lan" oifname "wan" accept
		iifname "lan" oifname "lan" ct status dnat accept
	}
	chain udp_policy {
	}
	chain input {
		type filter hook input priority filter; policy accept;
		jump input_policy
	}
	chain input_policy {
	}
}
NFT
}

# zt_nat_set_input_firewall a|b on|off: on (the default): the router itself
# accepts from wan only established/related traffic; off: everything (no
# input filter at all). Flushes the router's conntrack table.
zt_nat_set_input_firewall() {
	local router=$1 ns rules=
	ns=$(zt_nat_router_ns "$router")
	case $2 in
	on) rules='add rule ip zt_nat input_policy iifname "wan" ct state established,related accept
add rule ip zt_nat input_policy iifname "wan" drop' ;;
	off) ;;
	*) fail "zt_nat_set_input_firewall: on or off, not '$2'" ;;
	esac
	ip netns exec "$ns" nft -f - <<NFT || fail "nft: router $router input firewall $2"
flush chain ip zt_nat input_policy
$rules
NFT
	zt_nat_flush "$router"
}

# zt_nat_set_hairpin a|b off | PORT HOST: NAT loopback for hosts behind the
# router: a UDP datagram from its LAN to its public address, port PORT, goes
# to HOST:PORT (masqueraded, so HOST answers through the router). Only from
# the LAN: nothing is forwarded from the internet. Flushes conntrack.
zt_nat_set_hairpin() {
	local router=$1 ns wan rule=
	ns=$(zt_nat_router_ns "$router")
	wan=$([[ $router == a ]] && echo $ZT_NAT_A_WAN || echo $ZT_NAT_B_WAN)
	[[ $2 == off ]] || rule="add rule ip zt_nat hairpin_dnat iifname \"lan\" ip daddr $wan udp dport $2 dnat to $3"
	ip netns exec "$ns" nft -f - <<NFT || fail "nft: router $router hairpin $*"
flush chain ip zt_nat hairpin_dnat
$rule
NFT
	zt_nat_flush "$router"
}

# zt_nat_set_mode a|b MODE: switch the router to MODE (eim, random,
# udp-blocked, udp-relay-only; see zt_nat_topology) and flush its conntrack
# table, so that the new mode applies to every flow from now on.
zt_nat_set_mode() {
	local router=$1 mode=$2 ns snat udp=
	ns=$(zt_nat_router_ns "$router")
	case $mode in
	eim) snat="masquerade" ;;
	random) snat="masquerade fully-random" ;;
	udp-blocked) snat="masquerade"; udp="meta l4proto udp drop" ;;
	udp-relay-only)
		snat="masquerade"
		udp="meta l4proto udp ip daddr != $ZT_NAT_RELAY_IP ip saddr != $ZT_NAT_RELAY_IP drop" ;;
	*) fail "zt_nat_set_mode: unknown mode '$mode'" ;;
	esac
	ip netns exec "$ns" nft -f - <<NFT || fail "nft: router $router mode $mode"
flush chain ip zt_nat wan_nat
flush chain ip zt_nat udp_policy
add rule ip zt_nat wan_nat $snat
${udp:+add rule ip zt_nat udp_policy $udp}
NFT
	zt_nat_flush "$router"
}

# zt_nat_flush a|b: conntrack -F on the router (every NAT mapping forgotten).
zt_nat_flush() {
	local ns
	ns=$(zt_nat_router_ns "$1")
	ip netns exec "$ns" conntrack -F >/dev/null 2>&1 || fail "conntrack -F on router $1"
}
# zt_nat_conntrack_count a|b: entries in the router's conntrack table.
zt_nat_conntrack_count() { ip netns exec "$(zt_nat_router_ns "$1")" conntrack -C; }

# zt_nat_drop_udp [--except-relay]: router A drops every UDP datagram
# (udp-blocked), or every one not to or from relay 1 (udp-relay-only);
# zt_nat_set_mode a eim undoes it.
zt_nat_drop_udp() {
	if [[ ${1:-} == --except-relay ]]; then
		zt_nat_set_mode a udp-relay-only
	else
		zt_nat_set_mode a udp-blocked
	fi
}

# zt_nat_add_host NAME N: a host on the internet (zt_ns NAME) on its own link
# to inet: h0 198.18.N.2/24, inet ihN 198.18.N.1/24 (N in 3..99). Its address
# is 198.18.N.2.
zt_nat_add_host() {
	local name=$1 n=$2 ns
	zt_netns_add "$name"
	ns=$(zt_ns "$name")
	zt_veth "$ns" h0 "$ZT_NS_INET" "ih$n"
	zt_addr "$ns" h0 "198.18.$n.2/24"
	zt_addr "$ZT_NS_INET" "ih$n" "198.18.$n.1/24"
	wait_until 5 zt_link_up "$ns" h0 || fail "$name/h0 not up"
	ip -n "$ns" route add default via "198.18.$n.1"
}

# zt_nat_whoami NS IP PORT: UDP and TCP services on IP:PORT in NS answering
# every datagram or connection with the source endpoint they saw ("A.B.C.D:P"):
# a STUN of sorts, to see what a NAT did.
zt_nat_whoami() {
	local ns=$1 ip=$2 port=$3
	zt_bg "whoami-$ip-$port" "$ns" python3 -c '
import selectors, socket, sys
ip, port = sys.argv[1], int(sys.argv[2])
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
u.bind((ip, port)); t.bind((ip, port)); t.listen(16)
sel = selectors.DefaultSelector()
sel.register(u, selectors.EVENT_READ); sel.register(t, selectors.EVENT_READ)
while True:
    for key, _ in sel.select():
        if key.fileobj is u:
            _, src = u.recvfrom(2048)
            u.sendto(("%s:%d\n" % src).encode(), src)
        else:
            c, src = t.accept()
            c.sendall(("%s:%d\n" % src).encode()); c.close()
' "$ip" "$port"
	# On IP:PORT itself: another whoami on the same port (the second relay's
	# address) must not pass for this one (it did: port unreachable, once in 3).
	wait_until 5 zt_bound_at "$ns" udp "$ip:$port" || fail "whoami: UDP $ip:$port did not come up"
	wait_until 5 zt_bound_at "$ns" tcp "$ip:$port" || fail "whoami: TCP $ip:$port did not come up"
}
# zt_bound_at NS udp|tcp IP:PORT: a socket in NS bound to exactly IP:PORT
# (listening, for TCP).
zt_bound_at() {
	local flags=-Hlun
	[[ $2 == tcp ]] && flags=-Hltn
	ip netns exec "$1" ss $flags | awk -v a="$3" '$4 == a { ok = 1 } END { exit !ok }'
}

# zt_nat_seen NS SRCPORT IP PORT [udp|tcp]: from NS, source port SRCPORT, ask
# the zt_nat_whoami at IP:PORT which endpoint it saw; prints it (nothing: no
# answer).
zt_nat_seen() {
	local ns=$1 sport=$2 ip=$3 port=$4 proto=${5:-udp}
	if [[ $proto == udp ]]; then
		# One datagram each way: one lost (a neighbour not yet resolved drops
		# from its queue under load) is asked again, three times at most.
		local try seen=
		for try in 1 2 3; do
			seen=$(echo ping | ip netns exec "$ns" timeout 5 socat -T3 - \
				"UDP4:$ip:$port,sourceport=$sport,reuseaddr" 2>/dev/null || true)
			[[ -n $seen ]] && break
		done
		echo "$seen"
	else
		ip netns exec "$ns" timeout 5 socat -T2 - "TCP4:$ip:$port,sourceport=$sport,reuseaddr" </dev/null 2>/dev/null || true
	fi
}

# zt_nat_assert_isolated: zt_tunnel_assert_isolated, and no private address
# answers from outside its own network (no port forwarding, no routes).
zt_nat_assert_isolated() {
	local pair
	zt_tunnel_assert_isolated
	for pair in "$ZT_NS_CLI $ZT_NAT_CONN_IP" "$ZT_NS_CLI 10.10.0.1" "$ZT_NS_CONN $ZT_NAT_CLI_IP" \
		"$ZT_NS_INET $ZT_NAT_CLI_IP" "$ZT_NS_INET $ZT_NAT_CONN_IP" "$ZT_NS_RELAY $ZT_NAT_CONN_IP"; do
		# shellcheck disable=SC2086 # "namespace address"
		if zt_icmp_echo $pair; then
			fail "isolation: ${pair#* } answers a ping from ${pair%% *}"
		fi
	done
	log "ok: isolation: 192.168.1.0/24, 192.168.2.0/24, 10.10.0.0/24 unreachable from outside them"
}

# The relay daemon (issue 5): zt_nat_relay_start [TAG [IP [ARGS...]]] starts
# `ztgated relay --listen IP:$ZT_NAT_RELAY_PORT --tcp-listen IP:$ZT_NAT_RELAY_TCP_PORT
# --key $ZT_TMP/TAG.key ARGS...` in the relay namespace as daemon TAG (default
# relay, on $ZT_NAT_RELAY_IP); the key is made on first use and kept, so a
# restart is the same relay. Waits for both ports.
zt_nat_relay_start() {
	local tag=${1:-relay} ip=${2:-$ZT_NAT_RELAY_IP}
	shift $(( $# > 2 ? 2 : $# ))
	[[ -f $ZT_TMP/$tag.key ]] || zt_keygen "$ZT_TMP/$tag.key" >/dev/null
	zt_daemon_as "$tag" "$ZT_NS_RELAY" relay --listen "$ip:$ZT_NAT_RELAY_PORT" \
		--tcp-listen "$ip:$ZT_NAT_RELAY_TCP_PORT" --key "$ZT_TMP/$tag.key" "$@"
	wait_until 5 zt_nat_bound udp "$ip:$ZT_NAT_RELAY_PORT" ||
		fail "relay $tag: nothing bound to UDP $ip:$ZT_NAT_RELAY_PORT"
	wait_until 5 zt_nat_bound tcp "$ip:$ZT_NAT_RELAY_TCP_PORT" ||
		fail "relay $tag: nothing listening on TCP $ip:$ZT_NAT_RELAY_TCP_PORT"
}
# zt_nat_bound udp|tcp IP:PORT: a socket in the relay namespace bound there
# (or to the wildcard address on that port).
zt_nat_bound() {
	local flags=-Hlun
	[[ $1 == tcp ]] && flags=-Hltn
	ip netns exec "$ZT_NS_RELAY" ss $flags | awk -v a="$2" -v p=":${2##*:}" \
		'$4 == a || $4 == "0.0.0.0" p || $4 == "*" p || $4 == "[::]" p { ok = 1 } END { exit !ok }'
}

# zt_nat_kill_relay [TAG]: SIGKILL the relay (no goodbye to anyone).
zt_nat_kill_relay() { zt_daemon_stop_tag "${1:-relay}" KILL; }

# zt_nat_forwarded TAG: the relay's forwarding counters, summed. ASSUMED
# (issue 5 does not fix the names): every numeric field anywhere in
# `ztgate --json stats` whose key contains "forward" counts, except keys that
# say they are not forwards (not_forwarded, unforwarded, *drop*, *err*,
# *fail*, *reject*, *denied*). Prints -1 if the stats cannot be read.
zt_nat_forwarded() {
	local out
	out=$(zt_cli "$1" --json stats 2>/dev/null) || { echo -1; return 0; }
	jq '[.. | objects | to_entries[]
		| select((.key | test("forward"; "i")) and (.key | test("not_|unforward|drop|err|fail|reject|denied"; "i") | not))
		| .value | numbers] | add // 0' <<<"$out" 2>/dev/null || echo -1
}
# zt_nat_forward_keys TAG: the keys zt_nat_forwarded sums (to show what was read).
zt_nat_forward_keys() {
	zt_cli "$1" --json stats 2>/dev/null | jq -c '[paths(numbers) as $p | select(($p[-1] | tostring | test("forward"; "i"))
		and ($p[-1] | tostring | test("not_|unforward|drop|err|fail|reject|denied"; "i") | not)) | $p | map(tostring) | join(".")]' 2>/dev/null
}

# zt_nat_status TAG: `ztgate --json status` of daemon TAG. ASSUMED shape
# (issue 5): {"peers": [{name, path ("direct", "relayed-udp", "relayed-tcp"),
# endpoint, rtt_ms, last_handshake, rx_bytes, tx_bytes}, ...]}.
zt_nat_status() { zt_cli "$1" --json status; }
# zt_nat_peer TAG PEER: that peer's object (compact JSON); the only peer when
# none is named PEER (a connector may name a device by key or address).
zt_nat_peer() {
	zt_nat_status "$1" 2>/dev/null | jq -c --arg n "$2" \
		'(.peers // []) as $p | ([$p[] | select(.name == $n)] + (if ($p | length) == 1 then $p else [] end))[0] // empty'
}
zt_nat_path() { zt_nat_peer "$1" "$2" | jq -r '.path // empty'; }	# zt_nat_path TAG PEER
zt_nat_path_is() { [[ $(zt_nat_path "$1" "$2") == "$3" ]]; }	# zt_nat_path_is TAG PEER PATH

# zt_nat_why_unavailable: prints what of issue 5 this build lacks and returns
# 0; returns 1, printing nothing, when every piece is there (relay role,
# --relay/--relay-tcp on client and connector, ztgate status and netcheck).
zt_nat_why_unavailable() {
	local out missing=()
	if ! out=$("$ZTGATED" relay --help 2>&1); then
		missing+=("no 'ztgated relay' role (said: $(head -n 1 <<<"$out"))")
	else
		grep -q -- '--tcp-listen' <<<"$out" || missing+=("'ztgated relay --help' shows no --tcp-listen")
	fi
	out=$("$ZTGATED" client --help 2>&1 || true)
	grep -Eq -- '--relay([^-]|$)' <<<"$out" || missing+=("'ztgated client --help' shows no --relay")
	grep -q -- '--relay-tcp' <<<"$out" || missing+=("'ztgated client --help' shows no --relay-tcp")
	out=$("$ZTGATED" connector --help 2>&1 || true)
	grep -Eq -- '--relay([^-]|$)' <<<"$out" || missing+=("'ztgated connector --help' shows no --relay")
	out=$("$ZTGATE" --help 2>&1 || true)
	grep -Eq '^ *status' <<<"$out" || missing+=("no 'status' in ztgate --help")
	grep -Eq '^ *netcheck' <<<"$out" || missing+=("no 'netcheck' in ztgate --help")
	(( ${#missing[@]} )) || return 1
	printf '%s' "${missing[0]}"
	printf '; %s' "${missing[@]:1}"
	echo
	return 0
}
