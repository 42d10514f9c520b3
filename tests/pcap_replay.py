#!/usr/bin/env python3
"""pcap_replay.py PCAP [FIRST-BYTE] [--min-len N] [--flip OFFSET]: send again,
byte for byte, the IPv4 UDP datagrams of a pcap file (as tcpdump -w writes
it), through a raw socket (IPPROTO_RAW: our IP header, same source address and
port as captured).

The one change: the UDP checksum is recomputed. A capture on the sending side
of a veth sees checksum offload's placeholder, not the checksum the wire
carried; the payload, ports and addresses are untouched. With FIRST-BYTE
(decimal) only datagrams whose UDP payload starts with that byte are sent
(4: a tunnel transport message); with --min-len only those whose UDP payload
has at least N bytes. --flip OFFSET alters each one in flight: the payload
byte at OFFSET (negative: from the end) is XORed with 0x01. Prints how many
were sent. Used by the tunnel's replay test (tests/integration/tunnel_e2e.test.sh)
and its control, and by the altered-packet test of nat_traversal.test.sh.
"""
import argparse
import socket
import struct
import sys

LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LINUX_SLL = 113


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def packets(path):
    data = open(path, "rb").read()
    if len(data) < 24:
        return
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        end = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        end = ">"
    else:
        sys.exit("%s: not a pcap file" % path)
    linktype = struct.unpack(end + "I", data[20:24])[0] & 0xFFFF
    off = 24
    while off + 16 <= len(data):
        incl = struct.unpack(end + "I", data[off + 8:off + 12])[0]
        frame = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == LINKTYPE_ETHERNET:
            if frame[12:14] != b"\x08\x00":
                continue
            yield frame[14:]
        elif linktype == LINKTYPE_LINUX_SLL:
            if frame[14:16] != b"\x08\x00":
                continue
            yield frame[16:]
        elif linktype == LINKTYPE_RAW:
            yield frame
        else:
            sys.exit("%s: link type %d not handled" % (path, linktype))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pcap")
    ap.add_argument("first", nargs="?", type=int)
    ap.add_argument("--min-len", type=int, default=0)
    ap.add_argument("--flip", type=int)
    args = ap.parse_args()
    path, first = args.pcap, args.first
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sent = 0
    for ip in packets(path):
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_UDP:
            continue
        ihl = (ip[0] & 15) * 4
        ip = bytearray(ip[:struct.unpack("!H", ip[2:4])[0]])
        udp = ip[ihl:]
        payload = udp[8:]
        if first is not None and (not payload or payload[0] != first):
            continue
        if len(payload) < args.min_len:
            continue
        if args.flip is not None:
            if not -len(payload) <= args.flip < len(payload):
                continue
            udp[8 + (args.flip % len(payload))] ^= 0x01
            ip[ihl:] = udp
        pseudo = ip[12:20] + struct.pack("!BBH", 0, socket.IPPROTO_UDP, len(udp))
        udp[6:8] = b"\0\0"
        csum = checksum(bytes(pseudo + udp)) or 0xFFFF
        ip[ihl + 6:ihl + 8] = struct.pack("!H", csum)
        sock.sendto(bytes(ip), (socket.inet_ntoa(bytes(ip[16:20])), 0))
        sent += 1
    print(sent)


if __name__ == "__main__":
    main()
