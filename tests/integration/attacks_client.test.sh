#!/usr/bin/env bash
# attacks_client: the client's DNS server under attack, as tests.
#
# Topology (namespaces unique to the run):
#   cli  c0  198.18.0.1/24   runs `ztgated client` (TUN ztg0, DNS 100.95.0.251:53)
#        c1  198.18.1.1/24   its LAN side
#   up   u0  198.18.0.53/24  dnsmasq, the upstream: www.example.test -> 198.18.7.7,
#                            rebind.example.test -> 198.18.5.5 (inside an IP resource)
#   lan  l0  198.18.1.2/24   another host on the LAN, routing 100.95.0.251 to the client
# Policy: home  *.home.int     tcp 22
#         net   198.18.5.0/24  tcp 443
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require dig dnsmasq jq nsenter python3 socat
zt_require_bins

DNS=100.95.0.251
UPSTREAM=198.18.0.53

section "topology"
zt_pair cli c0 up u0
zt_netns_add lan
C=$(zt_ns cli)
U=$(zt_ns up)
L=$(zt_ns lan)
zt_veth "$C" c1 "$L" l0
zt_addr "$C" c0 198.18.0.1/24
zt_addr "$U" u0 $UPSTREAM/24
zt_addr "$C" c1 198.18.1.1/24
zt_addr "$L" l0 198.18.1.2/24
wait_until 5 zt_link_up "$L" l0 || fail "lan/l0 not up"
ip -n "$L" route add $DNS/32 via 198.18.1.1

zt_bg dnsmasq "$U" dnsmasq --no-daemon --no-resolv --no-hosts --conf-file=/dev/null \
	--user=root --pid-file= --listen-address=$UPSTREAM --bind-interfaces \
	--local=/example.test/ --address=/www.example.test/198.18.7.7 \
	--address=/rebind.example.test/198.18.5.5 --address=/lan.example.test/198.18.9.9
wait_until 5 zt_udp_bound "$U" 53 || fail "dnsmasq did not come up: $(cat "$ZT_TMP/dnsmasq.err")"

section "client daemon"
export ZT_DAEMON_ROLE=client
zt_daemon_setup "$C" client
zt_daemon_start --upstream $UPSTREAM
ztc resource add home --address '*.home.int' --tcp 22 >/dev/null
ztc resource add net --address 198.18.5.0/24 --tcp 443 >/dev/null

qdig() { ip netns exec "$C" dig +time=2 +tries=1 @$DNS "$@"; }
ldig() { ip netns exec "$L" dig +time=2 +tries=1 @$DNS "$@"; }
dstat() { ztc --json stats | jq ".dns.$1"; }
status_of() { sed -n 's/.*status: \([A-Z]*\),.*/\1/p'; }
answers_of() { sed -n 's/.*ANSWER: \([0-9]*\),.*/\1/p'; }

[[ $(qdig +short www.example.test A) == 198.18.7.7 ]] || fail "local query not forwarded"
[[ -n $(qdig +short a.home.int A) ]] || fail "local query for a resource name not answered"

section "A6: only this host may ask (no open forwarder for the LAN)"
# The LAN host reaches the client's DNS address: the path is there...
ip netns exec "$L" socat -u - "UDP-SENDTO:$DNS:53" <<<"probe" || fail "no route from the LAN"
refused0=$(dstat refused_remote)
out=$(ldig www.example.test A || true)
grep -q '198.18.7.7' <<<"$out" && fail "LAN host got a forwarded answer: $out"
out=$(ldig lanname.home.int A || true)
grep -q 'ANSWER SECTION' <<<"$out" && fail "LAN host got a fake IP: $out"
out=$(ldig +tcp www.example.test A || true)
grep -q '198.18.7.7' <<<"$out" && fail "LAN host got an answer over TCP: $out"
(( $(dstat refused_remote) >= refused0 + 3 )) || fail "refusals not counted: $(ztc --json stats | jq -c .dns)"
ztc dns | grep -q lanname.home.int && fail "a LAN query made a mapping"
[[ $(qdig +short www.example.test A) == 198.18.7.7 ]] || fail "local queries no longer answered"
log "ok: queries from the LAN get nothing over UDP or TCP, local ones are answered"

section "A6: 10,000 new wildcard names"
flood() {
	ip netns exec "$C" python3 - "$1" "$2" <<'PY'
import socket, sys, time, random
n, tag = int(sys.argv[1]), sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
s.settimeout(0.5)
def q(i):
    name = f"{tag}{i}.home.int"
    b = bytes([i >> 8 & 255, i & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
    b += b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0\0\1\0\1"
    return b
got = {0: 0, 2: 0}
sent = 0
t0 = time.time()
while sent < n:
    for _ in range(100):
        if sent < n:
            s.sendto(q(sent), ("100.95.0.251", 53)); sent += 1
    while True:
        try:
            r = s.recv(4096)
        except (socket.timeout, BlockingIOError):
            break
        got[r[3] & 15] = got.get(r[3] & 15, 0) + 1
        if sum(got.values()) >= sent:
            break
print(got.get(0, 0), got.get(2, 0), f"{time.time() - t0:.1f}")
PY
}
mappings0=$(dstat mappings)
saves0=$(dstat pool_saves)
read -r ok servfail secs < <(flood 10000 f)
log "flood: $ok answered, $servfail SERVFAIL in ${secs}s; $(ztc --json stats | jq -c '.dns | {mappings, limited, pool_saves, pool_journaled}')"
(( ok + servfail >= 9000 )) || fail "the server stopped answering under the flood ($ok + $servfail of 10000)"
(( ${secs%.*} < 60 )) || fail "10,000 queries took ${secs}s"
added=$(( $(dstat mappings) - mappings0 ))
(( added <= 500 + 50 * (${secs%.*} + 2) )) || fail "the flood added $added names: not rate-limited"
(( $(dstat limited) > 0 )) || fail "nothing was limited"
(( $(dstat pool_saves) - saves0 <= 1 )) || fail "whole-pool saves during the flood: $(dstat pool_saves)"
size=$(du -sk "$DAEMON_STATE" | awk '{print $1}')
(( size < 2048 )) || fail "state dir grew to ${size} KiB"
[[ -n $(qdig +short a.home.int A) ]] || fail "a known name not answered after the flood"
log "ok: $added names added, whole-pool saves: $(( $(dstat pool_saves) - saves0 )), state ${size} KiB"
zt_daemon_stop TERM
t0=$(date +%s%N)
zt_daemon_start --upstream $UPSTREAM
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
(( ms < 10000 )) || fail "start-up took ${ms} ms"
[[ $(dstat mappings) -ge $added ]] || fail "mappings lost over the restart"
log "ok: restart with $(dstat mappings) mappings in ${ms} ms"

section "hostile messages over UDP and TCP (oversize, compression loops)"
ip netns exec "$C" python3 - "$ZT_ROOT/tests/fuzz/corpus-dns/query-loop" <<'PY' || fail "hostile sender failed"
import socket, struct, sys
loop = open(sys.argv[1], "rb").read()
# A name whose pointer points at itself, and one running forward into a pointer.
hdr = bytes([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0])
self_ptr = hdr + b"\xc0\x0c\0\1\0\1"
fwd_ptr = hdr + b"\x01a\xc0\x12\0\1\0\1\xc0\x0c"
big = hdr + b"\x3f" + b"a" * 63 + b"\0" * 65000
msgs = [loop, self_ptr, fwd_ptr, big[:65507], b"\0" * 12, b"\xff" * 4096]
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.settimeout(0.3)
for m in msgs:
    u.sendto(m, ("100.95.0.251", 53))
for m in msgs + [big]:
    t = socket.create_connection(("100.95.0.251", 53), timeout=2)
    try:
        t.sendall(struct.pack(">H", min(len(m), 65535)) + m[:65535])
        t.recv(4096)
    except OSError:
        pass
    t.close()
PY
[[ -n $(qdig +short a.home.int A) ]] || fail "UDP not answering after hostile messages"
[[ -n $(qdig +short +tcp a.home.int A) ]] || fail "TCP not answering after hostile messages"
zt_pid_alive "$DAEMON_PID" || fail "daemon died on hostile messages"
log "ok: compression loops and oversize messages over UDP and TCP: dropped or FORMERR, still answering"

section "B2: DNS rebinding into an IP resource"
out=$(qdig rebind.example.test A)
[[ $(status_of <<<"$out") == NOERROR && $(answers_of <<<"$out") == 0 ]] ||
	fail "answer pointing into IP resource 198.18.5.0/24 not stripped: $out"
[[ $(qdig +short lan.example.test A) == 198.18.9.9 ]] || fail "an ordinary answer was stripped"
log "ok: a forwarded name answering 198.18.5.5 (resource net) is stripped, others pass"
# A resource added later: what was cached before must not outlive it.
[[ $(qdig +nocookie +short lan.example.test A) == 198.18.9.9 ]] || fail "lan.example.test"
ztc resource add lan9 --address 198.18.9.0/24 --tcp 80 >/dev/null
out=$(qdig +nocookie lan.example.test A)
[[ $(answers_of <<<"$out") == 0 ]] || fail "cached answer into a new IP resource still served: $out"
log "ok: the cache forgets answers when IP resources change"

section "A11: state files"
victim=$ZT_TMP/victim
echo precious >"$victim"
rm -f "$DAEMON_STATE/audit.jsonl"
ln -s "$victim" "$DAEMON_STATE/audit.jsonl"
ztc resource add a11 --address a11.zt.test --tcp 80 >/dev/null
[[ $(cat "$victim") == precious ]] || fail "audit line written through a planted symlink"
grep -q 'audit: cannot open' "$DAEMON_OUT" "$DAEMON_ERR" || fail "no warning about the audit symlink"
rm -f "$DAEMON_STATE/audit.jsonl"
ztc resource rm a11 >/dev/null
[[ -f $DAEMON_STATE/audit.jsonl && ! -L $DAEMON_STATE/audit.jsonl ]] || fail "audit.jsonl not recreated"
[[ $(stat -c %a "$DAEMON_STATE/audit.jsonl") == 600 ]] || fail "audit.jsonl not 0600"
log "ok: audit.jsonl is not followed through a symlink, and is 0600"
zt_daemon_stop TERM
# refused_start: the daemon must exit at start, saying why.
refused_start() {
	local pid
	nsenter --net="/run/netns/$C" -- "$ZTGATED" client --state-dir "$DAEMON_STATE" \
		--socket "$ZT_TMP/a11.sock" --pin-dir "$DAEMON_PIN-a11" --upstream $UPSTREAM \
		>"$ZT_TMP/a11.out" 2>&1 </dev/null &
	pid=$!
	ZT_PIDS+=("$pid")
	wait_until 10 zt_pid_dead "$pid" || fail "the daemon ran with $1"
	grep -q 'refusing a policy file' "$ZT_TMP/a11.out" || fail "$1: $(tail -n 3 "$ZT_TMP/a11.out")"
}
chown 65534 "$DAEMON_STATE/policy.json"
refused_start "a policy file owned by uid 65534"
chown 0 "$DAEMON_STATE/policy.json"
chmod 0666 "$DAEMON_STATE/policy.json"
refused_start "a world-writable policy file"
chmod 0600 "$DAEMON_STATE/policy.json"
log "ok: a policy file owned by another uid, or writable by others, is refused"
zt_daemon_start --upstream $UPSTREAM
zt_daemon_stop TERM

section "B1: off-path cache poisoning of forwarded answers"
# A worst-case off-path attacker at the upstream's address: it knows the
# client's upstream port (c-ares 1.18 keeps one socket, one port, while
# queries are pending) but not the query's ID or the case of its name. For
# each query it sprays all 65,536 IDs with a forged A 198.18.6.6 (TTL 1 h)
# for the name in lower case, and never sends the real answer.
EVIL=198.18.0.54
zt_addr "$U" u0 $EVIL/24
cat >"$ZT_TMP/spoofer.py" <<'PY'
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 53))
while True:
    q, peer = s.recvfrom(4096)
    end = 12
    while q[end]:
        end += q[end] + 1
    qname = q[12:end + 1]
    print(f"query id={q[0] << 8 | q[1]} port={peer[1]} name={qname!r}", flush=True)
    question = qname.lower() + b"\0\1\0\1"
    rr = b"\xc0\x0c\0\1\0\1" + struct.pack(">IH", 3600, 4) + bytes([198, 18, 6, 6])
    for i in range(65536):
        s.sendto(struct.pack(">HHHHHH", i, 0x8180, 1, 1, 0, 0) + question + rr, peer)
PY
zt_bg spoofer "$U" python3 -u "$ZT_TMP/spoofer.py" "$EVIL"
wait_until 5 zt_udp_bound "$U" 53 || fail "spoofer not up"
zt_daemon_start --upstream $EVIL
out=$(ip netns exec "$C" dig +time=6 +tries=1 +nocookie @$DNS poison.example.test A || true)
log "spoofer saw: $(head -n 1 "$ZT_TMP/spoofer.out")"
grep -q '198.18.6.6' <<<"$out" && fail "forged answer accepted: $out"
out=$(ip netns exec "$C" dig +time=6 +tries=1 +nocookie @$DNS poison.example.test A || true)
grep -q '198.18.6.6' <<<"$out" && fail "forged answer served (cached): $out"
(( $(dstat case_mismatch) >= 1 )) || fail "forgeries not seen: $(ztc --json stats | jq -c .dns)"
grep -q "name=b'\\x06poison" "$ZT_TMP/spoofer.out" &&
	fail "the name went upstream in the client's case (no 0x20): $(cat "$ZT_TMP/spoofer.out")"
log "ok: forged answers with every ID but the wrong case are refused (SERVFAIL), never cached"
zt_daemon_stop TERM
log "attacks_client: all passed"
