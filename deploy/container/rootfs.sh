#!/usr/bin/env bash
# deploy/container/rootfs.sh OUT BIN...: lay out the container image's whole
# root file system in OUT (emptied first) for `FROM scratch`: the binaries in
# /usr/sbin (ztgated) and /usr/bin (ztgate), exactly the shared libraries they
# load (found with ldd here, at build time, so a new -l in the Makefile needs
# no change here; libpq, loaded at run time, by name), and the files they read
# at run time. Nothing else: no
# shell, no /etc/ssl, no package database.
#
# Layout follows Debian 12 (merged /usr): libraries in /usr/lib/MULTIARCH with
# /lib -> usr/lib, the loader there too and linked from its PT_INTERP path
# /lib64/ld-linux-x86-64.so.2.
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

# put_libs FILE: the shared libraries FILE loads (ldd), the loader included.
put_libs() {
	local file=$1 lib real
	# "libx.so.1 => /path (0x...)" and the loader "/lib64/ld-linux... (0x...)"
	while read -r lib; do
		[[ -n $lib ]] || continue
		if [[ $lib == /lib64/* ]]; then	# PT_INTERP: the exact path, not /usr'd
			# As in Debian, a link to the loader in the library directory:
			# libpq's namespace (dlmopen) looks it up there by its soname.
			real=$(readlink -f "$lib")
			mkdir -p "$out$(dirname "$lib")"
			if [[ $real != "$lib" ]]; then
				put "$real"
				ln -sfn "${real#/usr}" "$out$lib"
			else
				cp -L --preserve=mode "$lib" "$out$lib"
			fi
		else
			put "$lib"
		fi
	done < <(ldd "$file" | awk '$2 == "=>" && $3 ~ /^\// { print $3; next }
		$1 ~ /^\// { print $1 }')
	if ldd "$file" | grep -q 'not found'; then
		echo "$0: $file: a library is not found:" >&2
		ldd "$file" | grep 'not found' >&2
		exit 1
	fi
}

for bin in "$@"; do
	case $(basename "$bin") in
	ztgated) install -m 0755 "$bin" "$out/usr/sbin/ztgated" ;;
	*) install -m 0755 "$bin" "$out/usr/bin/$(basename "$bin")" ;;
	esac
	put_libs "$bin"
done

# Loaded at run time, so no ldd line: libpq.so.5, which the controller
# dlmopen()s into a namespace of its own for --db postgresql://...
# (daemon/controller/pq.c; it needs /proc, for its memfd), and all it needs.
for soname in libpq.so.5; do
	# awk reads to the end: an early exit would kill ldconfig with SIGPIPE
	# (141, fatal under pipefail) whenever its output outgrows the pipe.
	lib=$(ldconfig -p | awk -v s="$soname" '$1 == s && lib == "" { lib = $NF } END { print lib }')
	[[ -n $lib ]] || { echo "$0: $soname not installed (make deps)" >&2; exit 1; }
	put "$lib"
	put_libs "$lib"
done

dispatcher=/usr/lib/$multiarch/bpf/xdp-dispatcher.o
[[ -f $dispatcher ]] || { echo "$0: $dispatcher missing (xdp-tools / libxdp1)" >&2; exit 1; }
put "$dispatcher"
