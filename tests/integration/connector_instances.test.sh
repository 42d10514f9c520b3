#!/usr/bin/env bash
# connector_instances: two connectors in one network namespace (issue 12:
# "the nftables table keyed per instance"). Each has its own TUN, port,
# device range, pin dir and socket; each gets an nftables table of its own
# (ztgate-<pin dir name>-<hash>, docs/DEPLOY.md), and neither start, restart
# nor stop of one touches the other's. Forwarding was off: the first one
# turns it on behind the shared guard table (only traffic crossing a ztgate
# TUN, interface group 31348, is forwarded); the last one to stop turns it
# back off and removes the guard. Forwarding already on (the admin's): left
# on, no guard.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require jq nsenter nft ip
zt_require_bins

zt_netns_add conns
N=$(zt_ns conns)
ip netns exec "$N" sysctl -qw net.ipv4.ip_forward=0
zt_keygen "$ZT_TMP/a.key" >/dev/null
zt_keygen "$ZT_TMP/b.key" >/dev/null
start_a() { zt_daemon_as conn-a "$N" connector --listen 127.0.0.1:51820 --key "$ZT_TMP/a.key" --tun ztca \
	--device-range 100.64.0.0/16 --dns 127.0.0.1; }
start_b() { zt_daemon_as conn-b "$N" connector --listen 127.0.0.1:51821 --key "$ZT_TMP/b.key" --tun ztcb \
	--device-range 100.65.0.0/16 --dns 127.0.0.1; }
table_of() { zt_cli "$1" --json status | jq -r .nft_table; }
tables() { ip netns exec "$N" nft list tables ip | awk '{ print $3 }' | sort | zt_oneline; }
rules() { ip netns exec "$N" nft -s list table ip "$1"; }	# stateless: no counters
forward() { ip netns exec "$N" cat /proc/sys/net/ipv4/ip_forward; }
group_of() { ip -n "$N" -d -j link show "$1" | jq -r '.[0].group'; }

section "two connectors, one namespace"
start_a
TA=$(table_of conn-a)
[[ $TA =~ ^ztgate-conn-a-[0-9a-f]{8}$ ]] || fail "connector A's table is '$TA', want ztgate-conn-a-HASH"
rules_a=$(rules "$TA") || fail "no table $TA"
[[ $(forward) == 1 ]] || fail "forwarding not on with connector A up"
[[ $(tables) == "$TA ztgate-forward-guard" ]] || fail "tables with A up: $(tables)"
start_b
TB=$(table_of conn-b)
[[ $TB =~ ^ztgate-conn-b-[0-9a-f]{8}$ && $TB != "$TA" ]] || fail "connector B's table is '$TB' (A's: $TA)"
[[ $(tables) == "$(printf '%s\n' "$TA" "$TB" ztgate-forward-guard | sort | zt_oneline)" ]] ||
	fail "tables with A and B up: $(tables)"
[[ $(rules "$TA") == "$rules_a" ]] || fail "connector B's start changed A's table: $(diff <(echo "$rules_a") <(rules "$TA"))"
grep -q 'oifname "ztcb"' <<<"$(rules "$TB")" || fail "B's table is not about its TUN: $(rules "$TB")"
grep -q 'ztca' <<<"$(rules "$TB")" && fail "B's table names A's TUN"
for tun in ztca ztcb; do
	[[ $(group_of "$tun") == 31348 ]] || fail "$tun is in interface group '$(group_of "$tun")', want 31348 (the guard's)"
done
grep -q 'iifgroup != 31348 oifgroup != 31348' <<<"$(rules ztgate-forward-guard)" ||
	fail "the guard does not let ztgate TUNs through: $(rules ztgate-forward-guard)"
log "ok: A's table $TA, B's table $TB, both TUNs in group 31348 behind the guard; B's start left A's table as it was"

section "B restarted, then stopped: A's rules untouched"
rules_b=$(rules "$TB")
zt_daemon_stop_tag conn-b
start_b
[[ $(rules "$TB") == "$rules_b" ]] || fail "B's table differs after its restart"
[[ $(rules "$TA") == "$rules_a" ]] || fail "B's restart changed A's table"
zt_daemon_stop_tag conn-b
[[ $(tables) == "$TA ztgate-forward-guard" ]] || fail "after B stopped: tables $(tables)"
[[ $(rules "$TA") == "$rules_a" ]] || fail "B's stop changed A's table"
[[ $(forward) == 1 ]] || fail "B's stop turned forwarding off under A"
zt_pid_alive "$(zt_daemon_select conn-a; echo "$DAEMON_PID")" || fail "connector A died"
zt_cli conn-a health >/dev/null || fail "connector A unhealthy after B stopped"
log "ok: B restarted and stopped: A's table as it was, forwarding on, guard kept for A"

section "the last one out: forwarding back off, guard gone"
zt_daemon_stop_tag conn-a
[[ -z $(tables) ]] || fail "tables left after both stopped: $(tables)"
[[ $(forward) == 0 ]] || fail "forwarding left on after the last connector stopped"
log "ok: no table left, forwarding back off"

section "forwarding already on (the admin's): left on, no guard"
ip netns exec "$N" sysctl -qw net.ipv4.ip_forward=1
start_a
[[ $(tables) == "$TA" ]] || fail "tables with forwarding already on: $(tables)"
zt_daemon_stop_tag conn-a
[[ -z $(tables) && $(forward) == 1 ]] || fail "after stop: tables '$(tables)', forwarding $(forward)"
log "ok: forwarding found on stays on; no guard was added"
log "connector_instances: all passed"
