#!/usr/bin/env bash
# policy_cli: the identity side of the policy through the real CLI and daemon
# (issue 4, "Keys and identities"): keygen/pubkey, devices, connectors,
# resources with a connector, grants and revokes, apply (with --dry-run) and
# export, bad input of every kind, persistence across a restart, an old
# resources-only policy file, and the device and grant entries in the
# pinned BPF maps.
#
# Topology: namespaces cli (c0) and res (r0) joined by a veth pair;
# `ztgated enforce --tc-egress c0` in cli. Enforcement itself is covered by
# enforce_nmap; here the maps are read back with bpftool.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require jq bpftool nsenter cmp stat sha256sum
zt_require_bins

# expect_fail WHAT PATTERN CMD...: CMD exits non-zero, prints exactly one line on
# stderr containing PATTERN, leaves the exported policy as it was and the
# daemon alive.
expect_fail() {
	local what=$1 pattern=$2 rc=0 before after
	shift 2
	before=$(ztc export)
	"$@" >"$ZT_TMP/out" 2>"$ZT_TMP/err" || rc=$?
	(( rc != 0 )) || fail "$what: succeeded: $(cat "$ZT_TMP/out")"
	[[ $(wc -l <"$ZT_TMP/err") -eq 1 ]] || fail "$what: stderr not one line: $(cat "$ZT_TMP/err")"
	grep -qF -- "$pattern" "$ZT_TMP/err" || fail "$what: stderr '$(cat "$ZT_TMP/err")' lacks '$pattern'"
	zt_pid_alive "$DAEMON_PID" || fail "$what: the daemon died"
	after=$(ztc export)
	[[ $before == "$after" ]] || fail "$what: the policy changed"
	log "ok: refused: $what ($(cat "$ZT_TMP/err"))"
}

# expect_usage WHAT PATTERN ARGS...: `ztgate ARGS` is a usage error: what
# expect_fail checks, exit code 2, and nothing sent (against a socket that is
# not there it says PATTERN, not "cannot reach").
expect_usage() {
	local what=$1 pattern=$2 rc=0
	shift 2
	expect_fail "$what" "$pattern" ztc "$@"
	"$ZTGATE" --socket "$ZT_TMP/none.sock" "$@" >/dev/null 2>"$ZT_TMP/err" || rc=$?
	(( rc == 2 )) || fail "$what: exit $rc, want 2: $(cat "$ZT_TMP/err")"
	grep -qF -- "$pattern" "$ZT_TMP/err" || fail "$what: without a daemon: $(cat "$ZT_TMP/err")"
}

# The active generation's entries of a generation-keyed map, one JSON per line.
active_gen() { bpftool -j map dump pinned "$DAEMON_PIN/zt_config" | jq '.[0].formatted.value.active_gen'; }
map_entries() {
	local gen
	gen=$(active_gen)
	bpftool -j map dump pinned "$DAEMON_PIN/$1" |
		jq -c --argjson g "$gen" '.[] | .formatted | select(.key.gen == $g)'
}
# Tunnel address -> device id, as "a.b.c.d id" lines.
device_map() {
	map_entries zt_devices | jq -r '"\(.key.addr[12:16] | map(tostring) | join(".")) \(.value.device_id)"' | sort
}
grant_map() { map_entries zt_grants | jq -r '"\(.key.device_id) \(.key.resource_id)"' | sort; }

section "keygen and pubkey (no daemon)"
K_ALICE=$("$ZTGATE" keygen --out "$ZT_TMP/alice.key")
K_BOB=$("$ZTGATE" keygen --out "$ZT_TMP/bob.key")
K_GW=$("$ZTGATE" keygen --out "$ZT_TMP/gw.key")
K_GW6=$("$ZTGATE" keygen --out "$ZT_TMP/gw6.key")
[[ $K_ALICE =~ ^[A-Za-z0-9+/]{43}=$ ]] || fail "keygen printed '$K_ALICE', not a base64 key"
[[ $(stat -c %a "$ZT_TMP/alice.key") == 600 ]] || fail "key file mode $(stat -c %a "$ZT_TMP/alice.key")"
[[ $K_ALICE != "$K_BOB" ]] || fail "two keygens gave one key"
[[ $("$ZTGATE" pubkey "$ZT_TMP/alice.key") == "$K_ALICE" ]] || fail "pubkey FILE differs from keygen"
[[ $("$ZTGATE" pubkey <"$ZT_TMP/alice.key") == "$K_ALICE" ]] || fail "pubkey < FILE differs"
[[ $("$ZTGATE" --json pubkey "$ZT_TMP/bob.key" | jq -r .public_key) == "$K_BOB" ]] ||
	fail "pubkey --json"
log "ok: keygen writes mode 0600 and pubkey gives back its public key"
sum=$(sha256sum <"$ZT_TMP/alice.key")
if "$ZTGATE" keygen --out "$ZT_TMP/alice.key" >"$ZT_TMP/out" 2>"$ZT_TMP/err"; then
	fail "keygen overwrote an existing key file"
fi
grep -q "refusing to overwrite" "$ZT_TMP/err" || fail "keygen refusal: $(cat "$ZT_TMP/err")"
[[ $(sha256sum <"$ZT_TMP/alice.key") == "$sum" ]] || fail "the refused keygen changed the file"
log "ok: keygen refuses to overwrite ($(cat "$ZT_TMP/err"))"
cp -p "$ZT_TMP/alice.key" "$ZT_TMP/open.key"
chmod 644 "$ZT_TMP/open.key"
if "$ZTGATE" pubkey "$ZT_TMP/open.key" 2>"$ZT_TMP/err"; then fail "pubkey read a 0644 key file"; fi
grep -q "chmod 600" "$ZT_TMP/err" || fail "mode refusal: $(cat "$ZT_TMP/err")"
if echo "AAAA" | "$ZTGATE" pubkey 2>"$ZT_TMP/err"; then fail "pubkey took a short key"; fi
log "ok: group-readable key file and a short key refused"

section "daemon"
zt_pair cli c0 res r0
C=$(zt_ns cli)
zt_daemon_setup "$C" pol
zt_daemon_start --tc-egress c0

section "CLI: option spellings, --help, usage errors"
K_EQ=$("$ZTGATE" keygen --out="$ZT_TMP/eq.key") || fail "keygen --out=FILE"
[[ $("$ZTGATE" pubkey -- "$ZT_TMP/eq.key") == "$K_EQ" ]] || fail "pubkey -- FILE"
[[ $("$ZTGATE" --socket="$DAEMON_SOCK" resource list --json) == "$(ztc --json resource list)" ]] ||
	fail "--socket=PATH and --json after the command"
"$ZTGATE" --help >"$ZT_TMP/out" 2>"$ZT_TMP/err" || fail "ztgate --help failed"
[[ ! -s $ZT_TMP/err && $(grep -c '^  resource add ' "$ZT_TMP/out") -eq 1 &&
	$(grep -c '^  netcheck ' "$ZT_TMP/out") -eq 1 ]] || fail "ztgate --help: $(cat "$ZT_TMP/out" "$ZT_TMP/err")"
for cmd in "resource add" "device rm" "grant" "apply" "netcheck"; do
	# shellcheck disable=SC2086 # the words of the command
	"$ZTGATE" $cmd --help >"$ZT_TMP/out" 2>"$ZT_TMP/err" || fail "ztgate $cmd --help failed"
	[[ $(head -n 1 "$ZT_TMP/out") == "usage: ztgate $cmd"* && ! -s $ZT_TMP/err ]] ||
		fail "ztgate $cmd --help: $(cat "$ZT_TMP/out" "$ZT_TMP/err")"
done
[[ $("$ZTGATE" resource --help | grep -c '^  resource ') -eq 4 ]] || fail "ztgate resource --help"
if "$ZTGATE" >/dev/null 2>"$ZT_TMP/err"; then fail "ztgate without a command succeeded"; fi
grep -q '^usage: ztgate' "$ZT_TMP/err" || fail "ztgate without a command: $(cat "$ZT_TMP/err")"
log "ok: --opt=value, options after the command, --help for all, one command and a group"
expect_usage "unknown option, --opt=value form" "device add: unknown option '--key'" \
	device add carol --key="$K_GW" --address 100.64.0.9
expect_usage "a flag given a value" "resource add: --icmp takes no value" \
	resource add x --address 198.18.0.9 --icmp=yes
expect_usage "an option without its value" "resource add: --tcp needs a value" \
	resource add x --address 198.18.0.9 --tcp
expect_usage "an option twice" "connector add: --pubkey given twice" \
	connector add x --pubkey "$K_GW" --pubkey="$K_GW"
expect_usage "an argument too many" "resolve: unexpected argument 'b'" resolve a b
expect_usage "missing NAME" "resource show: missing NAME" resource show
expect_usage "an option of no command" "stats: unknown option '--all'" stats --all
expect_usage "unknown subcommand" "device: unknown subcommand 'frob'" device frob
expect_usage "unknown command" "unknown command 'frobnicate'" frobnicate

section "devices"
ztc device add alice --pubkey "$K_ALICE" --address 100.64.0.2 >/dev/null
ztc device add bob --pubkey="$K_BOB" --address=100.64.0.3 >/dev/null	# --opt=value
[[ $(ztc --json device list | jq -c '[.devices[] | [.name, .id, .address, .pubkey]]') == \
	"[[\"alice\",1,\"100.64.0.2\",\"$K_ALICE\"],[\"bob\",2,\"100.64.0.3\",\"$K_BOB\"]]" ]] ||
	fail "device list: $(ztc --json device list)"
ztc device list | grep -q "^alice .*100.64.0.2" || fail "device list table"
expect_fail "duplicate device name" "device 'alice' already exists" \
	ztc device add alice --pubkey "$K_GW" --address 100.64.0.9
expect_fail "duplicate device key" "already belongs to device 'alice'" \
	ztc device add carol --pubkey "$K_ALICE" --address 100.64.0.9
expect_fail "duplicate device address" "100.64.0.2 is already device 'alice'" \
	ztc device add carol --pubkey "$K_GW" --address 100.64.0.2
expect_fail "short key" "invalid key" ztc device add carol --pubkey "AAAA" --address 100.64.0.9
expect_fail "CIDR as a device address" "one IPv4 address" \
	ztc device add carol --pubkey "$K_GW" --address 100.64.0.0/24
expect_fail "IPv6 device address" "one IPv4 address" \
	ztc device add carol --pubkey "$K_GW" --address fd00::9
expect_fail "device add without --pubkey" "missing --pubkey" ztc device add carol --address 100.64.0.9
expect_fail "device add, unknown option" "unknown option '--key'" \
	ztc device add carol --key "$K_GW" --address 100.64.0.9
expect_fail "device rm of nobody" "no device named 'nobody'" ztc device rm nobody

section "connectors and resources"
ztc connector add gw --pubkey "$K_GW" --endpoint 192.0.2.1:51820 >/dev/null
ztc connector add gw6 --pubkey "$K_GW6" --endpoint '[2001:DB8::1]:51820' >/dev/null
[[ $(ztc --json connector list | jq -r '[.connectors[].endpoint] | join(" ")') == \
	"192.0.2.1:51820 [2001:db8::1]:51820" ]] || fail "connector list: $(ztc --json connector list)"
expect_fail "connector key of a device" "already belongs to device 'bob'" \
	ztc connector add gw2 --pubkey "$K_BOB" --endpoint 192.0.2.2:51820
expect_fail "connector endpoint without a port" "invalid endpoint" \
	ztc connector add gw2 --pubkey "$K_ALICE" --endpoint 192.0.2.2
expect_fail "connector endpoint, a name" "invalid endpoint" \
	ztc connector add gw2 --pubkey "$K_ALICE" --endpoint gw.example.com:51820
expect_fail "connector endpoint, port 0" "1-65535" \
	ztc connector add gw2 --pubkey "$K_ALICE" --endpoint 192.0.2.2:0
# Known by its key alone: reached through relays until a direct path is found.
K_RELAYED=$("$ZTGATE" keygen --out "$ZT_TMP/relayed.key")
ztc connector add relayed --pubkey "$K_RELAYED" | grep -q "endpoint none (relays only)" ||
	fail "connector add without --endpoint"
ztc connector list | grep -q "^relayed  *- " || fail "connector list: no '-' for a missing endpoint"
[[ $(ztc export | jq -c '.connectors[] | select(.name == "relayed") | keys') == '["name","pubkey"]' ]] ||
	fail "export of a connector without endpoint: $(ztc export)"
ztc connector rm relayed >/dev/null
ztc resource add web --address 198.18.0.2 --tcp 80,443 --connector gw >/dev/null
ztc resource add db --address 198.18.0.3 --tcp 5432 >/dev/null
ztc resource add nas --address nas.home.int --tcp 22 --connector gw6 >/dev/null
[[ $(ztc --json resource list | jq -r '[.resources[] | "\(.name)=\(.connector // "-")"] | join(" ")') == \
	"web=gw db=- nas=gw6" ]] || fail "resource list connectors: $(ztc --json resource list)"
ztc resource show web | grep -q "^connector: *gw$" || fail "resource show lacks the connector"
ztc resource list | grep -q "^web .* gw$" || fail "resource list table lacks the connector"
expect_fail "resource with an unknown connector" "no connector named 'nope'" \
	ztc resource add files --address 198.18.0.4 --connector nope
expect_fail "connector rm while resources use it" "connector 'gw' serves resource 'web'" \
	ztc connector rm gw

section "grants"
ztc grant alice web >/dev/null
ztc grant alice db >/dev/null
ztc grant bob web >/dev/null
[[ $(ztc --json grant list | jq -c '[.grants[] | [.device, .resource]]') == \
	'[["alice","web"],["alice","db"],["bob","web"]]' ]] || fail "grant list: $(ztc --json grant list)"
[[ $(ztc grants | tail -n +2 | awk '{ print $1 ":" $2 }' | paste -sd' ') == \
	"alice:web alice:db bob:web" ]] || fail "grants table: $(ztc grants)"
expect_fail "grant twice" "already has a grant for 'web'" ztc grant alice web
expect_fail "grant to nobody" "no device named 'nobody'" ztc grant nobody web
expect_fail "grant of nothing" "no resource named 'nothing'" ztc grant alice nothing
expect_fail "revoke of no grant" "bob' has no grant for 'db'" ztc revoke bob db
expect_fail "grant with one argument" "missing RESOURCE" ztc grant alice

# Device 1 (alice) and 2 (bob); resources web 1, db 2, nas 3.
[[ $(device_map | paste -sd' ') == "100.64.0.2 1 100.64.0.3 2" ]] ||
	fail "zt_devices in the active generation: $(device_map | paste -sd' ')"
[[ $(grant_map | paste -sd' ') == "1 1 1 2 2 1" ]] || fail "zt_grants: $(grant_map | paste -sd' ')"
log "ok: bpftool shows the devices and grants in the active generation"
ztc revoke alice db >/dev/null
[[ $(grant_map | paste -sd' ') == "1 1 2 1" ]] || fail "zt_grants after revoke: $(grant_map | paste -sd' ')"
# The other generation holds the same grants (the next change is written there
# as a diff): a revoke leaves no stale grant behind in either.
[[ $(bpftool -j map dump pinned "$DAEMON_PIN/zt_grants" |
	jq -r '.[] | .formatted.key | "\(.gen):\(.device_id):\(.resource_id)"' | sort | paste -sd' ') == \
	"0:1:1 0:2:1 1:1:1 1:2:1" ]] ||
	fail "zt_grants holds stale entries: $(bpftool -j map dump pinned "$DAEMON_PIN/zt_grants")"
log "ok: revoke took the grant out of the maps"

section "export and apply"
ztc export >"$ZT_TMP/exp1.json"
cmp -s "$ZT_TMP/exp1.json" "$DAEMON_STATE/policy.json" || fail "export differs from policy.json"
ztc apply -f "$ZT_TMP/exp1.json" --dry-run >"$ZT_TMP/out" 2>"$ZT_TMP/err"
[[ ! -s $ZT_TMP/out ]] || fail "dry run of the export is not empty: $(cat "$ZT_TMP/out")"
ztc apply -f "$ZT_TMP/exp1.json" >"$ZT_TMP/out" 2>"$ZT_TMP/err"
[[ ! -s $ZT_TMP/out ]] || fail "apply of the export changed: $(cat "$ZT_TMP/out")"
grep -q "applied 0 changes" "$ZT_TMP/err" || fail "apply summary: $(cat "$ZT_TMP/err")"
ztc export >"$ZT_TMP/exp2.json"
cmp "$ZT_TMP/exp1.json" "$ZT_TMP/exp2.json" || fail "export -> apply -> export is not byte-identical"
log "ok: export -> apply -> export byte-identical, empty diff"

# A new document, written without ids: web's ports changed, db gone (alice's
# grant of it went with the revoke above), gw6 gone and its key now carol's,
# a new device granted nas.
jq --arg k "$K_GW6" '
	del(.resources[].id, .devices[].id)
	| .resources |= map(select(.name != "db"))
	| .resources[0].tcp = "443"
	| .connectors |= map(select(.name != "gw6"))
	| .resources |= map(if .name == "nas" then del(.connector) else . end)
	| .devices += [{"name": "carol", "pubkey": $k, "address": "100.64.0.4"}]
	| .grants += [{"device": "carol", "resource": "nas"}]' "$ZT_TMP/exp1.json" >"$ZT_TMP/doc2.json"
ztc apply -f "$ZT_TMP/doc2.json" --dry-run >"$ZT_TMP/dry" 2>"$ZT_TMP/err"
cat >"$ZT_TMP/want" <<EOF
- resource db
~ resource web: tcp 80,443 -> 443
~ resource nas: connector gw6 -> (none)
+ device carol id=3 pubkey=$K_GW6 address=100.64.0.4
- connector gw6
+ grant carol nas
EOF
diff -u "$ZT_TMP/want" "$ZT_TMP/dry" || fail "apply --dry-run printed another difference"
grep -q "dry run: 6 changes, nothing applied" "$ZT_TMP/err" || fail "dry-run summary: $(cat "$ZT_TMP/err")"
ztc export | cmp -s - "$ZT_TMP/exp1.json" || fail "apply --dry-run changed the policy"
log "ok: apply --dry-run lists the changes and changes nothing"
ztc apply -f "$ZT_TMP/doc2.json" >"$ZT_TMP/out" 2>/dev/null
cmp "$ZT_TMP/want" "$ZT_TMP/out" || fail "apply printed another difference than the dry run"
[[ $(ztc --json resource list | jq -r '[.resources[] | "\(.name):\(.id):\(.tcp)"] | join(" ")') == \
	"web:1:443 nas:3:22" ]] || fail "after apply: $(ztc --json resource list)"
[[ $(device_map | paste -sd' ') == "100.64.0.2 1 100.64.0.3 2 100.64.0.4 3" ]] ||
	fail "zt_devices after apply: $(device_map | paste -sd' ')"
[[ $(grant_map | paste -sd' ') == "1 1 2 1 3 3" ]] || fail "zt_grants after apply: $(grant_map | paste -sd' ')"
log "ok: apply replaced the policy; ids kept by name; maps follow"
ztc export >"$ZT_TMP/exp3.json"
ztc apply -f "$ZT_TMP/exp3.json" >/dev/null 2>&1
ztc export | cmp - "$ZT_TMP/exp3.json" || fail "second round trip not byte-identical"
ztc --json export | jq -e '.policy.devices | length == 3' >/dev/null || fail "export --json"

section "apply: invalid documents change nothing"
jq '.grants += [{"device": "zed", "resource": "web"}]' "$ZT_TMP/exp3.json" >"$ZT_TMP/bad1.json"
expect_fail "grant of an unknown device" "grants[3]: no device 'zed'" ztc apply -f "$ZT_TMP/bad1.json"
jq '.resources[1].ports = "80"' "$ZT_TMP/exp3.json" >"$ZT_TMP/bad2.json"
expect_fail "unknown field" "resources[1]: unknown field 'ports'" ztc apply -f "$ZT_TMP/bad2.json"
jq '.devices[2].address = "100.64.0.2"' "$ZT_TMP/exp3.json" >"$ZT_TMP/bad3.json"
expect_fail "duplicate address" "devices[2]: address 100.64.0.2 is already device 'alice'" \
	ztc apply -f "$ZT_TMP/bad3.json" --dry-run
jq '.resources[0].connector = "gone"' "$ZT_TMP/exp3.json" >"$ZT_TMP/bad4.json"
expect_fail "connector that is not there" "resources[0]: no connector 'gone'" ztc apply -f "$ZT_TMP/bad4.json"
printf '{"resources": [' >"$ZT_TMP/bad5.json"
expect_fail "not JSON" "not a JSON document" ztc apply -f "$ZT_TMP/bad5.json"
expect_fail "no such file" "No such file" ztc apply -f "$ZT_TMP/missing.json"
expect_fail "apply without -f" "missing -f" ztc apply --dry-run
# A document larger than the old 64 KiB line limit goes through whole.
jq '.resources += [range(1000) | {"name": "r\(.)", "address": "10.9.\(. / 256 | floor).\(. % 256)", "tcp": "80"}]' \
	"$ZT_TMP/exp3.json" >"$ZT_TMP/big.json"
(( $(stat -c %s "$ZT_TMP/big.json") > 65536 )) || fail "big.json is not big"
ztc apply -f "$ZT_TMP/big.json" >/dev/null 2>&1 || fail "apply of a 1000-resource document"
[[ $(ztc --json resource list | jq '.resources | length') == 1002 ]] || fail "big apply did not land"
ztc export | jq -e '.resources | length == 1002' >/dev/null || fail "big export"
ztc apply -f "$ZT_TMP/exp3.json" >/dev/null 2>&1
log "ok: a 1002-resource document applies and exports"

section "cascades"
ztc resource rm web >"$ZT_TMP/out"
grep -q "removed resource web and its grants: alice -> web, bob -> web" "$ZT_TMP/out" ||
	fail "resource rm: $(cat "$ZT_TMP/out")"
ztc connector rm gw >/dev/null || fail "connector rm gw once web was gone"
ztc --json device rm carol >"$ZT_TMP/out"
jq -e '.removed_grants == [{"device": "carol", "resource": "nas"}]' "$ZT_TMP/out" >/dev/null ||
	fail "device rm --json: $(cat "$ZT_TMP/out")"
[[ -z $(grant_map) ]] || fail "grants left in the maps: $(grant_map | paste -sd' ')"
[[ $(device_map | paste -sd' ') == "100.64.0.2 1 100.64.0.3 2" ]] || fail "zt_devices after rm"

section "audit"
for a in device.add connector.add grant.add grant.rm policy.apply resource.rm connector.rm device.rm; do
	grep -q "\"action\":\"$a\"" "$DAEMON_STATE/audit.jsonl" || fail "no audit record for $a"
done
grep '"action":"device.rm"' "$DAEMON_STATE/audit.jsonl" | tail -n 1 |
	jq -e '.detail.removed_grants == [{"device": "carol", "resource": "nas"}]' >/dev/null ||
	fail "the device.rm audit record does not name the grants it removed"
grep '"action":"policy.apply"' "$DAEMON_STATE/audit.jsonl" |
	jq -s -e 'any(.[]; .detail.changes | length == 6 and .[5] == "+ grant carol nas")' >/dev/null ||
	fail "the apply audit record lacks its changes"
log "ok: every change left an audit record"

section "restart keeps everything"
ztc export >"$ZT_TMP/before-restart.json"
zt_daemon_stop
zt_daemon_start --tc-egress c0
ztc export | cmp - "$ZT_TMP/before-restart.json" || fail "the policy changed across a restart"
[[ $(device_map | paste -sd' ') == "100.64.0.2 1 100.64.0.3 2" ]] || fail "zt_devices after restart"
zt_daemon_stop
zt_daemon_teardown

section "an old resources-only policy file"
zt_daemon_setup "$C" old
cat >"$DAEMON_STATE/policy.json" <<'EOF'
{"resources":[{"id":7,"name":"web","address":"198.18.0.2","tcp":"80,443","udp":"53","icmp":true,"deny_mode":"reject"}]}
EOF
zt_daemon_start --tc-egress c0
ztc export | jq -e '.resources[0].id == 7 and .resources[0].udp == "53" and .devices == [] and .grants == []' \
	>/dev/null || fail "old file: $(ztc export)"
ztc device add alice --pubkey "$K_ALICE" --address 100.64.0.2 >/dev/null
ztc grant alice web >/dev/null
[[ $(grant_map) == "1 7" ]] || fail "grant on an old file's resource: $(grant_map)"
log "ok: an old policy file loads and takes devices and grants"
ztc teardown >/dev/null
wait_until 10 zt_pid_dead "$DAEMON_PID" || fail "daemon did not stop on teardown"
wait "$DAEMON_PID" 2>/dev/null || true
DAEMON_PID=

log "policy_cli: all checks passed"
