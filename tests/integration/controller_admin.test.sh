#!/usr/bin/env bash
# controller_admin: the controller's admin side through the real CLI and
# daemon (issue 11): `ztgated controller` with its SQLite file, the main
# path's exact spellings (network, connector with its token, resource,
# group, user, access add/rm, device tokens for a user and a service
# account), lists as tables and --json, bad input of every kind (one line
# on stderr, exit non-zero, nothing changed), the audit trail and its
# --verify, a controller killed with SIGKILL that restarts with its state,
# and a tampered audit record found by --verify; API keys and remote admin
# over the node port (read-only refused a write, read-write works, the
# actor api-key:NAME, expired and removed keys refused); a service account's
# key expiring and renewed in place; allowed hours in a time zone (an unknown
# zone refused); then the same controller
# on a throwaway PostgreSQL 15 (tests/pg.sh): --db postgresql://..., the
# state kept across a SIGKILL.
#
# Topology: one namespace (the node port listens on its loopback); no node
# connects here (the node protocol has its own tests).
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"
# shellcheck source=tests/pg.sh
source "$(dirname "$0")/../pg.sh"

zt_require_root
zt_require jq nsenter sqlite3
zt_require_bins

zt_netns_add ctl
zt_daemon_setup "$(zt_ns ctl)" ctl
"$ZTGATE" keygen --out "$ZT_TMP/controller.key" >/dev/null
export ZT_DAEMON_ROLE=controller
start_controller() { zt_daemon_start --listen 127.0.0.1:7450 --key "$ZT_TMP/controller.key"; }
S=(--socket "$DAEMON_SOCK")

# expect_fail WHAT PATTERN ARGS...: `ztgate --socket S ARGS` exits non-zero with
# exactly one line on stderr holding PATTERN, and the model is unchanged.
expect_fail() {
	local what=$1 pattern=$2 rc=0 before after
	shift 2
	before=$(ztc admin export | jq -S 'del(.rev)')
	ztc "$@" >"$ZT_TMP/out" 2>"$ZT_TMP/err" || rc=$?
	(( rc != 0 )) || fail "$what: succeeded: $(cat "$ZT_TMP/out")"
	[[ $(wc -l <"$ZT_TMP/err") -eq 1 ]] || fail "$what: stderr not one line: $(cat "$ZT_TMP/err")"
	grep -qF -- "$pattern" "$ZT_TMP/err" || fail "$what: stderr '$(cat "$ZT_TMP/err")' lacks '$pattern'"
	zt_pid_alive "$DAEMON_PID" || fail "$what: the controller died"
	after=$(ztc admin export | jq -S 'del(.rev)')
	[[ $before == "$after" ]] || fail "$what: the model changed"
	log "ok: refused: $what ($(cat "$ZT_TMP/err"))"
}

# The last line of a command's output is a token.
last_is_token() { tail -n 1 | grep -qE '^ztgt1_[A-Za-z0-9_-]{86}$'; }

section "start"
start_controller
grep -q '"role":"controller"' "$DAEMON_OUT" || fail "no ready line"
[[ -f $DAEMON_STATE/controller.db ]] || fail "no SQLite file in the state dir"

section "the main path"
ztc admin network add office | grep -q '^added network office' || fail "network add"
out=$(ztc admin connector add office-gw --network office)
echo "$out"
last_is_token <<<"$out" || fail "connector add: no token on the last line"
ztc admin resource add nas --network office --address nas.home.int --tcp 80 --icmp |
	grep -q '^added resource nas' || fail "resource add"
ztc admin resource add web --network office --address 10.0.0.0/24 --tcp 80,443,8000-8100 \
	--udp 53 --deny-mode reject --alias intranet >/dev/null
ztc admin group add eng >/dev/null
ztc admin user add alice@example.com --group eng | grep -q '^added user alice@example.com' ||
	fail "user add"
ztc admin access add --group eng --resource nas | grep -q '^added access eng:nas' || fail "access add"
out=$(ztc admin device token --user alice@example.com)
last_is_token <<<"$out" || fail "device token: no token on the last line: $out"
ztc admin service-account add ci --group eng >/dev/null
ztc admin device token --service-account ci | last_is_token || fail "service-account token"
ztc admin device token --service-account ci --key-expires 90d | last_is_token ||
	fail "service-account token with a key expiry"
ztc admin access rm --group eng --resource nas | grep -q '^removed access eng:nas' || fail "access rm"
ztc admin access add --group eng --resource nas >/dev/null
check "the same token twice is never printed" \
	bash -c "[[ \$($ZTGATE ${S[*]} admin connector token office-gw | tail -n 1) != \$(tail -n 1 <<<'$out') ]]"

section "tables and --json"
ztc admin resource list | tee "$ZT_TMP/res"
grep -qE '^nas +office +nas\.home\.int +80 +- +yes +drop' "$ZT_TMP/res" || fail "resource table"
grep -qE '^web +office +10\.0\.0\.0/24 +80,443,8000-8100 +53 +no +reject +intranet' "$ZT_TMP/res" ||
	fail "resource table (web)"
[[ $(ztc --json admin user list | jq -r '.items[0].groups[0]') == eng ]] || fail "--json user list"
[[ $(ztc --json admin user show alice@example.com | jq -r '.object.actor') == "uid:0" ]] ||
	fail "the actor is the peer's uid"
ztc admin group add-member eng ci 2>&1 | grep -q "already a member" || true
ztc admin group add ops >/dev/null
ztc admin group add-member ops alice@example.com | grep -q "added alice@example.com to group ops" ||
	fail "add-member"
ztc admin group rm-member ops alice@example.com >/dev/null
ztc admin status | grep -qE '^rev [0-9]+ applied on 0 of 0 nodes' || fail "status"

section "bad input: one line, exit non-zero, nothing changed"
expect_fail "unknown group" "unknown group 'nope'" admin user add bob@example.com --group nope
expect_fail "duplicate email" "already exists" admin user add alice@example.com
expect_fail "bad email" "invalid email" admin user add bob
expect_fail "unknown network" "unknown network 'nowhere'" \
	admin resource add x --network nowhere --address 10.9.9.9
expect_fail "bad ports" "invalid port" admin resource add x --network office --address 10.9.9.9 --tcp 99999
expect_fail "bad address" "invalid address" admin resource add x --network office --address 300.1.1.1/40
expect_fail "duplicate address" "already resource 'nas'" \
	admin resource add x --network office --address nas.home.int
expect_fail "access to an unknown resource" "unknown resource 'nope'" \
	admin access add --group eng --resource nope
expect_fail "group in use" "still used" admin group rm eng
expect_fail "token for nobody" "no user" admin device token --user nobody@example.com
expect_fail "two principals" "one of" admin device token --user alice@example.com --service-account ci
expect_fail "bad expiry" "invalid --expires" admin connector token office-gw --expires soon
expect_fail "bad key expiry" "invalid --key-expires 'soon'" admin device token --service-account ci --key-expires soon
expect_fail "key expiry of a user's device" "for service accounts' keys" \
	admin device token --user alice@example.com --key-expires 90d
expect_fail "missing --network" "missing --network" admin connector add gw2
expect_fail "unknown command word" "unknown subcommand" admin network frob
ztc admin policy add office-hours --hours 'Mon-Fri 09:00-17:00' --tz Europe/Berlin >/dev/null ||
	fail "policy add --tz"
[[ $(ztc --json admin policy show office-hours | jq -r '.object.tz') == Europe/Berlin ]] ||
	fail "policy show lacks the zone"
expect_fail "unknown time zone" "unknown time zone 'Europe/Berln'" \
	admin policy add late --hours '09:00-17:00' --tz Europe/Berln
expect_fail "unknown time zone on set" "unknown time zone 'Mars/Olympus'" \
	admin policy set office-hours --tz Mars/Olympus

section "audit"
ztc admin audit | tee "$ZT_TMP/audit" | head -n 5
grep -qE '^1 +[0-9T:-]+Z +uid:0 +create +network +office$' "$ZT_TMP/audit" || fail "audit table"
grep -q 'token.create' "$ZT_TMP/audit" || fail "token creation not audited"
ztc admin audit --verify | grep -qE '^audit chain ok: [0-9]+ records$' || fail "audit --verify"
[[ $(ztc --json admin audit | jq '[.records[] | select(.action == "delete")] | length') -ge 1 ]] ||
	fail "the access rm is not in the audit trail"

section "export / apply"
ztc admin relay add r1 --address 192.0.2.1:3478 >/dev/null || fail "admin relay add"
ztc admin export >"$ZT_TMP/model.json"
[[ $(jq -r '.relay[0].address' "$ZT_TMP/model.json") == 192.0.2.1:3478 ]] || fail "export lacks the relay"
ztc admin apply -f "$ZT_TMP/model.json" 2>&1 | grep -q 'applied 0 changes' || fail "export -> apply changed something"
jq '.group += [{"name": "qa"}] | .resource[0].tcp = "80,443" |
    .tests = [{"user": "alice@example.com", "allow": ["nas"], "deny": ["web"]}]' \
	"$ZT_TMP/model.json" >"$ZT_TMP/model2.json"
ztc admin apply -f "$ZT_TMP/model2.json" --dry-run >"$ZT_TMP/out" 2>&1
grep -qx '+ group qa' "$ZT_TMP/out" || fail "dry run: $(cat "$ZT_TMP/out")"
[[ -z $(ztc admin group list | grep '^qa ') ]] || fail "dry run applied"
jq '.tests = [{"user": "alice@example.com", "deny": ["nas"]}]' "$ZT_TMP/model2.json" >"$ZT_TMP/model3.json"
expect_fail "apply: a failing test" "alice@example.com would reach nas" admin apply -f "$ZT_TMP/model3.json"
jq '.resource[0].network = "nowhere"' "$ZT_TMP/model2.json" >"$ZT_TMP/model4.json"
expect_fail "apply: a bad entry" "resource[0]: unknown network 'nowhere'" admin apply -f "$ZT_TMP/model4.json"
jq '.relay += [{"name": "r2", "address": "nope"}]' "$ZT_TMP/model2.json" >"$ZT_TMP/model5.json"
expect_fail "apply: a bad relay" "relay[1]: invalid relay address 'nope'" admin apply -f "$ZT_TMP/model5.json"
expect_fail "relay add: a taken address" "relay 'r1' has the address" admin relay add r2 --address 192.0.2.1:3478
jq '.relay += [{"name": "r2", "address": "[2001:db8::2]:3478"}]' "$ZT_TMP/model2.json" >"$ZT_TMP/model2r.json"
ztc admin apply -f "$ZT_TMP/model2r.json" --dry-run >"$ZT_TMP/out" 2>&1
grep -qx '+ relay r2' "$ZT_TMP/out" || fail "dry run with a relay: $(cat "$ZT_TMP/out")"
[[ -z $(ztc admin relay list | grep '^r2 ') ]] || fail "dry run added relay r2"
ztc admin apply -f "$ZT_TMP/model2.json" >"$ZT_TMP/out" 2>&1
grep -qx '~ resource nas' "$ZT_TMP/out" || fail "apply: $(cat "$ZT_TMP/out")"
ztc admin group list | grep -q '^qa ' || fail "apply did not add group qa"

section "remote admin with API keys"
# The CLI in the controller's namespace, on its node port: no socket involved.
rctl() { nsenter --net="/run/netns/$(zt_ns ctl)" -- "$ZTGATE" admin --controller 127.0.0.1:7450 "$@"; }
# remote_refused WHAT PATTERN ARGS...: exit non-zero, one line on stderr holding PATTERN.
remote_refused() {
	local what=$1 pattern=$2 rc=0
	shift 2
	rctl "$@" >"$ZT_TMP/out" 2>"$ZT_TMP/err" || rc=$?
	(( rc != 0 )) || fail "$what: succeeded: $(cat "$ZT_TMP/out")"
	[[ $(wc -l <"$ZT_TMP/err") -eq 1 ]] || fail "$what: stderr not one line: $(cat "$ZT_TMP/err")"
	grep -qF -- "$pattern" "$ZT_TMP/err" || fail "$what: '$(cat "$ZT_TMP/err")' lacks '$pattern'"
	log "ok: refused: $what ($(cat "$ZT_TMP/err"))"
}
out=$(ztc admin api-key add auditor --role read-only)
echo "$out"
ro=$(tail -n 1 <<<"$out")
[[ $ro =~ ^ztak1_[A-Za-z0-9_-]{86}$ ]] || fail "api-key add: no key on the last line"
rw=$(ztc admin api-key add ci --role read-write --expires 30d | tail -n 1)
ztc admin api-key list | tee "$ZT_TMP/keys"
grep -qE '^auditor +read-only +- ' "$ZT_TMP/keys" || fail "api-key list (auditor)"
grep -qE '^ci +read-write +[0-9T:-]+Z ' "$ZT_TMP/keys" || fail "api-key list (ci)"
[[ $(ztc --json admin api-key show ci | jq -r '.object | has("hash")') == false ]] || fail "show has the hash"
cat "$DAEMON_STATE"/controller.db* | grep -qaF "${rw:6:40}" && fail "the key's text is in the database"
expect_fail "api key: bad role" "--role read-only or --role read-write" admin api-key add x --role admin
expect_fail "api key: duplicate" "API key 'ci' exists" admin api-key add ci --role read-only
pub=$(grep -o '"pubkey":"[^"]*"' "$DAEMON_OUT" | tail -n 1 | cut -d'"' -f4)
rctl --controller-key "$pub" --api-key "$ro" network list | grep -q '^office ' ||
	fail "read-only: network list"
diff <(ztc admin resource list) <(rctl --api-key "$ro" resource list) ||
	fail "remote output differs from the local one"
rctl --api-key "$ro" audit --verify | grep -q '^audit chain ok' || fail "read-only: audit --verify"
remote_refused "read-only key, a write" "API key 'auditor' is read-only: 'network.add' changes the model" \
	--api-key "$ro" network add lab
remote_refused "read-only key, a token" "is read-only" --api-key "$ro" device token --user alice@example.com
ztc admin network list | grep -q '^lab ' && fail "a read-only key added a network"
ZTGATE_API_KEY=$rw ZTGATE_CONTROLLER=127.0.0.1:7450 ZTGATE_CONTROLLER_KEY=$pub \
	nsenter --net="/run/netns/$(zt_ns ctl)" -- "$ZTGATE" admin network add lab |
	grep -q '^added network lab' || fail "read-write key (environment): network add"
rctl --api-key "$rw" --json network show lab | jq -e '.object.actor == "api-key:ci"' >/dev/null ||
	fail "the remote write's actor"
ztc --json admin audit >"$ZT_TMP/audit.json"
jq -e 'any(.records[]; .actor == "api-key:ci" and .action == "create" and .name == "lab")' \
	"$ZT_TMP/audit.json" >/dev/null || fail "remote create not audited as api-key:ci"
jq -e 'any(.records[]; .actor == "api-key:auditor" and .action == "api-key.denied")' \
	"$ZT_TMP/audit.json" >/dev/null || fail "refused write not audited"
jq -e 'any(.records[]; .actor == "api-key:auditor" and .action == "api.read")' \
	"$ZT_TMP/audit.json" >/dev/null || fail "remote read not audited"
remote_refused "another controller's key pinned" "another controller" \
	--controller-key "$("$ZTGATE" keygen --out "$ZT_TMP/other.key" | tail -n 1)" --api-key "$ro" network list
brief=$(ztc admin api-key add brief --role read-write --expires 1s | tail -n 1)
sleep 2
remote_refused "expired key" "refused the session" --api-key "$brief" network list
ztc admin api-key rm ci | grep -q '^removed api-key ci' || fail "api-key rm"
remote_refused "removed key" "refused the session" --api-key "$rw" network list
remote_refused "no key" "needs --api-key" network list
ztc --json admin audit | jq -e '[.records[] | select(.action == "api-key.refused")] | length >= 2' \
	>/dev/null || fail "refused keys not audited"
ztc admin audit --verify >/dev/null || fail "the chain broke with remote admin"

section "a service account's key expires: session closed, key refused, audited"
# build/san/ctlload is a real node (the node protocol, enrollment, views): one
# service account key enrolled with --key-expires 10s, then past its expiry.
ztc admin device token --service-account ci --key-expires 10s | tail -n 1 >"$ZT_TMP/sa.tokens"
nsenter --net="/run/netns/$DAEMON_NS" -- "$(dirname "$ZTGATE")/ctlload" --connect 127.0.0.1:7450 \
	--tokens "$ZT_TMP/sa.tokens" --time 60 >"$ZT_TMP/load" 2>&1 &
load=$!
ZT_PIDS+=("$load")
# audited ACTION: a device record with ACTION is in the trail.
audited() { ztc --json admin audit | jq -e --arg a "$1" \
	'[.records[] | select(.action == $a and .kind == "device")] | length == 1'; }
wait_until 10 audited node.connect || fail "the service account's node did not connect: $(cat "$ZT_TMP/load")"
dev=$(ztc --json admin device list | jq -r '.items[] | select(.owner == "ci") | .name')
exp=$(ztc --json admin device show "$dev" | jq -r '.object.key_expires')
ztc admin device list | grep -qE "^$dev +ci +[0-9.]+ +[^ ]+ +$exp " ||
	fail "device list lacks the key's expiry $exp: $(ztc admin device list)"
wait_until 20 audited device.key_expired || fail "no device.key_expired in the trail"
wait_until 5 audited node.disconnect || fail "the expired key's session stayed open"
at=$(ztc --json admin audit | jq -r '.records[] | select(.action == "node.disconnect") | .time')
(( at >= exp && at <= exp + 2 )) || fail "the key expired at $exp, its session closed at $at"
ztc admin device show "$dev" | grep -qE '^key_expired +yes' || fail "device not marked key_expired"
# ctlload reconnects by its key each second: refused now, before any byte comes back.
wait_until 5 grep -q 'closed 0 closed by the peer during the handshake' "$ZT_TMP/load" ||
	fail "the expired key was not refused: $(cat "$ZT_TMP/load")"
log "ok: key expired at $exp: audited, session closed, reconnects refused"
# Renewed in place: the same key is let in again (ctlload still retries each second).
expect_fail "renewal: bad duration" "invalid --key-expires 'soon'" \
	admin device set "$dev" --key-expires soon
ztc admin device set "$dev" --key-expires 1h >/dev/null || fail "device set --key-expires"
connects() { ztc --json admin audit | jq -e --arg d "$dev" \
	'[.records[] | select(.action == "node.connect" and .name == $d)] | length == 2'; }
wait_until 5 connects || fail "the renewed key was not let in again: $(tail -n 3 "$ZT_TMP/load")"
ztc --json admin audit | jq -e --arg d "$dev" '[.records[] | select(.action == "update" and
	.name == $d and .before.key_expired == true and (.after | has("key_expired") | not))] |
	length == 1' >/dev/null || fail "the renewal's update record lacks before/after"
kill "$load"
log "ok: renewed in place: the key connects again, audited before/after"

section "killed, restarted: the state is kept"
before=$(ztc admin export | jq -S .)
zt_daemon_stop KILL
start_controller
after=$(ztc admin export | jq -S .)
[[ $before == "$after" ]] || fail "the model changed across a restart"
ztc admin group add later >/dev/null
ztc admin audit --verify >/dev/null || fail "the chain broke across a restart"
log "ok: state and audit chain kept across SIGKILL"

section "a tampered audit record is found"
zt_daemon_stop TERM
sqlite3 "$DAEMON_STATE/controller.db" "UPDATE audit SET actor = 'uid:4242' WHERE seq = 3"
start_controller
rc=0
ztc admin audit --verify >"$ZT_TMP/out" 2>"$ZT_TMP/err" || rc=$?
(( rc != 0 )) || fail "verify passed a tampered chain"
grep -q 'audit chain broken at record 3' "$ZT_TMP/err" || fail "verify: $(cat "$ZT_TMP/err")"
log "ok: $(cat "$ZT_TMP/err")"
zt_daemon_stop TERM

section "PostgreSQL"
zt_pg_start "$(mktemp -d /tmp/ztgate-pg.XXXXXX)"	# not in ZT_TMP: postgres must reach it
zt_defer zt_pg_stop
start_pg() { zt_daemon_start --listen 127.0.0.1:7450 --key "$ZT_TMP/controller.key" --db "$ZT_PG_URL"; }
start_pg
grep -q '"db":"postgresql://' "$DAEMON_OUT" || fail "not on PostgreSQL: $(tail -n 1 "$DAEMON_OUT")"
ztc admin network add office >/dev/null
ztc admin connector add office-gw --network office | last_is_token || fail "pg: connector token"
ztc admin resource add nas --network office --address nas.home.int --tcp 80 --icmp >/dev/null
ztc admin group add eng >/dev/null
ztc admin user add alice@example.com --group eng >/dev/null
ztc admin access add --group eng --resource nas >/dev/null
expect_fail "pg: unknown group" "unknown group 'nope'" admin user add bob@example.com --group nope
before=$(ztc admin export | jq -S .)
zt_daemon_stop KILL
start_pg
[[ $(ztc admin export | jq -S .) == "$before" ]] || fail "pg: the model changed across a restart"
ztc admin audit --verify | grep -q 'audit chain ok' || fail "pg: audit --verify"
log "ok: PostgreSQL backend: same commands, state kept across SIGKILL"
zt_daemon_stop TERM
log "PASS"
