#!/usr/bin/env bash
# deploy/container/rootfs.sh OUT BIN...: lay out the container image's whole
# root file system in OUT (emptied first) for `FROM scratch`: the binaries in
# /usr/sbin (ztgated) and /usr/bin (ztgate), exactly the shared libraries they
# load (found with ldd here, at build time, so a new -l in the Makefile needs
# no change here), and the files they read at run time. Nothing else: no
# shell, no /etc/ssl, no package database.
#
# Layout follows Debian 12 (merged /usr): libraries in /usr/lib/MULTIARCH with
# /lib -> usr/lib, the loader at its PT_INTERP path /lib64/ld-linux-x86-64.so.2.
# BoringSSL's libcrypto stays in /usr/lib/MULTIARCH/android: the binaries
# carry an rpath there. No /etc/ld.so.cache: the loader searches the
# multiarch directories without it.
#
# Run-time reads (strace of each role, see deploy/container/README.md):
#   - libxdp loads its multi-program dispatcher from
#     /usr/lib/MULTIARCH/bpf/xdp-dispatcher.o (the `--xdp` hooks);
#   - everything else comes from the host or Kubernetes: /sys/fs/bpf and
#     /sys/kernel/btf (sysfs), /proc, /dev/net/tun, /etc/resolv.conf (client,
#     connector: c-ares; the runtime provides it), the state dir and socket
#     dir (volumes; the daemon creates them if missing).
set -euo pipefail

out=$1
shift
[[ $# -gt 0 ]] || { echo "usage: $0 OUT BIN..." >&2; exit 2; }
multiarch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)

rm -rf "$out"
mkdir -p "$out/usr/lib/$multiarch" "$out/usr/sbin" "$out/usr/bin" "$out/lib64" \
	"$out/run/ztgate" "$out/var/lib/ztgate"
ln -s usr/lib "$out/lib"

# put SRC: copy the file SRC resolves to, at SRC's own path with /lib/ read
# as /usr/lib/ (merged /usr), mode kept.
put() {
	local src=$1 dst=$1
	[[ $dst == /lib/* ]] && dst=/usr$dst
	mkdir -p "$out$(dirname "$dst")"
	cp -L --preserve=mode "$src" "$out$dst"
}

for bin in "$@"; do
	case $(basename "$bin") in
	ztgated) install -m 0755 "$bin" "$out/usr/sbin/ztgated" ;;
	*) install -m 0755 "$bin" "$out/usr/bin/$(basename "$bin")" ;;
	esac
	# "libx.so.1 => /path (0x...)" and the loader "/lib64/ld-linux... (0x...)"
	while read -r lib; do
		[[ -n $lib ]] || continue
		if [[ $lib == /lib64/* ]]; then	# PT_INTERP: the exact path, not /usr'd
			cp -L --preserve=mode "$lib" "$out$lib"
		else
			put "$lib"
		fi
	done < <(ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3; next }
		$1 ~ /^\// { print $1 }')
	if ldd "$bin" | grep -q 'not found'; then
		echo "$0: $bin: a library is not found:" >&2
		ldd "$bin" | grep 'not found' >&2
		exit 1
	fi
done

dispatcher=/usr/lib/$multiarch/bpf/xdp-dispatcher.o
[[ -f $dispatcher ]] || { echo "$0: $dispatcher missing (xdp-tools / libxdp1)" >&2; exit 1; }
put "$dispatcher"
