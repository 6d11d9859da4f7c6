#!/usr/bin/env python3
"""The packet store, end to end: a capture written with `tapir read --store`
and searched with `tapir query` gives what tcpdump gives.

    store.py --tapir BUILD/tapir --work DIR

Two stores from one mkmirror.py capture: the VXLAN capture as mirrored, and
its non-tunnelled twin (each inner Ethernet frame alone).  For each
expression:
  - plain store: `tapir query EXPR` == `tcpdump -r twin -w - EXPR`, packet
    for packet, byte for byte (times compared to the microsecond: tcpdump
    writes microsecond pcap, the store nanosecond);
  - VXLAN store: the same frames with their outer headers (the query
    matches the inner packet); stripping the 50 outer bytes gives tcpdump's.
Exit 0 all passed, 1 a failure, 77 skipped (tcpdump absent).  Standard
library only.
"""
import argparse
import os
import shutil
import struct
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
OUTER = 14 + 20 + 8 + 8   # Ethernet, IPv4, UDP, VXLAN

EXPRS = [
    "",
    "tcp",
    "udp",
    "icmp",
    "host 10.0.1.14",
    "tcp port 443",
    "host 10.0.1.11 and tcp port 443",
    "src host 10.0.1.12 and udp",
    "tcp[tcpflags] & tcp-syn != 0",
    "port 53 or port 8443",
    "not tcp and not udp",
    "greater 1000",
    "host 192.0.2.99",
]


def read_pcap(data):
    """[(ts_us, orig_len, bytes)] and the link type of a classic pcap."""
    magic = struct.unpack("<I", data[:4])[0]
    if magic in (0xa1b2c3d4, 0xa1b23c4d):
        e = "<"
    else:
        e = ">"
        magic = struct.unpack(">I", data[:4])[0]
    nsec = magic == 0xa1b23c4d
    lt = struct.unpack(e + "I", data[20:24])[0]
    out, off = [], 24
    while off + 16 <= len(data):
        s, f, cl, ol = struct.unpack(e + "IIII", data[off:off + 16])
        us = s * 1000000 + (f // 1000 if nsec else f)
        out.append((us, ol, data[off + 16:off + 16 + cl]))
        off += 16 + cl
    if off != len(data):
        raise ValueError("trailing bytes in pcap")
    return lt, out


def write_pcap(path, lt, pkts):
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, lt))
        for us, ol, b in pkts:
            f.write(struct.pack("<IIII", us // 1000000, us % 1000000,
                                len(b), ol))
            f.write(b)


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, **kw).stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tapir", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    tcpdump = shutil.which("tcpdump") or (
        "/usr/bin/tcpdump" if os.path.exists("/usr/bin/tcpdump") else
        "/usr/sbin/tcpdump" if os.path.exists("/usr/sbin/tcpdump") else None)
    if not tcpdump:
        print("SKIP: tcpdump absent")
        return 77
    w = os.path.join(a.work, "store")
    shutil.rmtree(w, ignore_errors=True)
    os.makedirs(w)
    vx = os.path.join(w, "vxlan.pcap")
    plain = os.path.join(w, "plain.pcap")
    run([sys.executable, os.path.join(REPO, "tests/tools/mkmirror.py"),
         "-o", vx, "--seed", "7", "--flows", "60", "--both-sides"])
    lt, pkts = read_pcap(open(vx, "rb").read())
    write_pcap(plain, 1, [(us, ol - OUTER, b[OUTER:]) for us, ol, b in pkts])

    stores = {}
    for name, cap in (("plain", plain), ("vxlan", vx)):
        d = os.path.join(w, "s-" + name)
        # A small segment age: several segments, so that time order across
        # segments is checked too.
        run([a.tapir, "read", "-q", "-o", os.path.join(w, "logs-" + name),
             "--store", d, "--set", "store.segment_age=1s", cap])
        stores[name] = d

    failed = passed = 0

    def check(ok, what):
        nonlocal failed, passed
        print(("PASS " if ok else "FAIL ") + what)
        if ok:
            passed += 1
        else:
            failed += 1

    nseg = len([f for f in os.listdir(stores["plain"]) if f.endswith(".pcap")])
    check(nseg > 1, "plain store has %d segments" % nseg)
    check(not [f for f in os.listdir(stores["plain"]) if f.startswith(".")],
          "no hidden files left in the store")
    for expr in EXPRS:
        want = read_pcap(run([tcpdump, "-r", plain, "-w", "-", expr],
                             stderr=subprocess.DEVNULL))[1]
        out = os.path.join(w, "q.pcap")
        run([a.tapir, "query", "--store", stores["plain"], "-w", out, expr],
            stderr=subprocess.DEVNULL)
        got = read_pcap(open(out, "rb").read())[1]
        check(got == want, "plain '%s': %d packets, tcpdump %d" %
              (expr, len(got), len(want)))
        run([a.tapir, "query", "--store", stores["vxlan"], "-w", out, expr],
            stderr=subprocess.DEVNULL)
        lt2, gotv = read_pcap(open(out, "rb").read())
        inner = [(us, ol - OUTER, b[OUTER:]) for us, ol, b in gotv]
        check(lt2 == 1 and inner == want,
              "vxlan '%s': %d packets, inner frames equal tcpdump's on the "
              "twin" % (expr, len(gotv)))
        n = int(run([a.tapir, "query", "--store", stores["vxlan"], "--count",
                     expr]))
        check(n == len(want), "vxlan --count '%s' = %d" % (expr, n))
    # vni: every packet of mkmirror's capture carries one; the count by
    # VNI equals the outer frames with that VNI.
    vnis = {}
    for us, ol, b in pkts:
        v = int.from_bytes(b[46:49], "big")
        vnis[v] = vnis.get(v, 0) + 1
    for v, cnt in sorted(vnis.items())[:3]:
        n = int(run([a.tapir, "query", "--store", stores["vxlan"], "--count",
                     "vni %d" % v]))
        check(n == cnt, "vni %d: %d packets, expected %d" % (v, n, cnt))
    n = int(run([a.tapir, "query", "--store", stores["vxlan"], "--count",
                 "--limit", "5", "tcp"]))
    check(n == 5, "--limit 5 gives 5")
    # Time bounds: the second half of the capture.
    mid = pkts[len(pkts) // 2][0]
    want = [p for p in pkts if p[0] >= mid]
    n = int(run([a.tapir, "query", "--store", stores["vxlan"], "--count",
                 "--since", "%d.%06d" % (mid // 1000000, mid % 1000000), ""]))
    check(n == len(want), "--since the middle: %d, expected %d" % (n, len(want)))
    # Mistakes: exit 2 and a message that points at them.
    for args, needle in (
            (["host 10.0.0.1 and (vni 5)"], "^^^"),
            (["vni x"], "vni' takes one number"),
            (["tcp and"], "'and' needs a term"),
            (["host 10.0.0.1 and port foo"], "BPF"),
            (["--since", "yesterday", ""], "--since 'yesterday'"),
            (["--since", "1700000100", "--until", "1700000000", ""],
             "after --until")):
        p = subprocess.run([a.tapir, "query", "--store", stores["vxlan"],
                            "--count"] + args, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
        check(p.returncode == 2 and needle in p.stderr,
              "%s: exit %d, %s" % (args, p.returncode,
                                   p.stderr.strip().splitlines()[0]
                                   if p.stderr else "no message"))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
