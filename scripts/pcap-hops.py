#!/usr/bin/env python3
"""Times messages hop by hop in a loopback capture (see scripts/bench-hops).

Each message is found by its id: as text in AMQP publishes and deliveries, Redis PUBLISHes and
Socket.IO frames from the gateway, and as 16 bytes (a binary uuid, length-prefixed) in
PostgreSQL's binds and rows. A hop's time is when the id is first seen on it; only messages
seen on every hop are counted.
"""
import argparse
import re
import struct
import uuid

parser = argparse.ArgumentParser()
parser.add_argument("pcap")
parser.add_argument("--ids", required=True, help="file with the stored messages' ids, one per line")
parser.add_argument("--amqp", type=int, required=True)
parser.add_argument("--postgres", type=int, required=True)
parser.add_argument("--redis", type=int, required=True)
parser.add_argument("--gateways", required=True, help="gateway ports, comma-separated")
args = parser.parse_args()
gateways = {int(p) for p in args.gateways.split(",")}

# The hops in a message's order; each is a direction of one kind of connection.
HOPS = [
    ("gateway → RabbitMQ", lambda s, d: d == args.amqp),
    ("RabbitMQ → worker", lambda s, d: s == args.amqp),
    ("worker → PostgreSQL", lambda s, d: d == args.postgres),
    ("PostgreSQL → worker", lambda s, d: s == args.postgres),
    ("worker → Redis", lambda s, d: d == args.redis),
    ("Redis → gateway", lambda s, d: s == args.redis),
    ("gateway → client", lambda s, d: s in gateways),
]
BINARY_HOPS = {"worker → PostgreSQL", "PostgreSQL → worker"}


def packets(path):
    """(time, source port, destination port, TCP payload) of each IPv4 TCP packet with data."""
    data = open(path, "rb").read()
    magic = struct.unpack("<I", data[:4])[0]
    scale = 1e9 if magic == 0xA1B23C4D else 1e6
    link = struct.unpack("<I", data[20:24])[0]
    header = {1: 14, 113: 16}.get(link, 14)   # Ethernet (lo) or Linux cooked
    pos = 24
    while pos + 16 <= len(data):
        seconds, fraction, length, _ = struct.unpack("<IIII", data[pos:pos + 16])
        frame = data[pos + 16:pos + 16 + length]
        pos += 16 + length
        ip = frame[header:]
        if len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        tcp = ip[(ip[0] & 15) * 4:]
        source, destination = struct.unpack(">HH", tcp[:4])
        payload = tcp[(tcp[12] >> 4) * 4:]
        if payload:
            yield seconds + fraction / scale, source, destination, payload


stored = [uuid.UUID(line.strip()) for line in open(args.ids) if line.strip()]
by_text = {str(u).encode(): u for u in stored}   # lower case; a match is lowered first
by_bytes = {u.bytes: u for u in stored}
text = re.compile(rb"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
binary = re.compile(rb"\x00\x00\x00\x10(.{16})", re.S)

seen = {}
for time, source, destination, payload in packets(args.pcap):
    hop = next((name for name, matches in HOPS if matches(source, destination)), None)
    if hop is None:
        continue
    found = [by_text.get(m.group(0).lower()) for m in text.finditer(payload)]
    if hop in BINARY_HOPS:
        found += [by_bytes.get(m.group(1)) for m in binary.finditer(payload)]
    for message in found:
        if message:
            seen.setdefault(message, {}).setdefault(hop, time)

names = [name for name, _ in HOPS]
whole = [times for times in seen.values() if all(name in times for name in names)]
print(f"{len(stored)} messages stored, {len(seen)} seen in the capture, {len(whole)} on every hop")
if not whole:
    raise SystemExit(0)


def line(label, values):
    values = sorted(values)
    at = lambda q: values[min(len(values) - 1, int(q * len(values)))]
    print(f"{label:<46} {at(.5):7.2f} {at(.9):7.2f} {at(.99):7.2f} {values[-1]:7.2f}")


print(f"{'ms from the first sight on one hop to the next':<46} {'p50':>7} {'p90':>7} {'p99':>7} {'max':>7}")
for before, after in zip(names, names[1:]):
    line(f"{before} … {after}", [(t[after] - t[before]) * 1000 for t in whole])
line(f"{names[0]} … {names[-1]}", [(t[names[-1]] - t[names[0]]) * 1000 for t in whole])
