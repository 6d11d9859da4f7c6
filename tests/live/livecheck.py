"""What the live tests share besides namespaces: PASS/FAIL bookkeeping
and the run of a test in a lab, starting, draining and stopping `tapir
run`, a small pcap reader and the per-flow accounting of a reference capture,
conn.log records merged the same way, tracegen, and parsers for what
tcpdump and tcpreplay print.

Standard library only.
"""

import argparse
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

import netns  # noqa: E402

SKIP = 77


class Result:
    """PASS/FAIL lines and the closing 'N passed, N failed'."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, what, detail=""):
        print("%s %s%s" % ("PASS" if ok else "FAIL", what,
                           "  " + detail if detail else ""), flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return bool(ok)

    def note(self, msg):
        print("     " + msg, flush=True)

    def summary(self):
        print("%d passed, %d failed" % (self.passed, self.failed))
        return 1 if self.failed else 0


def common_args(doc):
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("--tapir", required=True, help="the tapir binary")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(REPO),
                                                     "shared"),
                    help="folder holding tools/tracegen ($TAPIR_SHARED "
                    "wins)")
    ap.add_argument("--work", help="scratch folder (default: a temp dir)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the scratch folder (logs, captures)")
    return ap


def setup(args, name, tools=()):
    """Common start of a live test: skip (exit 77) when not root, when
    namespaces cannot be made, when a tool is missing or when the tapir
    binary has no `run` command yet.  Makes args.work."""
    netns.skip_unless_able(tools)
    args.tapir = os.path.abspath(args.tapir)
    why = tapir_run_missing(args.tapir)
    if why:
        print("SKIP: %s" % why)
        sys.exit(SKIP)
    args.shared = os.environ.get("TAPIR_SHARED") or args.shared
    base = args.work or tempfile.mkdtemp(prefix="tapir-live-")
    args.cache = os.path.join(os.path.abspath(base), "cache")
    args.work = os.path.abspath(os.path.join(base, name))
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    os.makedirs(args.cache, exist_ok=True)


def tapir_run_missing(tapir):
    """None when `tapir run` exists, else why not."""
    if not os.access(tapir, os.X_OK):
        return "no tapir binary at %s (build first)" % tapir
    p = subprocess.run([tapir, "run", "--help"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30)
    if "unknown command" in p.stderr:
        return "%s has no 'run' command yet" % tapir
    return None


def crashed(rc, stderr):
    return rc is None or rc < 0 or "Sanitizer" in stderr or \
        "runtime error:" in stderr


def run_lab(args, tag, body):
    """The frame of a live test: body(res, lab) with a new Result and a
    netns.Lab tagged tag in args.work/lab; a LabError is a failed set-up
    check, and every namespace must be gone afterwards.  Prints the
    summary and, when all passed and not --keep, removes the lab's folder.
    Returns the exit status."""
    res = Result()
    lab = netns.Lab(tag, workdir=os.path.join(args.work, "lab"))
    try:
        body(res, lab)
    except netns.LabError as e:
        res.check(False, "set-up", str(e))
    finally:
        left = lab.close()
    res.check(not left, "every namespace removed", ", ".join(left))
    out = res.summary()
    if not args.keep and out == 0:
        lab.remove_dir()
    return out


# ---------------------------------------------------------------- tapir run

def udp_source(port=4789, encap="vxlan", threads=1):
    """A udp source on every address, port port."""
    return {"kind": "udp", "listen": "[::]:%d" % port, "encap": encap,
            "threads": threads}


def start_tapir(t, tapir, workdir, source, workers=None, interval="1s"):
    """`tapir run` in namespace t with one source (udp_source, or an
    afpacket dict with interface and threads), a stats line every
    interval, no health port, HTTP server or change of user, and -j
    workers when given.  Returns the netns.TapirProc once the source's
    sockets are bound."""
    cfg = {"sources": [source], "stats.interval": interval,
           "health.tcp_ports": "", "http.listen": "", "run.user": ""}
    tp = t.start_tapir(tapir, workdir, cfg, args=[] if workers is None
                       else ["-j", str(workers)])
    if source["kind"] == "udp":
        tp.wait_udp(int(source["listen"].rsplit(":", 1)[1]))
    else:
        tp.wait_afpacket(source["interface"], source.get("threads", 1))
    return tp


def drain_udp(tp, s, t, port, before, timeout):
    """Wait until tapir has emptied its sockets on port and its stats
    count every datagram it read: packets (queue_drops among them) = the
    kernel's UDP InDatagrams since before (kernel_counters(s, t)).
    netns.LabError when either takes more than timeout seconds."""
    netns.wait_for(lambda: udp_recvq(t, port) == 0, timeout,
                   "tapir to empty its socket's receive queue", proc=tp.proc)
    k = kernel_delta(before, kernel_counters(s, t))
    tp.wait_stats(lambda st: st.get("packets", 0) >= k["udp.InDatagrams"],
                  timeout,
                  "tapir's stats to count the %d datagrams it read" %
                  k["udp.InDatagrams"])


def stop_tapir(res, tp, timeout, what="tapir run exits 0 on SIGTERM",
               tail=400):
    """SIGTERM tp and check that it exits 0 within timeout seconds (else
    SIGKILL) without a sanitizer report; the detail ends with the last
    tail characters of its stderr."""
    rc, in_time = tp.stop(signal.SIGTERM, timeout)
    err = tp.stderr()
    res.check(rc == 0 and in_time and not crashed(rc, err), what,
              "status %s%s %s" % (rc, "" if in_time else
                                  " (killed after %d s)" % timeout,
                                  err.strip()[-tail:]))


def final_logs(res, tp):
    """The last stats.log line ({} when none) and the conn.log records of
    a stopped tapir; None, after a failed check, when a log is not JSON
    lines."""
    try:
        return tp.final_stats(), tp.conns()
    except ValueError as e:
        res.check(False, "logs are JSON lines", str(e))
        return None


# ---------------------------------------------------------------- pcap

def read_pcap(path):
    """Records of a classic pcap file (either byte order, µs or ns) as
    (ts_ns, data, origlen).  Only Ethernet (link type 1): the tests
    capture and generate nothing else."""
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            return
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xa1b2c3d4, 0xa1b23c4d):
            e = "<"
        elif magic in (0xd4c3b2a1, 0x4d3cb2a1):
            e = ">"
            magic = struct.unpack(">I", hdr[:4])[0]
        else:
            raise ValueError("%s: not a classic pcap file" % path)
        nsec = magic == 0xa1b23c4d
        linktype = struct.unpack(e + "I", hdr[20:24])[0] & 0x0fffffff
        if linktype != 1:
            raise ValueError("%s: link type %d, not Ethernet" %
                             (path, linktype))
        rec = struct.Struct(e + "IIII")
        while True:
            h = f.read(16)
            if len(h) < 16:
                return
            sec, frac, caplen, origlen = rec.unpack(h)
            data = f.read(caplen)
            if len(data) < caplen:
                return
            yield sec * 10**9 + (frac if nsec else frac * 1000), data, origlen


def write_pcap(path, records, nsec=False):
    """Write (ts_ns, data, origlen) records as a classic Ethernet pcap."""
    with open(path, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xa1b23c4d if nsec else 0xa1b2c3d4,
                            2, 4, 0, 0, 262144, 1))
        for ts, data, orig in records:
            frac = ts % 10**9 if nsec else (ts % 10**9) // 1000
            f.write(struct.pack("<IIII", ts // 10**9, frac, len(data), orig))
            f.write(data)


def decode_frame(data):
    """The IP layer of an Ethernet frame: a dict with proto, src, dst,
    sport, dport (ICMP: type, code), ip_len; None for a frame without IP
    (ARP ...)."""
    off, et = 12, None
    while off + 2 <= len(data):
        et = struct.unpack("!H", data[off:off + 2])[0]
        off += 2
        if et in (0x8100, 0x88a8):
            off += 2
            continue
        break
    if et == 0x0800 and len(data) >= off + 20:
        ihl = (data[off] & 0x0f) * 4
        ip_len, = struct.unpack("!H", data[off + 2:off + 4])
        frag, = struct.unpack("!H", data[off + 6:off + 8])
        proto = data[off + 9]
        src = str(ipaddress.IPv4Address(data[off + 12:off + 16]))
        dst = str(ipaddress.IPv4Address(data[off + 16:off + 20]))
        l4 = off + ihl
        first = (frag & 0x1fff) == 0
    elif et == 0x86dd and len(data) >= off + 40:
        plen, = struct.unpack("!H", data[off + 4:off + 6])
        ip_len = plen + 40
        proto = data[off + 6]
        src = str(ipaddress.IPv6Address(data[off + 8:off + 24]))
        dst = str(ipaddress.IPv6Address(data[off + 24:off + 40]))
        l4 = off + 40
        first = True
    else:
        return None
    d = {"proto": proto, "src": src, "dst": dst, "ip_len": ip_len,
         "sport": 0, "dport": 0}
    if first and proto in (6, 17) and len(data) >= l4 + 4:
        d["sport"], d["dport"] = struct.unpack("!HH", data[l4:l4 + 4])
    elif first and proto in (1, 58) and len(data) >= l4 + 2:
        d["sport"], d["dport"] = data[l4], data[l4 + 1]
    return d


PROTO_NAMES = {6: "tcp", 17: "udp", 1: "icmp", 58: "icmp"}


def flow_key(proto, a, ap, b, bp):
    """Direction-free key: ICMP flows by their two hosts only (tapir, as
    Zeek, puts the ICMP type and code where the ports are)."""
    ea, eb = (norm(a), int(ap)), (norm(b), int(bp))
    if proto == "icmp":
        ea, eb = (ea[0], 0), (eb[0], 0)
    return (proto,) + tuple(sorted([ea, eb]))


def norm(a):
    try:
        return str(ipaddress.ip_address(a))
    except ValueError:
        return a


def conv_name(key):
    proto, (a, ap), (b, bp) = key
    if proto == "icmp":
        return "icmp %s <-> %s" % (a, b)
    return "%s %s:%d <-> %s:%d" % (proto, a, ap, b, bp)


def pcap_flows(path):
    """Per direction-free flow of a capture: {key: {endpoint: [packets, IP
    bytes sent]}}, and the number of frames without IP."""
    flows, other, total = {}, 0, 0
    for _, data, _ in read_pcap(path):
        total += 1
        d = decode_frame(data)
        if d is None or d["proto"] not in PROTO_NAMES:
            other += 1
            continue
        name = PROTO_NAMES[d["proto"]]
        k = flow_key(name, d["src"], d["sport"], d["dst"], d["dport"])
        ep = (d["src"], 0 if name == "icmp" else d["sport"])
        v = flows.setdefault(k, {}).setdefault(ep, [0, 0])
        v[0] += 1
        v[1] += d["ip_len"]
    return flows, other, total


def conn_flows(conns):
    """conn.log records merged the same way: {key: {endpoint: [packets,
    IP bytes], 'recs': [...]}}."""
    flows = {}
    for c in conns:
        proto = c.get("proto")
        if proto not in ("tcp", "udp", "icmp"):
            continue
        o = (norm(c["id.orig_h"]), int(c.get("id.orig_p", 0)))
        r = (norm(c["id.resp_h"]), int(c.get("id.resp_p", 0)))
        if proto == "icmp":
            o, r = (o[0], 0), (r[0], 0)
        k = flow_key(proto, o[0], o[1], r[0], r[1])
        f = flows.setdefault(k, {"recs": []})
        f["recs"].append(c)
        for ep, side in ((o, "orig"), (r, "resp")):
            v = f.setdefault(ep, [0, 0])
            v[0] += int(c.get(side + "_pkts", 0))
            v[1] += int(c.get(side + "_ip_bytes", 0))
    return flows


def dirs(d):
    """{endpoint: (packets, IP bytes)} of a flow, without the endpoints
    that sent nothing (a one-way flow has one)."""
    return {e: tuple(v) for e, v in d.items()
            if e != "recs" and tuple(v) != (0, 0)}


def fmt_dirs(d):
    return ", ".join("from %s:%d %d pkts %d B" % (e[0], e[1], v[0], v[1])
                     for e, v in sorted((e, v) for e, v in d.items()
                                        if e != "recs"))


# ---------------------------------------------------------------- ERSPAN III

def erspan2_to_3(src, dst):
    """Rewrite a tracegen ERSPAN type II capture as type III: GRE protocol
    0x22EB and a 12-byte type III header with the same session id and T
    bit, and on every other record the 8-byte platform sub-header (O set).
    The inner frames are untouched, so tracegen's truth still holds.  The
    outer IPv4 total length and header checksum are fixed up.  Returns
    the number of records converted."""
    def ipsum(h):
        s = sum(struct.unpack("!10H", h))
        s = (s >> 16) + (s & 0xffff)
        s += s >> 16
        return ~s & 0xffff

    n = 0

    def conv():
        nonlocal n
        for i, (ts, data, orig) in enumerate(read_pcap(src)):
            ip = 14
            if struct.unpack("!H", data[12:14])[0] != 0x0800 or \
                    data[ip + 9] != 47:
                yield ts, data, orig
                continue
            ihl = (data[ip] & 0x0f) * 4
            gre = ip + ihl
            flags, proto = struct.unpack("!HH", data[gre:gre + 4])
            if proto != 0x88BE or not flags & 0x1000:
                yield ts, data, orig
                continue
            ghl = 4 + (4 if flags & 0x8000 else 0) + \
                (4 if flags & 0x2000 else 0) + 4
            e2 = gre + ghl
            w0, = struct.unpack("!I", data[e2:e2 + 4])
            tbit = (w0 >> 10) & 1
            sess = w0 & 0x3ff
            o = i & 1
            w0_3 = (2 << 28) | (tbit << 10) | sess
            # P (an Ethernet frame), FT 0, HwID 5, Gra 01: the timestamp
            # counts 100 ns.
            w2 = (1 << 15) | (5 << 4) | (1 << 1) | o
            e3 = struct.pack("!III", w0_3, (ts // 100) & 0xffffffff, w2)
            if o:
                e3 += struct.pack("!II", (3 << 26) | 0x1234,
                                  (ts // 10**9) & 0xffffffff)
            hdr = bytearray(data[:e2])
            hdr[gre + 2:gre + 4] = struct.pack("!H", 0x22EB)
            out = hdr + e3 + data[e2 + 8:]
            grow = len(out) - len(data)
            tot, = struct.unpack("!H", out[ip + 2:ip + 4])
            out[ip + 2:ip + 4] = struct.pack("!H", tot + grow)
            out[ip + 10:ip + 12] = b"\0\0"
            out[ip + 10:ip + 12] = struct.pack("!H", ipsum(bytes(
                out[ip:ip + 20])) if ihl == 20 else 0)
            n += 1
            yield ts, bytes(out), orig + grow
    tmp = dst + ".tmp"
    write_pcap(tmp, conv())
    os.replace(tmp, dst)
    return n


# ---------------------------------------------------------------- tracegen

def build_tracegen(shared, cache):
    """tracegen built from shared/tools/tracegen into cache/tracegen-bin
    (with its own Makefile, under a lock); None when it is absent."""
    src = os.path.join(shared, "tools", "tracegen")
    if not os.path.exists(os.path.join(src, "tracegen.c")):
        return None
    out = os.path.join(cache, "tracegen-bin")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = subprocess.run(["make", "-s", "-C", out, "-f",
                            os.path.join(src, "Makefile"), "--eval",
                            "vpath %.c " + src, "tracegen"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=300)
        if p.returncode != 0:
            print(p.stderr)
            return None
    return os.path.join(out, "tracegen")


def tracegen_capture(tg, cache, opts):
    """The capture and truth for tracegen opts, made once per option set
    and kept in cache.  Returns (pcap, truth path)."""
    h = hashlib.sha256(("\0".join(opts)).encode())
    with open(tg, "rb") as f:
        h.update(f.read())
    base = os.path.join(cache, "tg-" + h.hexdigest()[:16])
    pcap, truth = base + ".pcap", base + ".json"
    with open(base + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (os.path.exists(pcap) and os.path.exists(truth)):
            p = subprocess.run([tg] + list(opts) + ["-q", "--no-direct", "-o",
                               pcap + ".tmp", "--truth", truth + ".tmp"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=600)
            if p.returncode != 0:
                raise RuntimeError("tracegen %s: %s" % (" ".join(opts),
                                                        p.stderr.strip()))
            os.replace(pcap + ".tmp", pcap)
            os.replace(truth + ".tmp", truth)
    return pcap, truth


def first_frame(path):
    for _, data, _ in read_pcap(path):
        return data
    return None


def mac_str(b):
    return ":".join("%02x" % x for x in b)


# ---------------------------------------------------------------- tools

def tcpdump_summary(stderr):
    """tcpdump's exit summary: captured, received by filter, dropped by
    kernel (None when absent)."""
    def num(what):
        m = re.search(r"(\d+) packets? %s" % what, stderr)
        return int(m.group(1)) if m else None
    return {"captured": num("captured"),
            "received": num("received by filter"),
            "dropped": num("dropped by kernel"),
            "ifdropped": num("dropped by interface")}


def tcpreplay_summary(out):
    """tcpreplay's statistics: actual packets and bytes, seconds, the
    successful and failed packets."""
    d = {}
    m = re.search(r"Actual: (\d+) packets \((\d+) bytes\) sent in "
                  r"([\d.]+) seconds", out)
    if m:
        d["actual"], d["bytes"] = int(m.group(1)), int(m.group(2))
        d["seconds"] = float(m.group(3))
    for k, rx in (("successful", r"Successful packets:\s+(\d+)"),
                  ("failed", r"Failed packets:\s+(\d+)"),
                  ("truncated", r"Truncated packets:\s+(\d+)"),
                  ("retried_enobufs", r"Retried packets \(ENOBUFS\):\s+(\d+)"),
                  ("retried_eagain", r"Retried packets \(EAGAIN\):\s+(\d+)")):
        m = re.search(rx, out)
        if m:
            d[k] = int(m.group(1))
    m = re.search(r"Rated: ([\d.]+) Bps, ([\d.]+) Mbps, ([\d.]+) pps", out)
    if m:
        d["Bps"], d["Mbps"], d["pps"] = (float(m.group(1)),
                                         float(m.group(2)),
                                         float(m.group(3)))
    return d


# ---------------------------------------------------------------- replay

def replay_path(lab, pcap, udp=True):
    """The path a replayed capture takes: ns s (tcpreplay on s0) --veth--
    t0 in ns t.  t0 takes the capture's outer destination MAC; with udp,
    also its destination IP, so that the kernel delivers the datagrams to
    a UDP socket.  Without, t0 has no address and the frames are only for
    a packet socket.  Returns (s, t)."""
    s, t = lab.netns("s"), lab.netns("t")
    lab.veth(s, "s0", t, "t0", mtu=9000)
    first = first_frame(pcap)
    t.ip("link", "set", "t0", "address", mac_str(first[0:6]))
    if udp:
        target = decode_frame(first)["dst"]
        t.addr("t0", target + "/16")
        # The mirrored ENIs are on t0's subnet; no reverse-path check
        # either way.
        for k in ("all", "default", "t0"):
            t.sysctl("net.ipv4.conf.%s.rp_filter" % k, 0)
    return s, t


def kernel_counters(s, t):
    """What the kernel counted along the replay path (cumulative)."""
    return {"s0": s.link_stats("s0"), "t0": t.link_stats("t0"),
            "ip": t.snmp("Ip"), "udp": t.snmp("Udp")}


def kernel_delta(a, b):
    """kernel_counters b - a, flat: s0_tx, s0_tx_dropped (the veth's
    backlog overflowed), t0_rx, t0_rx_dropped, ip.*, udp.* (ns t)."""
    d = {"s0_tx": b["s0"]["tx"]["packets"] - a["s0"]["tx"]["packets"],
         "s0_tx_dropped": b["s0"]["tx"]["dropped"] -
         a["s0"]["tx"]["dropped"],
         "t0_rx": b["t0"]["rx"]["packets"] - a["t0"]["rx"]["packets"],
         "t0_rx_dropped": b["t0"]["rx"]["dropped"] -
         a["t0"]["rx"]["dropped"]}
    for grp, keys in (("ip", ("InReceives", "InHdrErrors", "InAddrErrors",
                              "InUnknownProtos", "InDiscards",
                              "InDelivers")),
                      ("udp", ("InDatagrams", "NoPorts", "InErrors",
                               "RcvbufErrors", "InCsumErrors"))):
        for k in keys:
            d["%s.%s" % (grp, k)] = b[grp].get(k, 0) - a[grp].get(k, 0)
    return d


def udp_recvq(t, port):
    """Bytes waiting in the receive queues of the sockets on port."""
    out = t.run(["ss", "-H", "-uln", "sport", "=", ":%d" % port]).stdout
    return sum(int(line.split()[1]) for line in out.splitlines()
               if len(line.split()) > 1)


def replay(s, pcap, rate, duration=None, loops=1):
    """tcpreplay the capture out of s0 (preloaded, -K): rate packets/s,
    0 = --topspeed, None = the capture's own timing; loops times, or with
    duration, looped for that many seconds.  Returns tcpreplay_summary."""
    cmd = ["tcpreplay", "-i", "s0", "-K"]
    if rate is not None:
        cmd += ["--topspeed"] if not rate else ["--pps", str(rate)]
    if duration:
        cmd += ["--loop", "0", "--duration", str(int(duration))]
    elif loops > 1:
        cmd += ["--loop", str(loops)]
    p = s.run(cmd + [pcap], check=False,
              timeout=300 + (duration or 0) * 2)
    st = tcpreplay_summary(p.stdout + p.stderr)
    if p.returncode != 0 or "successful" not in st:
        raise netns.LabError("tcpreplay exit %d: %s" %
                             (p.returncode, (p.stderr or p.stdout)[-400:]))
    return st



def blast(s, pcap, rate, duration=None):
    """Send the capture out of s0 with tests/live/blast.py (sendmmsg on
    AF_PACKET, about 4x tcpreplay's rate here): rate packets/s, 0 = flat
    out; with duration, looped for that many seconds.  Returns the keys
    of tcpreplay_summary that it has: successful, failed, bytes,
    seconds, pps."""
    cmd = [sys.executable, os.path.join(HERE, "blast.py"), "-i", "s0",
           "--pps", str(rate or 0)]
    if duration:
        cmd += ["--duration", str(duration)]
    p = s.run(cmd + [pcap], check=False, timeout=300 + (duration or 0) * 2)
    m = re.search(r"sent (\d+) frames (\d+) bytes in ([\d.]+) s \(([\d.]+) "
                  r"pps.*failed (\d+)", p.stdout)
    if p.returncode != 0 or not m:
        raise netns.LabError("blast.py exit %d: %s" %
                             (p.returncode, (p.stderr or p.stdout)[-400:]))
    return {"successful": int(m.group(1)), "bytes": int(m.group(2)),
            "seconds": float(m.group(3)), "pps": float(m.group(4)),
            "failed": int(m.group(5))}


def jdump(obj, limit=600):
    s = json.dumps(obj, sort_keys=True)
    return s if len(s) <= limit else s[:limit] + "..."
