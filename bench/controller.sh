#!/usr/bin/env bash
# bench/controller.sh (`make bench`, section (f)): the controller at scale.
# A `ztgated controller` in its own namespace (loopback only) with a model of
# BENCH_CTL_DEVICES devices (default 10,000: users of 10 devices each, the
# users spread over 100 groups), 1,000 resources over 4 networks, one
# connector per network, each group reaching 10 resources; build/ctlload
# enrolls every device and connector with tokens minted in bulk (`admin device
# token --count`) and keeps them all connected, acking views as an agent does.
# Then BENCH_CTL_ROUNDS rounds (default 3) of four policy changes: access add
# and rm (one group to a resource of another network), a resource's ports
# changed, a user moved to another group. For each kind: the time from the
# admin command's return to each affected node's receipt of its view (p50,
# p99, max over all rounds), the nodes that got a view (and how many were
# expected), the controller's CPU per change (utime+stime from /proc, minus
# its idle rate: keepalives) and memory (VmRSS, VmHWM). Runs on SQLite, then
# on a throwaway PostgreSQL 15 (tests/pg.sh), then on SQLite at a tenth of the
# devices (is the cost per change the change's, or the model's?).
#
# ctlload runs with --verify (each view's hash checked, deltas applied to the
# text held, as an agent does) and prints, per connector view after the
# nodes are ready, the message's bytes and the node's time to the checked
# text (whole: serialize and hash; delta: apply and hash) and to parse the
# message: summed up per form (whole, delta) at the end of each run.
#
# Environment: BENCH_CTL_DEVICES, BENCH_CTL_ROUNDS, BENCH_CTL_SKIP_SQLITE=1, BENCH_CTL_SKIP_PG=1,
# BENCH_CTL_SKIP_SMALL=1, BENCH_CTL_KEEP=DIR (ctlload's output and the changes
# copied there), BENCH_CTL_WHOLE=1 (ctlload's hello asks for no
# deltas: every view whole, as before view_delta). Bounded: ctlload stops by itself (--time), each wait
# has a deadline; the whole section takes about 2 minutes.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ZTGATED=${ZTGATED:-$ROOT/build/ztgated}
export ZTGATE=${ZTGATE:-$ROOT/build/ztgate}
CTLLOAD=${CTLLOAD:-$ROOT/build/ctlload}
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"
# shellcheck source=tests/pg.sh
source "$ROOT/tests/pg.sh"

DEVICES=${BENCH_CTL_DEVICES:-10000}
ROUNDS=${BENCH_CTL_ROUNDS:-3}
PER_USER=${BENCH_CTL_PER_USER:-10}
NETS=4
PORT=7450

zt_require_root
zt_require jq python3 nsenter timeout
[[ -x $CTLLOAD ]] || fail "$CTLLOAD missing (make build/ctlload)"
"$ZTGATE" keygen --out "$ZT_TMP/controller.key" >/dev/null
zt_netns_add ctl
NS=$(zt_ns ctl)
zt_defer zt_pg_stop

# model_doc DEVICES FILE: the model as `admin apply -f` takes it.
model_doc() {
	python3 - "$1" "$PER_USER" "$NETS" >"$2" <<'EOF'
import json, sys
devices, per_user, nets = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
users = devices // per_user
doc = {
    "network": [{"name": f"net{n}"} for n in range(nets)],
    "connector": [{"name": f"gw{n}", "network": f"net{n}"} for n in range(nets)],
    "group": [{"name": f"g{g}"} for g in range(100)],
    "resource": [{"name": f"r{i}", "network": f"net{i * nets // 1000}",
                  "address": f"10.{i // 250}.{i % 250}.1", "tcp": "80,443"} for i in range(1000)],
    "access": [{"group": f"g{i // 10}", "resource": f"r{i}"} for i in range(1000)],
    "user": [{"name": f"u{u}@bench.example", "groups": [f"g{u % 100}"]} for u in range(users)],
}
print(json.dumps(doc))
EOF
}

cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }	# on-CPU ns
mem_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
now_ns() { echo "${EPOCHREALTIME/./}000"; }
views() { grep -c '^view ' "$LOAD_OUT" || true; }

# got_view REV WANT: WANT nodes have a view of revision REV.
got_view() { awk -v r="$1" -v w="$2" '$1 == "view" && $5 == r { n++ } END { exit !(n >= w) }' "$LOAD_OUT"; }

# settle [REV WANT]: until WANT nodes have a view of REV (at most 5 s), then
# until no view came for 300 ms (at most 5 s).
settle() {
	local n0 n1 t=0
	[[ -z ${1:-} ]] || wait_until 5 got_view "$1" "$2" || true
	n0=$(views)
	while (( t < 50 )); do
		sleep 0.3
		n1=$(views)
		(( n1 == n0 )) && return 0
		n0=$n1
		t=$((t + 3))
	done
}

# change KIND EXPECTED ARGS...: one admin command; KIND REV EXPECTED T_RETURN CPU_NS WALL_NS.
change() {
	local kind=$1 want=$2 c0 t0 t1 rev
	shift 2
	rev=$(( $(ztc --json admin status | jq .rev) + 1 ))
	c0=$(cpu_ns "$DAEMON_PID")
	t0=${EPOCHREALTIME/./}000	# no fork: the return is timed as it happens
	ztc admin "$@" >/dev/null
	t1=${EPOCHREALTIME/./}000
	settle "$rev" "$want"
	echo "$kind $rev $want $t1 $(( $(cpu_ns "$DAEMON_PID") - c0 )) $(( $(now_ns) - t0 ))" >>"$CHANGES"
}

# report LABEL IDLE_NS_PER_S: one row per kind from CHANGES and LOAD_OUT.
report() {
	awk -v label="$1" -v idle="$2" '
	FNR == NR { kind[$2] = $1; want[$2] = $3; t[$2] = $4; cpu[$1] += $5 - idle * $6 / 1e9
		    n[$1]++; wantk[$1] += $3; next }
	$1 == "view" && ($5 in t) { k = kind[$5]; lat[k, ++m[k]] = ($6 - t[$5]) / 1e6; got[k]++ }
	function pct(k, p,   i, j, a, c, x) {
		c = m[k]; for (i = 1; i <= c; i++) a[i] = lat[k, i]
		for (i = 2; i <= c; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
		i = int(c * p / 100 + 0.999); if (i < 1) i = 1; return a[i] }
	END { for (k in n) printf "%-10s %-14s %7.1f %7.1f %7.1f %9d %9d %10.2f\n", label, k,
		pct(k, 50), pct(k, 99), pct(k, 100), got[k] / n[k], wantk[k] / n[k], cpu[k] / n[k] / 1e6 }
	' "$CHANGES" "$LOAD_OUT"
}

# node_side LABEL: the connectors' views after ready, per form: count, bytes,
# check and parse times (ms; p50 and max), from ctlload's "check" lines.
node_side() {
	awk -v label="$1" '
	$1 == "ready" { on = 1; next }
	on && $1 == "check" && $3 == "c" { f = $4; n[f]++; b[f, n[f]] = $5; c[f, n[f]] = $6 / 1e3; p[f, n[f]] = $7 / 1e3 }
	function med(a, f, k,   i, j, x, v) { for (i = 1; i <= k; i++) v[i] = a[f, i]
		for (i = 2; i <= k; i++) { x = v[i]; for (j = i - 1; j >= 1 && v[j] > x; j--) v[j + 1] = v[j]; v[j + 1] = x }
		return v[int((k + 1) / 2)] " / " v[k] }
	END { for (f in n) printf "%-10s connector views %-5s %4d  bytes %s  check_ms %s  parse_ms %s\n",
		label, f, n[f], med(b, f, n[f]), med(c, f, n[f]), med(p, f, n[f]) }
	' "$LOAD_OUT"
}

# mint DEVICES FILE: a token per connector and per device, into FILE.
mint() {
	local u users=$(($1 / PER_USER))
	for (( u = 0; u < NETS; u++ )); do
		echo "connector $(ztc admin connector token "gw$u" | tail -n 1)"
	done >"$2"
	for (( u = 0; u < users; u++ )); do echo "u$u@bench.example"; done |
		xargs -P 2 -I{} "$ZTGATE" --socket "$DAEMON_SOCK" admin device token --user {} \
			--count "$PER_USER" | grep '^ztgt1_' >>"$2"
}

# changes: ROUNDS rounds of the four kinds, each with the nodes it should reach.
changes() {
	local r g x y u g2 users=$(($1 / PER_USER)) per_group upg
	upg=$(( users / 100 ))	# users per group
	per_group=$(( upg * PER_USER ))
	for (( r = 0; r < ROUNDS; r++ )); do
		g=$(( (r * 37 + 1) % 100 ))
		x=$(( ((g / 25 + 1) % NETS) * 250 + r ))
		change access-add $((per_group + 1)) access add --group "g$g" --resource "r$x"
		change access-rm $((per_group + 1)) access rm --group "g$g" --resource "r$x"
		y=$(( (r * 131 + 7) % 1000 ))
		change resource-set $((per_group + 1)) resource set "r$y" --tcp "80,443,$((8000 + r))"
		u=$(( (r * 53 + 5) % users ))
		g2=$(( (u % 100 + 50) % 100 ))
		change user-move $((PER_USER + 2)) user set "u$u@bench.example" --group "g$g2"
	done
}

# run LABEL DEVICES [--db URL]: one controller, loaded, changed, measured.
run() {
	local label=$1 devices=$2 t0 ready load_pid idle0 idle
	shift 2
	zt_daemon_setup "$NS" "ctl-$label"
	LOAD_OUT=$ZT_TMP/load-$label.out
	CHANGES=$ZT_TMP/changes-$label
	: >"$CHANGES"
	ZT_DAEMON_ROLE=controller zt_daemon_start --listen "127.0.0.1:$PORT" \
		--key "$ZT_TMP/controller.key" "$@" >/dev/null
	model_doc "$devices" "$ZT_TMP/model.json"
	t0=$(now_ns)
	ztc admin apply -f "$ZT_TMP/model.json" >/dev/null
	log "$label: model applied in $(( ($(now_ns) - t0) / 1000000 )) ms"
	t0=$(now_ns)
	mint "$devices" "$ZT_TMP/tokens-$label"
	log "$label: $(wc -l <"$ZT_TMP/tokens-$label") tokens in $(( ($(now_ns) - t0) / 1000000 )) ms"
	nsenter --net="/run/netns/$NS" -- timeout -k 2 200 "$CTLLOAD" --connect "127.0.0.1:$PORT" \
		--tokens "$ZT_TMP/tokens-$label" --spread --time 180 --verify ${BENCH_CTL_WHOLE:+--whole} \
		>"$LOAD_OUT" 2>"$ZT_TMP/load-$label.err" &
	load_pid=$!
	ZT_PIDS+=("$load_pid")
	wait_until 120 grep -q '^ready ' "$LOAD_OUT" ||
		fail "$label: nodes not all served in 120 s: $(grep '^stats' "$LOAD_OUT" | tail -n 1)"
	ready=$(awk '$1 == "ready" { print $2 " nodes enrolled, connected and served in " $3 " ms" }' "$LOAD_OUT")
	settle
	log "$label: $ready; controller VmRSS $(mem_kb "$DAEMON_PID" VmRSS) kB, VmHWM $(mem_kb "$DAEMON_PID" VmHWM) kB"
	idle0=$(cpu_ns "$DAEMON_PID")
	sleep 2
	idle=$(( ($(cpu_ns "$DAEMON_PID") - idle0) / 2 ))
	log "$label: idle (keepalives) $(( idle / 10000000 ))% of a CPU"
	changes "$devices"
	log "$label: after the changes: VmRSS $(mem_kb "$DAEMON_PID" VmRSS) kB, VmHWM $(mem_kb "$DAEMON_PID" VmHWM) kB;" \
		"closed connections: $(grep -c '^closed ' "$LOAD_OUT" || true)"
	report "$label" "$idle" >>"$ZT_TMP/table"
	node_side "$label" >>"$ZT_TMP/nodes"
	[[ -z ${BENCH_CTL_KEEP:-} ]] || cp "$LOAD_OUT" "$CHANGES" "$BENCH_CTL_KEEP/"
	log "$label: the controller sent $(ztc --json admin status | jq -r '.server | "\(.views_whole) views whole (\(.view_bytes_whole) bytes), \(.views_delta) as deltas (\(.view_bytes_delta) bytes), \(.views_requested_whole) asked again whole"')"
	# Every node leaves at once: each disconnection is an audit record.
	t0=$(now_ns)
	zt_kill_pid "$load_pid"
	if wait_until 120 no_nodes; then
		log "$label: $devices nodes gone at once, recorded in $(( ($(now_ns) - t0) / 1000000 )) ms"
	else
		log "$label: nodes still connected 120 s after they left"
	fi
	zt_daemon_stop
}

no_nodes() { (( $(ztc --json admin status | jq .connected) == 0 )); }

ulimit -n "$(ulimit -Hn)"	# the controller and ctlload hold a socket per node
: >"$ZT_TMP/table"
: >"$ZT_TMP/nodes"
if [[ -z ${BENCH_CTL_SKIP_SQLITE:-} ]]; then
	section "(f) controller: $DEVICES devices, SQLite"
	run sqlite "$DEVICES"
fi
if [[ -z ${BENCH_CTL_SKIP_PG:-} ]]; then
	section "(f) controller: $DEVICES devices, PostgreSQL 15"
	# Its own directory: the server runs as `postgres`, who cannot enter ZT_TMP (0700).
	zt_pg_start "$(mktemp -d /tmp/ztgate-bench-pg.XXXXXX)"
	run postgresql "$DEVICES" --db "$ZT_PG_URL"
	zt_pg_stop
fi
if [[ -z ${BENCH_CTL_SKIP_SMALL:-} ]]; then
	section "(f) controller: $((DEVICES / 10)) devices, SQLite"
	run sqlite-small $((DEVICES / 10))
fi
section "(f) controller: propagation (admin command's return -> node's receipt), per change"
printf '%-10s %-14s %7s %7s %7s %9s %9s %10s\n' store change p50_ms p99_ms max_ms got_view expected cpu_ms
sort -k1,1 -s "$ZT_TMP/table"
section "(f) controller: the connectors' views at the node (ctlload --verify): p50 / max"
sort -k1,1 -s "$ZT_TMP/nodes"
