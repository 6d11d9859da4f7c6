#!/usr/bin/env python3
"""tcp.log against tracegen's ground truth, and through mirroring artefacts.

tracegen writes every flow's SYN -> SYN-ACK time (handshake_rtt_us), its
SYN -> handshake ACK time (syn_to_ack_us, tshark's initial RTT), its
retransmissions and zero-window episodes, and for a port scan which ports
answered with a RST.  For each case the TCP flows of tcp.log must carry:

  hs_server_rtt = handshake_rtt_us, initial_rtt = syn_to_ack_us,
  hs_client_rtt = their difference (all within 1 us), retransmissions and
  zero windows as written, no fast or spurious retransmission, no
  duplicate ACK, failure "rejected" for a closed port and "unanswered" for
  none of the flows that were answered; conn.log's headline TCP fields
  the same figures as tcp.log.

Cases:
  plain      no encapsulation, ns timestamps, more retransmissions and zero
             windows than tracegen's defaults, a port scan;
  both-sides VXLAN with both sides of east-west flows mirrored (every packet
             of those twice): dedup runs first, so the copies are neither
             retransmissions nor duplicate ACKs;
  truncate   VXLAN with every inner frame cut to 96 bytes: the analysis reads
             the headers and the lengths from the IP header;
  reorder    the plain capture with pairs of back-to-back data segments of
             one direction swapped, as a load balancer reorders them: each
             swap is one out-of-order segment and one "previous segment not
             captured", and never a retransmission.

Exits 77 when tracegen is missing.
"""
import json
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run  # noqa: E402

COMMON = ["--flows", "300", "--udp-flows", "20", "--duration", "5",
          "--size-max", "300000", "--hosts", "20", "--retrans-share", "0.01",
          "--zero-window-share", "0.2", "--ssh-bruteforce=0", "--dir-enum=0",
          "--dns-tunnel=0", "--beacon=100000", "-q"]
CASES = {
    "plain": ["--encap", "none", "--seed", "41", "--nsec", "--portscan=60"],
    "both-sides": ["--encap", "vxlan", "--seed", "42", "--nsec",
                   "--east-west-share", "0.6", "--mirror-both-sides",
                   "--portscan=0"],
    "truncate": ["--encap", "vxlan", "--seed", "43", "--truncate", "96",
                 "--portscan=0"],
}
TOL_NS = 1000
EVERY = 7          # swap one data-segment pair in this many flows


def tcp_records(outdir):
    recs = {}
    for r in run.read_jsonl(os.path.join(outdir, "tcp.log")):
        k = (run.norm_addr(r["id.orig_h"]), r["id.orig_p"],
             run.norm_addr(r["id.resp_h"]), r["id.resp_p"])
        recs.setdefault(k, []).append(r)
    return recs


def both(r, name):
    return r.get("orig_" + name, 0) + r.get("resp_" + name, 0)


def us_ns(r, name):
    v = r.get(name)
    return None if v is None else int(round(v * 1e9))


def check_flow(res, label, t, recs, conns, ooo=0):
    k = (run.norm_addr(t["client"]), t["client_port"],
         run.norm_addr(t["server"]), t["server_port"])
    what = "%s %s:%d->%s:%d" % ((label,) + k)
    got = recs.get(k)
    if not res.check(got is not None and len(got) == 1, what + " one record",
                     "records: %d" % len(got or [])):
        return
    r = got[0]
    if t.get("scenario") == "portscan":
        want = "rejected" if t.get("port_state") == "closed" else None
        res.check(r.get("failure") == want, what + " failure",
                  "truth %s, tapir %s" % (want, r.get("failure")))
        return
    res.check("failure" not in r, what + " failure",
              "tapir %s" % r.get("failure"))
    hs, irtt = t.get("handshake_rtt_us"), t.get("syn_to_ack_us")
    if hs is not None and irtt is not None:
        times = (("hs_server_rtt", hs * 1000),
                 ("initial_rtt", irtt * 1000),
                 ("hs_client_rtt", (irtt - hs) * 1000))
        for name, want in times:
            have = us_ns(r, name)
            res.check(have is not None and abs(have - want) <= TOL_NS,
                      what + " " + name, "truth %d ns, tapir %s" %
                      (want, have))
    counts = (("retransmissions", t["retransmissions"]),
              ("zero_windows", t["zero_windows"]),
              ("fast_retransmissions", 0), ("spurious_retransmissions", 0),
              ("dup_acks", 0), ("out_of_order", ooo),
              ("lost_segments", ooo))
    for name, want in counts:
        have = both(r, name)
        res.check(have == want, what + " " + name,
                  "truth %d, tapir %d" % (want, have))
    # conn.log's headline fields are the same figures
    c = conns.get(r["uid"], {})
    pairs = (("tcp_initial_rtt", r.get("initial_rtt")),
             ("tcp_app_response", r.get("app_response")),
             ("orig_tcp_rtx", r.get("orig_retransmissions")),
             ("resp_tcp_rtx", r.get("resp_retransmissions")),
             ("orig_tcp_lost", r.get("orig_lost_segments")),
             ("resp_tcp_lost", r.get("resp_lost_segments")),
             ("tcp_zero_windows", both(r, "zero_windows") or None))
    for name, want in pairs:
        res.check(c.get(name) == want, what + " conn.log " + name,
                  "tcp.log %s, conn.log %s" % (want, c.get(name)))


# ------------------------------------------------ reordering, by hand

def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    hdr, off, recs = data[:24], 24, []
    while off + 16 <= len(data):
        incl = struct.unpack_from("<I", data, off + 8)[0]
        recs.append([data[off:off + 16], data[off + 16:off + 16 + incl]])
        off += 16 + incl
    return hdr, recs


def tcp_seg(frame):
    """(5-tuple and direction key, seq, payload length) of an Ethernet
    IPv4/IPv6 TCP frame, or None."""
    et = struct.unpack_from("!H", frame, 12)[0]
    if et == 0x0800:
        ihl = (frame[14] & 15) * 4
        if frame[23] != 6:
            return None
        tot = struct.unpack_from("!H", frame, 16)[0]
        src, dst, l4, iplen = frame[26:30], frame[30:34], 14 + ihl, tot - ihl
    elif et == 0x86DD:
        if frame[20] != 6:
            return None
        plen = struct.unpack_from("!H", frame, 18)[0]
        src, dst, l4, iplen = frame[22:38], frame[38:54], 54, plen
    else:
        return None
    sport, dport, seq = struct.unpack_from("!HHI", frame, l4)
    doff = (frame[l4 + 12] >> 4) * 4
    return (src, sport, dst, dport), seq, iplen - doff


def reorder(src, dst):
    """Swap the frames (not the times) of back-to-back data segments of one
    direction in every EVERY-th flow that has such a pair; returns
    {(src, sport, dst, dport): swaps}."""
    hdr, recs = read_pcap(src)
    swapped, flows_seen, done = {}, set(), set()
    i = 0
    while i + 1 < len(recs):
        a, b = tcp_seg(recs[i][1]), tcp_seg(recs[i + 1][1])
        if a and b and a[0] == b[0] and a[2] > 0 and b[2] > 0 and \
                b[1] == (a[1] + a[2]) & 0xffffffff:
            flow = frozenset((a[0][:2], a[0][2:]))
            if flow not in done:
                flows_seen.add(flow)
                if len(flows_seen) % EVERY == 0:
                    recs[i][1], recs[i + 1][1] = recs[i + 1][1], recs[i][1]
                    # the captured lengths go with the frames
                    for r in (recs[i], recs[i + 1]):
                        n = len(r[1])
                        r[0] = r[0][:8] + struct.pack("<II", n, n)
                    done.add(flow)
                    swapped[a[0]] = swapped.get(a[0], 0) + 1
                    i += 2
                    continue
        i += 1
    with open(dst, "wb") as f:
        f.write(hdr)
        for h, d in recs:
            f.write(h)
            f.write(d)
    return swapped


def ip_text(b):
    import ipaddress
    return run.norm_addr(str(ipaddress.ip_address(bytes(b))))


def main():
    args = run.tool_args()
    tg = run.build_tracegen(args)
    if not tg:
        print("SKIP: needs %s/tools/tracegen" % args.shared)
        return run.SKIP
    work = os.path.join(os.path.abspath(args.work), "tcp-truth")
    os.makedirs(work, exist_ok=True)
    res = run.Result("tcp-truth")
    tapir = os.path.abspath(args.tapir)
    for name, opts in CASES.items():
        pcap = os.path.join(work, name + ".pcap")
        truth_path = os.path.join(work, name + ".json")
        p = run.sh([tg] + COMMON + opts + ["-o", pcap, "--truth", truth_path])
        if not res.check(p.returncode == 0, name + ": tracegen",
                         p.stderr.decode(errors="replace")):
            continue
        with open(truth_path) as f:
            truth = json.load(f)
        cases = [(name, pcap, {})]
        if name == "plain":
            rpcap = os.path.join(work, "reorder.pcap")
            swaps = reorder(pcap, rpcap)
            res.check(len(swaps) >= 10, "reorder: pairs swapped",
                      "%d" % len(swaps))
            cases.append(("reorder", rpcap, swaps))
        for label, path, swaps in cases:
            out = os.path.join(work, label)
            tr = run.run_tapir(tapir, [path], out)
            if not res.check(tr.rc == 0, label + ": tapir read", tr.stderr):
                continue
            recs = tcp_records(out)
            conns = {c["uid"]: c for c in
                     run.read_jsonl(os.path.join(out, "conn.log"))}
            n = 0
            for t in truth["flows"]:
                if t["proto"] != "tcp":
                    continue
                ooo = 0
                for (s, sp, d, dp), cnt in swaps.items():
                    ends = {(ip_text(s), sp), (ip_text(d), dp)}
                    if ends == {(run.norm_addr(t["client"]), t["client_port"]),
                                (run.norm_addr(t["server"]), t["server_port"])}:
                        ooo += cnt
                check_flow(res, label, t, recs, conns, ooo)
                n += 1
            print("%s: %d TCP flows of the truth checked" % (label, n))
    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
