#!/usr/bin/env bash
# client_dns: `ztgated client` seen from the outside, with real tools.
#
# Topology (namespaces unique to the run):
#   cli  c0  198.18.0.1/24   runs `ztgated client` (TUN ztg0, DNS 100.95.0.251:53)
#   up   u0  198.18.0.53/24  dnsmasq: www.example.test -> 198.18.7.7,
#                            evil.example.test -> 100.96.0.9 (into the fake range),
#                            big.example.test TXT (over 512 bytes),
#                            cached.example.test -> 198.18.7.8 with TTL 8, and
#                            NXDOMAIN for everything else under example.test
# Policy: nas   nas.home.int   tcp 80 udp 8001  reject
#         home  *.home.int     tcp 22           drop
#         net   198.18.5.0/24  tcp 443          (routes follow policy)
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require dig dnsmasq ncat socat jq nsenter getent od python3 tc
zt_require_bins

DNS=100.95.0.251
UPSTREAM=198.18.0.53

section "topology"
zt_pair cli c0 up u0
C=$(zt_ns cli)
U=$(zt_ns up)
zt_addr "$C" c0 198.18.0.1/24
zt_addr "$U" u0 $UPSTREAM/24

big=()
for i in 1 2 3 4 5 6; do
	big+=("--txt-record=big.example.test,$(printf 'x%.0s' {1..120})-$i")
done
CACHE_TTL=8
start_upstream() {
	zt_bg dnsmasq "$U" dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
		--user=root --pid-file= --listen-address=$UPSTREAM --bind-interfaces \
		--local=/example.test/ --address=/www.example.test/198.18.7.7 \
		--address=/evil.example.test/100.96.0.9 "${big[@]}" \
		--host-record=cached.example.test,198.18.7.8,$CACHE_TTL
	UPSTREAM_PID=$ZT_BG_PID
	wait_until 5 zt_udp_bound "$U" 53 || fail "dnsmasq did not come up: $(cat "$ZT_TMP/dnsmasq.err")"
}
start_upstream

# Programs started with `ip netns exec` read this instead of /etc/resolv.conf.
mkdir -p "/etc/netns/$C"
zt_defer rm -rf "/etc/netns/$C"
echo "nameserver $DNS" >"/etc/netns/$C/resolv.conf"

section "client daemon"
export ZT_DAEMON_ROLE=client
zt_daemon_setup "$C" client
zt_daemon_start --upstream $UPSTREAM
check "ztg0 exists and holds the DNS address" \
	bash -c "ip -n '$C' -o addr show dev ztg0 | grep -F ' $DNS/32 '"
check "fake range routed into ztg0" \
	bash -c "ip -n '$C' route show 100.96.0.0/12 | grep 'dev ztg0'"

ztc resource add nas --address nas.home.int --tcp 80 --udp 8001 --deny-mode reject >/dev/null
ztc resource add home --address '*.home.int' --tcp 22 >/dev/null
ztc resource add net --address 198.18.5.0/24 --tcp 443 >/dev/null
check "IP resource routed into ztg0" \
	bash -c "ip -n '$C' route show 198.18.5.0/24 | grep 'dev ztg0'"
ztc resource rm net >/dev/null
wait_until 5 bash -c "! ip -n '$C' route show 198.18.5.0/24 | grep -q ." ||
	fail "route of a removed resource stayed"
log "ok: routes follow policy changes"

qdig() { ip netns exec "$C" dig +time=2 +tries=1 @$DNS "$@"; }
in_fake_range() { [[ $1 =~ ^100\.(9[6-9]|10[0-9]|11[01])\.[0-9]+\.[0-9]+$ ]]; }
status_of() { sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
answers_of() { sed -n 's/.*ANSWER: \([0-9]*\),.*/\1/p'; }

section "resource names"
NAS=$(qdig +short nas.home.int A)
in_fake_range "$NAS" || fail "nas.home.int: want a fake IP, got '$NAS'"
log "ok: nas.home.int -> $NAS"
[[ $(qdig +short +tcp nas.home.int A) == "$NAS" ]] || fail "+tcp answer differs"
log "ok: same answer over TCP"
out=$(qdig +edns=0 nas.home.int A)
grep -q 'EDNS: version: 0' <<<"$out" || fail "+edns: no OPT in the reply: $out"
grep -q "$NAS" <<<"$out" || fail "+edns: no A record: $out"
log "ok: EDNS0 query answered with OPT"
out=$(qdig nas.home.int AAAA)
[[ $(status_of <<<"$out") == NOERROR && $(answers_of <<<"$out") == 0 ]] ||
	fail "AAAA for a resource: want NOERROR and no answer: $out"
log "ok: AAAA -> NOERROR, no answer"
out=$(qdig nas.home.int TXT)
[[ $(status_of <<<"$out") == NOERROR && $(answers_of <<<"$out") == 0 ]] ||
	fail "TXT for a resource: want NOERROR and no answer: $out"
W1=$(qdig +short a.b.home.int A)
W2=$(qdig +short WEB.Home.Int A)
in_fake_range "$W1" && in_fake_range "$W2" || fail "wildcard names: got '$W1' '$W2'"
[[ $W1 != "$W2" && $W1 != "$NAS" && $W2 != "$NAS" ]] || fail "one fake IP for two names"
log "ok: wildcard names -> $W1, $W2 (distinct)"
check "ztgate dns lists the mappings" bash -c \
	"$(printf '%q ' "$ZTGATE") --socket '$DAEMON_SOCK' --json dns | jq -e '[.mappings[] | select(.name == \"nas.home.int\" and .fake_ip == \"$NAS\" and .resource == \"nas\")] | length == 1'"
ztc resolve x.home.int | grep -q 'resource home (wildcard' || fail "resolve: wildcard not explained"
ztc resolve www.example.test | grep -q 'forwarded' || fail "resolve: forwarded not explained"
log "ok: ztgate resolve explains both cases"
got=$(ip netns exec "$C" getent ahostsv4 nas.home.int | awk 'NR == 1 { print $1 }')
[[ $got == "$NAS" ]] || fail "resolv.conf path: getent gave '$got'"
log "ok: the system resolver (netns resolv.conf) gets the fake IP"

section "forwarded names"
[[ $(qdig +short www.example.test A) == 198.18.7.7 ]] || fail "forwarded name not answered"
log "ok: www.example.test forwarded -> 198.18.7.7"
[[ $(qdig +short +tcp www.example.test A) == 198.18.7.7 ]] || fail "forwarded over TCP"
out=$(qdig nonexistent.example.test A)
[[ $(status_of <<<"$out") == NXDOMAIN ]] || fail "nonexistent name: want NXDOMAIN: $out"
log "ok: NXDOMAIN passed through"
out=$(qdig evil.example.test A)
[[ $(status_of <<<"$out") == NOERROR && $(answers_of <<<"$out") == 0 ]] ||
	fail "rebinding guard: want the answer stripped: $out"
log "ok: upstream answer into the fake range stripped"
out=$(qdig +ignore +noedns big.example.test TXT)
grep -q 'flags:.* tc' <<<"$out" || fail "large answer over plain UDP: want TC: $out"
out=$(qdig +tcp big.example.test TXT)
[[ $(answers_of <<<"$out") == 6 ]] || fail "large answer over TCP: $out"
log "ok: large answers truncated for UDP, whole over TCP"

section "answer cache (forwarded names)"
# dig's default COOKIE option is per client, so such queries bypass the
# cache; +nocookie asks the way stub resolvers do.
qc() { qdig +nocookie +noall +question +answer "$@"; }
cached_a() { awk '$1 ~ /^cached\.example\.test\.$/ && $4 == "A" { print $5 }' <<<"$1"; }
cached_ttl() { awk '$1 ~ /^cached\.example\.test\.$/ && $4 == "A" { print $2 }' <<<"$1"; }
cache_stat() { ztc --json stats | jq ".dns.cache.$1"; }
out=$(qc cached.example.test A)
[[ $(cached_a "$out") == 198.18.7.8 ]] || fail "cached.example.test not forwarded: $out"
ttl1=$(cached_ttl "$out")
(( ttl1 >= 1 && ttl1 <= CACHE_TTL )) || fail "first answer's TTL '$ttl1'"
(( $(cache_stat entries) >= 1 )) || fail "nothing stored: $(ztc --json stats | jq -c .dns)"
zt_kill_pid "$UPSTREAM_PID"
wait_until 5 bash -c "! ip netns exec '$U' ss -Hlun 'sport = :53' | grep -q ." ||
	fail "upstream still bound after stopping it"
hits=$(cache_stat hits)
# The upstream is gone: what answers now is the cache, case as asked (0x20).
out=$(qc CaChEd.Example.TEST A)
grep -q '^;CaChEd\.Example\.TEST\.[[:space:]]' <<<"$out" || fail "question not echoed as asked: $out"
[[ $(awk '$4 == "A" { print $5 }' <<<"$out") == 198.18.7.8 ]] ||
	fail "upstream stopped: want the cached answer: $out"
(( $(cache_stat hits) > hits )) || fail "answer did not come from the cache"
log "ok: upstream stopped, answer served from the cache (TTL $ttl1 at first)"
ttl_lower_and_same() {
	local o
	o=$(qc cached.example.test A)
	[[ $(cached_a "$o") == 198.18.7.8 ]] && (( $(cached_ttl "$o") < ttl1 ))
}
wait_until $((CACHE_TTL + 2)) ttl_lower_and_same ||
	fail "cached answer's TTL did not go down: $(qc cached.example.test A)"
log "ok: same answer, TTL lowered by its time in the cache"
expired=$(cache_stat expired)
gone() { [[ -z $(cached_a "$(qc cached.example.test A)") ]]; }
wait_until $((CACHE_TTL + 10)) gone || fail "cached answer outlived its TTL: $(qc cached.example.test A); $(ztc --json stats | jq -c .dns)"
(( $(cache_stat expired) > expired )) || fail "expiry not counted"
log "ok: the entry expired with its TTL"
start_upstream
[[ $(qdig +short cached.example.test A) == 198.18.7.8 ]] || fail "upstream back: not answered"

section "enforcement on ztg0"
allowed() { ztc --json stats | jq '.resources[] | select(.name == "nas") | .allowed_packets'; }
allowed_above() { (( $(allowed) > $1 )); }
before=$(allowed)
ip netns exec "$C" ncat -z -w 1 "$NAS" 80 >/dev/null 2>&1 || true	# no tunnel yet: no answer
wait_until 5 allowed_above "$before" ||
	fail "allowed port: counter did not move"
check "the daemon read it from the TUN" bash -c \
	"$(printf '%q ' "$ZTGATE") --socket '$DAEMON_SOCK' --json stats | jq -e '.tun.rx_packets > 0'"
log "ok: $NAS:80 left through ztg0 and was counted"
t0=$(date +%s%N)
if ip netns exec "$C" ncat -z -w 3 "$NAS" 81 2>"$ZT_TMP/ncat81.err"; then
	fail "denied port connected"
fi
(( ($(date +%s%N) - t0) < 2500000000 )) || fail "denied port: not refused locally (timed out)"
log "ok: $NAS:81 refused locally"
wait_until 5 bash -c "grep '\"event\":\"deny\"' '$DAEMON_OUT' | grep '\"dport\":81' | grep -q '\"dst\":\"$NAS\"'" ||
	fail "no deny event for $NAS:81"
log "ok: deny event raised"

section "hostile input"
udp_send() { ip netns exec "$C" socat -u - "UDP-SENDTO:$DNS:53"; }
printf 'junk' | udp_send
printf '\x00\x01\x00' | udp_send
head -c 3000 /dev/urandom | udp_send
head -c 5000 /dev/zero | udp_send
udp_send <"$ZT_ROOT/tests/fuzz/corpus-dns/query-loop"
rcode=$(ip netns exec "$C" socat -t 2 - "UDP:$DNS:53" <"$ZT_ROOT/tests/fuzz/corpus-dns/query-qdcount2" |
	od -An -tu1 -j3 -N1 | tr -d ' ')
(( (rcode & 15) == 1 )) || fail "two questions: want FORMERR, got rcode '$rcode'"
log "ok: QDCOUNT 2 -> FORMERR"
printf '\xff\xffgarbage over tcp' | ip netns exec "$C" socat -u - "TCP:$DNS:53" || true
printf '\x00\x05abcde' | ip netns exec "$C" socat -u - "TCP:$DNS:53" || true
[[ $(qdig +short nas.home.int A) == "$NAS" ]] || fail "server not answering after junk"
[[ $(qdig +short +tcp nas.home.int A) == "$NAS" ]] || fail "TCP not answering after junk"
zt_pid_alive "$DAEMON_PID" || fail "daemon died"
log "ok: still answering after malformed input"

section "BPF fast path (tc egress on the namespace's lo)"
# One raw UDP query (ID, RD, NAME A IN, no EDNS); prints the reply in hex.
rawq() {
	ip netns exec "$C" python3 - "$1" "$2" <<'PY'
import socket, sys
name, qid = sys.argv[1], int(sys.argv[2])
q = bytes([qid >> 8, qid & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
q += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0\0\1\0\1"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, ("100.95.0.251", 53))
print(s.recv(4096).hex())
PY
}
dstat() { ztc --json stats | jq ".dns.$1"; }
check "fast path attached to lo egress" bash -c "tc -n '$C' filter show dev lo egress | grep -q zt_dns_fast_eg"
ztc resource add fastres --address fast.zt.test --tcp 80 >/dev/null
local0=$(dstat local)
first=$(rawq FaSt.zt.test 4242)		# no entry yet: the daemon answers and fills it
(( $(dstat local) == local0 + 1 )) || fail "first query not answered by the daemon"
FAST=$(ip netns exec "$C" dig +short +noedns @$DNS fast.zt.test A)
in_fake_range "$FAST" || fail "fast.zt.test: want a fake IP, got '$FAST'"
local1=$(dstat local)
answered0=$(dstat fast_path.answered)
second=$(rawq FaSt.zt.test 4242)
[[ $second == "$first" ]] || fail "fast path answer differs from the daemon's: $second vs $first"
for i in 1 2 3 4 5; do
	[[ $(ip netns exec "$C" dig +short +noedns @$DNS fast.zt.test A) == "$FAST" ]] ||
		fail "dig +noedns: fast path answer wrong"
	[[ $(ip netns exec "$C" dig +short +nocookie @$DNS FAST.zt.test A) == "$FAST" ]] ||
		fail "dig +nocookie (bare OPT): fast path answer wrong"
done
(( $(dstat local) == local1 )) || fail "the daemon saw queries the fast path should answer: $(ztc --json stats | jq -c .dns)"
(( $(dstat fast_path.answered) >= answered0 + 11 )) ||
	fail "fast path counter: $(ztc --json stats | jq -c .dns.fast_path)"
log "ok: repeated queries answered in BPF, byte for byte the daemon's answer, daemon counter still"
out=$(qdig fast.zt.test A)		# dig's default cookie: not the fast shape
grep -q "$FAST" <<<"$out" || fail "EDNS cookie query: $out"
(( $(dstat local) == local1 + 1 )) || fail "a query with an EDNS option must reach the daemon"
log "ok: other shapes still reach the daemon"
ztc resource rm fastres >/dev/null
answered1=$(dstat fast_path.answered)
out=$(ip netns exec "$C" dig +time=2 +tries=1 +noedns @$DNS fast.zt.test A || true)
grep -q "$FAST" <<<"$out" && fail "removed resource still answered with its fake IP: $out"
(( $(dstat fast_path.answered) == answered1 )) || fail "fast path answered a removed resource"
log "ok: after resource rm, fast.zt.test no longer answered with $FAST"

section "restart keeps every mapping"
zt_daemon_stop TERM
check "ztg0 removed at clean shutdown" bash -c "! ip -n '$C' link show ztg0 2>/dev/null"
check "fast path detached at clean shutdown" bash -c "! tc -n '$C' filter show dev lo egress | grep -q zt_dns_fast_eg"
check "its routes went with it" bash -c "! ip -n '$C' route | grep -q ztg0"
zt_daemon_start --upstream $UPSTREAM
before=$(allowed)
# Before any new query: the maps must already know the old fake IP.
ip netns exec "$C" ncat -z -w 1 "$NAS" 80 >/dev/null 2>&1 || true
wait_until 5 allowed_above "$before" ||
	fail "after restart: traffic to the old fake IP not classified"
log "ok: fake IPs back in the maps before any query"
[[ $(qdig +short nas.home.int A) == "$NAS" ]] || fail "nas.home.int moved after restart"
[[ $(qdig +short a.b.home.int A) == "$W1" ]] || fail "a.b.home.int moved after restart"
[[ $(qdig +short web.home.int A) == "$W2" ]] || fail "web.home.int moved after restart"
log "ok: same fake IPs after restart"
zt_daemon_stop TERM

section "SIGHUP: upstreams from resolv.conf read again, the daemon keeps running"
# Upstreams from a resolv.conf (no --upstream): first a server that is not there.
echo "nameserver 198.18.0.54" >"$ZT_TMP/resolv.conf"
zt_daemon_start --resolv-conf "$ZT_TMP/resolv.conf" --log-level debug
version=$("$ZTGATED" --version | awk '{print $2}')
[[ -n $version ]] || fail "ztgated --version printed nothing"
grep '"event":"ready"' "$DAEMON_OUT" | tail -n 1 | jq -e --arg v "$version" '.version == $v' >/dev/null ||
	fail "ready line does not carry version $version"
[[ $(ztc --json stats | jq -r .version) == "$version" ]] || fail "control replies do not carry the version"
log "ok: version $version in --version, the ready line and control replies"
[[ $(qdig +short www.example.test A || true) != 198.18.7.7 ]] || fail "answered through an upstream not configured yet"
echo "nameserver $UPSTREAM" >"$ZT_TMP/resolv.conf"
kill -HUP "$DAEMON_PID"
upstream_now() { grep -q "upstreams now '$UPSTREAM:53'" "$DAEMON_OUT"; }
wait_until 5 upstream_now || fail "SIGHUP: new upstream not taken; log: $(tail -n 3 "$DAEMON_OUT")"
[[ $(qdig +short www.example.test A) == 198.18.7.7 ]] || fail "after SIGHUP: not forwarded to the new upstream"
zt_pid_alive "$DAEMON_PID" || fail "SIGHUP stopped the daemon"
log "ok: SIGHUP re-read resolv.conf ($UPSTREAM), daemon still running"
zt_daemon_stop TERM
log "client_dns: all passed"
