#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Seeds for fuzz_offload (tests/fuzz/corpus-offload/): what a TUN with
IFF_VNET_HDR hands us for a TSO'd TCP send (IPv4 and IPv6, as the kernel
builds them: virtio_net_hdr with GSO_TCPV4/6, csum_start at the TCP header,
the TCP checksum field holding the pseudo-header sum), a plain packet with a
partial checksum, and runs of MSS-sized segments of one flow as the tunnel
writes them (coalesce). Run: python3 tests/fuzz/mkseeds_offload.py"""
import os
import struct

OUT = os.path.join(os.path.dirname(__file__), "corpus-offload")


def csum(b, s=0):
    if len(b) % 2:
        b += b"\0"
    for i in range(0, len(b), 2):
        s += b[i] << 8 | b[i + 1]
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def ip4(src, dst, tcp, ident=1):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), ident, 0x4000, 64, 6, 0,
                    bytes(src), bytes(dst))
    c = ~csum(h) & 0xFFFF
    return h[:10] + struct.pack("!H", c) + h[12:] + tcp


def tcp(sport, dport, seq, ack, flags, payload, src, dst, v4=True, fill=True):
    h = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    seg = h + payload
    ph = (bytes(src) + bytes(dst) + struct.pack("!BBH", 0, 6, len(seg)) if v4 else
          bytes(src) + bytes(dst) + struct.pack("!IxxxB", len(seg), 6))
    if fill:
        c = ~csum(ph + seg) & 0xFFFF
    else:
        c = csum(ph)  # CHECKSUM_PARTIAL: the pseudo-header sum, not inverted
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def vnet(flags, gso_type, hdr_len, gso_size, cstart, coff):
    return struct.pack("<BBHHHH", flags, gso_type, hdr_len, gso_size, cstart, coff)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


S4, D4 = [10, 0, 0, 1], [198, 18, 0, 2]
S6 = bytes.fromhex("fd000000000000000000000000000001")
D6 = bytes.fromhex("fd000000000000000000000000000002")
pay = bytes(range(256)) * 12  # 3072 bytes
# Split seeds: mode byte 0 (split), flags 0, gso (unused unless fixed), then the TUN read.
t = tcp(40000, 443, 1000, 5000, 0x18, pay, S4, D4, fill=False)
write("split-tso4", b"\0\0\xa8\x05" + vnet(1, 1, 40, 1448, 20, 16) + ip4(S4, D4, t))
t6 = tcp(40000, 443, 1000, 5000, 0x18, pay[:2900], S6, D6, v4=False, fill=False)
ip6 = struct.pack("!IHBB16s16s", 0x60000000, len(t6), 6, 64, S6, D6) + t6
write("split-tso6", b"\0\0\x8c\x05" + vnet(1, 4, 60, 1428, 40, 16) + ip6)
t = tcp(40000, 443, 1, 1, 0x18, b"hello", S4, D4, fill=False)
write("split-csum", b"\0\0\0\0" + vnet(1, 0, 0, 0, 20, 16) + ip4(S4, D4, t))
write("split-plain", b"\0\0\0\0" + vnet(0, 0, 0, 0, 0, 0) + ip4(S4, D4, tcp(1, 2, 3, 4, 0x10, b"x", S4, D4)))
# Coalesce seeds: mode byte 1, flags 0, then (length, packet) pairs.
def run(n, mss, last=None, psh_at=None):
    out = b"\1\0"
    seq = 7000
    for i in range(n):
        size = last if (last and i == n - 1) else mss
        fl = 0x18 if i == psh_at else 0x10
        p = ip4(S4, D4, tcp(443, 40000, seq, 99, fl, bytes([i]) * size, S4, D4), ident=100 + i)
        out += struct.pack("!H", len(p)) + p
        seq += size
    return out
write("coalesce-run4", run(4, 1000))
write("coalesce-run-short-last", run(3, 1200, last=300, psh_at=2))
write("coalesce-single", run(1, 100))
