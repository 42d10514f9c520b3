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
# events, `ztgate stats` and `ztgate maps`. Everything is cleaned up on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
export ZTGATED=${ZTGATED:-$ROOT/build/ztgated}
export ZTGATE=${ZTGATE:-$ROOT/build/ztgate}
# shellcheck source=tests/lib.sh
source "$ROOT/tests/lib.sh"

zt_require_root
zt_require nmap curl socat jq tc nsenter ss
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

section "1. topology"
zt_netns_add laptop
zt_netns_add office
L=$(zt_ns laptop)
O=$(zt_ns office)
zt_veth "$L" eth0 "$O" eth0
zt_addr "$L" eth0 198.18.0.1/24
zt_addr "$O" eth0 $WEB/24 $DB/24
wait_until 5 zt_link_up "$L" eth0 || fail "laptop eth0 not up"
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
grep -v SCAN "$ZT_TMP/events.txt" | head -n 8 | sed 's/^/    /'
say "scan events:"
grep SCAN "$ZT_TMP/events.txt" | head -n 3 | sed 's/^/    /'
say "the same, as JSON lines on the daemon's stdout (one of each):"
grep '"event":"deny"' "$DAEMON_OUT" | head -n 1 | sed 's/^/    /'
grep '"event":"scan"' "$DAEMON_OUT" | head -n 1 | sed 's/^/    /'

section "9. stats and maps"
shown ztgate stats
shown ztgate resource show web
shown ztgate maps
cmd=$(ztgate --json maps | jq -r '.maps[] | select(.bpftool | test("zt_resources|zt_config")) | .bpftool' | head -n 1)
if [[ -n $cmd ]]; then
	say "reading one map directly with bpftool:"
	# shellcheck disable=SC2086 # the command line as the daemon printed it
	shown $cmd | head -n 20
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
say
say "demo done: cleaning up namespaces and pins"
