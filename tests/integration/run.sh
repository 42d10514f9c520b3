#!/usr/bin/env bash
# Runs every tests/integration/*.test.sh, each in its own process (own
# namespaces, own pins), prints PASS/FAIL per test and a closing line
#   integration: N passed, M failed
# and exits non-zero if any failed. Uses the sanitizer builds build/san/ztgated
# and build/san/ztgate when present (ZTGATED / ZTGATE override); sanitizer
# reports are fatal: the san binaries abort on the first error, and every
# daemon's stderr is scanned for reports at the end.
#
# ZT_TEST_TIMEOUT (seconds, default 600) bounds each test; ZT_TESTS (a
# space-separated list of test names) selects a subset; ZT_TEST_JOBS
# (default 2) is how many run at once (1: one after the other).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
	echo "integration: needs root (network namespaces, BPF)" >&2
	echo "integration: 0 passed, 1 failed"
	exit 1
fi

pick() { if [[ -x $root/build/san/$1 ]]; then echo "$root/build/san/$1"; else echo "$root/build/$1"; fi; }
export ZTGATED=${ZTGATED:-$(pick ztgated)}
export ZTGATE=${ZTGATE:-$(pick ztgate)}
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:halt_on_error=1:detect_leaks=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}
timeout_s=${ZT_TEST_TIMEOUT:-600}
jobs=${ZT_TEST_JOBS:-2}

logdir=$(mktemp -d /tmp/ztgate-integration.XXXXXX)
export ZT_LOG_DIR=$logdir/daemon-logs
export ZT_RUN_IDS=$logdir/run-ids	# "RUN-ID TEST" per test (tests/lib.sh)
trap 'rm -rf "$logdir"' EXIT

# A run killed before its traps ran (a machine stopped mid-test) leaves its
# pin dirs behind; they are not this run's, so they go before it starts.
# Whatever this run leaves is a failure at the end.
stale_pins() {	# the test-* pin dirs whose owner has exited
	local d pid
	for d in /sys/fs/bpf/ztgate/test-*; do
		[[ -d $d ]] || continue
		pid=${d##*/test-}
		pid=${pid##*-}
		kill -0 "$pid" 2>/dev/null || echo "$d"
	done
}
for d in $(stale_pins); do
	echo "integration: removing $d, left by an earlier run that was killed"
	rm -rf "$d"
done

echo "integration: daemon $ZTGATED"
echo "integration: cli    $ZTGATE"
passed=0
failed=0
failed_names=()
shopt -s nullglob
tests=("$here"/*.test.sh)
if [[ -n ${ZT_TESTS:-} ]]; then
	tests=()
	for n in $ZT_TESTS; do tests+=("$here/${n%.test.sh}.test.sh"); done
fi
# The longest first, so that the lanes end together.
if [[ -z ${ZT_TESTS:-} ]]; then
	ordered=()
	for n in nat_traversal nat_matrix controller_e2e attacks_connector tunnel_e2e enforce_nmap; do
		[[ -f $here/$n.test.sh ]] && ordered+=("$here/$n.test.sh")
	done
	for t in "${tests[@]}"; do
		[[ " ${ordered[*]} " == *" $t "* ]] || ordered+=("$t")
	done
	tests=("${ordered[@]}")
fi
if (( ${#tests[@]} == 0 )); then
	echo "integration: no tests found in $here" >&2
	echo "integration: 0 passed, 1 failed"
	exit 1
fi

# One test: its exit status and duration in $logdir/NAME.rc.
run_one() {
	local t=$1 name out start rc=0
	name=$(basename "$t" .test.sh)
	out=$logdir/$name.log
	start=$(date +%s)
	if [[ ! -f $t ]]; then
		echo "no such test: $t" >"$out"
		rc=127
	else
		# timeout sends TERM (the test's trap cleans up), KILL 30 s later.
		timeout -k 30 "$timeout_s" bash "$t" >"$out" 2>&1 || rc=$?
	fi
	echo "$rc $(( $(date +%s) - start ))" >"$logdir/$name.rc"
}

report() {
	local name=$1 rc secs
	read -r rc secs <"$logdir/$name.rc"
	if (( rc == 0 )); then
		passed=$((passed + 1))
		printf 'PASS  %-28s (%ss)\n' "$name" "$secs"
	else
		failed=$((failed + 1))
		failed_names+=("$name")
		(( rc == 124 )) && echo "  (timed out after ${timeout_s}s)"
		printf 'FAIL  %-28s (%ss, exit %s); last lines:\n' "$name" "$secs" "$rc"
		tail -n 40 "$out" | sed 's/^/  | /'
	fi
}

# Tests run ZT_TEST_JOBS at a time (default 2): each has its own namespaces,
# pins and temp dirs, and most of a test's time is spent waiting on timers
# (NAT probes, keepalives, session lifetimes), not on a CPU. Results are
# printed as tests finish.
declare -A running=()
reap_one() {
	local pid name
	wait -n "${!running[@]}" 2>/dev/null || true
	for pid in "${!running[@]}"; do
		kill -0 "$pid" 2>/dev/null && continue
		name=${running[$pid]}
		unset "running[$pid]"
		out=$logdir/$name.log
		report "$name"
	done
}
for t in "${tests[@]}"; do
	while (( ${#running[@]} >= jobs )); do reap_one; done
	run_one "$t" &
	running[$!]=$(basename "$t" .test.sh)
done
while (( ${#running[@]} > 0 )); do reap_one; done

# Sanitizer reports anywhere in the daemons' stderr are a failure even when
# the test itself passed (e.g. a leak reported at a clean exit).
san_pattern='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer|AddressSanitizer:DEADLYSIGNAL'
if [[ -d $ZT_LOG_DIR ]] && grep -lEr "$san_pattern" "$ZT_LOG_DIR" >/dev/null 2>&1; then
	echo "FAIL  sanitizer: reports in daemon stderr:"
	grep -lEr "$san_pattern" "$ZT_LOG_DIR" | while read -r f; do
		echo "  == $(basename "$f")"
		grep -E -A 25 "$san_pattern" "$f" | head -n 40 | sed 's/^/  | /'
	done
	failed=$((failed + 1))
	failed_names+=("sanitizer")
fi

# Nothing of ours may be left behind.
for d in $(stale_pins); do
	owner=$(awk -v id="${d##*/test-}" '$1 == id { print $2 }' "$ZT_RUN_IDS" 2>/dev/null)
	echo "FAIL  leftovers: pin dir $d from a finished run (${owner:-no test of this run})"
	failed=$((failed + 1))
	failed_names+=("leftover-pins")
done

echo "integration: $passed passed, $failed failed"
(( failed == 0 ))
