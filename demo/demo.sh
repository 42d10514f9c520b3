#!/usr/bin/env bash
# demo/demo.sh (`make demo`): ztgate in two network namespaces, end to end.
#
#   laptop (198.18.0.1)  ==veth==  office: web 198.18.0.2, db 198.18.0.3
#
# The daemon enforces at the laptop's egress (tc). The office runs real
# services: HTTP on 80 and 8080 (socat), an SSH-like banner on 22, TLS-ish
# 443, Postgres-ish 5432. Policy:
#   web  198.18.0.2  tcp 80,443  icmp  reject   (refused at once, "closed")
#   db   198.18.0.3  tcp 5432          drop     (silence, "filtered")
# Then nmap, curl and ping show what a user sees, followed by the deny and scan
# events, `ztgate stats` and `ztgate maps`. Then the laptop runs the client
# role instead (sections 11-14): fake-IP DNS for nas.home.int and *.home.int,
# other names forwarded to a dnsmasq in the office, enforcement on the TUN
# ztg0. Sections 15-19 (demo_tunnel) take nas.home.int through the encrypted
# tunnel to a connector in a private network. Sections 20-24 (demo_nat) reach it
# through two NATs and a relay, the path going from relayed to direct. Everything is cleaned up on exit.
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
# The tunnel (issue 4), sections 15-19: a client reaching nas.home.int through
# a connector in the private network (Noise IK over UDP), a denied port refused
# on the client, and the connector's connection log.
# ZT_DEMO_TUNNEL_ONLY=1 bash demo/demo.sh runs only this part.
#
#   laptop 198.18.0.2 -- internet (router) -- connector 198.19.0.2 | 10.10.0.1 -- nas 10.10.0.5
#   (tests/lib.sh zt_tunnel_topology: the private network has no route to or from
#   anything but the connector; its dnsmasq alone knows nas.home.int)
demo_tunnel() {
	local page t0 ms nas why CONN_PUB DEV_PUB
	zt_require ncat ping python3
	# at WHERE ARGS...: `ztgate ARGS` against WHERE's daemon (tags below), shown.
	at() {
		local where=$1
		shift
		printf '\n%s$ ztgate %s\n' "$([[ $where == tunnel-conn ]] && echo connector || echo laptop)" "$*"
		zt_cli "$where" "$@" 2>&1 | sed 's/^/    /'
		return "${PIPESTATUS[0]}"
	}
	# on NS-VAR ARGS...: a command inside the laptop (C) or the connector (N), shown.
	on() {
		local ns=$1 who=laptop
		shift
		[[ $ns == "$ZT_NS_CONN" ]] && who=connector
		printf '\n%s$ %s\n' "$who" "$*"
		ip netns exec "$ns" "$@" 2>&1 | sed 's/^/    /'
		return "${PIPESTATUS[0]}"
	}

	section "15. the tunnel: laptop, internet, connector, private network"
	if why=$(zt_tunnel_why_unavailable); then
		fail "the tunnel is not in this build: $why"
	fi
	# shellcheck disable=SC2119 # no --routed: only the tunnel reaches nas
	zt_tunnel_topology
	zt_tunnel_services
	zt_tunnel_assert_isolated
	zt_tunnel_client_resolver "$ZT_NS_CLI"
	say "nas (10.10.0.5) serves http on 80, an echo on 8080 and 7/udp, banners on 22 and 443;"
	say "the private network's dnsmasq is the only resolver that knows nas.home.int."
	say "Without a tunnel the laptop cannot reach it:"
	if on "$ZT_NS_CLI" curl -sS --max-time 3 http://$ZT_TUN_NAS_IP/; then fail "nas reachable without the tunnel"; fi

	section "16. the connector: a key, the device it accepts, its grant"
	say "\$ ztgate keygen --out connector.key   (prints the public key)"
	CONN_PUB=$(zt_keygen "$ZT_TMP/connector.key")
	say "    $CONN_PUB"
	say "\$ ztgate keygen --out laptop.key"
	DEV_PUB=$(zt_keygen "$ZT_TMP/laptop.key")
	say "    $DEV_PUB"
	zt_daemon_as tunnel-conn "$ZT_NS_CONN" connector --listen $ZT_TUN_CONN_IP:$ZT_TUN_CONN_PORT \
		--key "$ZT_TMP/connector.key" --dns $ZT_TUN_NAS_IP
	say "connector\$ ztgated connector --listen $ZT_TUN_CONN_IP:$ZT_TUN_CONN_PORT --key connector.key --dns $ZT_TUN_NAS_IP ..."
	at tunnel-conn device add laptop --pubkey "$DEV_PUB" --address 100.64.0.2 || fail "device add"
	at tunnel-conn resource add nas --address nas.home.int --tcp 80,8080 --udp 7 --icmp || fail "resource add (connector)"
	at tunnel-conn grant laptop nas || fail "grant"
	say "it opens no TCP port, and on UDP only the tunnel's:"
	on "$ZT_NS_CONN" ss -Hltnu

	section "17. the laptop: nas.home.int through the tunnel"
	zt_daemon_as tunnel-cli "$ZT_NS_CLI" client --address 100.64.0.2 --key "$ZT_TMP/laptop.key" --upstream $ZT_TUN_GW_IP
	say "laptop\$ ztgated client --address 100.64.0.2 --key laptop.key --upstream $ZT_TUN_GW_IP ..."
	at tunnel-cli connector add office --pubkey "$CONN_PUB" --endpoint $ZT_TUN_CONN_IP:$ZT_TUN_CONN_PORT || fail "connector add"
	at tunnel-cli resource add nas --address nas.home.int --tcp 80,8080 --udp 7 --icmp \
		--deny-mode reject --connector office || fail "resource add (client)"
	on "$ZT_NS_CLI" dig @100.95.0.251 +noall +answer nas.home.int A
	nas=$(ip netns exec "$ZT_NS_CLI" dig +short +time=2 +tries=1 @100.95.0.251 nas.home.int A)
	say "a fake IP ($nas) on the laptop; the connector resolves the real one in the private network"
	page=$(ip netns exec "$ZT_NS_CLI" curl -sS --max-time 10 http://nas.home.int/) || fail "curl through the tunnel"
	say
	say "laptop\$ curl http://nas.home.int/"
	say "    $page"
	[[ $page == "$ZT_TUN_PAGE" ]] || fail "curl got '$page'"
	on "$ZT_NS_CLI" ping -n -c 3 -i 0.2 nas.home.int || fail "ping through the tunnel"

	section "18. a denied port is refused on the laptop"
	say "port 22 is not in the resource (reject mode): refused at once, nothing enters the tunnel"
	t0=$(date +%s%N)
	if on "$ZT_NS_CLI" ncat -z -w 5 -v nas.home.int 22; then fail "nas:22 should have been refused"; fi
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	say "    -> refused after $ms ms"
	(( ms < 2500 )) || fail "nas:22 was not refused locally"
	wait_until 5 grep -q '"event":"deny".*"dport":22' "$(zt_daemon_out tunnel-cli)" || fail "no deny event on the laptop"
	say "the laptop's deny event:"
	grep -m 1 '"event":"deny".*"dport":22' "$(zt_daemon_out tunnel-cli)" | sed 's/^/    /'

	section "19. the connector's connection log"
	say "one line when a flow starts, one when it ends (the curl's, the ping's):"
	wait_until 30 grep -q '"event":"connection_end"' "$(zt_daemon_out tunnel-conn)" ||
		fail "no connection_end line from the connector"
	jq -cR 'fromjson? | select(.event? == "connection_start" or .event? == "connection_end")' \
		"$(zt_daemon_out tunnel-conn)" | head -n 6 | sed 's/^/    /'
	at tunnel-conn stats
	zt_daemon_stop_tag tunnel-cli
	zt_daemon_stop_tag tunnel-conn
	say
	say "tunnel demo done"
}
if [[ -n ${ZT_DEMO_TUNNEL_ONLY:-} ]]; then
	demo_tunnel
	exit 0
fi

# ---------------------------------------------------------------------------
# NAT traversal (issue 5), sections 20-24: the laptop and the connector each
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

	section "20. two NATs: laptop and connector each behind a home router"
	if why=$(zt_nat_why_unavailable); then
		fail "NAT traversal is not in this build: $why"
	fi
	zt_nat_topology --client-nat eim --conn-nat eim
	zt_tunnel_services
	zt_nat_assert_isolated
	zt_tunnel_client_resolver "$ZT_NS_CLI"
	say "routers A and B masquerade (nftables, in their own namespaces) and forward nothing in:"
	on "$ZT_NS_RTA" nft list chain ip zt_nat forward

	section "21. the relay, and the connector reaching it from behind router B"
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

	section "22. the laptop: the connector by its key alone, first through the relay"
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

	section "23. router A opens up: the peers punch through both NATs"
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

	section "24. the relay is not needed any more"
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

section "1. topology"
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

section "2. before ztgate: the whole office is reachable"
shown on_laptop nmap -Pn -n -sS -p 22,80,443,5432,8080 $WEB $DB | grep -E 'report|open|closed|filtered' || true

section "3. start the enforcer on the laptop (tc egress on eth0)"
zt_daemon_setup "$L" demo
zt_daemon_start --tc-egress eth0
say "ztgated enforce --tc-egress eth0 --state-dir ... --socket ... --pin-dir $DAEMON_PIN"
say "daemon said: $(grep '"event":"ready"' "$DAEMON_OUT" | tail -n 1)"
"$ZTGATE" --socket "$DAEMON_SOCK" events >"$ZT_TMP/events.txt" 2>&1 </dev/null &
ZT_PIDS+=("$!")

section "4. policy"
shown ztgate resource add web --address $WEB --tcp 80,443 --icmp --deny-mode reject
shown ztgate resource add db --address $DB --tcp 5432 --deny-mode drop
shown ztgate resource list

section "5. nmap from the laptop"
say "web (reject): 80 and 443 open; 22 and 8080 are refused by ztgate on the laptop: 'closed'"
shown on_laptop nmap -Pn -n --reason -sS -p 22,80,443,5432,8080 $WEB
say "db (drop): 5432 open; everything else gets no answer at all: 'filtered'"
shown on_laptop nmap -Pn -n --reason -sS -T4 --max-retries 1 -p 22,80,443,5432,8080 $DB

section "6. curl and ping"
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

section "7. a port scan raises a scan event"
shown on_laptop nmap -Pn -n -sS -p 1-1024 $WEB | grep -E 'report|open|Not shown' || true
wait_until 10 grep -q '"event":"scan"' "$DAEMON_OUT" || fail "no scan event from the daemon"

section "8. events (ztgate events, as followed during the demo)"
wait_until 5 grep -q SCAN "$ZT_TMP/events.txt" || true
say "first deny events:"
grep -m 8 -v SCAN "$ZT_TMP/events.txt" | sed 's/^/    /'
say "scan events:"
grep -m 3 SCAN "$ZT_TMP/events.txt" | sed 's/^/    /'
say "the same, as JSON lines on the daemon's stdout (one of each):"
grep -m 1 '"event":"deny"' "$DAEMON_OUT" | sed 's/^/    /'
grep -m 1 '"event":"scan"' "$DAEMON_OUT" | sed 's/^/    /'

section "9. stats and maps"
shown ztgate stats
shown ztgate resource show web
shown ztgate maps
cmd=$(ztgate --json maps | jq -r '[.maps[] | select(.bpftool | test("zt_resources|zt_config")) | .bpftool][0] // empty')
if [[ -n $cmd ]]; then
	say "reading one map directly with bpftool:"
	# shellcheck disable=SC2086 # the command line as the daemon printed it
	{ shown $cmd || true; } | head -n 20	# (a pipe head closes early: no pipefail exit)
fi

section "10. fail closed, then teardown"
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

section "11. the client: fake-IP DNS and the TUN ztg0"
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

section "12. name resources"
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

section "13. the enforcer on ztg0"
shown on_laptop tc filter show dev ztg0 egress
allowed() { ztgate --json stats | jq '[.resources[] | select(.name == "nas") | .allowed_packets] | add // 0'; }
allowed_above() { (( $(allowed) > $1 )); }
before=$(allowed)
say "allowed: http://nas.home.int/ (port 80). The packets leave through ztg0 and the daemon"
say "reads and counts them; this laptop has no connector yet (sections 15 on add one), so"
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

section "14. client shutdown"
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
demo_tunnel
demo_nat
say "demo done: cleaning up namespaces and pins"
