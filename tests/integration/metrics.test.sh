#!/usr/bin/env bash
# metrics: --metrics ADDR:PORT scraped by a real Prometheus (Debian's), in a
# namespace of its own.
#
# The enforcer protects 127.0.0.2 (tcp 80 only) on the namespace's lo egress;
# connections to port 81 are denied. Checked: (a) GET /metrics is Prometheus
# text with the per-resource counters, named by convention (_total, labels);
# (b) GET /healthz answers 200 with every check ok, and `ztgate health` exits
# 0; (c) Prometheus scrapes the daemon and a PromQL query returns the denied
# packets the enforcer counted; (d) only GET is served, other paths are 404;
# (e) a client (in the same namespace, scraped by the same Prometheus) and a
# connector (its own namespace, over a veth): per peer the path as a state set
# (ztgate_peer_path{peer,path}) and bytes each way, after `ztgate ping`.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require jq nsenter curl prometheus promtool ncat
zt_require_bins

METRICS=127.0.0.1:9464
CLIENT_METRICS=127.0.0.1:9466
PROM=127.0.0.1:9090

section "enforcer with --metrics"
zt_netns_add mon
M=$(zt_ns mon)
ip -n "$M" link set lo up
ip -n "$M" addr add 127.0.0.2/8 dev lo 2>/dev/null || true
zt_daemon_setup "$M" enforce
zt_daemon_start --tc-egress lo --metrics $METRICS
ztc resource add web --address 127.0.0.2 --tcp 80 >/dev/null
ncurl() { ip netns exec "$M" curl -sS --max-time 5 "$@"; }

for i in 1 2 3; do ip netns exec "$M" ncat -z -w 1 127.0.0.2 81 >/dev/null 2>&1 || true; done
denied=$(ztc --json stats | jq '.resources[] | select(.name == "web") | .denied_packets')
(( denied > 0 )) || fail "no denied packets counted for web"

section "/metrics and /healthz"
out=$(ncurl -i "http://$METRICS/metrics")
grep -q '^HTTP/1.1 200' <<<"$out" || fail "/metrics: $(head -n 1 <<<"$out")"
grep -qi '^content-type: text/plain; version=0.0.4' <<<"$out" || fail "/metrics content type"
grep -q '^# TYPE ztgate_resource_denied_packets_total counter' <<<"$out" || fail "/metrics: no TYPE line"
line=$(grep '^ztgate_resource_denied_packets_total{resource="web"} ' <<<"$out") ||
	fail "/metrics: no denied counter for web"
(( ${line##* } >= denied )) || fail "/metrics says ${line##* } denied, stats said $denied"
grep -q '^ztgate_build_info{version="[^"]*",role="enforce"} 1' <<<"$out" || fail "/metrics: build info"
lint=$(promtool check metrics <<<"$(ncurl "http://$METRICS/metrics")" 2>&1) ||
	fail "promtool check metrics: $lint"
log "ok: /metrics: $line; promtool check metrics: clean"
out=$(ncurl -i "http://$METRICS/healthz")
grep -q '^HTTP/1.1 200' <<<"$out" || fail "/healthz: $out"
tail -n 1 <<<"$out" | jq -e '.ok and .checks.control == "ok" and .checks.dataplane == "ok"' >/dev/null ||
	fail "/healthz body: $(tail -n 1 <<<"$out")"
ztc health >/dev/null || fail "ztgate health exited non-zero on a healthy daemon"
[[ $(ncurl -o /dev/null -w '%{http_code}' "http://$METRICS/nope") == 404 ]] || fail "unknown path not 404"
[[ $(ncurl -o /dev/null -w '%{http_code}' -X POST "http://$METRICS/metrics") == 405 ]] || fail "POST not 405"
log "ok: /healthz 200, ztgate health 0, 404 and 405 where due"

section "Prometheus scrapes it"
mkdir -p "$ZT_TMP/prom"
cat >"$ZT_TMP/prom.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: ztgate
    static_configs:
      - targets: ['$METRICS']
  - job_name: tunnel
    static_configs:
      - targets: ['$CLIENT_METRICS']
EOF
zt_bg prometheus "$M" prometheus --config.file="$ZT_TMP/prom.yml" \
	--storage.tsdb.path="$ZT_TMP/prom" --web.listen-address=$PROM
query() {
	ncurl -G "http://$PROM/api/v1/query" --data-urlencode \
		'query=ztgate_resource_denied_packets_total{job="ztgate",resource="web"}' 2>/dev/null |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}
scraped() { local v; v=$(query); [[ -n $v ]] && (( v >= denied )); }
wait_until 30 scraped || fail "Prometheus: no sample of the denied counter within 30 s (got '$(query)'); log: $(tail -n 5 "$ZT_TMP/prometheus.err" 2>/dev/null)"
up=$(ncurl -G "http://$PROM/api/v1/query" --data-urlencode 'query=up{job="ztgate"}' | jq -r '.data.result[0].value[1]')
[[ $up == 1 ]] || fail "Prometheus: target not up ($up)"
log "ok: PromQL ztgate_resource_denied_packets_total{resource=\"web\"} = $(query) (stats said $denied)"
zt_daemon_stop TERM

section "the relay's metrics (no policy: no resource families)"
zt_keygen "$ZT_TMP/relay.key" >/dev/null
zt_daemon_as relay "$M" relay --listen 127.0.0.1:3478 --key "$ZT_TMP/relay.key" --metrics 127.0.0.1:9465
out=$(ncurl "http://127.0.0.1:9465/metrics")
grep -q '^ztgate_relay_registered_peers 0$' <<<"$out" || fail "relay /metrics: $(head -n 5 <<<"$out")"
grep -q 'ztgate_resource_' <<<"$out" && fail "the relay exports resource families"
lint=$(promtool check metrics <<<"$out" 2>&1) || fail "promtool check metrics (relay): $lint"
zt_daemon_stop TERM
log "ok: relay /metrics clean"

section "the tunnel's peers: path and bytes per peer"
zt_netns_add conn
N=$(zt_ns conn)
zt_veth "$M" c0 "$N" u0
zt_addr "$M" c0 192.0.2.1/24
zt_addr "$N" u0 192.0.2.2/24
wait_until 5 zt_link_up "$N" u0 || fail "conn/u0 not up"
CONN_PUB=$(zt_keygen "$ZT_TMP/conn.key")
DEV_PUB=$(zt_keygen "$ZT_TMP/laptop.key")
zt_daemon_as conn "$N" connector --listen 192.0.2.2:51820 --key "$ZT_TMP/conn.key" --dns 127.0.0.1 \
	--metrics 127.0.0.1:9467
zt_cli conn device add laptop --pubkey "$DEV_PUB" --address 100.64.0.2 >/dev/null
zt_daemon_as laptop "$M" client --address 100.64.0.2 --key "$ZT_TMP/laptop.key" --upstream 127.0.0.1 \
	--metrics $CLIENT_METRICS
zt_cli laptop connector add office --pubkey "$CONN_PUB" --endpoint 192.0.2.2:51820 >/dev/null
zt_cli laptop ping office -c 2 >/dev/null || fail "ztgate ping office: $(zt_cli laptop ping office -c 1 2>&1)"
out=$(ncurl "http://$CLIENT_METRICS/metrics")
lint=$(promtool check metrics <<<"$out" 2>&1) || fail "promtool check metrics (client): $lint"
grep -q '^ztgate_peer_path{peer="office",path="direct"} 1$' <<<"$out" &&
	grep -q '^ztgate_peer_path{peer="office",path="relayed-udp"} 0$' <<<"$out" ||
	fail "client /metrics: no path state set for office: $(grep peer_path <<<"$out")"
grep -Eq '^ztgate_peer_tx_bytes_total\{peer="office"\} [1-9]' <<<"$out" ||
	fail "client /metrics: no bytes sent to office: $(grep peer_tx <<<"$out")"
cout=$(ip netns exec "$N" curl -sS --max-time 5 http://127.0.0.1:9467/metrics)
lint=$(promtool check metrics <<<"$cout" 2>&1) || fail "promtool check metrics (connector): $lint"
grep -q '^ztgate_peer_path{peer="laptop",path="direct"} 1$' <<<"$cout" &&
	grep -Eq '^ztgate_peer_rx_bytes_total\{peer="laptop"\} [1-9]' <<<"$cout" ||
	fail "connector /metrics: no path or bytes for laptop: $(grep '^ztgate_peer_' <<<"$cout" | zt_oneline)"
log "ok: /metrics of client and connector: $(grep -E '^ztgate_peer_(path\{.*direct|tx_bytes)' <<<"$out" | zt_oneline); promtool clean"
pquery() {
	ncurl -G "http://$PROM/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}
direct_scraped() { [[ $(pquery 'ztgate_peer_path{job="tunnel",peer="office",path="direct"}') == 1 ]]; }
wait_until 30 direct_scraped || fail "Prometheus: ztgate_peer_path{peer=\"office\",path=\"direct\"} not 1 within 30 s (got '$(pquery 'ztgate_peer_path{job="tunnel",peer="office"}')')"
n=$(pquery 'count(ztgate_peer_path{job="tunnel"} == 1)')
[[ $n == 1 ]] || fail "Prometheus: $n paths taken by office at once, want 1"
tx=$(pquery 'ztgate_peer_tx_bytes_total{job="tunnel",peer="office"}')
[[ -n $tx ]] && (( tx > 0 )) || fail "Prometheus: ztgate_peer_tx_bytes_total for office: '$tx'"
log "ok: PromQL ztgate_peer_path{peer=\"office\",path=\"direct\"} = 1, ztgate_peer_tx_bytes_total{peer=\"office\"} = $tx"
zt_daemon_stop_tag laptop
zt_daemon_stop_tag conn
log "metrics: all passed"
