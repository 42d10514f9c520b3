#!/usr/bin/env python3
"""tunnel_attack.py: an off-path attacker against a tunnel port (docs/TUNNEL.md
messages), for tests/integration/attacks_tunnel.test.sh. Every command prints
how many datagrams it sent; sources are spoofed with a raw socket (IP header
ours), so the attacker needs no address of its own on the victim's path.

  replay PCAP [--src IP]   the tunnel datagrams (UDP payload type 1-4) of PCAP
                           again, byte for byte (--src: from IP instead of the
                           captured source; same source port)
  mutate PCAP SEED         for each transport datagram (type 4) of PCAP:
                           truncated copies (to 32 bytes, to 1 byte short, to
                           the header alone) and copies with one bit flipped in
                           the receiver index, the counter, the ciphertext and
                           the tag; captured source
  junk DST PORT COUNT SEED random bytes of random length (1-1472) from random
                           sources; a quarter with a valid type byte and size
  flood DST PORT PUBKEY COUNT SECONDS SEED
                           handshake initiations (148 bytes, random body, a
                           valid mac1 for PUBKEY, base64, so that they pass
                           the free check and cost the responder a cookie reply
                           or a DH), each from its own random source in
                           198.18.100.0-198.18.227.255, COUNT at most, spread
                           over SECONDS at most
Random choices are seeded: a failure can be replayed.
"""
import base64
import hashlib
import hmac
import os
import random
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pcap_replay import checksum, packets  # noqa: E402

INITIATION_LEN = 148
MAC1_OFF = INITIATION_LEN - 32
TRANSPORT_HDR = 16
TAG = 16


def raw_socket():
    return socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)


def send_udp(sock, src, sport, dst, dport, payload):
    """One IPv4 UDP datagram from SRC:SPORT (any address) to DST:DPORT."""
    udp = bytearray(struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload)
    pseudo = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!BBH", 0, 17, len(udp))
    udp[6:8] = struct.pack("!H", checksum(bytes(pseudo + udp)) or 0xFFFF)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), random.getrandbits(16), 0, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
    sock.sendto(ip + bytes(udp), (dst, 0))


def captured(path):
    """(src, sport, dst, dport, payload) of each IPv4 UDP tunnel datagram in PATH."""
    for ip in packets(path):
        if len(ip) < 28 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        ihl = (ip[0] & 15) * 4
        ip = ip[:struct.unpack("!H", ip[2:4])[0]]
        sport, dport = struct.unpack("!HH", ip[ihl:ihl + 4])
        payload = bytes(ip[ihl + 8:])
        if payload and 1 <= payload[0] <= 4:
            yield (socket.inet_ntoa(ip[12:16]), sport, socket.inet_ntoa(ip[16:20]), dport, payload)


def cmd_replay(args):
    src = None
    if len(args) > 2 and args[1] == "--src":
        src = args[2]
    sock, sent = raw_socket(), 0
    for s, sport, d, dport, payload in captured(args[0]):
        send_udp(sock, src or s, sport, d, dport, payload)
        sent += 1
    return sent


def flip(payload, off, bit):
    b = bytearray(payload)
    b[off] ^= 1 << bit
    return bytes(b)


def cmd_mutate(args):
    rnd = random.Random(int(args[1]))
    sock, sent = raw_socket(), 0
    for s, sport, d, dport, p in captured(args[0]):
        if p[0] != 4 or len(p) < TRANSPORT_HDR + TAG:
            continue
        copies = [p[:TRANSPORT_HDR + TAG], p[:-1], p[:TRANSPORT_HDR]]
        copies.append(flip(p, rnd.randrange(4, 8), rnd.randrange(8)))			# receiver
        copies.append(flip(p, rnd.randrange(8, 16), rnd.randrange(8)))			# counter
        if len(p) > TRANSPORT_HDR + TAG:
            copies.append(flip(p, rnd.randrange(TRANSPORT_HDR, len(p) - TAG), rnd.randrange(8)))
        copies.append(flip(p, rnd.randrange(len(p) - TAG, len(p)), rnd.randrange(8)))	# tag
        for c in copies:
            send_udp(sock, s, sport, d, dport, c)
            sent += 1
    return sent


def rand_src(rnd):
    return "198.18.%d.%d" % (100 + rnd.randrange(128), 1 + rnd.randrange(254))


def cmd_junk(args):
    dst, port, count, rnd = args[0], int(args[1]), int(args[2]), random.Random(int(args[3]))
    sizes = {1: 148, 2: 92, 3: 64}
    sock = raw_socket()
    for i in range(count):
        if i % 4 == 0:	# a valid type and size: past the uplink guard, into the parser
            t = 1 + rnd.randrange(4)
            n = sizes.get(t, 32 + rnd.randrange(1440))
            payload = bytes([t, 0, 0, 0]) + rnd.randbytes(n - 4)
        else:
            payload = rnd.randbytes(1 + rnd.randrange(1472))	# one 1500-byte frame
        send_udp(sock, rand_src(rnd), 1024 + rnd.randrange(60000), dst, port, payload)
    return count


def cmd_flood(args):
    dst, port = args[0], int(args[1])
    pub = base64.b64decode(args[2])
    count, seconds, rnd = int(args[3]), float(args[4]), random.Random(int(args[5]))
    mac1_key = hashlib.sha256(b"mac1----" + pub).digest()
    sock = raw_socket()
    start = time.monotonic()
    sent = 0
    while sent < count and time.monotonic() - start < seconds:
        msg = bytes([1, 0, 0, 0]) + rnd.randbytes(MAC1_OFF - 4)
        msg += hmac.new(mac1_key, msg, hashlib.sha256).digest()[:16] + bytes(16)
        send_udp(sock, rand_src(rnd), 1024 + rnd.randrange(60000), dst, port, msg)
        sent += 1
        # Spread COUNT over SECONDS: sleep when ahead of the schedule.
        ahead = sent * seconds / count - (time.monotonic() - start)
        if ahead > 0.005:
            time.sleep(ahead)
    return sent


def main():
    cmds = {"replay": cmd_replay, "mutate": cmd_mutate, "junk": cmd_junk, "flood": cmd_flood}
    if len(sys.argv) < 2 or sys.argv[1] not in cmds:
        sys.exit(__doc__)
    print(cmds[sys.argv[1]](sys.argv[2:]))


if __name__ == "__main__":
    main()
