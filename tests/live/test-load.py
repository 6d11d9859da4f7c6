#!/usr/bin/env python3
"""Replayed mirror traffic into `tapir run`: under load every packet sent
is accounted for, and at a steady pace every flow matches tracegen's
ground truth, over a UDP socket and over AF_PACKET.

    test-load.py --tapir BUILD/tapir [--work DIR] [--keep] CASE

Topology: ns s (tcpreplay on s0) ──veth── t0 in ns t (tapir).  t0 takes
the capture's outer destination MAC and IP (tracegen's mirror target,
10.0.255.250), so the datagrams are the kernel's own to deliver to a UDP
socket; for an afpacket source t0 has no address and tapir reads the
frames off the device.

Cases:
  load-udp, load-udp-j2
      a tracegen capture of AWS VPC Traffic Mirroring (VXLAN, both sides
      of east-west traffic mirrored; about 200 000 frames) sent as fast as
      tcpreplay goes, then twice more into a stopped tapir (SIGSTOP), so
      that its socket or ring overflows.  Sent = tapir's packets +
      socket_drops + ring_drops + what the kernel dropped before tapir's
      socket (veth backlog, IP and UDP errors), exactly; queue_drops are
      packets tapir read and then dropped at a full worker queue, so they
      are part of packets;
      tapir's socket_drops = the kernel's UDP RcvbufErrors.  -j2: two
      receive sockets (SO_REUSEPORT) and two workers.
  load-afpacket
      the same, ERSPAN type II frames read from t0 with AF_PACKET:
      sent = packets + ring_drops + veth drops.
  truth-udp-vxlan, truth-udp-geneve, truth-afpacket-geneve,
  truth-afpacket-erspan2, truth-afpacket-erspan3
      a small tracegen capture replayed at a steady 20 000 packets/s (no
      loss expected, and checked first); every flow's packets and IP bytes per
      direction and its mirror session against tracegen's truth.
      ERSPAN III: tracegen writes type II only; the capture is rewritten
      header by header (livecheck.erspan2_to_3), the inner frames and so
      the truth unchanged.

Exit 0 all passed, 1 a failure, 77 skipped (not root, no namespaces, no
tcpreplay, no tracegen, or tapir without `run`).
"""

import json
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import livecheck as lc  # noqa: E402
import netns  # noqa: E402

# About 200 000 frames, 60 MB; made once per tracegen build.
LOAD_TG = ["--flows", "5000", "--udp-flows", "2500", "--duration", "10",
           "--size-max", "300000", "--hosts", "50", "--encap", "vxlan",
           "--mirror-both-sides", "--east-west-share", "0.4", "--seed", "21"]
# About 8 000 frames, replayed at a flat TRUTH_PPS.  No retransmissions:
# replayed faster than recorded, a retransmission (tracegen's come 10 ms
# or more after the original) would fall inside the dedup window, and an
# IPv6 one, having no IP id, is byte for byte the original, so tapir would
# rightly count it as a mirror copy.  Nothing else in tracegen's traffic
# repeats a packet.
TRUTH_TG = ["--flows", "300", "--udp-flows", "100", "--duration", "3",
            "--size-max", "200000", "--hosts", "20", "--retrans-share", "0"]
TRUTH_PPS = 20000

CASES = {
    "load-udp": {"kind": "load", "src": "udp", "encap": "vxlan",
                 "tg": LOAD_TG, "threads": 1, "workers": 1},
    "load-udp-j2": {"kind": "load", "src": "udp", "encap": "vxlan",
                    "tg": LOAD_TG, "threads": 2, "workers": 2},
    "load-afpacket": {"kind": "load", "src": "afpacket", "encap": "erspan2",
                      "tg": [x if x != "vxlan" else "erspan2"
                             for x in LOAD_TG], "threads": 1, "workers": 1},
    "truth-udp-vxlan": {"kind": "truth", "src": "udp", "encap": "vxlan",
                        "tg": TRUTH_TG + ["--encap", "vxlan", "--seed",
                                          "31"]},
    "truth-udp-geneve": {"kind": "truth", "src": "udp", "encap": "geneve",
                         "tg": TRUTH_TG + ["--encap", "geneve", "--seed",
                                           "32"]},
    "truth-afpacket-geneve": {"kind": "truth", "src": "afpacket",
                              "encap": "geneve",
                              "tg": TRUTH_TG + ["--encap", "geneve",
                                                "--seed", "33"]},
    "truth-afpacket-erspan2": {"kind": "truth", "src": "afpacket",
                               "encap": "erspan2",
                               "tg": TRUTH_TG + ["--encap", "erspan2",
                                                 "--seed", "34"]},
    "truth-afpacket-erspan3": {"kind": "truth", "src": "afpacket",
                               "encap": "erspan3",
                               "tg": TRUTH_TG + ["--encap", "erspan2",
                                                 "--seed", "35"]},
}

UDP_PORTS = {"vxlan": 4789, "geneve": 6081}
TAPIR_COUNTERS = ("packets", "socket_drops", "queue_drops", "ring_drops")


def start(args, t, case):
    threads = case.get("threads", 1)
    if case["src"] == "udp":
        src = lc.udp_source(UDP_PORTS[case["encap"]], case["encap"], threads)
    else:
        src = {"kind": "afpacket", "interface": "t0", "threads": threads}
    return lc.start_tapir(t, args.tapir, os.path.join(args.work, "tapir"),
                          src, workers=case.get("workers", 1))


def settle(res, tp, t, case, before, s):
    """Wait until the kernel holds nothing more for tapir and tapir's
    stats count what it took; return the kernel's counters then."""
    try:
        if case["src"] == "udp":
            lc.drain_udp(tp, s, t, UDP_PORTS[case["encap"]], before, 20)
        else:
            k = lc.kernel_delta(before, lc.kernel_counters(s, t))
            if not tp.wait_settled(lambda st: st.get("packets", 0) +
                                   st.get("ring_drops", 0) >= k["t0_rx"],
                                   20, "tapir's stats to count the %d "
                                   "frames of t0" % k["t0_rx"]):
                res.note("tapir's packets stopped short of t0's %d frames "
                         "before exit; its final line must account for "
                         "the rest" % k["t0_rx"])
    except netns.LabError as e:
        res.note(str(e))
    return lc.kernel_delta(before, lc.kernel_counters(s, t))


def stop(res, tp):
    """Stop tapir; its last stats line and conn.log records ({} and []
    when a log is not JSON lines)."""
    lc.stop_tapir(res, tp, 60)
    return lc.final_logs(res, tp) or ({}, [])


def case_load(args, res, lab, case, pcap):
    s, t = lc.replay_path(lab, pcap, udp=case["src"] == "udp")
    tp = start(args, t, case)
    before = lc.kernel_counters(s, t)
    # Phase 1: as fast as tcpreplay goes, tapir running.  Whether this
    # loses anything depends on the machine.
    rp = lc.replay(s, pcap, args.rate or 0)
    res.note("running tapir, tcpreplay: %s" % lc.jdump(rp))
    res.note("sender and receiver share %d CPU(s) with the kernel's "
             "softirq work: the drop figures depend on the machine, the "
             "accounting must not" % os.cpu_count())
    k1 = settle(res, tp, t, case, before, s)
    st1 = tp.last_stats() or {}
    # Phase 2: the capture twice into a stopped tapir, so that its
    # sockets or ring overflow for certain (twice 64 MiB held about
    # 190 000 of these datagrams), and drops at the very end of a burst
    # are among them (SO_RXQ_OVFL would only report those with a later
    # datagram).
    tp.proc.send(signal.SIGSTOP)
    try:
        rp2 = lc.replay(s, pcap, args.rate or 0, loops=2)
    finally:
        tp.proc.send(signal.SIGCONT)
    res.note("stopped tapir, tcpreplay: %s" % lc.jdump(rp2))
    k = settle(res, tp, t, case, before, s)
    st, _ = stop(res, tp)
    sent = rp["successful"] + rp2["successful"]
    rp = {"failed": rp.get("failed", 0) + rp2.get("failed", 0)}
    got = {c: st.get(c, 0) for c in TAPIR_COUNTERS}
    res.note("phase 1 alone: sent %d, kernel %s, tapir %s" % (
        k1["s0_tx"] + k1["s0_tx_dropped"],
        lc.jdump({x: y for x, y in k1.items() if y}),
        lc.jdump({c: st1.get(c) for c in TAPIR_COUNTERS})))
    lost = got["socket_drops"] + got["ring_drops"] + got["queue_drops"]
    res.check(lost > 0, "the stalled phase made tapir lose packets (the "
              "drop counters are exercised)", lc.jdump(got))
    res.note("kernel: %s" % lc.jdump(k, 2000))
    res.note("tapir final stats: %s" % lc.jdump(
        dict(got, flows=st.get("flows"), duplicates=st.get("duplicates"))))
    res.check(rp.get("failed", 0) == 0, "tcpreplay: no failed sends",
              "failed %s" % rp.get("failed"))
    res.check(k["s0_tx"] + k["s0_tx_dropped"] == sent,
              "the veth accounts for every frame sent",
              "sent %d = s0 tx %d + dropped at t0's backlog %d" %
              (sent, k["s0_tx"], k["s0_tx_dropped"]))
    res.check(k["t0_rx"] == k["s0_tx"], "t0 received what s0 sent",
              "s0 tx %d, t0 rx %d" % (k["s0_tx"], k["t0_rx"]))
    veth = k["s0_tx_dropped"]
    if case["src"] == "udp":
        # Everything that fell before tapir's socket, by the kernel's own
        # counters.  InErrors includes RcvbufErrors, which tapir counts.
        before_sock = (k["ip.InHdrErrors"] + k["ip.InAddrErrors"] +
                       k["ip.InUnknownProtos"] + k["ip.InDiscards"] +
                       k["udp.NoPorts"] + k["udp.InErrors"] -
                       k["udp.RcvbufErrors"])
        res.check(got["socket_drops"] == k["udp.RcvbufErrors"],
                  "tapir's socket_drops = the kernel's UDP RcvbufErrors",
                  "tapir %d, kernel %d" % (got["socket_drops"],
                                          k["udp.RcvbufErrors"]))
        res.check(got["packets"] == k["udp.InDatagrams"],
                  "tapir's packets = datagrams it read",
                  "%d vs UDP InDatagrams %d" %
                  (got["packets"], k["udp.InDatagrams"]))
    else:
        before_sock = k["t0_rx_dropped"]
    res.check(got["queue_drops"] <= got["packets"],
              "queue_drops are among the packets tapir read",
              "queue_drops %d, packets %d" % (got["queue_drops"],
                                              got["packets"]))
    total = (got["packets"] + got["socket_drops"] + got["ring_drops"] +
             veth + before_sock)
    res.check(total == sent,
              "sent = packets + socket_drops + ring_drops + kernel drops "
              "before tapir (queue_drops are part of packets)",
              "%d = %d + %d + %d + (veth %d + IP/UDP %d) = %d" %
              (sent, got["packets"], got["socket_drops"], got["ring_drops"],
               veth, before_sock, total))
    res.check(got["packets"] > 0, "tapir received packets",
              str(got["packets"]))
    return None


def case_truth(args, res, lab, case, pcap, truth_path):
    with open(truth_path) as f:
        truth = json.load(f)
    s, t = lc.replay_path(lab, pcap, udp=case["src"] == "udp")
    tp = start(args, t, case)
    before = lc.kernel_counters(s, t)
    rp = lc.replay(s, pcap, TRUTH_PPS if args.rate is None else args.rate)
    res.note("tcpreplay: %s" % lc.jdump(rp))
    k = settle(res, tp, t, case, before, s)
    st, conns = stop(res, tp)
    res.note("tapir final stats: %s" % lc.jdump(
        {c: st.get(c) for c in TAPIR_COUNTERS + ("flows", "duplicates")}))
    records = truth["totals"]["pcap_records"]
    res.check(rp["successful"] == records and k["t0_rx"] == records,
              "every frame of the capture reached t0",
              "capture %d, sent %d, t0 rx %d" % (records, rp["successful"],
                                                 k["t0_rx"]))
    lost = {c: st.get(c, 0) for c in TAPIR_COUNTERS[1:]}
    res.check(st.get("packets") == records and not any(lost.values()),
              "tapir received every frame, none lost",
              "packets %s of %d, %s" % (st.get("packets"), records,
                                        lc.jdump(lost)))
    compare_truth(res, truth, conns, st)
    return None


def compare_truth(res, truth, conns, st):
    """Flows, per-direction packets and IP bytes, and mirror sessions
    against tracegen's truth (the live counterpart of tests/pcap/run.py's
    truth-* checks; timing fields differ by nature in a replay)."""
    want = {}
    for f in truth["flows"]:
        want.setdefault(lc.flow_key(f["proto"], f["client"], f["client_port"],
                                    f["server"], f["server_port"]),
                        []).append(f)
    got = {}
    for c in conns:
        if c.get("proto") in ("tcp", "udp"):
            got.setdefault(lc.flow_key(c["proto"], c["id.orig_h"],
                                       c["id.orig_p"], c["id.resp_h"],
                                       c["id.resp_p"]), []).append(c)
    n = sum(len(v) for v in got.values())
    res.check(n == len(truth["flows"]), "flow count",
              "truth %d, tapir %d" % (len(truth["flows"]), n))
    missing = [lc.conv_name(k) for k in want if k not in got]
    extra = [lc.conv_name(k) for k in got if k not in want]
    res.check(not missing and not extra, "same 5-tuples",
              "missing %d %s; extra %d %s" % (len(missing), missing[:3],
                                              len(extra), extra[:3]))
    eni = {x["session_id"]: x["eni_ip"] for x in truth["mirror"]["sessions"]}
    bad = {"split": [], "pkts": [], "ip_bytes": [], "session": []}
    for k, ts in want.items():
        cs = got.get(k, [])
        if len(ts) != 1 or len(cs) != 1:
            if cs:
                bad["split"].append("%s: truth %d, tapir %d records" %
                                    (lc.conv_name(k), len(ts), len(cs)))
            continue
        t, c = ts[0], cs[0]
        name = lc.conv_name(k)
        if (lc.norm(c["id.orig_h"]), int(c["id.orig_p"])) == \
                (lc.norm(t["client"]), int(t["client_port"])):
            o, r = t["c2s"], t["s2c"]
        else:
            o, r = t["s2c"], t["c2s"]
        w = (o["packets"], r["packets"])
        h = (c.get("orig_pkts"), c.get("resp_pkts"))
        if w != h:
            bad["pkts"].append("%s: truth %s tapir %s" % (name, w, h))
        w = (o["bytes"] - 14 * o["packets"], r["bytes"] - 14 * r["packets"])
        h = (c.get("orig_ip_bytes"), c.get("resp_ip_bytes"))
        if w != h:
            bad["ip_bytes"].append("%s: truth %s tapir %s" % (name, w, h))
        sid = t.get("mirror_session")
        if sid is not None and sid in eni:
            w = "%s/%d" % (eni[sid], sid)
            if c.get("mirror_session") != w:
                bad["session"].append("%s: truth %s tapir %s" %
                                      (name, w, c.get("mirror_session")))
    what = {"split": "one record per flow", "pkts": "packets per direction",
            "ip_bytes": "IP bytes per direction",
            "session": "mirror session (outer source / session id)"}
    for b, lst in bad.items():
        res.check(not lst, what[b], "%d flows differ: %s" %
                  (len(lst), "; ".join(lst[:4])))
    tot = truth["totals"]
    res.check(st.get("flows") == tot["flows"], "stats flows",
              "truth %d, tapir %s" % (tot["flows"], st.get("flows")))
    res.check(st.get("duplicates") == tot["duplicates"], "stats duplicates",
              "truth %d, tapir %s" % (tot["duplicates"],
                                      st.get("duplicates")))


def main():
    ap = lc.common_args(__doc__)
    ap.add_argument("--rate", type=int, default=None,
                    help="tcpreplay packets/s, 0 for --topspeed (default: "
                    "--topspeed for load cases, %d for truth cases)" %
                    TRUTH_PPS)
    ap.add_argument("case", choices=sorted(CASES))
    args = ap.parse_args()
    lc.setup(args, args.case, tools=("tcpreplay",))
    case = CASES[args.case]
    tg = lc.build_tracegen(args.shared, args.cache)
    if tg is None:
        print("SKIP: tracegen is absent (%s/tools/tracegen)" % args.shared)
        return lc.SKIP
    pcap, truth = lc.tracegen_capture(tg, args.cache, case["tg"])
    if case["encap"] == "erspan3":
        p3 = pcap[:-5] + "-erspan3.pcap"
        if not os.path.exists(p3):
            n = lc.erspan2_to_3(pcap, p3)
            print("     rewrote %d ERSPAN II records as type III" % n)
        pcap = p3
    print("     capture %s (tracegen %s)" % (pcap, " ".join(case["tg"])))

    def body(res, lab):
        if case["kind"] == "load":
            case_load(args, res, lab, case, pcap)
        else:
            case_truth(args, res, lab, case, pcap, truth)
    return lc.run_lab(args, args.case.split("-")[0] + case["src"][:3], body)


if __name__ == "__main__":
    sys.exit(main())
