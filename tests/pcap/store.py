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
Then the manifest: with every index removed, a query for an address that
no segment holds is answered from the manifest's Bloom filters alone.  And
crash recovery: a `tapir read --store` fed through a pipe is killed with
SIGKILL while it writes; the next writer completes the hidden segment (its
partial last record cut), rebuilds the missing index, removes leftovers,
and the recovered store answers queries as `tcpdump -r` does over the
recovered segments, which hold exactly the first packets of the input.
Exit 0 all passed, 1 a failure, 77 skipped (tcpdump absent).  Standard
library only.
"""
import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time

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


def manifest_names(path):
    """The segment names a store manifest lists."""
    data = open(path, "rb").read()
    if data[:4] != b"TPSM":
        raise ValueError("not a manifest")
    n = struct.unpack("<I", data[8:12])[0]
    off, names = 16, []
    for _ in range(n):
        nl = struct.unpack("<H", data[off:off + 2])[0]
        names.append(data[off + 2:off + 2 + nl].decode())
        off += 2 + nl + 8 + 8 + 8 + 4 + 4
        nbits = struct.unpack("<I", data[off:off + 4])[0]
        off += 4 + 1 + nbits // 8
    return names


def kill_test(a, w, tcpdump, check, extra):
    """kill -9 during writing, then recovery by the next writer."""
    z = "zstd " if extra else ""
    seg_sfx = ".pcap.zst" if extra else ".pcap"
    big = os.path.join(w, "big.pcap")
    twin = os.path.join(w, "big-plain.pcap")
    run([sys.executable, os.path.join(REPO, "tests/tools/mkmirror.py"),
         "-o", big, "--seed", "11", "--flows", "800", "--both-sides"])
    _, bp = read_pcap(open(big, "rb").read())
    bp = [(us, ol - OUTER, b[OUTER:]) for us, ol, b in bp]
    write_pcap(twin, 1, bp)
    d = os.path.join(w, "s-kill" + ("-zstd" if extra else ""))
    shutil.rmtree(d, ignore_errors=True)
    data = open(twin, "rb").read()
    # 3 MiB segments: two close, the open one has whole 4 KiB blocks on
    # disk, its last record cut by a block's end.
    pr = subprocess.Popen([a.tapir, "read", "-q", "-o",
                           os.path.join(w, "logs-kill"), "--store", d,
                           "--set", "store.segment_size=3MiB",
                           "--set", "store.publish_interval=1h"] + extra +
                          ["-"],
                          stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    pr.stdin.write(data)
    pr.stdin.flush()
    # Wait until the writer has taken everything in (the open segment
    # stops growing), the pipe still open: it cannot end by itself.
    last, still = -1, 0
    for _ in range(300):
        time.sleep(0.05)
        tmp = [f for f in os.listdir(d) if f.startswith(".seg-")] \
            if os.path.isdir(d) else []
        size = sum(os.path.getsize(os.path.join(d, f)) for f in tmp)
        still = still + 1 if size == last and size > 0 else 0
        last = size
        if still >= 6:
            break
    os.kill(pr.pid, signal.SIGKILL)
    pr.wait()
    pr.stdin.close()
    names = os.listdir(d)
    tmp = [f for f in names if f.startswith(".seg-")]
    check(len(tmp) == 1 and last > 0,
          "%skilled with one hidden segment of %d bytes on disk" % (z, last))
    closed = sorted(f for f in names if f.endswith(seg_sfx))
    # Leftovers of a deletion and of an index write, and a lost index.
    open(os.path.join(d, ".del-" + closed[0]), "wb").write(b"x" * 100)
    idx0 = closed[0][:-len(seg_sfx)] + ".idx"
    open(os.path.join(d, "." + idx0 + ".tmp"), "wb").write(b"TPSI")
    os.unlink(os.path.join(d, idx0))
    empty = os.path.join(w, "empty.pcap")
    write_pcap(empty, 1, [])
    p = subprocess.run([a.tapir, "read", "-o",
                        os.path.join(w, "logs-kill2"), "--store", d, empty],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       text=True)
    log = [l for l in p.stderr.splitlines() if "store:" in l]
    check(p.returncode == 0 and
          any("recovery of" in l and "1 segments completed, 2 indexes "
              "rebuilt, 2 leftovers removed" in l for l in log),
          "%sthe next writer recovers and logs it: %s" %
          (z, log[-1] if log else "nothing"))
    names = os.listdir(d)
    hidden = [f for f in names if f.startswith(".")]
    check(not hidden, "no hidden files after recovery (%s)" % hidden)
    segs = sorted(f for f in names if f.endswith(seg_sfx))
    check(all(f[:-len(seg_sfx)] + ".idx" in names for f in segs) and
          len(segs) == len(closed) + 1,
          "%s%d segments, each with its index" % (z, len(segs)))
    # What was recovered is exactly the input's first packets.
    rec = []
    for f in segs:
        data = open(os.path.join(d, f), "rb").read()
        if extra:
            data = run(["zstdcat"], input=data)
        rec += read_pcap(data)[1]
    check(0 < len(rec) < len(bp) and rec == [(us, ol, b) for us, ol, b in
                                             bp[:len(rec)]],
          "%srecovered %d of %d packets: the first ones, byte for byte" %
          (z, len(rec), len(bp)))
    got_all = os.path.join(w, "recovered.pcap")
    write_pcap(got_all, 1, rec)
    for expr in ("", "tcp", "host 10.0.1.14", "udp port 53",
                 "tcp[tcpflags] & tcp-syn != 0"):
        want = read_pcap(run([tcpdump, "-r", got_all, "-w", "-", expr],
                             stderr=subprocess.DEVNULL))[1]
        out = os.path.join(w, "qk.pcap")
        run([a.tapir, "query", "--store", d, "-w", out, expr],
            stderr=subprocess.DEVNULL)
        got = read_pcap(open(out, "rb").read())[1]
        check(got == want, "%srecovered store '%s': %d packets, tcpdump %d"
              % (z, expr, len(got), len(want)))


def free_udp_port():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def live_test(a, w, pkts, check):
    """`tapir run` fed over UDP loopback: its packets are searchable
    within 10 s of their arrival (store.publish_interval, 5 s)."""
    d = os.path.join(w, "s-live")
    port = free_udp_port()
    cfg = os.path.join(w, "live.yaml")
    with open(cfg, "w") as f:
        f.write('log.dir: "%s"\nstore.dir: "%s"\nstats.interval: "1s"\n'
                'health.tcp_ports: ""\nhttp.listen: ""\nrun.user: ""\n'
                'sources:\n  - {kind: "udp", listen: "127.0.0.1:%d", '
                'encap: "vxlan", threads: 1}\n' %
                (os.path.join(w, "logs-live"), d, port))
    # meson's MALLOC_PERTURB_ fills every allocation: tapir run's pools
    # then take seconds to set up after the socket is bound, which is not
    # what this measures.
    env = dict(os.environ)
    env.pop("MALLOC_PERTURB_", None)
    pr = subprocess.Popen([a.tapir, "run", "-q", "-c", cfg], env=env,
                          stderr=subprocess.DEVNULL)
    try:
        bound = False
        for _ in range(100):
            with open("/proc/net/udp") as f:
                if any(":%04X " % port in l for l in f):
                    bound = True
                    break
            time.sleep(0.05)
        check(bound, "tapir run listens on UDP port %d" % port)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = 0
        for us, ol, b in pkts[:400]:
            s.sendto(b[42:], ("127.0.0.1", port))   # VXLAN header on
            sent += 1
            if sent % 50 == 0:
                time.sleep(0.01)
        t0 = time.monotonic()
        n, seen = 0, None
        while time.monotonic() - t0 < 12:
            n = int(run([a.tapir, "query", "--store", d, "--count", ""],
                        stderr=subprocess.DEVNULL, env=env) or b"0")
            if n >= sent:
                seen = time.monotonic() - t0
                break
            time.sleep(0.25)
        check(seen is not None and seen <= 10,
              "live: %d of %d sent packets searchable after %s s" %
              (n, sent, "%.1f" % seen if seen is not None else "> 12"))
    finally:
        pr.send_signal(signal.SIGTERM)
        try:
            pr.wait(20)
        except subprocess.TimeoutExpired:
            pr.kill()
            pr.wait()


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
    for name, cap, extra in (("plain", plain, []), ("vxlan", vx, []),
                             ("zstd", vx, ["--set", "store.compress=zstd"])):
        d = os.path.join(w, "s-" + name)
        # A small segment age: several segments, so that time order across
        # segments is checked too.
        run([a.tapir, "read", "-q", "-o", os.path.join(w, "logs-" + name),
             "--store", d, "--set", "store.segment_age=1s"] + extra + [cap])
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
    zsegs = sorted(f for f in os.listdir(stores["zstd"])
                   if f.endswith(".pcap.zst"))
    vsegs = sorted(f for f in os.listdir(stores["vxlan"])
                   if f.endswith(".pcap"))
    zcat = shutil.which("zstdcat")
    if zcat:
        check(len(zsegs) == len(vsegs) and all(
            run([zcat, os.path.join(stores["zstd"], z)]) ==
            open(os.path.join(stores["vxlan"], v), "rb").read()
            for z, v in zip(zsegs, vsegs)),
            "zstd segments decompress (zstdcat) to the uncompressed ones")
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
        vxout = open(out, "rb").read()
        run([a.tapir, "query", "--store", stores["zstd"], "-w", out, expr],
            stderr=subprocess.DEVNULL)
        check(open(out, "rb").read() == vxout,
              "zstd store '%s': the same pcap as the uncompressed store's" %
              expr)
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

    # The manifest: an address in no segment is answered without an index;
    # one in every segment needs them (and says that they are missing).
    m = os.path.join(w, "s-manifest")
    shutil.copytree(stores["plain"], m)
    check(os.path.exists(os.path.join(m, "manifest")), "the store has a manifest")
    for f in os.listdir(m):
        if f.endswith(".idx"):
            os.unlink(os.path.join(m, f))
    p = subprocess.run([a.tapir, "query", "--store", m, "--count",
                        "host 192.0.2.99"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    check(p.returncode == 0 and p.stdout.strip() == "0" and
          "no index" not in p.stderr,
          "absent host: answered by the manifest alone (exit %d, %s)" %
          (p.returncode, p.stderr.strip()[:80] or "quiet"))
    p = subprocess.run([a.tapir, "query", "--store", m, "--count",
                        "host 10.0.1.14"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    check("no index" in p.stderr,
          "present host: the manifest sends the query to the indexes")
    # A segment deleted by retention (file gone, manifest untouched) is
    # dropped from the manifest when it is next rewritten.
    segs = sorted(f for f in os.listdir(m) if f.endswith(".pcap"))
    os.unlink(os.path.join(m, segs[0]))
    run([a.tapir, "read", "-q", "-o", os.path.join(w, "logs-m"), "--store",
         m, plain])
    names = manifest_names(os.path.join(m, "manifest"))
    now = sorted(f for f in os.listdir(m) if f.endswith(".pcap"))
    check(segs[0] not in names and names == now and len(now) == len(segs),
          "manifest: the deleted segment dropped, %d entries" % len(names))
    kill_test(a, w, tcpdump, check, [])
    if shutil.which("zstdcat"):
        kill_test(a, w, tcpdump, check, ["--set", "store.compress=zstd"])
    live_test(a, w, pkts, check)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
