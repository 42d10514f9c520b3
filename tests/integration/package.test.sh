#!/usr/bin/env bash
# package: the Debian package and its systemd unit, as an operator gets them.
#
# systemd is not PID 1 here, so the unit is checked the two ways that remain:
# (a) `make deb` builds build/ztgate_VERSION_ARCH.deb; installed with
#     `dpkg --root` into a fresh tree it holds the binaries, the unit, the
#     default config, man pages, completion and logrotate, and its Depends name
#     the libraries the binaries link and libpq5 (loaded at run time);
# (b) `systemd-analyze verify` accepts ztgated@client.service and
#     ztgated@controller.service (with its drop-in) with the package's files
#     in place (overlaid in a private mount namespace);
# (c) the unit's ExecStart line, run exactly as the unit would (its %i, its
#     options) under the unit's capability set (CapabilityBoundingSet and
#     AmbientCapabilities parsed from the installed unit) as an unprivileged
#     user, in a namespace of its own: the client comes up, answers a
#     resource name with a fake IP, `ztgate health` says healthy, SIGHUP keeps
#     it running, and without one of the capabilities it fails;
# (d) the controller's ExecStart line with /etc/ztgate/controller.conf's
#     options under its drop-in's set (no capability at all) as an
#     unprivileged user: it comes up, listens on its node port, is healthy.
# The pin dir is prepared as ztgate-prepare does (owned by the user), under
# the run's pin base; /dev/net/tun gets Debian's usual mode 0666 inside a
# private mount namespace (this machine's is 0600).
set -euo pipefail
# shellcheck source=tests/lib.sh
source "$(dirname "$0")/../lib.sh"

zt_require_root
zt_require dpkg-deb dpkg systemd-analyze setpriv unshare scdoc dig jq nsenter man
zt_require_bins

section "make deb"
deb=$(make -s -C "$ZT_ROOT" deb | tail -n 1)
[[ -f $deb ]] || fail "make deb did not print a package path (got '$deb')"
log "built $(basename "$deb") ($(du -k "$deb" | cut -f1) KiB)"

section "installed into a fresh tree with dpkg --root"
R=$ZT_TMP/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
: >"$R/var/lib/dpkg/status"
# --unpack: the files, without maintainer scripts (no user made on this host).
dpkg --root="$R" --force-depends --force-not-root --unpack "$deb" >/dev/null ||
	fail "dpkg --root --unpack failed"
files=$(dpkg --root="$R" -L ztgate)
for f in /usr/sbin/ztgated /usr/bin/ztgate /lib/systemd/system/ztgated@.service \
	/usr/lib/ztgate/ztgate-prepare /etc/default/ztgated /etc/logrotate.d/ztgate \
	/usr/share/man/man8/ztgated.8.gz /usr/share/man/man8/ztgate.8.gz \
	/usr/share/bash-completion/completions/ztgate /etc/ztgate/controller.conf \
	/lib/systemd/system/ztgated@controller.service.d/controller.conf; do
	grep -qx "$f" <<<"$files" || fail "package lacks $f"
	# conffiles wait as .dpkg-new until configure (not run here)
	[[ -e $R$f || -e $R$f.dpkg-new ]] || fail "$f listed but not installed"
done
log "contents: $(grep -c . <<<"$files") paths, among them: $(grep -E 'bin/|service|man8|completions|default|logrotate' <<<"$files" | zt_oneline)"
deps=$(dpkg-deb -f "$deb" Depends)
for lib in libbpf1 libxdp1 libjson-c5 libmicrohttpd12 libsystemd0 android-libboringssl libpq5; do
	grep -q "\b$lib\b" <<<"$deps" || fail "Depends lacks $lib: $deps"
done
for f in /etc/default/ztgated /etc/ztgate/controller.conf; do
	grep -qx "$f" <(dpkg-deb -I "$deb" conffiles) || fail "$f is not a conffile"
done
man -l "$R/usr/share/man/man8/ztgated.8.gz" 2>/dev/null | grep -q "ztgated - the ztgate daemon" ||
	fail "ztgated(8) does not render"
"$R/usr/sbin/ztgated" --version | grep -q '^ztgated [0-9]' || fail "packaged ztgated --version"
log "ok: Depends: $deps"

section "systemd-analyze verify"
unit=$R/lib/systemd/system/ztgated@.service
# The unit names /usr/sbin/ztgated and /usr/lib/ztgate/ztgate-prepare: the
# package's, overlaid on this host's directories in a private mount namespace.
out=$(unshare -m --propagation private bash -c '
	R=$1; for d in /usr/sbin /usr/lib /usr/share/man; do
		mount -t overlay overlay -o "lowerdir=$R$d:$d" "$d" || exit 99
	done
	mkdir -p "$2/units"
	cp -r "$R/lib/systemd/system/." "$2/units/"
	SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$2/units/ztgated@client.service" \
		"$2/units/ztgated@controller.service" 2>&1' \
	-- "$R" "$ZT_TMP") || fail "systemd-analyze verify: $out"
grep -qi 'ztgated@' <<<"$out" && fail "systemd-analyze verify: $out"
dropin=$R/lib/systemd/system/ztgated@controller.service.d/controller.conf
grep -qx 'CapabilityBoundingSet=' "$dropin" && grep -qx 'AmbientCapabilities=' "$dropin" ||
	fail "the controller's drop-in does not empty the capability sets"
log "ok: systemd-analyze verify ztgated@client.service, ztgated@controller.service (+ drop-in): clean"

section "the ExecStart line under the unit's capabilities, as an unprivileged user"
caps_of() { sed -n "s/^$1=//p" "$unit" | tr ' ' '\n' | sed -n 's/^CAP_//p' | tr 'A-Z' 'a-z' | paste -sd, -; }
bounding=$(caps_of CapabilityBoundingSet)
ambient=$(caps_of AmbientCapabilities)
[[ -n $bounding && $bounding == "$ambient" ]] || fail "unit caps: bounding '$bounding', ambient '$ambient'"
[[ $(sed -n 's/^User=//p' "$unit") == ztgate ]] || fail "the unit does not run as user ztgate"
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
log "unit: User=ztgate, caps $bounding; ExecStart=$exec_start"

zt_netns_add cli
C=$(zt_ns cli)
ip -n "$C" link set lo up
PIN=$ZT_PIN_BASE/client
STATE=$ZT_TMP/state
RUN=$ZT_TMP/run	# as the unit's RuntimeDirectory: the user's
mkdir -p "$PIN" "$STATE" "$RUN"
chown nobody:nogroup "$PIN" "$STATE" "$RUN"
chmod 0755 "$ZT_TMP"	# the user reaches its state dir and socket
mknod "$ZT_TMP/tun" c 10 200
chmod 0666 "$ZT_TMP/tun"
mkdir -p "/etc/netns/$C"
zt_defer rm -rf "/etc/netns/$C"
echo "nameserver 100.95.0.251" >"/etc/netns/$C/resolv.conf"
echo "nameserver 198.18.77.1" >"$ZT_TMP/resolv.conf"
SOCK=$RUN/client.sock

# ExecStart with %i = client, the group that exists here, and ZTGATED_OPTS
# giving this run's paths instead of the defaults.
start_as_unit() {	# start_as_unit CAPS OUT
	local caps=$1 out=$2 line
	line=${exec_start//%i/client}
	line=${line//--socket-group ztgate/--socket-group nogroup}
	line=${line//\/usr\/sbin\/ztgated/$R\/usr\/sbin\/ztgated}
	line=${line//\$ZTGATED_OPTS/--state-dir $STATE --socket $SOCK --pin-dir $PIN --resolv-conf $ZT_TMP/resolv.conf}
	# shellcheck disable=SC2086 # the unit's command line, word-split as systemd does
	nsenter --net="/run/netns/$C" -- unshare -m --propagation private bash -c \
		'mount --bind "$1" /dev/net/tun && shift && exec "$@"' -- "$ZT_TMP/tun" \
		setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
		--inh-caps="-all,${caps//,/,+}" --ambient-caps="-all,${caps//,/,+}" \
		--bounding-set="-all,${caps//,/,+}" $line >"$out" 2>"$out.err" </dev/null &
	UNIT_PID=$!
	ZT_PIDS+=("$UNIT_PID")
}
ready() { grep -q '"event":"ready"' "$1"; }
start_as_unit "+$bounding" "$ZT_TMP/unit.out"
wait_until 20 bash -c "grep -q '\"event\":\"ready\"' '$ZT_TMP/unit.out' || ! kill -0 $UNIT_PID" ||
	fail "not ready in 20 s: $(tail -n 3 "$ZT_TMP/unit.out.err")"
ready "$ZT_TMP/unit.out" || fail "exited under the unit's caps: $(tail -n 3 "$ZT_TMP/unit.out.err")"
uid=$(awk '/^Uid:/ {print $2}' "/proc/$(pgrep -P "$UNIT_PID" -f ztgated | head -n 1 || echo "$UNIT_PID")/status" 2>/dev/null || true)
log "ready as uid ${uid:-?} with $bounding"
"$ZTGATE" --socket "$SOCK" resource add nas --address nas.home.int --tcp 80 >/dev/null
fake=$(ip netns exec "$C" dig +short +time=2 +tries=1 @100.95.0.251 nas.home.int A)
[[ $fake =~ ^100\.(9[6-9]|1[01][0-9])\. ]] || fail "nas.home.int not answered with a fake IP: '$fake'"
"$ZTGATE" --socket "$SOCK" health >/dev/null || fail "ztgate health: unhealthy"
pkill -HUP -u nobody -f "$R/usr/sbin/ztgated client" || fail "no ztgated running as nobody"
sleep 0.2
"$ZTGATE" --socket "$SOCK" status >/dev/null || fail "daemon gone after SIGHUP"
log "ok: nas.home.int -> $fake, healthy, SIGHUP kept it running"
pkill -TERM -u nobody -f "$R/usr/sbin/ztgated client" || true
wait_until 10 bash -c "! kill -0 $UNIT_PID 2>/dev/null" || fail "did not stop on SIGTERM"

# The set is not larger than needed where it is least obvious: without
# CAP_DAC_READ_SEARCH the user cannot reach its pins (bpffs is root's, 1700).
less=$(tr ',' '\n' <<<"$bounding" | grep -vx dac_read_search | paste -sd, -)
start_as_unit "+$less" "$ZT_TMP/less.out"
wait_until 20 bash -c "! kill -0 $UNIT_PID 2>/dev/null" || fail "still running without CAP_DAC_READ_SEARCH"
ready "$ZT_TMP/less.out" && fail "came up without CAP_DAC_READ_SEARCH: the unit's set is larger than needed"
log "ok: without CAP_DAC_READ_SEARCH it refuses to start: $(grep -m1 ztgated "$ZT_TMP/less.out.err")"
nsenter --net="/run/netns/$C" -- "$ZTGATED" enforce --teardown --pin-dir "$PIN" >/dev/null 2>&1 || true

section "ztgated@controller: its ExecStart with controller.conf, no capability, as an unprivileged user"
# ztgate-prepare knows the role (the unit's ExecStartPre would refuse it otherwise).
grep -q 'controller' <(sed -n '/case \$role in/,/esac/p' "$R/usr/lib/ztgate/ztgate-prepare") ||
	fail "ztgate-prepare does not accept the controller role"
conf=$R/etc/ztgate/controller.conf
[[ -e $conf ]] || conf=$conf.dpkg-new
# shellcheck disable=SC1090 # the package's config, as EnvironmentFile reads it
ZTGATED_OPTS=$(. "$conf"; echo "$ZTGATED_OPTS")
[[ $ZTGATED_OPTS == *"--key /etc/ztgate/controller.key"* && $ZTGATED_OPTS == *"--listen 0.0.0.0:7450"* ]] ||
	fail "controller.conf: ZTGATED_OPTS='$ZTGATED_OPTS'"
"$ZTGATE" keygen --out "$ZT_TMP/controller.key" >/dev/null
chown nobody:nogroup "$ZT_TMP/controller.key"
CSTATE=$ZT_TMP/cstate
mkdir -p "$CSTATE" && chown nobody:nogroup "$CSTATE"
CSOCK=$RUN/controller.sock
line=${exec_start//%i/controller}
line=${line//--socket-group ztgate/--socket-group nogroup}
line=${line//\/usr\/sbin\/ztgated/$R\/usr\/sbin\/ztgated}
opts=${ZTGATED_OPTS//\/etc\/ztgate\/controller.key/$ZT_TMP\/controller.key}
line=${line//\$ZTGATED_OPTS/$opts --state-dir $CSTATE --socket $CSOCK}
# shellcheck disable=SC2086 # the unit's command line, word-split as systemd does
nsenter --net="/run/netns/$C" -- setpriv --reuid=nobody --regid=nogroup --clear-groups --no-new-privs \
	--inh-caps=-all --ambient-caps=-all --bounding-set=-all $line >"$ZT_TMP/ctl.out" 2>"$ZT_TMP/ctl.err" </dev/null &
CTL_PID=$!
ZT_PIDS+=("$CTL_PID")
wait_until 20 bash -c "grep -q '\"event\":\"ready\"' '$ZT_TMP/ctl.out' || ! kill -0 $CTL_PID" ||
	fail "controller not ready in 20 s: $(tail -n 3 "$ZT_TMP/ctl.err")"
ready "$ZT_TMP/ctl.out" || fail "the controller exited with no capability: $(tail -n 3 "$ZT_TMP/ctl.err")"
grep -q ':7450 ' <(ip netns exec "$C" ss -Hltn) || fail "the controller does not listen on 7450: $(ip netns exec "$C" ss -Hltn)"
"$ZTGATE" --socket "$CSOCK" health >/dev/null || fail "ztgate health (controller): unhealthy"
[[ -e $CSTATE/controller.db ]] || fail "no controller.db in its state dir"
kill -TERM "$CTL_PID"
wait_until 10 bash -c "! kill -0 $CTL_PID 2>/dev/null" || fail "the controller did not stop on SIGTERM"
log "ok: the controller ran as nobody with no capability: listening on 7450, healthy, controller.db made"
log "package: all passed"
