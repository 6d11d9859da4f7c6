#!/usr/bin/env python3
"""tapir's pcap test tier: read captures with `tapir read` and compare the
conn.log and stats.log with an independent account of the same packets.

    run.py --tapir BUILD/tapir [--shared DIR] [--work DIR] CASE
    run.py --list

Cases (see CASES below):
  self-*      captures made by tests/tools/mkmirror.py, with its expected
              flows; need nothing outside the repository.
  tshark-*    every capture in one corpus folder: tapir's TCP and UDP flows,
              per-direction packets and IP bytes against tshark's
              conversation tables (`-z conv,tcp -z conv,udp`) and its decode
              of the innermost IP header of every frame.
  zeek-vxlan  conn.log against Zeek's own baseline for the same capture.
  truth-*     tracegen captures against tracegen's ground-truth JSON.
  malformed   every file of the malformed corpus, read without a crash.

Each check prints PASS, FAIL or EXCEPT (a difference listed in EXCEPTIONS
with its reason); the last line is "N passed, N failed".  Exit status: 0
all passed, 1 a failure, 77 skipped (the shared corpus or a tool is absent).

Standard library only.
"""

import argparse
import fcntl
import glob
import hashlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SKIP = 77

# Where tapir deliberately differs from the reference it is compared with.
# Each entry: the comparison ("tshark" or "zeek"), the corpus-relative file,
# the conversation(s) as the test prints them ("tcp A:p <-> B:p", or "*"
# for the whole file) and why.  A listed difference prints EXCEPT; an entry that
# matches no difference fails as stale, so the table stays true.
EXCEPTIONS = [
    # Dedup: tapir drops a packet whose inner IP packet it saw in the same
    # zone within the dedup window.  tshark counts every copy.
    {"check": "tshark", "file": "tunnels/erspan/tcpdump__erspan-type-ii-2.pcap",
     "conv": ["udp 10.200.100.2:1985 <-> 224.0.0.102:1985",
              "udp 10.200.100.3:1985 <-> 224.0.0.102:1985",
              "udp 10.200.101.2:1985 <-> 224.0.0.2:1985",
              "udp 10.200.101.3:1985 <-> 224.0.0.2:1985"],
     "reason": "every HSRP hello arrives twice, 2 us apart, from two span "
               "sources (192.168.195.67 and .73) of one zone: a "
               "double-mirrored packet, of which tapir keeps one copy"},
    {"check": "tshark", "file": "tunnels/gre/tcpdump__pptp.pcap",
     "conv": "tcp 10.1.1.10:1723 <-> 10.1.1.11:3025",
     "reason": "each packet from 10.1.1.10 is in the capture twice, "
               "100-240 us apart with the same IP id: tapir removes the "
               "second copy as a duplicate"},
    {"check": "tshark", "file": "tunnels/vxlan/nDPI__vxlan.pcap",
     "conv": "tcp 10.10.20.4:45226 <-> 157.240.224.35:443",
     "reason": "two byte-identical RSTs (IP id 0, same seq) 143 us apart: "
               "identical inner packets inside the dedup window are "
               "indistinguishable from a mirror copy, so tapir counts one"},
    # Encapsulations outside what a mirror target terminates.
    {"check": "tshark", "file": "tunnels/erspan/arkime__gre-erspan-vxlan.pcap",
     "conv": ["tcp 10.16.27.12:65174 <-> 10.16.27.131:80",
              "udp 172.16.27.121:4790 <-> 172.16.27.131:4789"],
     "reason": "the inner UDP goes from port 4789 to 4790 with VXLAN-GPE "
               "flags (0x0c); tshark decodes VXLAN when either port is "
               "4789, tapir only on the destination port (the mirror "
               "target's), so it logs the carrier UDP flow"},
    {"check": "tshark", "file": "tunnels/vxlan/tcpdump__nsh-over-vxlan-gpe.pcap",
     "conv": ["udp 127.0.0.1:4790 <-> 127.0.0.1:4790",
              "udp 192.168.0.1:10000 <-> 192.168.0.2:20000"],
     "reason": "VXLAN-GPE (UDP 4790) carrying NSH is not a mirror "
               "encapsulation; tapir logs the carrier UDP flow"},
    # Addressing.
    {"check": "tshark", "file": "ipv6/zeek__ipv6-mobility-dst-opts.pcap",
     "conv": ["udp [2001:4f8:4:7:2e0:81ff:fe52:9a6b]:13000 <-> "
              "[2001:4f8:4:7:2e0:81ff:fe52:ffff]:30000",
              "udp [2001:4f8:4:7:2e0:81ff:fe52:9a6b]:13000 <-> "
              "[2001:78:1:32::1]:30000"],
     "reason": "tshark takes the Mobile IPv6 Home Address option as the "
               "source; Zeek does so only when built with mobile IPv6 "
               "support, and tapir keys on the packet's source address as "
               "a default Zeek build does"},
    {"check": "tshark",
     "file": "tunnels/vxlan/tcpdump__bigtcp-ipv4-vxlan-ipv4.pcap",
     "conv": "tcp 192.168.1.1:36449 <-> 192.168.1.2:36875",
     "reason": "a Linux BIG TCP packet: outer IPv4 total length 0 and UDP "
               "length 0; tshark stops at the bad UDP length, tapir takes "
               "the lengths from the captured bytes and logs the inner flow"},
    # Zeek.
    {"check": "zeek", "file": "tunnels/vxlan/tcpdump__vxlan.pcap",
     "conv": "icmp 10.0.0.1:8 -> 10.0.0.2:0 history",
     "reason": "Zeek's 'X' (analysis partial: an analyzer limit or the "
               "tunnel depth was exceeded) comes from its own test run of "
               "another recording; without it Zeek leaves an ICMP flow's "
               "history unset, as tapir does"},
]

# Which corpus folders the tshark cases read.
TSHARK_GROUPS = {
    "tshark-vxlan": ["tunnels/vxlan"],
    "tshark-geneve": ["tunnels/geneve"],
    "tshark-gre": ["tunnels/gre"],
    "tshark-erspan": ["tunnels/erspan"],
    "tshark-teb": ["tunnels/teb"],
    "tshark-vlan-qinq": ["tunnels/vlan-qinq"],
    "tshark-mpls": ["tunnels/mpls"],
    "tshark-ip-in-ip": ["tunnels/ip-in-ip"],
    "tshark-ipv6": ["ipv6"],
    "tshark-ipv4-frag": ["ipv4-frag"],
}

# tracegen runs: a few hundred flows each, well under a second to make.
TG_COMMON = ["--flows", "300", "--udp-flows", "100", "--duration", "5",
             "--size-max", "200000", "--hosts", "20", "-q"]
TRUTH_CASES = {
    "truth-none": ["--encap", "none", "--seed", "11"],
    "truth-vxlan": ["--encap", "vxlan", "--seed", "12", "--portscan=100"],
    "truth-geneve": ["--encap", "geneve", "--seed", "13"],
    "truth-gre": ["--encap", "gre", "--seed", "14"],
    "truth-erspan2": ["--encap", "erspan2", "--seed", "15"],
    "truth-both-sides": ["--encap", "vxlan", "--seed", "16",
                         "--east-west-share", "0.5", "--mirror-both-sides"],
    "truth-truncate": ["--encap", "vxlan", "--seed", "17", "--truncate", "128"],
}

SELF_CASES = {
    "self-vxlan": [],
    "self-both-sides": ["--both-sides"],
    "self-truncate": ["--both-sides", "--truncate", "128"],
}

CASES = (list(SELF_CASES) + list(TSHARK_GROUPS) + ["zeek-vxlan"] +
         list(TRUTH_CASES) + ["malformed"])

# Protocol tokens (tshark's frame.protocols) that mean a TCP/UDP layer is
# only carrying a tunnel, not an application.
ENCAP_TOKENS = {"eth", "ip", "ipv6", "vxlan", "geneve", "gre", "erspan",
                "mpls", "nsh", "teredo", "gtp", "ppp", "l2tp"}

# Exit statuses `tapir read` documents: 0 success, 1 error (unreadable,
# corrupt or unsupported capture, bad option).
TAPIR_OK_STATUSES = {0, 1}


class Result:
    def __init__(self, kind):
        self.kind = kind        # which EXCEPTIONS entries apply
        self.passed = 0
        self.failed = 0
        self.excepted = 0
        self.used_exceptions = set()

    def check(self, ok, what, detail="", file=None, conv=None):
        if ok:
            self.passed += 1
            print("PASS %s%s" % (what, "  " + detail if detail else ""))
            return True
        exc = find_exception(self.kind, file, conv)
        if exc is not None:
            self.excepted += 1
            self.used_exceptions.add(exc)
            print("EXCEPT %s  %s\n       reason: %s" %
                  (what, detail, EXCEPTIONS[exc]["reason"]))
            return False
        self.failed += 1
        print("FAIL %s  %s" % (what, detail))
        return False

    def note(self, msg):
        print("     " + msg)


def find_exception(kind, file, conv):
    if file is None:
        return None
    for i, e in enumerate(EXCEPTIONS):
        convs = e["conv"] if isinstance(e["conv"], list) else [e["conv"]]
        if e["check"] == kind and e["file"] == file and \
                ("*" in convs or conv in convs):
            return i
    return None


def tool_args():
    """--tapir, --shared and --work, as the pcap cases are called."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--tapir", required=True)
    ap.add_argument("--shared", required=True)
    ap.add_argument("--work", required=True)
    return ap.parse_args()


def sh(cmd, timeout=300, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=timeout, **kw)


def sanitizer_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "abort_on_error=1:halt_on_error=1")
    env.setdefault("UBSAN_OPTIONS",
                   "halt_on_error=1:abort_on_error=1:print_stacktrace=1")
    return env


def norm_addr(a):
    try:
        return str(ipaddress.ip_address(a))
    except ValueError:
        return a


# ---------------------------------------------------------------- tapir

class TapirRun:
    def __init__(self, rc, stderr, outdir):
        self.rc = rc
        self.stderr = stderr
        self.outdir = outdir
        self.log_error = None   # a log that is not valid JSON lines
        try:
            self.conns = read_jsonl(os.path.join(outdir, "conn.log"))
            read_jsonl(os.path.join(outdir, "weird.log"))
            stats = read_jsonl(os.path.join(outdir, "stats.log"))
        except (ValueError, UnicodeDecodeError) as e:
            self.log_error = str(e)
            self.conns, stats = [], []
        self.stats = stats[-1] if stats else None

    def ok(self):
        """Exited 0, without a sanitizer report, with valid logs."""
        return self.rc == 0 and not self.crashed() and self.log_error is None

    def why(self):
        return "status %d%s %s" % (self.rc, ", bad log: %s" % self.log_error
                                   if self.log_error else "",
                                   self.stderr.strip()[:300])

    def crashed(self):
        return self.rc < 0 or "Sanitizer" in self.stderr or \
            "runtime error:" in self.stderr


def read_jsonl(path):
    out = []
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                out.append(json.loads(line))
    return out


def run_tapir(tapir, files, outdir, extra=(), timeout=300):
    if os.path.exists(outdir):
        shutil.rmtree(outdir)
    cmd = [tapir, "read", "-o", outdir, "--quiet"] + list(extra) + list(files)
    try:
        p = sh(cmd, timeout=timeout, env=sanitizer_env())
        rc, err = p.returncode, p.stderr.decode(errors="replace")
    except subprocess.TimeoutExpired:
        rc, err = -signal.SIGKILL, "timed out after %d s" % timeout
    return TapirRun(rc, err, outdir)


def flow_key(proto, a, ap, b, bp):
    """Direction-free key of a conversation."""
    ea, eb = (norm_addr(a), int(ap)), (norm_addr(b), int(bp))
    return (proto,) + tuple(sorted([ea, eb]))


def conv_name(key):
    proto, (a, ap), (b, bp) = key
    fmt = lambda h, p: ("[%s]:%d" if ":" in h else "%s:%d") % (h, p)
    return "%s %s <-> %s" % (proto, fmt(a, ap), fmt(b, bp))


def tapir_flows(conns, protos=("tcp", "udp")):
    """conn.log records of the given protocols, merged per direction-free
    5-tuple: {key: {endpoint: [pkts, ip_bytes, payload], 'n': records}}."""
    flows = {}
    for c in conns:
        if c.get("proto") not in protos:
            continue
        o = (norm_addr(c["id.orig_h"]), int(c["id.orig_p"]))
        r = (norm_addr(c["id.resp_h"]), int(c["id.resp_p"]))
        k = flow_key(c["proto"], o[0], o[1], r[0], r[1])
        f = flows.setdefault(k, {"n": 0, "recs": []})
        f["n"] += 1
        f["recs"].append(c)
        for ep, side in ((o, "orig"), (r, "resp")):
            d = f.setdefault(ep, [0, 0, 0])
            d[0] += int(c.get(side + "_pkts", 0))
            d[1] += int(c.get(side + "_ip_bytes", 0))
            d[2] += int(c.get(side + "_bytes", 0))
    return flows


# ---------------------------------------------------------------- tshark

def tshark_cached(cmd, path):
    """tshark's output for cmd on path, kept in a cache shared by the
    builds (the release and the sanitizer build read the same files).  The
    key covers tshark's version, the command and the file's bytes."""
    cache = os.environ.get("TAPIR_TSHARK_CACHE", os.path.join(
        tempfile.gettempdir(), "tapir-tshark-cache-%d" % os.getuid()))
    h = hashlib.sha256()
    h.update(tshark_version().encode())
    h.update("\0".join(c if c != path else "FILE" for c in cmd).encode())
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    entry = os.path.join(cache, h.hexdigest())
    if os.path.exists(entry):
        with open(entry, "rb") as f:
            return f.read().decode(errors="replace")
    p = sh(cmd)
    out = p.stdout.decode(errors="replace")
    if p.returncode == 0:
        os.makedirs(cache, exist_ok=True)
        tmp = "%s.%d.tmp" % (entry, os.getpid())
        with open(tmp, "wb") as f:
            f.write(p.stdout)
        os.replace(tmp, entry)
    return out


_TSHARK_VERSION = []


def tshark_version():
    if not _TSHARK_VERSION:
        p = sh(["tshark", "--version"])
        _TSHARK_VERSION.append(p.stdout.decode(errors="replace")
                               .splitlines()[0])
    return _TSHARK_VERSION[0]


def tshark_convs(path):
    """Rows of `tshark -z conv,tcp -z conv,udp`, merged per direction-free
    5-tuple: {key: {'total': n, endpoint: frames sent}}."""
    out = tshark_cached(["tshark", "-n", "-r", path, "-q", "-z", "conv,tcp",
                         "-z", "conv,udp"], path)
    convs = {}
    proto = None
    for line in out.splitlines():
        if "TCP Conversations" in line:
            proto = "tcp"
        elif "UDP Conversations" in line:
            proto = "udp"
        elif "<->" in line and proto:
            left, right = line.split("<->", 1)
            toks = right.split()
            a, b = left.strip(), toks[0]
            ah, ap = a.rsplit(":", 1)
            bh, bp = b.rsplit(":", 1)
            # B->A frames ("<-"), bytes, unit; A->B frames ("->"), bytes,
            # unit; total frames, bytes, unit; start; duration.
            b2a, a2b, tot = int(toks[1]), int(toks[4]), int(toks[7])
            k = flow_key(proto, ah, ap, bh, bp)
            c = convs.setdefault(k, {"total": 0})
            c["total"] += tot
            ea, eb = (norm_addr(ah), int(ap)), (norm_addr(bh), int(bp))
            c[ea] = c.get(ea, 0) + a2b
            c[eb] = c.get(eb, 0) + b2a
    return convs


# The Source/Destination columns hold the innermost network addresses as
# tshark keys its conversations: after an IPv6 routing header's final
# destination and a Mobile IPv6 home address, as Zeek keys connections.
FIELDS = ["frame.number", "frame.protocols", "_ws.col.Source",
          "_ws.col.Destination", "ip.src", "ip.dst", "ip.len",
          "ip.hdr_len", "ip.flags.mf", "ip.frag_offset",
          "ip.reassembled.length", "ipv6.src", "ipv6.dst",
          "ipv6.plen", "ipv6.reassembled.length", "tcp.srcport",
          "tcp.dstport", "udp.srcport", "udp.dstport"]


def innermost(protocols):
    """From tshark's frame.protocols, the innermost IP layer and the TCP or
    UDP layer right above it, as (ip token, its occurrence, transport token,
    its occurrence), or None when the frame's innermost packet is not an
    application's TCP/UDP packet (ICMP, ARP, a fragment, a tunnel whose
    payload tshark does not decode further, an ICMP error's quote).  The
    last item tells whether that IPv6 packet was reassembled."""
    t = protocols.split(":")
    ips = [i for i, x in enumerate(t) if x in ("ip", "ipv6")]
    if not ips:
        return None
    li = ips[-1]
    if li > 0 and t[li - 1] in ("icmp", "icmpv6"):
        return None
    j = li + 1
    while j < len(t) and t[j].startswith("ipv6."):
        j += 1
    if j >= len(t) or t[j] not in ("tcp", "udp"):
        return None
    if any(x in ENCAP_TOKENS for x in t[j + 1:]):
        return None
    frag = "ipv6.fraghdr" in t[li + 1:j]
    return t[li], t[:li].count(t[li]), t[j], t[:j].count(t[j]), frag


def tshark_frames(path):
    """Per direction-free 5-tuple of the innermost TCP/UDP packets:
    {key: {endpoint: [frames, IP bytes sent]}}, the IP bytes taken from
    the innermost IP header (the reassembled datagram for fragments)."""
    cmd = ["tshark", "-n", "-r", path, "-T", "fields", "-E", "occurrence=a",
           "-E", "aggregator=,", "-E", "separator=/t"]
    for f in FIELDS:
        cmd += ["-e", f]
    flows = {}
    for line in tshark_cached(cmd, path).splitlines():
        v = dict(zip(FIELDS, [x.split(",") if x else [] for x in
                              line.split("\t")]))
        if not v.get("frame.protocols"):
            continue
        inner = innermost(v["frame.protocols"][0])
        if inner is None:
            continue
        fam, fi, tp, ti, frag6 = inner
        try:
            if fam == "ip":
                src, dst = v["ip.src"][fi], v["ip.dst"][fi]
                # Reassembled here when this layer is itself a fragment (an
                # outer layer may have been reassembled instead).
                if v["ip.flags.mf"][fi] in ("1", "True") or \
                        int(v["ip.frag_offset"][fi]) > 0:
                    nbytes = int(v["ip.hdr_len"][fi]) + \
                        int(v["ip.reassembled.length"][-1])
                else:
                    nbytes = int(v["ip.len"][fi])
            else:
                src, dst = v["ipv6.src"][fi], v["ipv6.dst"][fi]
                if frag6 and v["ipv6.reassembled.length"]:
                    nbytes = 40 + int(v["ipv6.reassembled.length"][-1])
                else:
                    nbytes = 40 + int(v["ipv6.plen"][fi])
            sp = int(v[tp + ".srcport"][ti])
            dp = int(v[tp + ".dstport"][ti])
        except (IndexError, ValueError):
            continue
        try:
            col = v["_ws.col.Source"][0], v["_ws.col.Destination"][0]
            for x in col:
                ipaddress.ip_address(x)
            src, dst = col
        except (IndexError, ValueError):
            pass
        k = flow_key(tp, src, sp, dst, dp)
        d = flows.setdefault(k, {}).setdefault((norm_addr(src), sp), [0, 0])
        d[0] += 1
        d[1] += nbytes
    return flows


def case_tshark(args, res, groups):
    files = []
    for g in groups:
        for pat in ("*.pcap", "*.pcapng", "*.pcap.gz"):
            files += glob.glob(os.path.join(args.corpus, g, pat))
    files.sort()
    if not files:
        print("SKIP: no captures under %s" % ", ".join(groups))
        return SKIP
    for n, path in enumerate(files):
        rel = os.path.relpath(path, args.corpus)
        print("== %s" % rel)
        convs = tshark_convs(path)
        frames = tshark_frames(path)
        run = run_tapir(args.tapir, [path], os.path.join(args.work, "o%d" % n))
        if not res.check(run.ok(),
                         "%s: tapir read exits 0" % rel,
                         run.why(),
                         file=rel, conv="*"):
            continue
        # Conversations that only carry tunnels are not flows of their own.
        carriers = sorted(k for k in convs if k not in frames)
        for k in carriers:
            res.note("tunnel carrier, not an inner flow: %s (%d frames)" %
                     (conv_name(k), convs[k]["total"]))
        # A TCP/UDP header that tshark finds invalid (a bogus header or
        # datagram length) makes no conversation; Zeek makes no connection
        # of it either, only a weird.
        for k in sorted(k for k in frames if k not in convs):
            res.note("invalid transport header, not a flow: %s (%d frames)"
                     % (conv_name(k), sum(x[0] for x in frames[k].values())))
            del frames[k]
        # tshark against itself: every inner flow is one of its
        # conversations, with the same frame counts.
        for k, f in sorted(frames.items()):
            c = convs.get(k)
            tot = sum(x[0] for x in f.values())
            res.check(c is not None and c["total"] == tot and
                      all(c.get(ep, 0) == x[0] for ep, x in f.items()),
                      "%s: %s in tshark's conversation table" %
                      (rel, conv_name(k)),
                      "conv %s, frames %d" % (c and c["total"], tot),
                      file=rel, conv=conv_name(k))
        tf = tapir_flows(run.conns)
        keys = sorted(set(frames) | set(tf))
        res.note("%d TCP/UDP flows by tshark, %d by tapir" %
                 (len(frames), len(tf)))
        for k in keys:
            if k not in frames or k not in tf:
                name = conv_name(k)
                res.check(False, "%s: %s seen by both" % (rel, name),
                          "tshark %s, tapir %s" % (k in frames, k in tf),
                          file=rel, conv=name)
                continue
            want = frames[k]
            got = tf[k]
            eps = sorted(set(want) | {e for e in got if e not in ("n", "recs")})
            w = {e: tuple(want.get(e, [0, 0])) for e in eps}
            g = {e: tuple(got.get(e, [0, 0, 0])[:2]) for e in eps}
            res.check(w == g, "%s: %s packets/IP bytes per direction" %
                      (rel, conv_name(k)),
                      "tshark %s, tapir %s" % (fmt_dirs(w), fmt_dirs(g)),
                      file=rel, conv=conv_name(k))
    return None


def fmt_dirs(d):
    return ", ".join("from %s:%d %d pkts %d B" % (e[0], e[1], v[0], v[1])
                     for e, v in sorted(d.items()))


# ---------------------------------------------------------------- zeek

def read_zeek_tsv(path):
    fields, rows = None, []
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#fields"):
                fields = line.split("\t")[1:]
            elif line and not line.startswith("#") and fields:
                rows.append(dict(zip(fields, line.split("\t"))))
    return rows


def case_zeek(args, res):
    base = os.path.join(args.corpus, "tunnels/vxlan",
                        "zeek__baseline.core.tunnels.vxlan.conn.log")
    pcap = os.path.join(args.corpus, "tunnels/vxlan", "tcpdump__vxlan.pcap")
    if not (os.path.exists(base) and os.path.exists(pcap)):
        print("SKIP: Zeek baseline or its capture is absent")
        return SKIP
    rel = os.path.relpath(pcap, args.corpus)
    rows = read_zeek_tsv(base)
    run = run_tapir(args.tapir, [pcap], os.path.join(args.work, "out"))
    if not res.check(run.ok(), "tapir read exits 0",
                     run.why()):
        return None
    inner = [r for r in rows if r.get("tunnel_parents", "-") != "-"]
    outer = [r for r in rows if r.get("tunnel_parents", "-") == "-"]
    res.check(len(inner) > 0, "baseline has inner flows", str(len(inner)))
    res.check(len(run.conns) == len(inner),
              "tapir logs the %d inner flow(s) and no carrier flow" %
              len(inner), "tapir logged %d" % len(run.conns),
              file=rel, conv="*")
    for r in outer:
        res.note("Zeek also logs the VXLAN carrier %s %s:%s -> %s:%s "
                 "(service %s); tapir terminates the tunnel and logs only "
                 "the inner flow, so tunnel_parents has no uid to name" %
                 (r["proto"], r["id.orig_h"], r["id.orig_p"], r["id.resp_h"],
                  r["id.resp_p"], r.get("service")))
    # The baseline's timestamps are canonified away.  When its addresses
    # are not in the capture, it was made from another recording of the
    # same exchange: match flows on protocol and ports (ICMP type/code)
    # and leave out what depends on the recording (addresses, duration).
    addrs = {norm_addr(c[f]) for c in run.conns
             for f in ("id.orig_h", "id.resp_h")}
    same = all(norm_addr(r[f]) in addrs for r in inner
               for f in ("id.orig_h", "id.resp_h"))
    if not same:
        res.note("the baseline's inner addresses (%s) are not in %s: it was "
                 "made from another recording; comparing what does not "
                 "depend on the recording" %
                 (", ".join(sorted({r["id.orig_h"] for r in inner})), rel))

    def key(c):
        k = (c["proto"], int(c["id.orig_p"]), int(c["id.resp_p"]))
        if same:
            k += (norm_addr(c["id.orig_h"]), norm_addr(c["id.resp_h"]))
        return k

    got = {}
    for c in run.conns:
        got.setdefault(key(c), []).append(c)
    fields = ["orig_bytes", "resp_bytes", "conn_state", "missed_bytes",
              "history", "orig_pkts", "orig_ip_bytes", "resp_pkts",
              "resp_ip_bytes", "ip_proto"]
    if same:
        fields.insert(0, "duration")
    for r in inner:
        name = "%s %s:%s -> %s:%s" % (r["proto"], r["id.orig_h"],
                                      r["id.orig_p"], r["id.resp_h"],
                                      r["id.resp_p"])
        cs = got.get(key(r), [])
        if not res.check(len(cs) == 1, "%s logged once" % name,
                         "%d records" % len(cs), file=rel, conv=name):
            continue
        c = cs[0]
        for f in fields:
            want = r.get(f, "-")
            have = c.get(f)
            if want == "-":
                ok = have is None
            elif f == "duration":
                ok = have is not None and abs(float(have) - float(want)) < 1e-6
            elif f in ("conn_state", "history"):
                ok = have == want
            else:
                ok = have is not None and int(have) == int(want)
            res.check(ok, "%s %s" % (name, f), "zeek %s, tapir %s" %
                      (want, have), file=rel, conv="%s %s" % (name, f))
    return None


# ---------------------------------------------------------------- truth

def build_tracegen(args):
    src = os.path.join(args.shared, "tools", "tracegen")
    if not os.path.exists(os.path.join(src, "tracegen.c")):
        return None
    out = os.path.join(os.path.dirname(args.work), "tracegen-bin")
    os.makedirs(out, exist_ok=True)
    # Built here rather than in the shared folder, with its own Makefile;
    # the lock keeps parallel cases from building at once.
    with open(os.path.join(out, ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        p = sh(["make", "-s", "-C", out, "-f", os.path.join(src, "Makefile"),
                "--eval", "vpath %.c " + src, "tracegen"])
        if p.returncode != 0:
            print(p.stderr.decode(errors="replace"))
            return None
    return os.path.join(out, "tracegen")


def tracegen_capture(shared, work, name, options):
    """Write WORK/NAME.pcap and its truth WORK/NAME.json with tracegen and
    the given options; (pcap, truth path), or None when tracegen did not
    build."""
    tg = build_tracegen(argparse.Namespace(shared=shared, work=work))
    if not tg:
        return None
    pcap = os.path.join(work, name + ".pcap")
    tjson = os.path.join(work, name + ".json")
    subprocess.run([tg] + options + ["-o", pcap, "--truth", tjson],
                   check=True, capture_output=True)
    return pcap, tjson


def zeek_state(t):
    """conn_state that Zeek gives a ground-truth flow, where it is certain."""
    if t["proto"] == "udp":
        return "SF" if t["s2c"]["packets"] else "S0"
    if t.get("scenario") == "portscan":
        return "REJ" if t.get("port_state") == "closed" else None
    if t.get("close") == "fin":
        return "SF"
    if t.get("close") == "rst":
        return {"client": "RSTO", "server": "RSTR"}.get(t.get("closed_by"))
    return None


def compare_truth(res, truth, run, label, payload=True):
    """conn.log and stats.log against a ground-truth JSON (tracegen's or
    mkmirror's layout)."""
    flows = truth["flows"]
    byk = {}
    for t in flows:
        k = flow_key(t["proto"], t["client"], t["client_port"], t["server"],
                     t["server_port"])
        byk.setdefault(k, []).append(t)
    recs = [c for c in run.conns if c.get("proto") in ("tcp", "udp")]
    got = {}
    for c in recs:
        k = flow_key(c["proto"], c["id.orig_h"], c["id.orig_p"],
                     c["id.resp_h"], c["id.resp_p"])
        got.setdefault(k, []).append(c)
    res.check(len(recs) == len(flows), "%s: flow count" % label,
              "truth %d, tapir %d" % (len(flows), len(recs)))
    missing = [conv_name(k) for k in byk if k not in got]
    extra = [conv_name(k) for k in got if k not in byk]
    res.check(not missing and not extra, "%s: same 5-tuples" % label,
              "missing %s; extra %s" % (missing[:5], extra[:5]))
    bad = {"split": [], "orig": [], "pkts": [], "ip_bytes": [], "payload": [],
           "state": [], "time": [], "missed": []}
    for k, ts in byk.items():
        cs = got.get(k, [])
        if len(ts) != 1 or len(cs) != 1:
            if k in got:
                bad["split"].append("%s: %d truth, %d tapir" %
                                    (conv_name(k), len(ts), len(cs)))
            continue
        t, c = ts[0], cs[0]
        cli = (norm_addr(t["client"]), int(t["client_port"]))
        if (norm_addr(c["id.orig_h"]), int(c["id.orig_p"])) != cli:
            bad["orig"].append(conv_name(k))
            o, r = t["s2c"], t["c2s"]
        else:
            o, r = t["c2s"], t["s2c"]
        name = conv_name(k)
        want = (o["packets"], r["packets"])
        have = (c.get("orig_pkts"), c.get("resp_pkts"))
        if want != have:
            bad["pkts"].append("%s: truth %s tapir %s" % (name, want, have))
        # Truth bytes are inner Ethernet frames: 14 + IP total length.
        want = (o["bytes"] - 14 * o["packets"], r["bytes"] - 14 * r["packets"])
        have = (c.get("orig_ip_bytes"), c.get("resp_ip_bytes"))
        if want != have:
            bad["ip_bytes"].append("%s: truth %s tapir %s" % (name, want, have))
        dur = t["end"] - t["start"]
        if dur <= 0:
            # Zeek leaves duration and byte counts unset for a connection
            # of no duration (a single packet).
            have = [c.get(f) for f in ("duration", "orig_bytes", "resp_bytes")]
            if have != [None, None, None]:
                bad["payload"].append("%s: one packet, yet duration/bytes "
                                      "%s" % (name, have))
        elif payload and not t.get("retransmissions"):
            want = (o["payload_bytes"], r["payload_bytes"])
            have = (c.get("orig_bytes"), c.get("resp_bytes"))
            if want != have:
                bad["payload"].append("%s: truth %s tapir %s" %
                                      (name, want, have))
        st = t.get("conn_state") or zeek_state(t)
        if st and c.get("conn_state") != st:
            bad["state"].append("%s: truth %s tapir %s" %
                                (name, st, c.get("conn_state")))
        # Zeek's duration leaves out trailing packets that carry nothing
        # new once a direction is closed: the last ACK of a FIN teardown.
        # mkmirror's truth gives that duration; tracegen's gives the last
        # packet, so a FIN-closed flow's duration may only be shorter.
        have = float(c.get("duration", 0))
        if "duration" in t:
            dur_ok = abs(have - t["duration"]) <= 2e-6
        elif t.get("close") == "fin":
            dur_ok = 0 < have <= dur + 2e-6
        else:
            dur_ok = abs(have - dur) <= 2e-6
        if abs(float(c.get("ts", 0)) - t["start"]) > 2e-6 or not dur_ok:
            bad["time"].append("%s: truth ts %.6f dur %.6f, tapir %s %s" %
                               (name, t["start"], t.get("duration", dur),
                                c.get("ts"), c.get("duration")))
        if "missed_bytes" in t and c.get("missed_bytes", 0) != t["missed_bytes"]:
            bad["missed"].append("%s: truth %d tapir %s" %
                                 (name, t["missed_bytes"],
                                  c.get("missed_bytes")))
    what = {"split": "one record per flow",
            "orig": "originator is the client",
            "pkts": "packets per direction",
            "ip_bytes": "IP bytes per direction",
            "payload": "orig_bytes/resp_bytes (flows without "
                       "retransmissions)",
            "state": "conn_state",
            "time": "ts and duration",
            "missed": "missed_bytes"}
    for b, lst in bad.items():
        if b == "missed" and not any("missed_bytes" in t for t in flows):
            continue
        res.check(not lst, "%s: %s" % (label, what[b]),
                  "%d flows differ: %s" % (len(lst), "; ".join(lst[:4])))
    st = run.stats or {}
    tot = truth["totals"]
    res.check(st.get("duplicates") == tot["duplicates"],
              "%s: stats duplicates removed" % label,
              "truth %d, tapir %s" % (tot["duplicates"], st.get("duplicates")))
    res.check(st.get("flows") == tot["flows"], "%s: stats flows" % label,
              "truth %d, tapir %s" % (tot["flows"], st.get("flows")))
    res.check(st.get("packets") == tot["pcap_records"],
              "%s: stats packets (records read)" % label,
              "truth %d, tapir %s" % (tot["pcap_records"], st.get("packets")))
    res.check(st.get("truncated", 0) == tot.get("truncated_records", 0),
              "%s: stats truncated" % label,
              "truth %d, tapir %s" % (tot.get("truncated_records", 0),
                                      st.get("truncated")))


def same_records(res, a, b, label):
    """Two runs give the same conn.log records (uids and mirror fields
    aside)."""
    keep = ("ts", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "proto",
            "duration", "orig_bytes", "resp_bytes", "conn_state",
            "missed_bytes", "history", "orig_pkts", "orig_ip_bytes",
            "resp_pkts", "resp_ip_bytes", "community_id")
    fa = sorted(json.dumps([c.get(k) for k in keep]) for c in a.conns)
    fb = sorted(json.dumps([c.get(k) for k in keep]) for c in b.conns)
    diff = sorted(set(fa) ^ set(fb))
    res.check(fa == fb, label, "%d vs %d records, %d differ: %s" %
              (len(fa), len(fb), len(diff), diff[:2]))


def case_truth(args, res, name):
    tg = build_tracegen(args)
    if tg is None:
        print("SKIP: tracegen is absent (%s/tools/tracegen)" % args.shared)
        return SKIP
    opts = TG_COMMON + TRUTH_CASES[name]
    pcap = os.path.join(args.work, "t.pcap")
    truth = os.path.join(args.work, "t.json")
    p = sh([tg] + opts + ["-o", pcap, "--truth", truth])
    if not res.check(p.returncode == 0, "tracegen %s" % " ".join(opts),
                     p.stderr.decode(errors="replace")):
        return None
    with open(truth) as f:
        t = json.load(f)
    run = run_tapir(args.tapir, [pcap], os.path.join(args.work, "out"))
    if not res.check(run.ok(), "tapir read exits 0",
                     run.why()):
        return None
    compare_truth(res, t, run, name)
    if "--mirror-both-sides" in opts:
        once = [o for o in opts if o != "--mirror-both-sides"]
        pcap1 = os.path.join(args.work, "once.pcap")
        truth1 = os.path.join(args.work, "once.json")
        p = sh([tg] + once + ["-o", pcap1, "--truth", truth1])
        res.check(p.returncode == 0, "tracegen, mirrored once", "")
        run1 = run_tapir(args.tapir, [pcap1], os.path.join(args.work, "once"))
        res.check(run1.ok(),
                  "tapir read exits 0 (mirrored once)", run1.why())
        with open(truth1) as f:
            t1 = json.load(f)
        res.check(t1["totals"]["packets"] == t["totals"]["packets"] and
                  t["totals"]["duplicates"] > 0,
                  "the both-sides trace is the once-mirrored one plus copies",
                  "packets %d/%d, duplicates %d" % (
                      t1["totals"]["packets"], t["totals"]["packets"],
                      t["totals"]["duplicates"]))
        same_records(res, run, run1,
                     "both-sides mirroring gives the flows of mirroring once")
        res.check((run1.stats or {}).get("duplicates") == 0,
                  "no duplicates removed when mirrored once",
                  "tapir %s" % (run1.stats or {}).get("duplicates"))
    return None


def case_self(args, res, name):
    gen = os.path.join(REPO, "tests", "tools", "mkmirror.py")
    pcap = os.path.join(args.work, "s.pcap")
    truth = os.path.join(args.work, "s.json")
    opts = ["--seed", "5", "--flows", "40"] + SELF_CASES[name]
    p = sh([sys.executable, gen] + opts + ["-o", pcap, "--truth", truth])
    if not res.check(p.returncode == 0, "mkmirror %s" % " ".join(opts),
                     p.stderr.decode(errors="replace")):
        return None
    with open(truth) as f:
        t = json.load(f)
    run = run_tapir(args.tapir, [pcap], os.path.join(args.work, "out"))
    if not res.check(run.ok(), "tapir read exits 0",
                     run.why()):
        return None
    compare_truth(res, t, run, name)
    vnis = {c.get("vni") for c in run.conns}
    res.check(None not in vnis and len(vnis) > 1, "%s: every flow has its VNI"
              % name, str(sorted(vnis, key=str)))
    if "--both-sides" in opts:
        once = [o for o in opts if o != "--both-sides"]
        pcap1 = os.path.join(args.work, "once.pcap")
        sh([sys.executable, gen] + once + ["-o", pcap1])
        run1 = run_tapir(args.tapir, [pcap1], os.path.join(args.work, "once"))
        same_records(res, run, run1,
                     "%s: same flows as mirrored once" % name)
        # Several workers give the same records.
        runj = run_tapir(args.tapir, [pcap], os.path.join(args.work, "j2"),
                         extra=["-j", "2"])
        same_records(res, run, runj, "%s: same records with -j 2" % name)
    return None


# ---------------------------------------------------------------- malformed

def case_malformed(args, res):
    d = os.path.join(args.corpus, "malformed")
    files = sorted(glob.glob(os.path.join(d, "*")))
    if not files:
        print("SKIP: %s is absent" % d)
        return SKIP
    for n, path in enumerate(files):
        rel = os.path.relpath(path, args.corpus)
        capture = re.search(r"\.(pcap|pcapng|cap)(\.gz)?$", path) is not None
        run = run_tapir(args.tapir, [path], os.path.join(args.work, "o%d" % n),
                        timeout=120)
        ok = not run.crashed() and run.rc in TAPIR_OK_STATUSES
        if ok and run.rc != 0:
            ok = bool(run.stderr.strip())    # an error names its cause
        if ok and not capture:
            ok = run.rc != 0                 # not a capture at all
        res.check(ok, "%s: read without a crash" % rel,
                  "status %d%s %s" % (run.rc,
                                      " (signal %d)" % -run.rc
                                      if run.rc < 0 else "",
                                      run.stderr.strip()[-400:]))
        if capture and not run.crashed():
            # What was read is logged, as valid JSON lines.
            res.check(run.log_error is None,
                      "%s: logs are valid JSON lines" % rel,
                      str(run.log_error))
    return None


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tapir", help="the tapir binary")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(REPO),
                                                     "shared"),
                    help="folder holding corpus/ and tools/ (default "
                    "../shared; $TAPIR_SHARED wins over both)")
    ap.add_argument("--work", help="scratch folder (default: a temp dir)")
    ap.add_argument("--list", action="store_true", help="print the cases")
    ap.add_argument("case", nargs="?", choices=CASES)
    args = ap.parse_args()
    if args.list:
        print("\n".join(CASES))
        return 0
    if not args.case or not args.tapir:
        ap.error("--tapir and a case are required")
    args.tapir = os.path.abspath(args.tapir)
    args.shared = os.environ.get("TAPIR_SHARED") or args.shared
    args.corpus = os.path.join(args.shared, "corpus")
    if args.work is None:
        args.work = tempfile.mkdtemp(prefix="tapir-pcap-")
    args.work = os.path.abspath(os.path.join(args.work, args.case))
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)

    needs_shared = not args.case.startswith("self-")
    if needs_shared and not os.path.isdir(args.shared):
        print("SKIP: %s needs the shared corpus, not found at %s "
              "(set TAPIR_SHARED or --shared)" % (args.case, args.shared))
        return SKIP
    for tool in (["tshark"] if args.case.startswith("tshark-") else []):
        if shutil.which(tool) is None:
            print("SKIP: %s is not installed (scripts/deps.sh installs it)"
                  % tool)
            return SKIP

    kind = {"zeek-vxlan": "zeek"}.get(
        args.case, "tshark" if args.case in TSHARK_GROUPS else None)
    res = Result(kind)
    if args.case.startswith("self-"):
        rc = case_self(args, res, args.case)
    elif args.case in TSHARK_GROUPS:
        rc = case_tshark(args, res, TSHARK_GROUPS[args.case])
    elif args.case == "zeek-vxlan":
        rc = case_zeek(args, res)
    elif args.case in TRUTH_CASES:
        rc = case_truth(args, res, args.case)
    else:
        rc = case_malformed(args, res)
    if rc == SKIP:
        return SKIP

    # Entries of the exception table for this case's files that matched
    # nothing are stale.
    prefixes = TSHARK_GROUPS.get(args.case, ["tunnels/vxlan"])
    for i, e in enumerate(EXCEPTIONS):
        if e["check"] == kind and i not in res.used_exceptions and \
                any(e["file"].startswith(p + "/") for p in prefixes):
            res.check(False, "exception still needed: %s %s" %
                      (e["file"], e["conv"]), "it matched no difference")
    if res.excepted:
        print("%d differences excepted (see EXCEPTIONS in %s)" %
              (res.excepted, os.path.relpath(__file__, REPO)))
    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
