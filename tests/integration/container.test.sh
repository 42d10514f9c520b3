#!/usr/bin/env bash
# container: the image (make image) run as the Kubernetes DaemonSet runs it.
#
#   1. deploy/kubernetes validates (make k8s-validate), and a broken copy of
#      it does not (a string port, a $(VAR) no ConfigMap has, Bidirectional
#      without privileged, a file missing from the kustomization).
#   2. make image; the image holds the binaries, their libraries, libxdp's
#      dispatcher, libpq and its libraries (loaded at run time: the
#      controller in the image reaches the point of connecting) and nothing
#      else.
#   3. podman runs `ztgated enforce --xdp r0` from the image in a test
#      namespace (--network ns:, standing in for hostNetwork) with exactly
#      the DaemonSet's capabilities (read from enforce-daemonset.yaml, all
#      others dropped), the host's /sys/fs/bpf mounted rslave (the
#      DaemonSet's HostToContainer) and a run-unique --pin-dir; read-only
#      root. A resource is added with `podman exec ... ztgate`; from a peer
#      namespace the allowed port answers and a denied one is filtered
#      (ncat, nmap); /healthz answers 200.
#   4. The container stops (as a pod is deleted): enforcement holds, the pins
#      stay on the host; a new container with the same caps takes the
#      programs over (this is what CAP_SYS_ADMIN is for), then `ztgate
#      teardown` removes everything.
# Cleanup on every exit path: containers, namespaces, pins (tests/lib.sh).
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require podman buildah node jq curl ncat nmap socat ss
K8S=$ZT_ROOT/deploy/kubernetes
WEB=198.18.0.2
CTR=ztgate-test-$ZT_ID

section "manifests"
check "make k8s-validate" make -s -C "$ZT_ROOT" k8s-validate
broken=$ZT_TMP/k8s-broken
mkdir -p "$broken"
cp "$K8S"/*.yaml "$broken/"
sed -i 's/containerPort: 51820/containerPort: "51820"/' "$broken/connector-deployment.yaml"
bash "$ZT_ROOT/tests/k8s/validate.sh" "$broken" >"$ZT_TMP/broken1.txt" &&
	fail "a string containerPort passed validation"
grep -q 'containerPort must be integer' "$ZT_TMP/broken1.txt" || fail "no schema error: $(cat "$ZT_TMP/broken1.txt")"
cp "$K8S"/*.yaml "$broken/"
sed -i 's/\$(IFACE)/$(INTERFACE)/' "$broken/enforce-daemonset.yaml"
sed -i 's/mountPropagation: HostToContainer/mountPropagation: Bidirectional/' "$broken/enforce-daemonset.yaml"
sed -i '/^- secrets.yaml/d' "$broken/kustomization.yaml"
bash "$ZT_ROOT/tests/k8s/validate.sh" "$broken" >"$ZT_TMP/broken2.txt" &&
	fail "a broken DaemonSet and kustomization passed validation"
for want in 'INTERFACE' 'Bidirectional needs privileged' 'secrets.yaml is not listed'; do
	grep -q "$want" "$ZT_TMP/broken2.txt" || fail "validator missed '$want': $(cat "$ZT_TMP/broken2.txt")"
done
log "ok: broken copies fail validation"

section "image"
make -s -C "$ZT_ROOT" image >"$ZT_TMP/image.out" 2>&1 || fail "make image: $(tail -n 20 "$ZT_TMP/image.out")"
VERSION=$(cat "$ZT_ROOT/build/version.txt")
IMG=localhost/ztgate:$VERSION
podman image exists "$IMG" || fail "image $IMG missing after make image"
podman image exists localhost/ztgate:latest || fail "image ztgate:latest missing"
# contents: exactly the rootfs (no shell, nothing else)
extra=$(cd "$ZT_ROOT/build/image/rootfs" && find . -type f | grep -Ev '^\./usr/(s?bin/ztgated?|lib/x86_64-linux-gnu/((android/)?lib[^/]+\.so[.0-9]*|ld-linux-x86-64\.so\.2)|lib/x86_64-linux-gnu/bpf/xdp-dispatcher\.o)$|^\./lib64/ld-linux-x86-64\.so\.2$' || true)
[[ -z $extra ]] || fail "unexpected files in the image: $extra"
log "image $IMG: $(podman image inspect -f '{{.Size}}' "$IMG") bytes"

# The runtime: crun, or runc where crun refuses this host's hybrid cgroups.
# The ulimits: podman's defaults exceed the hard limits of a host (or CI
# sandbox) without CAP_SYS_RESOURCE; the daemon needs few of either.
RUN_OPTS=(--ulimit nofile=4096:4096 --ulimit nproc=4096:4096)
if ! podman run --rm "${RUN_OPTS[@]}" --network none --entrypoint /usr/bin/ztgate "$IMG" --version \
	>"$ZT_TMP/probe.out" 2>&1; then
	command -v runc >/dev/null || fail "podman cannot run ($(cat "$ZT_TMP/probe.out")) and runc is missing (make deps)"
	RUN_OPTS+=(--runtime runc)
	podman run --rm "${RUN_OPTS[@]}" --network none --entrypoint /usr/bin/ztgate "$IMG" --version \
		>"$ZT_TMP/probe.out" 2>&1 || fail "podman run: $(cat "$ZT_TMP/probe.out")"
fi
check "ztgate --version in the image is $VERSION" grep -qx "ztgate $VERSION" "$ZT_TMP/probe.out"
# libpq is loaded at run time (dlmopen, daemon/controller/pq.c), with no ldd
# line to bring it in: the controller in the image gets as far as connecting.
"$ZT_ROOT/build/ztgate" keygen --out "$ZT_TMP/ctl.key" >/dev/null
podman run --rm "${RUN_OPTS[@]}" --network none -v "$ZT_TMP/ctl.key:/ctl.key:ro" --tmpfs /var/lib/ztgate \
	--tmpfs /run/ztgate "$IMG" controller --listen 127.0.0.1:7450 --key /ctl.key \
	--db 'postgresql://ztgate@127.0.0.1:1/ztgate?sslmode=require' >/dev/null 2>"$ZT_TMP/pq.err" &&
	fail "a controller without its database started"
grep -q '^ztgated: database error: connection to server at "127.0.0.1", port 1 failed' "$ZT_TMP/pq.err" ||
	fail "libpq in the image: $(cat "$ZT_TMP/pq.err")"
log "ok: libpq loads in the image: $(head -n 1 "$ZT_TMP/pq.err")"

# The DaemonSet's capabilities, as written there.
CAPS=$(sed -n 's/^ *add: \[\(.*\)\]$/\1/p' "$K8S/enforce-daemonset.yaml" | head -n 1 | tr -d ' ')
[[ -n $CAPS ]] || fail "no capabilities.add in enforce-daemonset.yaml"
grep -q 'drop: \[ALL\]' "$K8S/enforce-daemonset.yaml" || fail "DaemonSet does not drop ALL"
log "capabilities: drop ALL, add $CAPS"

section "topology"
zt_pair cli c0 res r0
C=$(zt_ns cli)
R=$(zt_ns res)
zt_addr "$C" c0 198.18.0.1/24
zt_addr "$R" r0 $WEB/24
zt_tcp_listeners "$R" 22 80
check "baseline: web:22 reachable" ip netns exec "$C" ncat -z -w 2 $WEB 22

mkdir -p "$ZT_TMP/state" "$ZT_TMP/run" "$ZT_PIN_BASE"
zt_bpffs
PIN=$ZT_PIN_BASE/ctr
ctr_names=()
ctr_cleanup() {
	local n
	for n in "${ctr_names[@]}"; do
		podman exec "$n" ztgate teardown >/dev/null 2>&1
		podman rm -f -t 2 "$n" >/dev/null 2>&1
	done
	ip netns exec "$R" bpftool net show dev r0 >/dev/null 2>&1 &&
		nsenter --net="/run/netns/$R" -- "$ZT_ROOT/build/ztgated" enforce --teardown --pin-dir "$PIN" >/dev/null 2>&1
	return 0
}
zt_defer ctr_cleanup

# ctr_start NAME: the enforcer as the DaemonSet runs it; waits for "ready".
ctr_start() {
	local name=$1
	ctr_names+=("$name")
	podman run -d --name "$name" "${RUN_OPTS[@]}" \
		--network "ns:/run/netns/$R" --cap-drop=ALL --cap-add="$CAPS" \
		--read-only --security-opt no-new-privileges \
		-v /sys/fs/bpf:/sys/fs/bpf:rslave \
		-v "$ZT_TMP/state:/var/lib/ztgate" -v "$ZT_TMP/run:/run/ztgate" \
		"$IMG" enforce --xdp r0 --pin-dir "$PIN" --metrics 127.0.0.1:9464 \
		>"$ZT_TMP/$name.id" 2>"$ZT_TMP/$name.err" || fail "podman run $name: $(cat "$ZT_TMP/$name.err")"
	if ! wait_until 30 ctr_ready_or_dead "$name"; then
		fail "$name not ready in 30 s: $(podman logs "$name" 2>&1 | tail -n 5)"
	fi
	[[ $(podman inspect -f '{{.State.Running}}' "$name") == true ]] ||
		fail "$name exited: $(podman logs "$name" 2>&1 | tail -n 5)"
	log "container $name ready"
}
ctr_ready_or_dead() {
	podman logs "$1" 2>/dev/null | grep -q '"event":"ready"' ||
		[[ $(podman inspect -f '{{.State.Running}}' "$1") != true ]]
}
healthz_code() { ip netns exec "$R" curl -s -o /dev/null -w '%{http_code}' -m 3 http://127.0.0.1:9464/healthz; }
nmap_state() {	# nmap_state PORT: open / filtered / closed, from cli
	ip netns exec "$C" nmap -Pn -n -T4 --max-retries 1 -p "$1" $WEB 2>/dev/null |
		awk -v p="$1/tcp" '$1 == p { print $2 }'
}
expect_enforced() {
	check "$1: allowed web:80 answers" ip netns exec "$C" ncat -z -w 3 $WEB 80
	if ip netns exec "$C" ncat -z -w 2 $WEB 22 >/dev/null 2>&1; then
		fail "$1: denied web:22 answered"
	fi
	log "ok: $1: denied web:22 dropped"
	[[ $(nmap_state 80) == open ]] || fail "$1: nmap says 80 is $(nmap_state 80)"
	[[ $(nmap_state 22) == filtered ]] || fail "$1: nmap says 22 is $(nmap_state 22)"
	log "ok: $1: nmap 80 open, 22 filtered"
}

section "enforce in a container"
ctr_start "$CTR-a"
[[ $(healthz_code) == 200 ]] || fail "/healthz answered $(healthz_code)"
log "ok: /healthz 200"
check "ztgate health in the container" podman exec "$CTR-a" ztgate health
check "resource added through podman exec" podman exec "$CTR-a" \
	ztgate resource add web --address $WEB --tcp 80
[[ -e $PIN/zt_config ]] || fail "pins not on the host at $PIN"
log "ok: pins on the host under $PIN"
expect_enforced "first container"

section "pod replaced: pins outlive it, a new one takes over"
podman stop -t 10 "$CTR-a" >/dev/null || fail "podman stop"
[[ $(podman inspect -f '{{.State.ExitCode}}' "$CTR-a") == 0 ]] || fail "daemon exited non-zero on SIGTERM"
[[ -e $PIN/zt_config ]] || fail "pins gone with the container"
expect_enforced "no container"
ctr_start "$CTR-b"
[[ $(healthz_code) == 200 ]] || fail "/healthz after takeover answered $(healthz_code)"
podman exec "$CTR-b" ztgate resource list | grep -q web || fail "policy lost across containers"
expect_enforced "second container"

section "teardown"
# The daemon stops as it answers, and the container with it: podman may
# report the exec session's end as an error. What counts is the answer and
# what is left.
podman exec "$CTR-b" ztgate teardown >"$ZT_TMP/teardown.out" 2>&1 || true
grep -q 'detaching its programs' "$ZT_TMP/teardown.out" || fail "ztgate teardown: $(cat "$ZT_TMP/teardown.out")"
wait_until 10 test "$(podman inspect -f '{{.State.Running}}' "$CTR-b")" != true || fail "daemon still running after teardown"
[[ ! -e $PIN ]] || fail "pins left after teardown"
check "web:22 reachable after teardown" ip netns exec "$C" ncat -z -w 2 $WEB 22
log "container: all checks passed"
