#!/bin/bash
# deploy/debian/build-deb.sh VERSION OUTDIR (`make deb`): the Debian package
# ztgate_VERSION_ARCH.deb from the built binaries and deploy/: binaries, the
# systemd unit per role (the controller's drop-in), default config, man pages, bash completion,
# logrotate for the audit trail. Depends are read off the binaries' shared
# libraries (dpkg -S), so they follow the build.
set -euo pipefail
version=${1:?version}
out=${2:?outdir}
root=$(cd "$(dirname "$0")/../.." && pwd)
stage=$out/deb-root
deb_version=${version//-/+}	# 0.1.0-g1fea42f: the git part is no Debian revision
arch=$(dpkg --print-architecture)

rm -rf "$stage"
install -D -m 0755 "$root/build/ztgated" "$stage/usr/sbin/ztgated"
install -D -m 0755 "$root/build/ztgate" "$stage/usr/bin/ztgate"
install -D -m 0644 "$root/deploy/systemd/ztgated@.service" "$stage/lib/systemd/system/ztgated@.service"
install -D -m 0644 "$root/deploy/systemd/ztgated@controller.service.d/controller.conf" \
	"$stage/lib/systemd/system/ztgated@controller.service.d/controller.conf"
install -D -m 0755 "$root/deploy/systemd/ztgate-prepare" "$stage/usr/lib/ztgate/ztgate-prepare"
install -D -m 0644 "$root/deploy/debian/ztgated.default" "$stage/etc/default/ztgated"
install -D -m 0644 "$root/deploy/debian/ztgate.logrotate" "$stage/etc/logrotate.d/ztgate"
install -D -m 0644 "$root/deploy/completion/ztgate.bash" \
	"$stage/usr/share/bash-completion/completions/ztgate"
install -d -m 0755 "$stage/etc/ztgate"
install -m 0644 "$root/deploy/debian/controller.conf" "$stage/etc/ztgate/controller.conf"
for page in ztgated ztgate; do
	install -d "$stage/usr/share/man/man8"
	scdoc <"$root/deploy/man/$page.8.scd" | gzip -9n >"$stage/usr/share/man/man8/$page.8.gz"
done
install -D -m 0644 "$root/README.md" "$stage/usr/share/doc/ztgate/README.md"

# One package per shared library the binaries link directly (NEEDED), and
# per library ztgated loads at run time: libpq.so.5, which the controller
# dlmopen()s into a namespace of its own (daemon/controller/pq.c) and so is
# no NEEDED entry, found where the dynamic linker would find it.
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'; }
runtime_libs=(libpq.so.5)
depends=$({
		for bin in "$stage/usr/sbin/ztgated" "$stage/usr/bin/ztgate"; do
			ldd "$bin" | awk -v want="$(needed "$bin" | paste -sd' ' -)" \
				'BEGIN { n = split(want, w, " "); for (i = 1; i <= n; i++) need[w[i]] = 1 }
				 /=> \// && ($1 in need) { print $3 }'
		done
		for soname in "${runtime_libs[@]}"; do
			# awk reads to the end: an early exit could kill ldconfig with
			# SIGPIPE, fatal under pipefail.
			ldconfig -p | awk -v s="$soname" '$1 == s && lib == "" { lib = $NF } END { print lib }'
		done
	} | sort -u | while read -r lib; do
		dpkg -S "$(readlink -f "$lib")" 2>/dev/null || dpkg -S "$lib" 2>/dev/null || true
	done | cut -d: -f1 | sort -u | paste -sd, - | sed 's/,/, /g')
[[ -n $depends ]] || { echo "build-deb: no dependencies found (ldd/dpkg -S)" >&2; exit 1; }
[[ $depends == *libpq5* ]] || { echo "build-deb: libpq.so.5 not found (make deps): $depends" >&2; exit 1; }

install -d "$stage/DEBIAN"
sed -e "s/@VERSION@/$deb_version/" -e "s/@ARCH@/$arch/" -e "s/@DEPENDS@/$depends/" \
	-e "s/@SIZE@/$(du -sk --exclude=DEBIAN "$stage" | cut -f1)/" \
	"$root/deploy/debian/control.in" >"$stage/DEBIAN/control"
install -m 0755 "$root/deploy/debian/postinst" "$root/deploy/debian/prerm" \
	"$root/deploy/debian/postrm" "$stage/DEBIAN/"
printf '/etc/default/ztgated\n/etc/ztgate/controller.conf\n/etc/logrotate.d/ztgate\n' >"$stage/DEBIAN/conffiles"
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out/ztgate_${deb_version}_${arch}.deb" >/dev/null
echo "$out/ztgate_${deb_version}_${arch}.deb"
