#!/usr/bin/env python3
"""Write a pcap of N concurrent TCP connections: each a handshake (SYN,
SYN-ACK, ACK) and one request/response, none closed, so that with long
timeouts every one of them is open at the end of the capture.  For the
per-flow memory of the TCP analytics (bench/RESULTS.md, "TCP analytics").

    bench/tcp-flows.py N > FILE.pcap
"""
import os
import struct
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "tests", "tools"))
from mkmirror import csum  # noqa: E402  (the Internet checksum)


def frame(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags,
                      65535, 0, 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, 64,
                     6, 0, src, dst)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return b"\x02\0\0\0\0\1\x02\0\0\0\0\2\x08\0" + ip + tcp


def main():
    n = int(sys.argv[1])
    out = sys.stdout.buffer
    out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    srv = bytes([198, 18, 0, 1])
    t = 1700000000 * 1000000
    for i in range(n):
        cli = bytes([10, (i >> 16) & 0xff, (i >> 8) & 0xff, i & 0xff])
        sport = 10000 + (i >> 24)
        pkts = [
            (cli, srv, sport, 443, 1000, 0, 0x02, b""),
            (srv, cli, 443, sport, 5000, 1001, 0x12, b""),
            (cli, srv, sport, 443, 1001, 5001, 0x10, b""),
            (cli, srv, sport, 443, 1001, 5001, 0x18, b"GET / HTTP/1.0\r\n\r\n"),
            (srv, cli, 443, sport, 5001, 1019, 0x18, b"HTTP/1.0 200 OK\r\n\r\n"),
        ]
        for k, p in enumerate(pkts):
            f = frame(*p)
            ts = t + k * 100
            out.write(struct.pack("<IIII", ts // 1000000, ts % 1000000,
                                  len(f), len(f)))
            out.write(f)
        t += 3


if __name__ == "__main__":
    main()
