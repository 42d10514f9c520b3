#!/usr/bin/env bash
# controller_hours: security policy allowed hours at a live connector, in
# real time. `ztgated controller` and build/san/ctlload (a real node: the
# node protocol, enrollment, views; --save keeps every view it is sent, with
# its arrival time) as the connector of network office and a service
# account's device. Two access rules of the same group: nas under a policy
# whose window ends at the next minute, web under one whose window begins
# then. At that boundary, and within 1.5 s of it, the connector is sent one
# view without nas's grant and with web's, the device staying in it (its
# packets denied, counted); before it every view had nas and not web. The
# client's view keeps both resources (the connector says no).
#
# Costs up to a minute of waiting: the windows are HH:MM, so the boundary is
# the next minute (at least 6 s away, for the setup).
#
# Topology: one namespace; the node port listens on its loopback.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require jq nsenter
zt_require_bins
CTLLOAD=$(dirname "$ZTGATE")/ctlload
[[ -x $CTLLOAD ]] || fail "$CTLLOAD missing (make san)"

zt_netns_add ctl
zt_daemon_setup "$(zt_ns ctl)" ctl
"$ZTGATE" keygen --out "$ZT_TMP/controller.key" >/dev/null
export ZT_DAEMON_ROLE=controller

section "a connector and a service account's device, both rules granting"
zt_daemon_start --listen 127.0.0.1:7450 --key "$ZT_TMP/controller.key"
ztc admin network add office >/dev/null
echo "connector $(ztc admin connector add office-gw --network office | tail -n 1)" >"$ZT_TMP/tokens"
ztc admin resource add nas --network office --address 10.0.0.5 --tcp 80 >/dev/null
ztc admin resource add web --network office --address 10.0.0.6 --tcp 443 >/dev/null
ztc admin group add eng >/dev/null
ztc admin service-account add ci --group eng >/dev/null
ztc admin access add --group eng --resource nas >/dev/null
ztc admin access add --group eng --resource web >/dev/null
ztc admin device token --service-account ci | tail -n 1 >>"$ZT_TMP/tokens"
mkdir "$ZT_TMP/views"
nsenter --net="/run/netns/$DAEMON_NS" -- "$CTLLOAD" --connect 127.0.0.1:7450 \
	--tokens "$ZT_TMP/tokens" --time 120 --save "$ZT_TMP/views" >"$ZT_TMP/load" 2>&1 &
ZT_PIDS+=("$!")
CONN=$ZT_TMP/views/0.views	# the tokens' order: the connector is node 0, the device node 1
DEV=$ZT_TMP/views/1.views

# grants FILE: "T_NS NAS WEB DEVICE" for each view in FILE: its arrival time,
# whether it grants $dev nas, web (1/0), whether it lists $dev.
grants() {
	local t json
	while read -r t json; do
		jq -r --arg t "$t" --arg d "$dev" '[$t,
			(.policy.grants | any(.device == $d and .resource == "nas") | if . then 1 else 0 end),
			(.policy.grants | any(.device == $d and .resource == "web") | if . then 1 else 0 end),
			(.policy.devices | any(.name == $d) | if . then 1 else 0 end)] | join(" ")' <<<"$json"
	done <"$1"
}
# last_is NAS WEB: the connector's last view grants nas and web so.
last_is() { [[ -f $CONN ]] && grants "$CONN" | tail -n 1 | grep -q " $1 $2 1$"; }
device_named() { dev=$(ztc --json admin device list | jq -er '.items[] | select(.owner == "ci") | .name'); }

wait_until 10 device_named || fail "the device did not enroll: $(cat "$ZT_TMP/load")"
wait_until 5 last_is 1 1 || fail "the connector was not sent both grants: $(grants "$CONN" 2>&1) $(ls "$ZT_TMP/views") $(cat "$ZT_TMP/load")"
log "ok: $dev granted nas and web at office-gw"

section "at the boundary: nas's window ends, web's begins"
now=$(date +%s)
B=$(( (now / 60 + 1) * 60 ))
(( B - now >= 6 )) || B=$((B + 60))
hhmm() { date -u -d "@$1" +%H:%M; }
ztc admin policy add until-b --hours "$(hhmm $((B - 3600)))-$(hhmm "$B")" >/dev/null
ztc admin policy add from-b --hours "$(hhmm "$B")-$(hhmm $((B + 3600)))" >/dev/null
ztc admin access set --group eng --resource nas --policy until-b >/dev/null
ztc admin access set --group eng --resource web --policy from-b >/dev/null
wait_until 5 last_is 1 0 || fail "before $(hhmm "$B") UTC web should be withheld: $(grants "$CONN")"
(( $(date +%s) < B )) || fail "the setup ran past the boundary $(hhmm "$B"): too slow to tell"
log "ok: windows until $(hhmm "$B") (nas) and from $(hhmm "$B") (web) UTC; waiting $((B - $(date +%s))) s"
wait_until $((B - $(date +%s) + 5)) last_is 0 1 ||
	fail "no view moved the grants at $(hhmm "$B"): $(grants "$CONN")"
# The first view without nas: at the boundary, within 1.5 s, web in it, the device kept.
read -r t nas web kept < <(grants "$CONN" | awk '$2 == 0' | head -n 1)
(( t >= B * 1000000000 && t <= B * 1000000000 + 1500000000 )) ||
	fail "the view moving the grants came at $t ns, the boundary is $B s"
[[ $nas$web$kept == 011 ]] || fail "the boundary's view: nas $nas web $web device kept $kept"
# Between the policies and it, every view granted nas and not web, before the boundary.
grants "$CONN" | awk -v t="$t" -v b="$B" '$1 >= t { exit } $2 == 1 && $3 == 0 { set = 1 }
	set && ($2 != 1 || $3 != 0 || $1 >= b * 1e9) { bad = 1 } END { exit bad }' ||
	fail "a view between the policies and the boundary was wrong: $(grants "$CONN")"
log "ok: at $(hhmm "$B") UTC office-gw was sent the view $(( (t - B * 1000000000) / 1000000 )) ms after the boundary: nas withheld, web granted, $dev kept"
# The client's view still lists both resources: the connector is the one that says no.
jq -e '[.policy.resources[].name] | index("nas") and index("web")' <<<"$(tail -n 1 "$DEV" | cut -d' ' -f2-)" \
	>/dev/null || fail "the device's view lost a resource: $(tail -n 1 "$DEV")"
log "ok: the device's own view keeps nas and web"
log "PASS"
