#!/usr/bin/env bash
# metrics: --metrics ADDR:PORT scraped by a real Prometheus (Debian's), in a
# namespace of its own.
#
# The enforcer protects 127.0.0.2 (tcp 80 only) on the namespace's lo egress;
# connections to port 81 are denied. Checked: (a) GET /metrics is Prometheus
# text with the per-resource counters, named by convention (_total, labels);
# (b) GET /healthz answers 200 with every check ok, and `ztgate health` exits
# 0; (c) Prometheus scrapes the daemon and a PromQL query returns the denied
# packets the enforcer counted; (d) only GET is served, other paths are 404.
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require jq nsenter curl prometheus promtool ncat
zt_require_bins

METRICS=127.0.0.1:9464
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
log "metrics: all passed"
