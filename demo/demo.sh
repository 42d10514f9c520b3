#!/usr/bin/env bash
# demo/demo.sh (`make demo`): ztgate in network namespaces, end to end.
#
# Sections 1-7 (demo_controller) are the story as an organisation runs it,
# and it starts from the admin CLI: a controller; `ztgate admin` makes the
# network, connector, resource, group, user and access rule and prints
# one-time tokens; a connector in a private network and alice's laptop
# enroll with them; the laptop reaches nas.home.int through the tunnel (a
# denied port refused on the laptop, the connector's connection log); an
# `admin access rm` cuts it off at once; a read-only API key reads the model
# over the network; `admin audit --verify`.
#
# Then, under the hood, each piece on its own:
#   laptop (198.18.0.1)  ==veth==  office: web 198.18.0.2, db 198.18.0.3
# Sections 8-17: the standalone enforcer at the laptop's egress (tc) against
# real services (HTTP on 80 and 8080 (socat), an SSH-like banner on 22,
# TLS-ish 443, Postgres-ish 5432) with a local policy:
#   web  198.18.0.2  tcp 80,443  icmp  reject   (refused at once, "closed")
#   db   198.18.0.3  tcp 5432          drop     (silence, "filtered")
# nmap, curl and ping show what a user sees, then the deny and scan events,
# `ztgate stats` and `ztgate maps`. Sections 18-21: the client role's fake-IP
# DNS for nas.home.int and *.home.int (other names forwarded to a dnsmasq in
# the office), enforcement on the TUN ztg0. Sections 22-26 (demo_nat) reach a
# connector through two NATs and a relay, the path going from relayed to
# direct. Everything is cleaned up on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ZTGATED=${ZTGATED:-$ROOT/build/ztgated}
export ZTGATE=${ZTGATE:-$ROOT/build/ztgate}
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

zt_require_root
zt_require nmap curl socat jq tc nsenter ss dig dnsmasq
zt_require_bins

WEB=198.18.0.2
DB=198.18.0.3

say() { printf '%s\n' "$*"; }
# shown CMD...: print the command as a user would type it, run it, indent output.
shown() {
	if [[ $1 == on_laptop ]]; then
		printf '\nlaptop$ %s\n' "${*:2}"
	else
		printf '\n$ %s\n' "$*"
	fi
	"$@" 2>&1 | sed 's/^/    /'
	return "${PIPESTATUS[0]}"
}
# The laptop's view: commands run inside the laptop namespace.
on_laptop() { ip netns exec "$L" "$@"; }
ztgate() { "$ZTGATE" --socket "$DAEMON_SOCK" "$@"; }

# ---------------------------------------------------------------------------
# The story, sections 1-7: everything starts from the admin CLI. A controller
# holds who may reach what; `ztgate admin` makes a remote network, its
# connector, a resource, a group, a user and the access rule, and prints
# one-time tokens; a connector in the private network and alice's laptop
# enroll with them and get their views; the laptop reaches nas.home.int
# through the tunnel (a denied port refused on the laptop, the connector's
# connection log); removing the access rule cuts the laptop off at once;
# an API key reads the model remotely; the audit trail verifies.
# ZT_DEMO_CONTROLLER_ONLY=1 bash demo/demo.sh runs only this part.
#
#   controller 198.18.5.2:7443 -- internet (router) -- laptop 198.18.0.2
#                                        |
#   connector 198.19.0.2 | 10.10.0.1 -- nas 10.10.0.5   (tests/lib.sh zt_tunnel_topology:
#   the private network has no route to or from anything but the connector)
demo_controller() {
	local page t0 ms nas why CTL=198.18.5.2:7443 CONN_TOKEN ALICE_TOKEN KEY
	zt_require ncat ping python3
	# adm ARGS...: `ztgate admin ARGS` on the controller's socket, shown.
	adm() {
		printf '\nadmin$ ztgate admin %s\n' "$*"
		zt_cli ctl admin "$@" 2>&1 | sed 's/^/    /'
		return "${PIPESTATUS[0]}"
	}
	# at TAG ARGS...: `ztgate ARGS` against a node's daemon, shown.
	at() {
		local where=$1
		shift
		printf '\n%s$ ztgate %s\n' "$([[ $where == conn ]] && echo connector || echo laptop)" "$*"
		zt_cli "$where" "$@" 2>&1 | sed 's/^/    /'
		return "${PIPESTATUS[0]}"
	}
	# on NS ARGS...: a command inside the laptop (C) or the connector (N), shown.
	on() {
		local ns=$1 who=laptop
		shift
		[[ $ns == "$ZT_NS_CONN" ]] && who=connector
		printf '\n%s$ %s\n' "$who" "$*"
		ip netns exec "$ns" "$@" 2>&1 | sed 's/^/    /'
		return "${PIPESTATUS[0]}"
	}
	token_of() { tail -n 1 | tr -d '[:space:]'; }
	# adm_token VAR ARGS...: as adm; the token (or key) on the output's last line into VAR.
	adm_token() {
		local var=$1 out
		shift
		printf '\nadmin$ ztgate admin %s\n' "$*"
		out=$(zt_cli ctl admin "$@") || fail "ztgate admin $*"
		sed 's/^/    /' <<<"$out"
		printf -v "$var" '%s' "$(token_of <<<"$out")"
	}
	curl_nas() { ip netns exec "$ZT_NS_CLI" curl -sS --max-time 2 http://nas.home.int/ 2>/dev/null | grep -qx "$ZT_TUN_PAGE"; }

	section "1. a controller, a laptop, a connector in a private network"
	if why=$(zt_tunnel_why_unavailable); then
		fail "the tunnel is not in this build: $why"
	fi
	# shellcheck disable=SC2119 # no --routed: only the tunnel reaches nas
	zt_tunnel_topology
	zt_tunnel_add_client ctl 5
	zt_tunnel_services
	zt_tunnel_assert_isolated
	zt_tunnel_client_resolver "$ZT_NS_CLI"
	say "nas (10.10.0.5) serves http on 80, an echo on 8080 and 7/udp, banners on 22 and 443;"
	say "the private network's dnsmasq is the only resolver that knows nas.home.int."
	say "Without ztgate the laptop cannot reach it:"
	if on "$ZT_NS_CLI" curl -sS --max-time 3 http://$ZT_TUN_NAS_IP/; then fail "nas reachable without the tunnel"; fi
	zt_keygen "$ZT_TMP/ctl.key" >/dev/null
	zt_daemon_as ctl "$(zt_ns ctl)" controller --listen "$CTL" --key "$ZT_TMP/ctl.key"
	say
	say "controller\$ ztgate keygen --out ctl.key"
	say "controller\$ ztgated controller --listen $CTL --key ctl.key   (SQLite in its state dir)"

	section "2. who may reach what: the admin CLI"
	adm network add office || fail "network add"
	adm_token CONN_TOKEN connector add office-gw --network office
	[[ $CONN_TOKEN == ztgt1_* ]] || fail "connector add: no token"
	adm resource add nas --network office --address nas.home.int --tcp 80,8080 --udp 7 --icmp \
		--deny-mode reject || fail "resource add"
	adm group add eng || fail "group add"
	adm user add alice@example.com --group eng --display-name Alice || fail "user add"
	adm access add --group eng --resource nas || fail "access add"
	adm_token ALICE_TOKEN device token --user alice@example.com
	[[ $ALICE_TOKEN == ztgt1_* ]] || fail "device token: no token"

	section "3. the connector and alice's laptop enroll with their tokens"
	zt_daemon_as conn "$ZT_NS_CONN" connector --controller "$CTL" --token "$CONN_TOKEN" \
		--listen $ZT_TUN_CONN_IP:$ZT_TUN_CONN_PORT --dns $ZT_TUN_NAS_IP
	say "connector\$ ztgated connector --controller $CTL --token ztgt1_... --listen $ZT_TUN_CONN_IP:$ZT_TUN_CONN_PORT --dns $ZT_TUN_NAS_IP"
	zt_daemon_as alice "$ZT_NS_CLI" client --controller "$CTL" --token "$ALICE_TOKEN" --upstream $ZT_TUN_GW_IP
	say "laptop\$ ztgated client --controller $CTL --token ztgt1_... --upstream $ZT_TUN_GW_IP"
	all_applied() { [[ $(zt_cli ctl --json admin status | jq -r '"\(.applied)/\(.nodes)"') == 2/2 ]]; }
	wait_until 30 all_applied || fail "the nodes did not apply their views: $(zt_cli ctl admin status)"
	adm status
	adm device list
	say "each node keeps its key, the controller's pinned keys and its signed view in its state dir;"
	say "no local policy command was run on either node. A local edit is refused:"
	if at alice resource add x --address 10.1.2.3 --tcp 80; then fail "a managed node took a local edit"; fi
	at alice resource list

	section "4. the laptop reaches nas.home.int through the tunnel"
	wait_until 30 curl_nas || fail "the laptop cannot fetch http://nas.home.int/"
	on "$ZT_NS_CLI" dig @100.95.0.251 +noall +answer nas.home.int A
	nas=$(ip netns exec "$ZT_NS_CLI" dig +short +time=2 +tries=1 @100.95.0.251 nas.home.int A)
	say "a fake IP ($nas) on the laptop; the connector resolves the real one in the private network"
	page=$(ip netns exec "$ZT_NS_CLI" curl -sS --max-time 10 http://nas.home.int/) || fail "curl through the tunnel"
	say
	say "laptop\$ curl http://nas.home.int/"
	say "    $page"
	[[ $page == "$ZT_TUN_PAGE" ]] || fail "curl got '$page'"
	on "$ZT_NS_CLI" ping -n -c 3 -i 0.2 nas.home.int || fail "ping through the tunnel"
	say
	say "port 22 is not in the resource (reject mode): refused at once, nothing enters the tunnel"
	t0=$(date +%s%N)
	if on "$ZT_NS_CLI" ncat -z -w 5 -v nas.home.int 22; then fail "nas:22 should have been refused"; fi
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	say "    -> refused after $ms ms"
	(( ms < 2500 )) || fail "nas:22 was not refused locally"
	wait_until 5 grep -q '"event":"deny".*"dport":22' "$(zt_daemon_out alice)" || fail "no deny event on the laptop"
	say "the laptop's deny event:"
	grep -m 1 '"event":"deny".*"dport":22' "$(zt_daemon_out alice)" | sed 's/^/    /'

	section "5. the connector's connection log"
	say "one line when a flow starts, one when it ends (the curl's, the ping's):"
	wait_until 30 grep -q '"event":"connection_end"' "$(zt_daemon_out conn)" ||
		fail "no connection_end line from the connector"
	jq -cR 'fromjson? | select(.event? == "connection_start" or .event? == "connection_end")' \
		"$(zt_daemon_out conn)" | head -n 4 | sed 's/^/    /'

	section "6. access revoked from the admin CLI: cut at once"
	t0=$(date +%s%N)
	adm access rm --group eng --resource nas || fail "access rm"
	wait_until 5 bash -c "! ip netns exec '$ZT_NS_CLI' curl -sS --max-time 1 http://nas.home.int/ >/dev/null 2>&1" ||
		fail "the laptop still reaches nas after access rm"
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	say "    -> the laptop lost nas.home.int $ms ms after the command"
	if on "$ZT_NS_CLI" curl -sS --max-time 2 http://nas.home.int/; then fail "curl after access rm"; fi
	at alice resource list
	adm access add --group eng --resource nas || fail "access add again"
	wait_until 10 curl_nas || fail "access given back, but the laptop cannot fetch the page"
	say "given back: the laptop reaches nas again"

	section "7. API keys, remote admin, and the audit trail"
	adm_token KEY api-key add auditor --role read-only --expires 30d
	[[ $KEY == ztak1_* ]] || fail "api-key add: no key"
	say "from the laptop's network, over the controller's node port (Noise IK, no HTTP):"
	# remote ARGS...: `ztgate admin --controller CTL --api-key KEY ARGS` on the laptop, shown.
	remote() {
		printf '\nlaptop$ ztgate admin --controller %s --api-key ztak1_... %s\n' "$CTL" "$*"
		ip netns exec "$ZT_NS_CLI" "$ZTGATE" admin --controller "$CTL" --api-key "$KEY" "$@" 2>&1 |
			sed 's/^/    /'
		return "${PIPESTATUS[0]}"
	}
	remote user list || fail "remote admin with a read-only key"
	if remote group add intruders; then fail "a read-only API key changed the model"; fi
	printf '\nadmin$ ztgate admin audit | tail -n 8\n'
	zt_cli ctl admin audit | tail -n 8 | sed 's/^/    /'
	adm audit --verify || fail "audit --verify"
	zt_daemon_stop_tag alice
	zt_daemon_stop_tag conn
	zt_daemon_stop_tag ctl
	say
	say "controller story done"
}
if [[ -n ${ZT_DEMO_CONTROLLER_ONLY:-} ]]; then
	demo_controller
	exit 0
fi


# ---------------------------------------------------------------------------
# NAT traversal (issue 5), sections 22-26: the laptop and the connector each
# behind a home router doing masquerade, no port open anywhere; a relay on the
# internet. The laptop knows the connector by its key only. The session comes
# up through the relay and moves to a direct path once the peers have punched
# through both NATs; `ztgate status` tells which.
# ZT_DEMO_NAT_ONLY=1 bash demo/demo.sh runs only this part.
#
#   laptop 192.168.1.2 -- router A 198.18.1.2 -- internet (relay 198.18.0.10) --
#     router B 198.18.2.2 -- connector 192.168.2.2 | 10.10.0.1 -- nas 10.10.0.5
#   (tests/lib.sh zt_nat_topology)
demo_nat() {
	local page nas why conn_pub dev_pub relay=$ZT_NAT_RELAY_IP:$ZT_NAT_RELAY_PORT t0
	zt_require nft conntrack ping
	at() {	# at TAG ARGS...: `ztgate ARGS` against TAG's daemon, shown
		local where=$1
		shift
		printf '\n%s$ ztgate %s\n' "$([[ $where == nat-conn ]] && echo connector || echo laptop)" "$*"
		zt_cli "$where" "$@" 2>&1 | sed 's/^/    /'
		return "${PIPESTATUS[0]}"
	}
	on() {	# on NS CMD...: a command in the laptop's or a router's namespace, shown
		local ns=$1 who=laptop
		shift
		[[ $ns == "$ZT_NS_RTA" ]] && who="router A"
		printf '\n%s$ %s\n' "$who" "$*"
		ip netns exec "$ns" "$@" 2>&1 | sed 's/^/    /'
		return "${PIPESTATUS[0]}"
	}

	section "22. two NATs: laptop and connector each behind a home router"
	if why=$(zt_nat_why_unavailable); then
		fail "NAT traversal is not in this build: $why"
	fi
	zt_nat_topology --client-nat eim --conn-nat eim
	zt_tunnel_services
	zt_nat_assert_isolated
	zt_tunnel_client_resolver "$ZT_NS_CLI"
	say "routers A and B masquerade (nftables, in their own namespaces) and forward nothing in:"
	on "$ZT_NS_RTA" nft list chain ip zt_nat forward

	section "23. the relay, and the connector reaching it from behind router B"
	conn_pub=$(zt_keygen "$ZT_TMP/nat-conn.key")
	dev_pub=$(zt_keygen "$ZT_TMP/nat-laptop.key")
	zt_nat_relay_start relay $ZT_NAT_RELAY_IP
	say "relay\$ ztgated relay --listen $relay --tcp-listen $ZT_NAT_RELAY_IP:$ZT_NAT_RELAY_TCP_PORT --key relay.key"
	say "(it forwards sealed tunnel datagrams between peers that accept each other; it reads none)"
	zt_daemon_as nat-conn "$ZT_NS_CONN" connector --listen "$ZT_NAT_CONN_IP:$ZT_NAT_CONN_PORT" \
		--key "$ZT_TMP/nat-conn.key" --dns $ZT_TUN_NAS_IP --relay "$relay"
	say "connector\$ ztgated connector --listen $ZT_NAT_CONN_IP:$ZT_NAT_CONN_PORT --key connector.key --dns $ZT_TUN_NAS_IP --relay $relay"
	at nat-conn device add laptop --pubkey "$dev_pub" --address 100.64.0.2 || fail "device add"
	at nat-conn resource add nas --address nas.home.int --tcp 80,8080 --udp 7 --icmp || fail "resource add (connector)"
	at nat-conn grant laptop nas || fail "grant"

	section "24. the laptop: the connector by its key alone, first through the relay"
	say "router A first lets UDP out only to the relay (a strict firewall): no direct path yet"
	zt_nat_drop_udp --except-relay
	on "$ZT_NS_RTA" nft list chain ip zt_nat udp_policy
	zt_daemon_as nat-cli "$ZT_NS_CLI" client --address 100.64.0.2 --key "$ZT_TMP/nat-laptop.key" \
		--upstream $ZT_TUN_GW_IP --relay "$relay"
	say "laptop\$ ztgated client --address 100.64.0.2 --key laptop.key --upstream $ZT_TUN_GW_IP --relay $relay"
	at nat-cli connector add office --pubkey "$conn_pub" || fail "connector add (no --endpoint)"
	at nat-cli resource add nas --address nas.home.int --tcp 80,8080 --udp 7 --icmp --connector office ||
		fail "resource add (client)"
	nas=$(ip netns exec "$ZT_NS_CLI" dig +short +time=2 +tries=1 @100.95.0.251 nas.home.int A)
	wait_until 30 bash -c "[[ \$(ip netns exec '$ZT_NS_CLI' curl -sS --max-time 5 http://nas.home.int/) == '$ZT_TUN_PAGE' ]]" ||
		fail "curl http://nas.home.int/ through the relay"
	page=$(ip netns exec "$ZT_NS_CLI" curl -sS --max-time 10 http://nas.home.int/) || fail "curl through the relay"
	say
	say "laptop\$ curl http://nas.home.int/"
	say "    $page"
	wait_until 10 zt_nat_path_is nat-cli office relayed-udp || fail "path: '$(zt_nat_path nat-cli office)', want relayed-udp"
	at nat-cli status

	section "25. router A opens up: the peers punch through both NATs"
	zt_nat_set_mode a eim
	say "router A: masquerade only (its conntrack table flushed). The peers retry the upgrade"
	say "every 30 s: candidates through the relay, then probes sent directly at the same time"
	say "from both sides, which open both NATs; the first answered probe makes the path direct."
	zt_bg nat-ping "$ZT_NS_CLI" ping -n -i 0.5 "$nas"
	t0=$(date +%s)
	wait_until 45 zt_nat_path_is nat-cli office direct || fail "the path did not become direct: '$(zt_nat_path nat-cli office)'"
	zt_kill_pid "$ZT_BG_PID"
	say "direct after $(( $(date +%s) - t0 )) s:"
	at nat-cli status
	at nat-conn status
	on "$ZT_NS_CLI" ping -n -c 3 -i 0.2 nas.home.int || fail "ping over the direct path"

	section "26. the relay is not needed any more"
	zt_nat_kill_relay relay
	say "relay killed (SIGKILL); the direct path carries on:"
	on "$ZT_NS_CLI" curl -sS --max-time 5 http://nas.home.int/ || fail "curl after the relay died"
	at nat-cli status
	zt_daemon_stop_tag nat-cli
	zt_daemon_stop_tag nat-conn
	say
	say "NAT traversal demo done"
}
if [[ -n ${ZT_DEMO_NAT_ONLY:-} ]]; then
	demo_nat
	exit 0
fi

demo_controller
ZT_DAEMON_ROLE=enforce	# the story's daemons were controller-managed; the enforcer's now

section "8. topology"
zt_pair laptop eth0 office eth0
L=$(zt_ns laptop)
O=$(zt_ns office)
zt_addr "$L" eth0 198.18.0.1/24
zt_addr "$O" eth0 $WEB/24 $DB/24
say "namespace $L: eth0 198.18.0.1/24      (the user's laptop; ztgate runs here)"
say "namespace $O: eth0 $WEB/24, $DB/24   (the office network)"

# A small HTTP responder: reads the request head, answers 200 with a body.
cat >"$ZT_TMP/http.sh" <<'EOF'
#!/usr/bin/env bash
while IFS= read -r line; do line=${line%$'\r'}; [[ -z $line ]] && break; done
body="hello from $1 on port $2"
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s\n' \
	$(( ${#body} + 1 )) "$body"
EOF
for p in 80 8080; do
	zt_bg "http-$p" "$O" socat "TCP-LISTEN:$p,reuseaddr,fork" "EXEC:bash $ZT_TMP/http.sh office-web $p"
done
zt_bg ssh "$O" socat TCP-LISTEN:22,reuseaddr,fork "SYSTEM:echo SSH-2.0-OpenSSH_9.2"
zt_bg tls "$O" socat TCP-LISTEN:443,reuseaddr,fork "SYSTEM:echo tls-ish"
zt_bg pg "$O" socat TCP-LISTEN:5432,reuseaddr,fork "SYSTEM:echo postgres-ish"
for p in 22 80 443 5432 8080; do
	wait_until 5 zt_tcp_listening "$O" "$p" || fail "office listener on $p did not come up"
done
say "office services listening (every address): 22 ssh, 80 http, 443 tls, 5432 postgres, 8080 http"

section "9. before ztgate: the whole office is reachable"
shown on_laptop nmap -Pn -n -sS -p 22,80,443,5432,8080 $WEB $DB | grep -E 'report|open|closed|filtered' || true

section "10. start the enforcer on the laptop (tc egress on eth0)"
zt_daemon_setup "$L" demo
zt_daemon_start --tc-egress eth0
say "ztgated enforce --tc-egress eth0 --state-dir ... --socket ... --pin-dir $DAEMON_PIN"
say "daemon said: $(grep '"event":"ready"' "$DAEMON_OUT" | tail -n 1)"
"$ZTGATE" --socket "$DAEMON_SOCK" events >"$ZT_TMP/events.txt" 2>&1 </dev/null &
ZT_PIDS+=("$!")

section "11. policy"
shown ztgate resource add web --address $WEB --tcp 80,443 --icmp --deny-mode reject
shown ztgate resource add db --address $DB --tcp 5432 --deny-mode drop
shown ztgate resource list

section "12. nmap from the laptop"
say "web (reject): 80 and 443 open; 22 and 8080 are refused by ztgate on the laptop: 'closed'"
shown on_laptop nmap -Pn -n --reason -sS -p 22,80,443,5432,8080 $WEB
say "db (drop): 5432 open; everything else gets no answer at all: 'filtered'"
shown on_laptop nmap -Pn -n --reason -sS -T4 --max-retries 1 -p 22,80,443,5432,8080 $DB

section "13. curl and ping"
say "allowed: http://$WEB/"
shown on_laptop curl -sS --max-time 5 "http://$WEB/"
say "rejected: http://$WEB:8080/ fails at once (a RST made on the laptop; the office never sees it)"
t0=$(date +%s%N)
if shown on_laptop curl -sS --max-time 5 "http://$WEB:8080/"; then fail "curl to web:8080 should have been refused"; fi
say "    -> failed after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
say "dropped: http://$DB/ hangs until curl gives up (--max-time 2)"
t0=$(date +%s%N)
if shown on_laptop curl -sS --max-time 2 "http://$DB/"; then fail "curl to db:80 should have been dropped"; fi
say "    -> failed after $(( ($(date +%s%N) - t0) / 1000000 )) ms"
say "ICMP echo (nmap's echo probe; ping itself is not in every base image): web allows it, db does not"
shown on_laptop nmap -sn -n -PE --disable-arp-ping --reason $WEB | grep -E 'Host|down' ||
	fail "echo to web should work (icmp allowed)"
shown on_laptop nmap -sn -n -PE --disable-arp-ping --max-retries 1 --reason $DB | grep -E 'Host|down' || true
if zt_icmp_echo "$L" $DB; then fail "echo to db should fail (no icmp)"; fi

section "14. a port scan raises a scan event"
shown on_laptop nmap -Pn -n -sS -p 1-1024 $WEB | grep -E 'report|open|Not shown' || true
wait_until 10 grep -q '"event":"scan"' "$DAEMON_OUT" || fail "no scan event from the daemon"

section "15. events (ztgate events, as followed during the demo)"
wait_until 5 grep -q SCAN "$ZT_TMP/events.txt" || true
say "first deny events:"
grep -m 8 -v SCAN "$ZT_TMP/events.txt" | sed 's/^/    /'
say "scan events:"
grep -m 3 SCAN "$ZT_TMP/events.txt" | sed 's/^/    /'
say "the same, as JSON lines on the daemon's stdout (one of each):"
grep -m 1 '"event":"deny"' "$DAEMON_OUT" | sed 's/^/    /'
grep -m 1 '"event":"scan"' "$DAEMON_OUT" | sed 's/^/    /'

section "16. stats and maps"
shown ztgate stats
shown ztgate resource show web
shown ztgate maps
cmd=$(ztgate --json maps | jq -r '[.maps[] | select(.bpftool | test("zt_resources|zt_config")) | .bpftool][0] // empty')
if [[ -n $cmd ]]; then
	say "reading one map directly with bpftool:"
	# shellcheck disable=SC2086 # the command line as the daemon printed it
	{ shown $cmd || true; } | head -n 20	# (a pipe head closes early: no pipefail exit)
fi

section "17. fail closed, then teardown"
zt_daemon_stop TERM
say "daemon stopped; the policy still holds (pinned programs):"
if shown on_laptop curl -sS --max-time 3 "http://$WEB:8080/"; then fail "web:8080 open with the daemon stopped"; fi
shown on_laptop curl -sS --max-time 3 "http://$WEB/"
zt_daemon_teardown || fail "teardown"
say "after ztgated enforce --teardown: no programs, no pins"
shown ip netns exec "$L" tc filter show dev eth0 egress
[[ ! -e $DAEMON_PIN ]] || fail "pin dir still present after teardown"
say "(empty: nothing attached) and $DAEMON_PIN is gone; web:8080 answers again:"
shown on_laptop curl -sS --max-time 3 "http://$WEB:8080/" || fail "web:8080 still blocked after teardown"

# ---------------------------------------------------------------------------
# Part two: the client role. The laptop now runs `ztgated client`: fake-IP DNS
# for resource names, everything else forwarded to the office's dnsmasq, and
# the same enforcer on the TUN ztg0 that the fake range is routed into.
DNS=100.95.0.251
UPSTREAM=198.18.0.53

section "18. the client: fake-IP DNS and the TUN ztg0"
zt_addr "$O" eth0 $UPSTREAM/24
zt_bg dnsmasq "$O" dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
	--user=root --pid-file= --listen-address=$UPSTREAM --bind-interfaces \
	--address=/www.example.test/$WEB --local-ttl=60
wait_until 5 zt_udp_bound "$O" 53 || fail "upstream dnsmasq did not come up: $(cat "$ZT_TMP/dnsmasq.err")"
say "office dnsmasq on $UPSTREAM: the laptop's ordinary resolver (www.example.test -> $WEB)"
# Programs started with `ip netns exec` in the laptop read this resolv.conf.
mkdir -p "/etc/netns/$L"
zt_defer rm -rf "/etc/netns/$L"
echo "nameserver $DNS" >"/etc/netns/$L/resolv.conf"
ZT_DAEMON_ROLE=client
zt_daemon_setup "$L" client
zt_daemon_start --upstream $UPSTREAM
say "ztgated client --upstream $UPSTREAM --state-dir ... --socket ... --pin-dir $DAEMON_PIN"
say "(laptop resolv.conf: nameserver $DNS)"
"$ZTGATE" --socket "$DAEMON_SOCK" events >"$ZT_TMP/client-events.txt" 2>&1 </dev/null &
ZT_PIDS+=("$!")
shown on_laptop ip -br addr show dev ztg0
shown on_laptop ip route show dev ztg0

section "19. name resources"
shown ztgate resource add nas --address nas.home.int --tcp 80,443 --udp 8001 --icmp --deny-mode reject
shown ztgate resource add home --address '*.home.int' --tcp 22
qdig() { on_laptop dig +time=2 +tries=1 "@$DNS" "$@"; }
shown on_laptop dig @$DNS +noall +answer nas.home.int A
NAS=$(qdig +short nas.home.int A)
[[ $NAS =~ ^100\.(9[6-9]|10[0-9]|11[01])\. ]] || fail "nas.home.int: want a fake IP, got '$NAS'"
say "nas.home.int is $NAS: a fake IP from 100.96.0.0/12, in the BPF resource table before the answer left"
say
say "a name under the wildcard *.home.int gets a fake IP of its own:"
shown on_laptop dig @$DNS +noall +answer printer.home.int A
PRN=$(qdig +short printer.home.int A)
[[ -n $PRN && $PRN != "$NAS" ]] || fail "printer.home.int: want its own fake IP, got '$PRN'"
say
say "any other name is forwarded (c-ares) to the upstream $UPSTREAM, answer untouched:"
shown on_laptop dig @$DNS +noall +answer www.example.test A
[[ $(qdig +short www.example.test A) == "$WEB" ]] || fail "forwarded name not answered by the upstream"
shown ztgate dns
shown ztgate resolve nas.home.int
shown ztgate resolve www.example.test

section "20. the enforcer on ztg0"
shown on_laptop tc filter show dev ztg0 egress
allowed() { ztgate --json stats | jq '[.resources[] | select(.name == "nas") | .allowed_packets] | add // 0'; }
allowed_above() { (( $(allowed) > $1 )); }
before=$(allowed)
say "allowed: http://nas.home.int/ (port 80). The packets leave through ztg0 and the daemon"
say "reads and counts them; this laptop has no connector (sections 1-7 had one), so"
say "nothing answers and curl gives up after 2 s:"
shown on_laptop curl -sS --max-time 2 http://nas.home.int/ || true
wait_until 5 allowed_above "$before" || fail "traffic to $NAS:80 not counted as allowed"
shown ztgate stats
say "(the daemon has read $(ztgate --json stats | jq '.tun.rx_packets') packets from ztg0 so far)"
say "denied: http://nas.home.int:8080/ is refused at once, on the laptop (reject mode):"
t0=$(date +%s%N)
if shown on_laptop curl -sS --max-time 5 http://nas.home.int:8080/; then fail "nas:8080 should have been refused"; fi
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
say "    -> failed after $ms ms"
(( ms < 2500 )) || fail "nas:8080 was not refused locally"
wait_until 5 bash -c "grep '\"event\":\"deny\"' '$DAEMON_OUT' | grep '\"dport\":8080' | grep -q '\"dst\":\"$NAS\"'" ||
	fail "no deny event for $NAS:8080"
say "its deny event (ztgate events, then the daemon's JSON line):"
wait_until 3 grep -q 8080 "$ZT_TMP/client-events.txt" || true
grep -m 1 8080 "$ZT_TMP/client-events.txt" | sed 's/^/    /' || true
grep -m 1 '"event":"deny".*"dport":8080' "$DAEMON_OUT" | sed 's/^/    /'

section "21. client shutdown"
zt_daemon_stop TERM
say "ztgated client stopped: ztg0 and its routes are gone"
shown on_laptop ip -br link
shown on_laptop ip route
on_laptop ip link show ztg0 >/dev/null 2>&1 && fail "ztg0 still present after the client stopped"
if [[ -d $DAEMON_PIN ]]; then
	say "its pinned programs and maps stay until 'ztgated enforce --teardown', as for the enforcer (fail closed)"
	say "$ ztgated enforce --teardown --pin-dir $DAEMON_PIN"
	zt_daemon_teardown || fail "client teardown"
fi
[[ ! -e $DAEMON_PIN ]] || fail "pin dir $DAEMON_PIN still present"
say "$DAEMON_PIN is gone"
say
demo_nat
say "demo done: cleaning up namespaces and pins"
