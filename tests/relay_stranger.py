#!/usr/bin/env python3
"""relay_stranger.py RELAY-IP PORT TARGET-KEY-B64 MARKER: an unregistered
source throwing at a relay (docs/RELAY.md) everything it might forward or
answer: relay messages of each type with made-up keys, cookies and macs (a
send to TARGET-KEY, a registered peer, carrying MARKER), a STUN Binding
request, a tunnel datagram, junk. Each probe goes from a socket of its own,
so every reply is attributed to the probe it answers; replies are collected
for 0.5 s after each probe.

Prints one JSON line per probe: {"probe", "sent" (bytes), "replies" (sizes),
"stun" (true for the Binding request)}. Used by nat_traversal.test.sh.
"""
import base64
import json
import os
import select
import socket
import struct
import sys
import time

STUN_MAGIC = 0x2112A442


def relay_msg(mtype, body, total=None):
    msg = bytes([mtype, 0, 0, 0]) + body
    if total is not None and len(msg) < total:
        msg += b"\0" * (total - len(msg))
    return msg


def probes(target, marker):
    rnd = os.urandom
    datagram = marker + b" " + rnd(64)
    yield "send-to-registered-peer", relay_msg(0x14, target + datagram)
    yield "send-big", relay_msg(0x14, target + datagram + rnd(1000))
    yield "recv-spoofed", relay_msg(0x15, target + datagram)
    yield "hello", relay_msg(0x10, rnd(32), 96)
    yield "hello-short", relay_msg(0x10, rnd(32))
    yield "hello-tiny", relay_msg(0x10, b"")
    yield "register-forged", relay_msg(0x12, rnd(32) + rnd(16) + struct.pack("!H", 1) + target + rnd(16))
    yield "register-as-target", relay_msg(0x12, target + rnd(16) + struct.pack("!H", 0) + rnd(16))
    yield "keepalive-as-target", relay_msg(0x16, target + rnd(16))
    yield "registered-spoofed", relay_msg(0x13, struct.pack("!I", 1) + bytes(19) + struct.pack("!H", 60) + rnd(16))
    yield "error-spoofed", relay_msg(0x17, struct.pack("!H", 1))
    yield "type-0x1f", relay_msg(0x1F, rnd(200))
    yield "tunnel-initiation", bytes([1, 0, 0, 0]) + rnd(144)
    yield "tunnel-transport", bytes([4, 0, 0, 0]) + rnd(12) + datagram + rnd(16)
    yield "junk-1", b"\x10"
    yield "junk-7", rnd(7)
    yield "junk-500", rnd(500)
    yield "stun-binding", struct.pack("!HHI", 0x0001, 0, STUN_MAGIC) + rnd(12)


def main():
    relay, port, key_b64, marker = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
    target = base64.b64decode(key_b64)
    assert len(target) == 32
    for name, msg in probes(target, marker):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", 0))
        s.sendto(msg, (relay, port))
        replies = []
        deadline = time.monotonic() + 0.5
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([s], [], [], left)[0]:
                break
            try:
                data = s.recv(65535)
            except ConnectionRefusedError:	# an ICMP error: not a reply
                continue
            replies.append(len(data))
        s.close()
        print(json.dumps({"probe": name, "sent": len(msg), "replies": replies,
                          "stun": name.startswith("stun")}), flush=True)


if __name__ == "__main__":
    main()
