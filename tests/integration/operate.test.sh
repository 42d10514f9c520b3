#!/usr/bin/env bash
# operate: running ztgated as an operator does, in a namespace of its own.
#
# Checked: (a) `ztgated --version` and `ztgated ROLE --version`; (b) SIGHUP
# reloads and never stops the enforcer; (c) --log-level error keeps info lines
# out of the log stream, and a fatal start-up error is a JSON line too;
# (d) --socket-group: a member (an unprivileged user) reads stats and lists
# through the socket but cannot change the policy, and the policy is unchanged;
# (e) the relay loads no policy data plane: no tc/XDP maps pinned, no policy
# commands, `ztgate stats` works.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require jq nsenter setpriv getent
zt_require_bins

section "version"
v=$("$ZTGATED" --version)
[[ $v =~ ^ztgated\ [0-9]+\.[0-9]+\.[0-9]+ ]] || fail "ztgated --version: '$v'"
[[ $("$ZTGATED" relay --version) == "$v" ]] || fail "ztgated relay --version differs from ztgated --version"
[[ $("$ZTGATE" --version) == "ztgate ${v#ztgated }" ]] || fail "ztgate --version: $("$ZTGATE" --version), daemon: $v"
log "ok: $v"

section "enforce: SIGHUP, log level"
zt_netns_add host
H=$(zt_ns host)
# The socket in a directory an unprivileged user may traverse (ZT_TMP is 0700).
SOCKDIR=/run/ztgate-test-$ZT_ID
mkdir -p "$SOCKDIR"
chmod 0755 "$SOCKDIR"
zt_defer rm -rf "$SOCKDIR"
zt_daemon_setup "$H" enforce
DAEMON_SOCK=$SOCKDIR/enforce.sock
nogroup=$(getent group nogroup | cut -d: -f3)
[[ -n $nogroup ]] || fail "no group 'nogroup' on this machine"
zt_daemon_start --log-level error --socket-group nogroup --tc-egress lo
ztc resource add web --address 198.18.9.9 --tcp 80 >/dev/null
kill -HUP "$DAEMON_PID"
# The reload is logged at info: filtered out. The daemon answers after it.
[[ $(ztc --json resource list | jq -r '.resources[0].name') == web ]] || fail "daemon not answering after SIGHUP"
zt_pid_alive "$DAEMON_PID" || fail "SIGHUP stopped the enforcer"
log "ok: SIGHUP did not stop the daemon"
out=$(ztc status)
grep -q "^enforce ${v#ztgated }, pin dir " <<<"$out" || fail "status: no role and version: $out"
grep -q "^attached: tc-egress lo$" <<<"$out" || fail "status: attached hooks: $out"
grep -Eq "^policy [0-9a-f]{16}: 1 resources, generation [01] active$" <<<"$out" || fail "status: policy: $out"
log "ok: ztgate status on the enforcer: $(zt_oneline <<<"$out")"
(cd "$ZT_TMP" && ztc bugreport --out "$ZT_TMP/bug.tar.gz" >/dev/null) || fail "ztgate bugreport failed"
list=$(tar -tzf "$ZT_TMP/bug.tar.gz")
for f in versions.txt status.json health.json stats.json policy.json maps.json map-zt_config.txt bpf-net.txt; do
	grep -qx "./$f" <<<"$list" || fail "bugreport lacks $f: $(zt_oneline <<<"$list")"
done
tar -xzOf "$ZT_TMP/bug.tar.gz" ./map-zt_config.txt | grep -q active_gen || fail "bugreport: no map dump"
log "ok: ztgate bugreport: $(grep -c . <<<"$list") files"

section "socket group: read, not change"
[[ $(stat -c '%a %g' "$DAEMON_SOCK") == "660 $nogroup" ]] ||
	fail "socket mode/group: $(stat -c '%a %g' "$DAEMON_SOCK"), want 660 $nogroup"
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$ZTGATE" --socket "$DAEMON_SOCK" "$@"; }
out=$(as_nobody --json stats) || fail "group member cannot read stats: $out"
[[ $(jq -r '.resources[0].name' <<<"$out") == web ]] || fail "group member's stats: $out"
rc=0
err=$(as_nobody resource add evil --address 198.18.9.10 --tcp all 2>&1) || rc=$?
(( rc != 0 )) || fail "an unprivileged group member changed the policy"
grep -q "only root" <<<"$err" || fail "refusal does not say why: $err"
(( $(wc -l <<<"$err") == 1 )) || fail "refusal is not one line: $err"
[[ $(ztc --json resource list | jq '.resources | length') == 1 ]] || fail "policy changed by a refused request"
log "ok: group member reads, is refused changes with: $err"
zt_daemon_stop TERM
grep '"event":"log"' "$DAEMON_OUT" | grep -q '"level":"info"' &&
	fail "--log-level error printed info lines: $(grep '"level":"info"' "$DAEMON_OUT" | head -n 2)"
log "ok: --log-level error kept info lines out"

section "fatal start-up error as a JSON line"
rc=0
nsenter --net="/run/netns/$H" -- "$ZTGATED" enforce --state-dir "$DAEMON_STATE" \
	--socket "$DAEMON_SOCK" --pin-dir "$DAEMON_PIN" --tc-egress nosuchif0 \
	>"$ZT_TMP/fatal.out" 2>"$ZT_TMP/fatal.stderr" </dev/null || rc=$?
(( rc == 1 )) || fail "attach to a missing interface: exit $rc, want 1"
jq -e 'select(.event == "log" and .level == "error") | .msg | test("nosuchif0")' \
	"$ZT_TMP/fatal.out" >/dev/null || fail "no JSON error line: $(cat "$ZT_TMP/fatal.out")"
(( $(wc -l <"$ZT_TMP/fatal.stderr") == 1 )) || fail "stderr not one line: $(cat "$ZT_TMP/fatal.stderr")"
log "ok: $(cat "$ZT_TMP/fatal.stderr")"
zt_daemon_teardown

section "pins that enforce are protected; pins attached nowhere are reused"
zt_daemon_setup "$H" stale
ip -n "$H" link add s0 type veth peer name s1
zt_daemon_start --tc-egress s0
ztc resource add web --address 198.18.9.9 --tcp 80 >/dev/null
zt_daemon_stop TERM
# Still attached to s0: a daemon with an empty state dir must not replace it.
mkdir -p "$ZT_TMP/empty-state"
rc=0
nsenter --net="/run/netns/$H" -- "$ZTGATED" enforce --state-dir "$ZT_TMP/empty-state" \
	--socket "$ZT_TMP/x.sock" --pin-dir "$DAEMON_PIN" >"$ZT_TMP/adopt.out" 2>"$ZT_TMP/adopt.err" </dev/null || rc=$?
(( rc == 1 )) && grep -q "refusing to replace it" "$ZT_TMP/adopt.err" ||
	fail "pins still enforcing were not protected (exit $rc): $(cat "$ZT_TMP/adopt.err")"
# The device goes (as a stopped client's TUN does): the pins enforce nothing now.
ip -n "$H" link del s0
DAEMON_STATE=$ZT_TMP/empty-state
zt_daemon_start
grep -q "attached nowhere" "$DAEMON_OUT" || fail "reused pins without saying so"
zt_daemon_stop TERM
zt_daemon_teardown
log "ok: enforcing pins protected; pins attached nowhere reported and reused"

section "relay: no policy data plane"
zt_keygen "$ZT_TMP/relay.key" >/dev/null
zt_daemon_as relay "$H" relay --listen 127.0.0.1:3478 --key "$ZT_TMP/relay.key"
[[ ! -e $DAEMON_PIN/zt_config ]] || fail "the relay pinned the policy data plane's maps"
[[ ! -e $DAEMON_STATE/policy.json ]] || fail "the relay wrote a policy store"
ztc --json stats | jq -e '.relay.registered_peers == 0' >/dev/null || fail "relay stats"
rc=0
err=$(ztc resource add x --address 198.18.9.11 --tcp 80 2>&1) || rc=$?
(( rc != 0 )) && grep -q "holds no policy" <<<"$err" || fail "relay took a policy command: $err"
log "ok: relay runs without pins or store; policy commands refused: $err"
zt_daemon_stop TERM
log "operate: all passed"
