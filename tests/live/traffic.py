#!/usr/bin/env python3
"""Traffic endpoints and probes that the live tests run inside a network
namespace (`ip netns exec NS python3 traffic.py ...`).  Each prints one
line per event on stdout ("listening ...", "done ...") so that the test
waits on what happened rather than on a timer.

    traffic.py tcp-server PORT
    traffic.py tcp-client HOST PORT BYTES [--rate BYTES_PER_S]
    traffic.py udp-server PORT COUNT [--timeout S]
    traffic.py udp-client HOST PORT SIZE[,SIZE...] [--count N]
    traffic.py ping HOST COUNT [--size N]
    traffic.py connect HOST PORT [--timeout S]       exit 0 connected, 1 not
    traffic.py http URL [--timeout S]                prints status and body

Standard library only.
"""

import argparse
import os
import socket
import struct
import sys
import time
import urllib.error
import urllib.request

# Linux socket options that the socket module does not name.
SO_MAX_PACING_RATE = getattr(socket, "SO_MAX_PACING_RATE", 47)


def pattern(n, seed=0):
    """n bytes of a repeating pattern that depends on seed."""
    block = bytes((i * 7 + seed) & 0xff for i in range(256))
    return (block * (n // 256 + 1))[:n]


def tcp_server(a):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("0.0.0.0", a.port))
    ls.listen(1)
    print("listening tcp %d" % a.port, flush=True)
    c, peer = ls.accept()
    total = 0
    while True:
        b = c.recv(1 << 16)
        if not b:
            break
        total += len(b)
    # The reply tells the client what arrived; its length is fixed so
    # that the test knows resp_bytes.
    c.sendall(("received %012d\n" % total).encode())
    c.close()
    ls.close()
    print("done tcp received %d from %s:%d" % (total, peer[0], peer[1]),
          flush=True)


def tcp_client(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if a.rate:
        # TCP's own pacing (no fq needed): the transfer takes about
        # BYTES / rate seconds instead of arriving as one burst.
        s.setsockopt(socket.SOL_SOCKET, SO_MAX_PACING_RATE, a.rate)
    s.settimeout(60)
    s.connect((a.host, a.port))
    local = s.getsockname()
    data = pattern(1 << 16)
    left = a.bytes
    while left:
        n = s.send(data[:min(left, len(data))])
        left -= n
    s.shutdown(socket.SHUT_WR)
    reply = b""
    while True:
        b = s.recv(4096)
        if not b:
            break
        reply += b
    s.close()
    print("done tcp sent %d from %s:%d reply %r" % (a.bytes, local[0],
                                                    local[1], reply.decode()),
          flush=True)


def udp_server(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("0.0.0.0", a.port))
    s.settimeout(a.timeout)
    print("listening udp %d" % a.port, flush=True)
    n = nbytes = 0
    try:
        while n < a.count:
            b, _ = s.recvfrom(65536)
            n += 1
            nbytes += len(b)
    except socket.timeout:
        pass
    print("done udp received %d datagrams %d bytes" % (n, nbytes),
          flush=True)


def udp_client(a):
    sizes = [int(x) for x in a.sizes.split(",")]
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.connect((a.host, a.port))
    local = s.getsockname()
    total = 0
    for i in range(a.count):
        n = sizes[i % len(sizes)]
        s.send(pattern(n, i))
        total += n
        if a.gap:
            time.sleep(a.gap)
    s.close()
    print("done udp sent %d datagrams %d bytes from %s:%d" %
          (a.count, total, local[0], local[1]), flush=True)


def checksum(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff)
    s += s >> 16
    return ~s & 0xffff


def ping(a):
    """ICMP echo with a raw socket (iputils' ping is not always there):
    COUNT requests, one at a time, each waiting for its reply."""
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    s.settimeout(2)
    ident = os.getpid() & 0xffff
    got = 0
    for seq in range(1, a.count + 1):
        payload = pattern(a.size, seq)
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
        ck = checksum(hdr + payload)
        s.sendto(struct.pack("!BBHHH", 8, 0, ck, ident, seq) + payload,
                 (a.host, 0))
        end = time.monotonic() + 2
        while time.monotonic() < end:
            try:
                b, _ = s.recvfrom(65536)
            except socket.timeout:
                break
            ihl = (b[0] & 0x0f) * 4
            t, _, _, rid, rseq = struct.unpack("!BBHHH", b[ihl:ihl + 8])
            if t == 0 and rid == ident and rseq == seq:
                got += 1
                break
    print("done ping sent %d replies %d" % (a.count, got), flush=True)
    return 0 if got == a.count else 1


def connect(a):
    s = socket.socket(socket.AF_INET6 if ":" in a.host else socket.AF_INET,
                      socket.SOCK_STREAM)
    s.settimeout(a.timeout)
    try:
        s.connect((a.host, a.port))
    except OSError as e:
        print("refused %s" % (e.strerror or e.__class__.__name__),
              flush=True)
        return 1
    print("connected", flush=True)
    s.close()
    return 0


def http(a):
    try:
        with urllib.request.urlopen(a.url, timeout=a.timeout) as r:
            body = r.read().decode(errors="replace")
            print("status %d" % r.status)
            sys.stdout.write(body)
            return 0
    except urllib.error.HTTPError as e:
        print("status %d" % e.code)
        sys.stdout.write(e.read().decode(errors="replace"))
        return 0
    except (OSError, ValueError) as e:
        # URLError, a timeout or a refused connection
        print("error %s" % (getattr(e, "reason", None) or e), flush=True)
        return 1


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("tcp-server")
    p.add_argument("port", type=int)
    p = sub.add_parser("tcp-client")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("bytes", type=int)
    p.add_argument("--rate", type=int, default=0)
    p = sub.add_parser("udp-server")
    p.add_argument("port", type=int)
    p.add_argument("count", type=int)
    p.add_argument("--timeout", type=float, default=10)
    p = sub.add_parser("udp-client")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("sizes")
    p.add_argument("--count", type=int, default=1)
    p.add_argument("--gap", type=float, default=0)
    p = sub.add_parser("ping")
    p.add_argument("host")
    p.add_argument("count", type=int)
    p.add_argument("--size", type=int, default=56)
    p = sub.add_parser("connect")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--timeout", type=float, default=2)
    p = sub.add_parser("http")
    p.add_argument("url")
    p.add_argument("--timeout", type=float, default=2)
    a = ap.parse_args()
    fn = {"tcp-server": tcp_server, "tcp-client": tcp_client,
          "udp-server": udp_server, "udp-client": udp_client,
          "ping": ping, "connect": connect, "http": http}[a.cmd]
    return fn(a) or 0


if __name__ == "__main__":
    sys.exit(main())
