#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Seeds for fuzz_relay_server and fuzz_relay_client: the message sequences
of docs/RELAY.md's registration and forwarding (hello, challenge, register
with an accept list, registered, send/recv, keepalive, error), in each
harness's record format; the raw messages come from tests/fuzz/corpus-relay
and corpus-stun (captured relay and STUN messages).
Run: python3 tests/fuzz/mkseeds_relay.py"""
import os
import struct

HERE = os.path.dirname(__file__)


def rec(op, b=b""):
    return bytes([op]) + struct.pack("!H", len(b)) + b


def raw(corpus, name):
    with open(os.path.join(HERE, corpus, name), "rb") as f:
        return f.read()


def write(corpus, name, data):
    os.makedirs(os.path.join(HERE, corpus), exist_ok=True)
    with open(os.path.join(HERE, corpus, name), "wb") as f:
        f.write(data)


# Server records: op = kind << 2 | peer (peer 3 is TCP).
HELLO, REGISTER, KEEPALIVE, SEND, REGISTER_RAW = 1, 2, 3, 4, 5
def op(kind, peer):
    return kind << 2 | peer
tunnel_init = raw("corpus-tunnel", "initiation")
s = b"\0"
s += rec(op(HELLO, 0)) + rec(op(REGISTER, 0), b"\x02")
s += rec(op(HELLO, 1)) + rec(op(REGISTER, 1), b"\x01")
s += rec(op(SEND, 0), b"\x01" + tunnel_init) + rec(op(SEND, 1), b"\x00" + b"\x04" * 32)
s += rec(op(KEEPALIVE, 0)) + rec(op(SEND, 0), b"\x02" + b"x" * 40)
write("corpus-relay_server", "udp-two-peers", s)
s = b"\0" + rec(op(HELLO, 3)) + rec(op(REGISTER, 3), b"\x01")
s += rec(op(HELLO, 0)) + rec(op(REGISTER, 0), b"\x08")
s += rec(op(SEND, 3), b"\x00" + tunnel_init) + rec(op(SEND, 0), b"\x03" + tunnel_init)
s += rec(op(KEEPALIVE, 3))
write("corpus-relay_server", "tcp-and-udp", s)
s = b"\1" + rec(0, raw("corpus-stun", "binding-request-fp")) + rec(1, raw("corpus-relay", "hello"))
s += rec(2, raw("corpus-relay", "register2")) + rec(3, struct.pack("!H", 96) + raw("corpus-relay", "hello"))
s += rec(3, b"\x00\x03abc") + rec(0, raw("corpus-relay", "send"))
write("corpus-relay_server", "raw-messages-tight", s)
