#!/usr/bin/env python3
"""tcp.log against tshark's tcp.analysis fields.

For every plain TCP capture of corpus/tcp, `tapir read` and
`tshark -T fields -e tcp.analysis.*` are run; per 5-tuple and direction
the number of packets carrying each flag must be equal, and the ACK RTT
(count, min, max, mean) and the initial RTT within 1 us.  A difference
made on purpose is listed in EXCEPTIONS with its reason.  Exits 77 when
tshark or the corpus is missing.
"""
import glob
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402  (helpers shared with the other pcap cases)

# tshark field -> tcp.log field suffix.
FLAGS = [
    ("tcp.analysis.retransmission", "retransmissions"),
    ("tcp.analysis.fast_retransmission", "fast_retransmissions"),
    ("tcp.analysis.spurious_retransmission", "spurious_retransmissions"),
    ("tcp.analysis.out_of_order", "out_of_order"),
    ("tcp.analysis.lost_segment", "lost_segments"),
    ("tcp.analysis.ack_lost_segment", "acked_unseen"),
    ("tcp.analysis.duplicate_ack", "dup_acks"),
    ("tcp.analysis.zero_window", "zero_windows"),
    ("tcp.analysis.zero_window_probe", "zero_window_probes"),
    ("tcp.analysis.window_full", "window_full"),
    ("tcp.analysis.keep_alive", "keep_alives"),
    ("tcp.analysis.window_update", "window_updates"),
]

# Captures of corpus/tcp that are not plain TCP conversations.
SKIP_FILES = {
    # a MIME stream used for Suricata's stream-depth test: plain TCP, kept
}

# Differences made on purpose: (file, conversation or "*", field) -> why.
RING = ("TP_TCPA_UNACKED (3) unacknowledged segments kept per direction, "
        "the oldest and the latest sent: with more in flight, an ACK ending "
        "a segment that was not kept gives no ack_rtt (Wireshark keeps up "
        "to 1000); the samples taken are Wireshark's own")
DEDUP = ("dedup: the capture holds packets twice; tapir keeps one copy, "
         "tshark flags the second as a retransmission or duplicate ACK")
EXCEPTIONS = {
    ("suricata-verify__mime_mime-stream-depth.pcap", "*", "ack_rtt"): RING,
    ("zeek__206_example_b.pcap", "*", "ack_rtt"): RING,
    ("zeek__timestamp.pcap", "*", "ack_rtt"): RING,
    ("zeek__retransmit-fast009.pcap", "*", "ack_rtt"): RING,
    ("arkime__wireshark-retrans.pcap", "*", "*"):
        "dedup: Wireshark's sample resends segments within microseconds "
        "to 1 ms, byte for byte with the same IP id, as a double-mirrored "
        "copy looks; tapir's dedup (5 ms window) keeps one, tshark flags "
        "the copies",
    ("arkime__tcp_handshake_synthetic.pcap", "*", "retransmissions"):
        "dedup: a SYN repeated 1 ms later with the same IP id is taken for "
        "a mirrored copy",
    ("arkime__tcpseq_synthetic.pcap", "*", "retransmissions"):
        "dedup: a segment repeated byte for byte 1 ms later with the same IP "
        "id is taken for a mirrored copy",
    ("arkime__tcp-reassembly-synthetic.pcap", "*", "retransmissions"):
        "dedup and connection reuse: a segment repeated 5 ms later with the "
        "same IP id is a mirrored copy within the dedup window; a SYN on "
        "the 5-tuple after both sides closed starts a new connection in "
        "tapir (Zeek's reuse rule), where Wireshark keeps the conversation "
        "for a SYN with the previous ISN and flags it a retransmission",
    ("arkime__tcp-reassembly-synthetic.pcap", "*", "acked_unseen"):
        "tapir follows Wireshark 4.0's rule (the hole is flagged and the "
        "peer's maxseqtobeacked moves to its nextseq); with the server's "
        "ISN at 2^32-2 the client's next ACK 0 is beyond it again and "
        "flagged a second time, which tshark 4.0.17 does not do; the "
        "detail of 4.0.17 that stops it was not found (4.2's rule, tried, "
        "flags other holes twice on this capture)",
    ("zeek__ssh-dups.pcap", "*", "retransmissions"): DEDUP,
    ("zeek__ssh-dups.pcap", "*", "fast_retransmissions"): DEDUP,
    ("zeek__ssh-dups.pcap", "*", "dup_acks"): DEDUP,
    ("zeek__option-sack.pcap", "*", "retransmissions"):
        "flow.tcp_attempt_timeout: a SYN repeated after 6.4, 9.3 and 12.1 s "
        "with no answer; tapir logs an unanswered attempt after 5 s and the "
        "next SYN starts a new one (Zeek's tcp_attempt_delay), so only the "
        "SYN at 9.3 s is a retransmission within one connection",
}

TOL_NS = 1000


def exception(base, conv, name):
    """The EXCEPTIONS entry that covers a difference: (key, reason)."""
    for key in ((base, conv, name), (base, "*", name), (base, "*", "*")):
        if key in EXCEPTIONS:
            return key, EXCEPTIONS[key]
    return None, None


def tshark_rows(path):
    fields = ["tcp.stream", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst",
              "ipv6.dst", "tcp.dstport", "tcp.analysis.ack_rtt",
              "tcp.analysis.initial_rtt", "frame.time_epoch",
              "tcp.flags"] + [f for f, _ in FLAGS]
    cmd = ["tshark", "-n", "-r", path, "-Y", "tcp", "-T", "fields",
           "-E", "occurrence=l"]
    for f in fields:
        cmd += ["-e", f]
    out = run.tshark_cached(cmd, path)
    for line in out.splitlines():
        v = line.split("\t")
        if len(v) < len(fields):
            continue
        yield dict(zip(fields, v))


def ns(s):
    """Seconds as text to integer ns, exactly (a float loses the ns of
    an epoch time); a number from a JSON log to the nearest ns."""
    if not isinstance(s, str):
        return int(round(s * 1e9))
    whole, _, frac = s.partition(".")
    return int(whole) * 1000000000 + int((frac + "000000000")[:9])


def tshark_dirs(path):
    """{(src, sport, dst, dport): counters}, initial RTT per 5-tuple."""
    dirs, irtt, streams = {}, {}, {}
    for r in tshark_rows(path):
        src = run.norm_addr(r["ip.src"] or r["ipv6.src"])
        dst = run.norm_addr(r["ip.dst"] or r["ipv6.dst"])
        k = (src, int(r["tcp.srcport"]), dst, int(r["tcp.dstport"]))
        d = dirs.setdefault(k, {"rtt": []})
        for f, name in FLAGS:
            d[name] = d.get(name, 0) + (1 if r[f] else 0)
        if r["tcp.analysis.ack_rtt"]:
            d["rtt"].append(ns(r["tcp.analysis.ack_rtt"]))
        # tshark prints initial_rtt only on a packet that has a
        # tcp.analysis record of its own (a flag, an acked frame, bytes in
        # flight): a stream whose pure ACKs ack nothing known, or whose
        # later packets are RSTs, shows none although Wireshark holds one.
        # There the value is Wireshark's rule (packet-tcp.c, dissect_tcp)
        # applied to tshark's own packet list: the first packet with ACK
        # and without SYN after a SYN, from the most recent SYN without
        # ACK; a zero delta does not count.
        st = streams.setdefault(r["tcp.stream"], {
            "conv": run.flow_key("tcp", *k), "syn": None, "rule": None,
            "shown": None})
        t, fl = ns(r["frame.time_epoch"]), int(r["tcp.flags"], 16)
        if fl & 0x12 == 0x02:
            st["syn"] = t
        elif fl & 0x12 == 0x10 and st["syn"] is not None and \
                st["rule"] is None and t != st["syn"]:
            st["rule"] = t - st["syn"]
        if r["tcp.analysis.initial_rtt"] and st["shown"] is None:
            st["shown"] = ns(r["tcp.analysis.initial_rtt"])
    for st in streams.values():
        v = st["shown"] if st["shown"] is not None else st["rule"]
        if v is not None:
            irtt.setdefault(st["conv"], []).append(v)
    return dirs, irtt


def tapir_dirs(outdir):
    dirs, irtt = {}, {}
    for rec in run.read_jsonl(os.path.join(outdir, "tcp.log")):
        o = (run.norm_addr(rec["id.orig_h"]), rec["id.orig_p"])
        r = (run.norm_addr(rec["id.resp_h"]), rec["id.resp_p"])
        for pre, a, b in (("orig_", o, r), ("resp_", r, o)):
            d = dirs.setdefault(a + b, {"rtt": []})
            for _, name in FLAGS:
                d[name] = d.get(name, 0) + rec.get(pre + name, 0)
            n = rec.get(pre + "ack_rtt_n", 0)
            if n:
                d["rtt"].append((n, ns(rec[pre + "ack_rtt_min"]),
                                 ns(rec[pre + "ack_rtt_max"]),
                                 ns(rec[pre + "ack_rtt_avg"]) * n))
        if "initial_rtt" in rec:
            irtt.setdefault(run.flow_key("tcp", *o, *r), []).append(
                ns(rec["initial_rtt"]))
    return dirs, irtt


def rtt_summary(samples):
    if not samples:
        return (0, 0, 0, 0)
    return (len(samples), min(samples), max(samples), sum(samples))


def merge_rtt(parts):
    if not parts:
        return (0, 0, 0, 0)
    return (sum(p[0] for p in parts), min(p[1] for p in parts),
            max(p[2] for p in parts), sum(p[3] for p in parts))


def rtt_equal(a, b):
    if a[0] != b[0]:
        return False
    if a[0] == 0:
        return True
    return (abs(a[1] - b[1]) <= TOL_NS and abs(a[2] - b[2]) <= TOL_NS and
            abs(a[3] / a[0] - b[3] / b[0]) <= TOL_NS)


def main():
    args = run.tool_args()
    files = sorted(glob.glob(os.path.join(args.shared, "corpus", "tcp",
                                          "*.pcap*")))
    files = [f for f in files if f.endswith((".pcap", ".pcapng"))]
    if not files or run.shutil.which("tshark") is None:
        print("SKIP: needs tshark and %s/corpus/tcp" % args.shared)
        return run.SKIP
    work = os.path.join(os.path.abspath(args.work), "tcp-analysis")
    os.makedirs(work, exist_ok=True)
    res = run.Result("tcp-analysis")
    used = set()
    per_flag = {name: [0, 0] for _, name in FLAGS + [(0, "ack_rtt")]}
    for path in files:
        base = os.path.basename(path)
        if base in SKIP_FILES:
            continue
        out = os.path.join(work, base)
        tr = run.run_tapir(os.path.abspath(args.tapir), [path], out)
        if not res.check(tr.rc == 0, "%s: tapir read" % base, tr.stderr):
            continue
        want, want_irtt = tshark_dirs(path)
        got, got_irtt = tapir_dirs(out)
        for k in sorted(set(want) | set(got)):
            conv = run.conv_name(run.flow_key("tcp", *k))
            w = want.get(k, {"rtt": []})
            g = got.get(k, {"rtt": []})
            for name in [n for _, n in FLAGS] + ["ack_rtt"]:
                if name == "ack_rtt":
                    wv, gv = rtt_summary(w["rtt"]), merge_rtt(g["rtt"])
                    ok = rtt_equal(wv, gv)
                    wv = "n=%d min=%d max=%d" % wv[:3]
                    gv = "n=%d min=%d max=%d" % gv[:3]
                else:
                    wv, gv = w.get(name, 0), g.get(name, 0)
                    ok = wv == gv
                what = "%s %s:%d->%s:%d %s" % (base, *k, name)
                key, exc = exception(base, conv, name)
                per_flag[name][0 if ok else 1] += 1
                if ok:
                    res.passed += 1
                elif exc:
                    used.add(key)
                    res.excepted += 1
                    print("EXCEPT %s  tshark %s, tapir %s\n       reason: %s"
                          % (what, wv, gv, exc))
                else:
                    res.check(False, what, "tshark %s, tapir %s" % (wv, gv))
        for conv in sorted(set(want_irtt) | set(got_irtt)):
            wv = sorted(want_irtt.get(conv, []))
            gv = sorted(got_irtt.get(conv, []))
            ok = len(wv) == len(gv) and all(abs(a - b) <= TOL_NS
                                            for a, b in zip(wv, gv))
            key, exc = exception(base, run.conv_name(conv), "initial_rtt")
            if ok or not exc:
                res.check(ok, "%s %s initial_rtt" % (base, run.conv_name(conv)),
                          "tshark %s, tapir %s" % (wv, gv))
            else:
                used.add(key)
                res.excepted += 1
                print("EXCEPT %s %s initial_rtt  reason: %s" %
                      (base, run.conv_name(conv), exc))
    for key, why in EXCEPTIONS.items():
        if key not in used:
            res.check(False, "exception still needed: %s" % (key,), why)
    print("per flag, directions equal / different:")
    for name, (a, b) in per_flag.items():
        print("  %-26s %4d %4d" % (name, a, b))
    print("%d passed, %d excepted, %d failed" %
          (res.passed, res.excepted, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
