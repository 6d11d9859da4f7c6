#!/usr/bin/env python3
"""Write a small capture of mirrored traffic as AWS VPC Traffic Mirroring
delivers it, plus a JSON file with the exact expected flow records.

The outer headers follow AWS: Ethernet (VPC router MAC -> appliance MAC),
IPv4 from the mirrored ENI to the target, UDP to port 4789 from a port that
hashes the inner flow, UDP checksum 0, VXLAN flags 0x08 and the session's VNI,
then the full inner Ethernet frame.

    outer Ethernet | outer IPv4 | UDP 4789 | VXLAN (VNI) | inner Ethernet | IP | TCP/UDP

Traffic: TCP connections closed by FIN (SF), aborted by the client (RSTO) or
refused (REJ); DNS-like UDP exchanges (SF) and one-way UDP (S0); IPv4 and
IPv6; internet <-> VPC host and east-west between two monitored hosts.

--both-sides writes every east-west packet a second time, 40-60 us later,
from the receiver's session (its ENI as outer source, its VNI), with a
byte-identical inner frame.  --truncate N cuts inner frames to N bytes,
keeping the inner IP length fields, as a session's packet length does.

The truth file uses the layout of the per-flow records that the pcap tests
compare with: client/server 5-tuple, c2s/s2c packets and bytes (bytes = 14 +
IP total length, i.e. the untruncated inner frame), the Zeek conn_state, the
payload bytes and missed bytes, plus totals (flows, packets, duplicates,
truncated records).  Its duration is Zeek's: for a FIN teardown it ends at
the second FIN, as Zeek leaves out the last ACK.

Standard library only; deterministic for a given seed.
"""

import argparse
import ipaddress
import json
import random
import struct
import sys
import zlib

VXLAN_PORT = 4789
TARGET_IP = "10.0.255.250"
TARGET_MAC = bytes.fromhex("0a0000fffffa")
ROUTER_MAC = bytes.fromhex("0a00000000fe")
START_EPOCH = 1700000000
MSS = 1448

TCP_FIN, TCP_SYN, TCP_RST, TCP_PSH, TCP_ACK = 0x01, 0x02, 0x04, 0x08, 0x10


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ether(dst, src, etype, payload):
    return dst + src + struct.pack("!H", etype) + payload


def ipv4(src, dst, proto, payload, ident=0, ttl=64):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident,
                      0x4000, ttl, proto, 0, src.packed, dst.packed)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, proto, payload, hlim=64):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, hlim,
                       src.packed, dst.packed) + payload


def pseudo(src, dst, proto, length):
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, proto, length)
    return src.packed + dst.packed + struct.pack("!IxxxB", length, proto)


def tcp(src, dst, sport, dport, seq, ack, flags, payload, opts=b""):
    off = (20 + len(opts)) // 4
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF,
                      ack & 0xFFFFFFFF, off << 4, flags, 64240, 0, 0) + opts
    seg = hdr + payload
    c = csum(pseudo(src, dst, 6, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp(src, dst, sport, dport, payload, with_csum=True):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if not with_csum:
        return seg
    c = csum(pseudo(src, dst, 17, len(seg)) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def dns_pair(r):
    """A DNS query for an A record and its answer."""
    qid = r.getrandbits(16)
    name = b"".join(bytes([len(x)]) + x for x in
                    [b"host%d" % r.randrange(1000), b"example", b"com"]) + b"\0"
    question = name + struct.pack("!HH", 1, 1)
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + question
    ans = struct.pack("!HHHIH4s", 0xC00C, 1, 1, 300, 4,
                      bytes([198, 51, 100, r.randrange(1, 255)]))
    a = struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + question + ans
    return q, a


class Host:
    def __init__(self, idx, v4, v6, monitored):
        self.v4 = ipaddress.ip_address(v4)
        self.v6 = ipaddress.ip_address(v6)
        self.mac = bytes([0x0A, 0, 0, 0, idx >> 8, idx & 0xFF]) if monitored \
            else ROUTER_MAC
        self.monitored = monitored
        self.vni = 1000 + idx if monitored else None
        self.ip_id = 0
        self.next_port = 40000 + (idx * 97) % 2000


class Gen:
    def __init__(self, args):
        self.a = args
        self.rng = random.Random(args.seed)
        # The copies' delays draw from their own stream, so that mirroring
        # both sides leaves the traffic itself unchanged.
        self.dup_rng = random.Random(args.seed + 1)
        self.hosts = [Host(i, "10.0.1.%d" % (10 + i), "fd00::1:%x" % (10 + i),
                           True) for i in range(args.hosts)]
        self.ext = [Host(0, "198.18.%d.%d" % (i // 200, 1 + i % 200),
                         "2001:db8::%x" % (i + 1), False) for i in range(40)]
        self.records = []       # (ts_us, seq, frame bytes)
        self.flows = []
        self.session_ipid = {}
        self.n = 0
        self.truncated = 0      # pcap records whose inner frame was cut

    # One inner packet of a flow: record it once from the monitored side's
    # session, and a second time from the peer's session when both ends are
    # monitored and --both-sides is on.
    def emit(self, fl, t_us, from_client, l4_proto, l4):
        src, dst = (fl["c"], fl["s"]) if from_client else (fl["s"], fl["c"])
        sa, da = (src.v6, dst.v6) if fl["v6"] else (src.v4, dst.v4)
        if fl["v6"]:
            ip = ipv6(sa, da, l4_proto, l4)
        else:
            src.ip_id = (src.ip_id + 1) & 0xFFFF
            ip = ipv4(sa, da, l4_proto, l4, ident=src.ip_id)
        frame = ether(dst.mac, src.mac, 0x86DD if fl["v6"] else 0x0800, ip)
        d = fl["c2s" if from_client else "s2c"]
        d["packets"] += 1
        d["bytes"] += len(frame)
        hl = 40 if fl["v6"] else 20
        l4hl = 8 if l4_proto == 17 else (l4[12] >> 4) * 4
        pay = len(ip) - hl - l4hl
        d["payload_bytes"] += pay
        if self.a.truncate and len(frame) > self.a.truncate:
            # Zeek never delivers a truncated TCP segment's payload to the
            # stream: all of it is missed, the captured part too.
            if l4_proto == 6:
                fl["missed_bytes"] += pay
            frame = frame[:self.a.truncate]
            self.truncated += 1 + (self.a.both_sides and src.monitored
                                   and dst.monitored)
        fl["first"] = min(fl["first"], t_us)
        fl["last"] = max(fl["last"], t_us)
        # The session of a flow is that of its monitored endpoint: the
        # client if it is a VPC host, else the server (as AWS does).
        first = src if src.monitored else dst
        self.wrap(first, fl, t_us, frame)
        if self.a.both_sides and src.monitored and dst.monitored:
            fl["duplicates"] += 1
            self.wrap(dst, fl, t_us + 40 + self.dup_rng.randrange(21), frame)

    def wrap(self, sess, fl, t_us, inner):
        ident = self.session_ipid.get(sess.vni, 0) + 1
        self.session_ipid[sess.vni] = ident & 0xFFFF
        # Outer source port: a symmetric hash of the inner flow.
        ends = sorted([fl["c"].v4.packed + struct.pack("!H", fl["cport"]),
                       fl["s"].v4.packed + struct.pack("!H", fl["sport"])])
        sport = 49152 + zlib.crc32(b"".join(ends)) % 16384
        vx = struct.pack("!B3xI", 0x08, sess.vni << 8) + inner
        o = udp(sess.v4, ipaddress.ip_address(TARGET_IP), sport, VXLAN_PORT,
                vx, with_csum=False)
        o = ipv4(sess.v4, ipaddress.ip_address(TARGET_IP), 17, o,
                 ident=ident & 0xFFFF)
        o = ether(TARGET_MAC, ROUTER_MAC, 0x0800, o)
        self.n += 1
        self.records.append((t_us, self.n, o))

    def new_flow(self, proto, c, s, sport, v6, state):
        fl = {"proto": proto, "c": c, "s": s, "cport": c.next_port,
              "sport": sport, "v6": v6, "conn_state": state,
              "c2s": {"packets": 0, "bytes": 0, "payload_bytes": 0},
              "s2c": {"packets": 0, "bytes": 0, "payload_bytes": 0},
              "missed_bytes": 0, "duplicates": 0,
              "first": 1 << 62, "last": 0}
        c.next_port += 1
        self.flows.append(fl)
        return fl

    def tcp_flow(self, fl, t, kind):
        r = self.rng
        rtt = r.randrange(300, 20000)
        cs, ss = r.getrandbits(32), r.getrandbits(32)
        sa = fl["c"].v6 if fl["v6"] else fl["c"].v4
        da = fl["s"].v6 if fl["v6"] else fl["s"].v4
        mss = struct.pack("!BBH", 2, 4, MSS)

        def c2s(flags, payload=b"", opts=b""):
            return tcp(sa, da, fl["cport"], fl["sport"], cs, ss, flags,
                       payload, opts)

        def s2c(flags, payload=b"", opts=b""):
            return tcp(da, sa, fl["sport"], fl["cport"], ss, cs, flags,
                       payload, opts)

        self.emit(fl, t, True, 6, c2s(TCP_SYN, opts=mss))
        cs += 1
        t += rtt
        if kind == "reject":
            self.emit(fl, t, False, 6, s2c(TCP_RST | TCP_ACK))
            return
        self.emit(fl, t, False, 6, s2c(TCP_SYN | TCP_ACK, opts=mss))
        ss += 1
        t += r.randrange(10, 400)
        self.emit(fl, t, True, 6, c2s(TCP_ACK))
        for _ in range(r.randrange(1, 4)):
            req = r.randbytes(r.randrange(40, 400))
            t += r.randrange(10, 200)
            self.emit(fl, t, True, 6, c2s(TCP_PSH | TCP_ACK, req))
            cs += len(req)
            t += rtt
            size = int(r.paretovariate(1.2) * 1500)
            size = min(size, 60000)
            sent = 0
            while sent < size:
                n = min(MSS, size - sent)
                body = r.randbytes(n)
                self.emit(fl, t, False, 6, s2c(TCP_ACK, body))
                ss += n
                sent += n
                t += r.randrange(5, 60)
            t += r.randrange(10, 200)
            self.emit(fl, t, True, 6, c2s(TCP_ACK))
        t += r.randrange(100, 5000)
        if kind == "abort":
            self.emit(fl, t, True, 6, c2s(TCP_RST | TCP_ACK))
            return
        self.emit(fl, t, True, 6, c2s(TCP_FIN | TCP_ACK))
        cs += 1
        t += rtt
        self.emit(fl, t, False, 6, s2c(TCP_FIN | TCP_ACK))
        ss += 1
        # Zeek's duration ends here: the last ACK carries nothing new.
        fl["zeek_last"] = t
        t += r.randrange(10, 400)
        self.emit(fl, t, True, 6, c2s(TCP_ACK))

    def udp_flow(self, fl, t, oneway):
        r = self.rng
        sa = fl["c"].v6 if fl["v6"] else fl["c"].v4
        da = fl["s"].v6 if fl["v6"] else fl["s"].v4
        for _ in range(r.randrange(1, 4)):
            if fl["sport"] == 53:
                q, a = dns_pair(r)
            else:
                q = r.randbytes(r.randrange(30, 80))
                a = r.randbytes(r.randrange(60, 500))
            self.emit(fl, t, True, 17, udp(sa, da, fl["cport"], fl["sport"], q))
            t += r.randrange(300, 3000)
            if not oneway:
                self.emit(fl, t, False, 17,
                          udp(da, sa, fl["sport"], fl["cport"], a))
            t += r.randrange(1000, 200000)

    def run(self):
        r = self.rng
        kinds = ["fin", "fin", "fin", "abort", "reject", "udp", "udp-oneway"]
        for i in range(self.a.flows):
            kind = kinds[i % len(kinds)]
            c = self.hosts[r.randrange(len(self.hosts))]
            east_west = r.random() < self.a.east_west_share
            if east_west:
                s = self.hosts[r.randrange(len(self.hosts))]
                while s is c:
                    s = self.hosts[r.randrange(len(self.hosts))]
            else:
                s = self.ext[r.randrange(len(self.ext))]
                if r.random() < 0.2:
                    c, s = s, c          # inbound: the internet opens
            v6 = r.random() < 0.25
            t = int(r.random() * self.a.duration * 1e6)
            if kind.startswith("udp"):
                fl = self.new_flow("udp", c, s, r.choice([53, 53, 4500, 6000]),
                                   v6, "S0" if kind == "udp-oneway" else "SF")
                self.udp_flow(fl, t, kind == "udp-oneway")
            else:
                state = {"fin": "SF", "abort": "RSTO", "reject": "REJ"}[kind]
                fl = self.new_flow("tcp", c, s, r.choice([80, 443, 22, 8443]),
                                   v6, state)
                self.tcp_flow(fl, t, kind)
        self.records.sort(key=lambda x: (x[0], x[1]))

    def write_pcap(self, path):
        out = sys.stdout.buffer if path == "-" else open(path, "wb")
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for t_us, _, frame in self.records:
            ts = START_EPOCH * 1000000 + t_us
            out.write(struct.pack("<IIII", ts // 1000000, ts % 1000000,
                                  len(frame), len(frame)))
            out.write(frame)
        if out is not sys.stdout.buffer:
            out.close()

    def truth(self):
        flows = []
        for i, fl in enumerate(self.flows):
            v = "v6" if fl["v6"] else "v4"
            rec = {"id": i, "proto": fl["proto"], "ip_version": 6 if fl["v6"] else 4,
                   "client": str(getattr(fl["c"], v)), "client_port": fl["cport"],
                   "server": str(getattr(fl["s"], v)), "server_port": fl["sport"],
                   "start": (START_EPOCH * 1000000 + fl["first"]) / 1e6,
                   "end": (START_EPOCH * 1000000 + fl["last"]) / 1e6,
                   "duration": (fl.get("zeek_last", fl["last"]) -
                                fl["first"]) / 1e6,
                   "c2s": fl["c2s"], "s2c": fl["s2c"],
                   "conn_state": fl["conn_state"],
                   "missed_bytes": fl["missed_bytes"],
                   "duplicates": fl["duplicates"],
                   "mirror_session": (fl["c"] if fl["c"].monitored else fl["s"]).vni}
            flows.append(rec)
        pk = sum(f["c2s"]["packets"] + f["s2c"]["packets"] for f in flows)
        return {"generator": "tapir mkmirror",
                "params": vars(self.a),
                "flows": flows,
                "mirror": {"encap": "vxlan", "both_sides": self.a.both_sides,
                           "truncate": self.a.truncate, "target": TARGET_IP,
                           "udp_dst_port": VXLAN_PORT},
                "totals": {"flows": len(flows), "packets": pk,
                           "duplicates": sum(f["duplicates"] for f in flows),
                           "truncated_records": self.truncated,
                           "pcap_records": len(self.records)}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-o", "--output", required=True, help="pcap file, - for stdout")
    ap.add_argument("--truth", help="write the expected flows as JSON here")
    ap.add_argument("--flows", type=int, default=28)
    ap.add_argument("--hosts", type=int, default=6, help="monitored VPC hosts")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds")
    ap.add_argument("--east-west-share", type=float, default=0.4)
    ap.add_argument("--both-sides", action="store_true",
                    help="mirror east-west traffic from both ENIs")
    ap.add_argument("--truncate", type=int, default=0,
                    help="cut inner frames to N bytes (N >= 94: the inner "
                    "headers stay whole)")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    if a.truncate and a.truncate < 94:
        ap.error("--truncate must be at least 94 (Ethernet + IPv6 + TCP/MSS)")
    g = Gen(a)
    g.run()
    g.write_pcap(a.output)
    if a.truth:
        with open(a.truth, "w") as f:
            json.dump(g.truth(), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
