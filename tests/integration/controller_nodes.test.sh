#!/usr/bin/env bash
# controller_nodes: the node half of issue 11 in namespaces, against a stand-in
# controller (build/san/ctlstub_tool: the real node server with a model of
# files; the full suite with `ztgated controller` comes with the controller).
#
# Topology: tests/lib.sh zt_tunnel_topology; the stand-in controller listens
# on 198.18.0.1:7443 in inet (TCP), reachable from cli and conn.
#   1. a connector and a client, each started with --controller and a one-time
#      --token only (no local policy command): keys made in their state dirs
#      (mode 600), enrolled; their views (written once their keys are known)
#      pushed; curl http://nas.home.int/ through the tunnel
#   2. the connector reported its endpoint and the curl's connection lines
#   3. local policy edits refused with one line; read-only commands work;
#      `ztgate status` and stats show the session; then a new tunnel address
#      from the controller restarts the client's tunnel from it
#   4. a restart reconnects with the key alone (a --token given again ignored);
#      a view naming a relay: the running client notes it takes effect at restart
#   5. controller gone: the client restarted with it down still reaches nas
#      from its persisted view (fail static), and uses the view's relay
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require dig dnsmasq ncat socat jq nsenter curl python3 ss getent
zt_require_bins
STUB=${CTLSTUB:-$(dirname "$ZTGATED")/ctlstub_tool}
[[ -x $STUB ]] || fail "$STUB missing (make san)"

CTL=198.18.0.1:7443
DEV_ADDR=100.64.0.2
ENDPOINT=$ZT_TUN_CONN_IP:$ZT_TUN_CONN_PORT

section "topology and services"
# shellcheck disable=SC2119
zt_tunnel_topology
C=$ZT_NS_CLI
N=$ZT_NS_CONN
zt_tunnel_services
zt_tunnel_client_resolver "$C"

zc() { zt_cli "$@" >/dev/null || fail "ztgate ($1): ${*:2}: failed"; }
reports() { jq -cR --arg w "$1" "fromjson? | select(.report == \$w and ($2))" "$ZT_TMP/stub.out"; }
has_report() { [[ -n $(reports "$1" "$2") ]]; }
ctl_status() { zt_cli "$1" --json status | jq -c '.controller'; }

# view ID POLICY-JSON SELF-JSON: the stand-in controller's view for node ID.
view() { jq -n --argjson p "$2" --argjson s "$3" '{policy: $p, self: $s, relays: []}' >"$ZT_TMP/view-$1.json"; }

section "1. enrollment with tokens, views, a curl through the tunnel"
"$ZTGATE" keygen --out "$ZT_TMP/ctl.key" >/dev/null
view 1 '{}' '{"kind":"connector","name":"office-gw"}'
view 2 '{}' "{\"kind\":\"device\",\"name\":\"laptop\",\"address\":\"$DEV_ADDR\"}"
zt_bg stub "$ZT_NS_INET" "$STUB" --listen "$CTL" --key "$ZT_TMP/ctl.key" --view "$ZT_TMP/view-{id}.json" --tokens 2
STUB_PID=$ZT_BG_PID
wait_until 10 bash -c "(( \$(grep -c '^token ' '$ZT_TMP/stub.out') == 2 ))" || fail "stub printed no tokens: $(cat "$ZT_TMP/stub.err")"
T1=$(sed -n 's/^token //p' "$ZT_TMP/stub.out" | sed -n 1p)
T2=$(sed -n 's/^token //p' "$ZT_TMP/stub.out" | sed -n 2p)

zt_daemon_as conn "$N" connector --controller "$CTL" --token "$T1" --listen "$ENDPOINT" --dns $ZT_TUN_NAS_IP
wait_until 10 has_report applied '.id == 1' || fail "the connector applied no view: $(tail -5 "$(zt_daemon_out conn)")"
zt_daemon_as laptop "$C" client --controller "$CTL" --token "$T2" --upstream $ZT_TUN_GW_IP
wait_until 10 has_report applied '.id == 2' || fail "the client applied no view: $(tail -5 "$(zt_daemon_out laptop)")"
for k in "$ZT_TMP/state-conn/node.key" "$ZT_TMP/state-laptop/node.key"; do
	[[ $(stat -c %a "$k") == 600 ]] || fail "$k: mode $(stat -c %a "$k"), want 600"
done
CONN_PUB=$("$ZTGATE" pubkey <"$ZT_TMP/state-conn/node.key")
DEV_PUB=$("$ZTGATE" pubkey <"$ZT_TMP/state-laptop/node.key")
log "ok: enrolled: connector $CONN_PUB, laptop $DEV_PUB (keys made in the state dirs, mode 600)"

NAS='{"name":"nas","address":"nas.home.int","tcp":"80,8080","udp":"7","icmp":true}'
view 1 "$(jq -n --argjson nas "$NAS" --arg k "$DEV_PUB" --arg a $DEV_ADDR \
	'{version: 1, resources: [$nas], devices: [{name: "laptop", pubkey: $k, address: $a}],
	  connectors: [], grants: [{device: "laptop", resource: "nas"}]}')" '{"kind":"connector","name":"office-gw"}'
view 2 "$(jq -n --argjson nas "$NAS" --arg k "$CONN_PUB" --arg e "$ENDPOINT" \
	'{version: 1, resources: [$nas + {connector: "office"}], devices: [],
	  connectors: [{name: "office", pubkey: $k, endpoint: $e}], grants: []}')" \
	"{\"kind\":\"device\",\"name\":\"laptop\",\"address\":\"$DEV_ADDR\"}"
kill -HUP "$STUB_PID"
wait_until 10 has_report applied '.id == 1 and .body.rev == 2' || fail "connector: rev 2 not applied"
wait_until 10 has_report applied '.id == 2 and .body.rev == 2' || fail "client: rev 2 not applied"
[[ $(zt_cli conn --json resource list | jq -r '.resources[].name') == nas ]] || fail "connector: nas not in its policy"
[[ $(zt_cli conn --json device list | jq -r '.devices[].name') == laptop ]] || fail "connector: laptop not in its devices"
page=$(ip netns exec "$C" curl -sS --max-time 10 http://nas.home.int/) || fail "curl http://nas.home.int/ failed"
[[ $page == "$ZT_TUN_PAGE" ]] || fail "curl: got '$page'"
log "ok: views applied (rev 2 on both); curl http://nas.home.int/ -> '$page'"

section "2. reports: endpoint, connection lines"
has_report endpoint ".id == 1 and .body.endpoint == \"$ENDPOINT\"" || fail "no endpoint report from the connector: $(cat "$ZT_TMP/stub.out")"
wait_until 30 has_report connection '.id == 1 and .body.event == "connection_end" and .body.resource == "nas"' ||
	fail "no connection_end line reached the controller"
log "ok: the connector reported its endpoint and the curl's connection lines"

section "3. local edits refused; read-only commands and status"
for args in "resource add x --address 10.10.0.9 --tcp 80" "device add bob --pubkey $DEV_PUB --address 100.64.0.9" \
	"grant laptop nas" "resource rm nas"; do
	# shellcheck disable=SC2086
	if out=$(zt_cli conn $args 2>&1); then fail "'ztgate $args' on a managed connector succeeded"; fi
	grep -q "this node is managed by its controller ($CTL): change the policy there" <<<"$out" ||
		fail "'ztgate $args': $out"
done
zt_cli conn --json export >"$ZT_TMP/exp.json" || fail "export refused on a managed node"
if zt_cli conn apply "$ZT_TMP/exp.json" >/dev/null 2>&1; then fail "apply succeeded on a managed node"; fi
[[ $(ctl_status conn | jq -r '.connected') == true && $(ctl_status conn | jq -r '.rev_applied') == 2 ]] ||
	fail "status: $(ctl_status conn)"
[[ $(zt_cli conn --json stats | jq -c '.controller') == '{"connected":1,"rev_applied":2,"reconnects":0,"connections_dropped":0}' ]] ||
	fail "stats: $(zt_cli conn --json stats | jq -c '.controller')"
zt_cli laptop status | grep -q "^controller $CTL: connected, as device 'node2', rev 2 applied" ||
	fail "ztgate status: $(zt_cli laptop status)"
log "ok: edits refused with one line, export and status work: $(zt_cli laptop status | grep '^controller')"

section "3b. a new tunnel address from the controller"
DEV_ADDR2=100.64.0.3
view 1 "$(jq -n --argjson nas "$NAS" --arg k "$DEV_PUB" --arg a $DEV_ADDR2 \
	'{version: 1, resources: [$nas], devices: [{name: "laptop", pubkey: $k, address: $a}],
	  connectors: [], grants: [{device: "laptop", resource: "nas"}]}')" '{"kind":"connector","name":"office-gw"}'
jq --arg a $DEV_ADDR2 '.self.address = $a' "$ZT_TMP/view-2.json" >"$ZT_TMP/v2" && mv "$ZT_TMP/v2" "$ZT_TMP/view-2.json"
kill -HUP "$STUB_PID"
wait_until 10 has_report applied '.id == 1 and .body.rev == 3' || fail "connector: rev 3 not applied"
wait_until 10 has_report applied '.id == 2 and .body.rev == 3' || fail "client: rev 3 not applied"
page=$(ip netns exec "$C" curl -sS --max-time 10 http://nas.home.int/) || fail "curl from the new address failed"
[[ $page == "$ZT_TUN_PAGE" ]] || fail "curl: got '$page'"
wait_until 30 has_report connection ".id == 1 and .body.event == \"connection_end\" and (.body.client_endpoint // \"\" | length > 0)" ||
	fail "no connection line after the address change"
log "ok: the client moved to $DEV_ADDR2 (rev 3) and reaches nas"

section "4. restart: the key alone (the token is not needed again)"
zt_daemon_stop_tag conn
zt_daemon_as conn "$N" connector --controller "$CTL" --token "$T1" --listen "$ENDPOINT" --dns $ZT_TUN_NAS_IP
wait_until 10 bash -c "[[ \$(\"$ZTGATE\" --socket '$ZT_TMP/conn.sock' --json status | jq -r .controller.connected) == true ]]" ||
	fail "the connector did not reconnect: $(ctl_status conn)"
grep -q -- "--token ignored" "$(zt_daemon_out conn)" || fail "no note that --token was ignored"
[[ $(zt_cli conn --json device list | jq -r '.devices[].name') == laptop ]] || fail "connector: laptop gone after the restart"
# The client's tunnel session to the restarted connector is new: the tunnel
# re-handshakes on its own timers (docs/TUNNEL.md), as without a controller.
curl_nas() { [[ $(ip netns exec "$C" curl -sS --max-time 5 http://nas.home.int/ 2>/dev/null) == "$ZT_TUN_PAGE" ]]; }
t0=$SECONDS
wait_until 60 curl_nas || fail "curl after the connector's restart failed"
log "ok: reconnected by key; --token ignored with a note; curl works ($((SECONDS - t0)) s after the restart)"

section "4b. the view's relays join the node's own"
"$ZTGATE" keygen --out "$ZT_TMP/relay.key" >/dev/null
RELAY=$ZT_TUN_GW_IP:3478
zt_daemon_as relay "$ZT_NS_INET" relay --listen "$RELAY" --key "$ZT_TMP/relay.key"
jq --arg r "$RELAY" '.relays = [$r]' "$ZT_TMP/view-2.json" >"$ZT_TMP/v2" && mv "$ZT_TMP/v2" "$ZT_TMP/view-2.json"
kill -HUP "$STUB_PID"
wait_until 10 has_report applied '.id == 2 and .body.rev == 4' || fail "client: rev 4 not applied"
wait_until 5 grep -q "the controller's relays changed (view rev 4)" "$(zt_daemon_out laptop)" ||
	fail "no note that the view's new relays wait for a restart"
log "ok: a running client notes that the view's relays take effect at its next start"

section "5. fail static: controller down, client restarted"
kill "$STUB_PID"
wait_until 20 bash -c "[[ \$(\"$ZTGATE\" --socket '$ZT_TMP/laptop.sock' --json status | jq -r .controller.connected) == false ]]" ||
	fail "the client still thinks it is connected"
zt_daemon_stop_tag laptop
zt_daemon_as laptop "$C" client --controller "$CTL" --upstream $ZT_TUN_GW_IP
grep -q "persisted view rev 4 applied" "$(zt_daemon_out laptop)" || fail "the persisted view was not applied at start"
wait_until 30 curl_nas || fail "curl with the controller down failed"
log "ok: with the controller down, the restarted client enforces its last view and reaches nas"
relay_up() { zt_cli laptop --json status | jq -e --arg r "$RELAY" 'any(.relays[]; .relay == $r and .registered)' >/dev/null; }
wait_until 10 relay_up || fail "the persisted view's relay is not in use: $(zt_cli laptop --json status | jq -c .relays)"
log "ok: the restarted client uses the view's relay $RELAY (registered), with no --relay of its own"
zt_daemon_stop_tag laptop
zt_daemon_stop_tag conn
zt_daemon_stop_tag relay
log "controller_nodes: all passed"
