#!/usr/bin/env python3
"""Live VXLAN from the Linux kernel: a software port mirror sends every
frame between two namespaces to `tapir run`, and tapir's conn.log must
agree, flow by flow, with tcpdump's capture of the same frames.

    test-vxlan-kernel.py --tapir BUILD/tapir [--work DIR] [--keep]

Topology (every piece in its own namespace, removed at the end):

    ns a 10.10.0.1 eth0 ──veth── pa ┐
                                    ├ br0   (ns m: the switch)
    ns b 10.10.0.2 eth0 ──veth── pb ┘
      tc ingress on pa and pb: u32 match-all, mirred egress mirror dev vx0
      vx0: vxlan id 123 remote 192.168.200.2 local 192.168.200.1
           dstport 4789 dev up0
             │ up0 192.168.200.1 ──veth── up0 192.168.200.2 (ns t)
             └──── VXLAN / UDP 4789 ────▶ tapir run, udp source [::]:4789

The mirror copies each frame where it enters the switch, so each frame
between a and b crosses vx0 exactly once.  vx0 is not a bridge port: a
bridge would also flood broadcasts and unknown unicast to it, and those
would arrive twice.  tcpdump on pa (ns m) records the reference: every
frame a sent or received, which is all the a<->b traffic.

Traffic: ICMP echo (raw socket), one paced TCP transfer, and UDP datagrams
of several sizes.  Exit 0 all passed, 1 a failure, 77 skipped (not root,
no namespaces, no tcpdump, or tapir without `run`).
"""

import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import livecheck as lc  # noqa: E402
import netns  # noqa: E402

TRAFFIC = os.path.join(HERE, "traffic.py")
VNI = 123
A_IP, B_IP = "10.10.0.1", "10.10.0.2"
M_UP, T_UP = "192.168.200.1", "192.168.200.2"
TCP_PORT, UDP_PORT = 5001, 5002
UDP_SIZES = [1, 18, 100, 512, 1000, 1472]     # 1472: a full 1500-byte packet
REPLY_LEN = 22                                 # traffic.py tcp-server's reply


def build(lab):
    a, b, m, t = (lab.netns(r) for r in ("a", "b", "m", "t"))
    lab.veth(a, "eth0", m, "pa")
    lab.veth(b, "eth0", m, "pb")
    # The underlay carries full 1514-byte frames plus 50 bytes of VXLAN.
    lab.veth(m, "up0", t, "up0", mtu=9000)
    a.addr("eth0", A_IP + "/24")
    b.addr("eth0", B_IP + "/24")
    for ns in (a, b):
        # One frame per segment: with TSO/GSO a capture on the way sees
        # 64 KB super-frames that the mirror then carries whole.
        ns.no_offloads("eth0")
    m.ip("link", "add", "br0", "type", "bridge", "mcast_snooping", 0)
    m.quiet("br0")
    for p in ("pa", "pb"):
        m.ip("link", "set", p, "master", "br0")
    m.up("br0")
    m.addr("up0", M_UP + "/24")
    t.addr("up0", T_UP + "/24")
    lab.static_arp(m, "up0", M_UP, t, "up0", T_UP)
    m.vxlan("vx0", VNI, T_UP, M_UP, "up0")
    for p in ("pa", "pb"):
        m.tc("qdisc", "add", "dev", p, "ingress")
        m.tc("filter", "add", "dev", p, "parent", "ffff:", "protocol", "all",
             "u32", "match", "u32", "0", "0",
             "action", "mirred", "egress", "mirror", "dev", "vx0")
    return a, b, m, t


def tcpdump(ns, ifname, path, filt=()):
    # -B: 64 MB of ring, so that tcpdump itself never drops.
    p = ns.popen(["tcpdump", "-i", ifname, "-n", "-s", "0", "-U",
                  "-B", "65536", "--immediate-mode", "-w", path] + list(filt),
                 name="tcpdump-" + ifname)
    p.wait_output(r"listening on", 20, stream="stderr")
    return p


def count_records(path):
    try:
        return sum(1 for _ in lc.read_pcap(path))
    except (OSError, ValueError):
        return 0


def main():
    ap = lc.common_args(__doc__)
    ap.add_argument("--tcp-bytes", type=int, default=5 * 1000 * 1000)
    ap.add_argument("--tcp-rate", type=int, default=6 * 1000 * 1000,
                    help="TCP pacing, bytes/s (0: as fast as it goes)")
    ap.add_argument("--pings", type=int, default=10)
    ap.add_argument("--udp-count", type=int, default=300)
    args = ap.parse_args()
    lc.setup(args, "vxlan-kernel", tools=("tcpdump",))
    return lc.run_lab(args, "vx", lambda res, lab: run(args, res, lab))


def run(args, res, lab):
    a, b, m, t = build(lab)
    res.note("namespaces: %s" % ", ".join(ns.name for ns in (a, b, m, t)))
    tp = lc.start_tapir(t, args.tapir, os.path.join(args.work, "tapir"),
                        lc.udp_source())

    ref_path = os.path.join(args.work, "reference-pa.pcap")
    ref = tcpdump(m, "pa", ref_path)

    before = {p: m.link_stats(p) for p in ("pa", "pb", "vx0")}
    t_before = t.link_stats("up0"), t.snmp("Udp")

    # The traffic, one kind after the other.
    srv = b.python(TRAFFIC, "tcp-server", TCP_PORT, name="tcp-server")
    srv.wait_output(r"^listening", 10)
    usrv = b.python(TRAFFIC, "udp-server", UDP_PORT, args.udp_count,
                    "--timeout", 10, name="udp-server")
    usrv.wait_output(r"^listening", 10)
    png = a.python(TRAFFIC, "ping", B_IP, args.pings, name="ping")
    png.wait(30)
    cli = a.python(TRAFFIC, "tcp-client", B_IP, TCP_PORT, args.tcp_bytes,
                   "--rate", args.tcp_rate, name="tcp-client")
    cli.wait(120)
    srv.wait(10)
    ucli = a.python(TRAFFIC, "udp-client", B_IP, UDP_PORT,
                    ",".join(map(str, UDP_SIZES)), "--count", args.udp_count,
                    "--gap", 0.001, name="udp-client")
    ucli.wait(60)
    usrv.wait(15)
    for p in (png, cli, srv, ucli, usrv):
        res.note("%s: %s" % (p.name, (p.stdout().strip().splitlines() or
                                      ["(nothing) " + p.stderr()[-200:]])[-1]))
    res.check(png.poll() == 0, "ping: every echo answered",
              png.stdout().strip())
    res.check("sent %d" % args.tcp_bytes in cli.stdout() and
              "received %d " % args.tcp_bytes in srv.stdout(),
              "TCP transfer of %d bytes completed" % args.tcp_bytes,
              cli.stdout().strip() + " / " + srv.stdout().strip())
    res.check("received %d datagrams" % args.udp_count in usrv.stdout(),
              "UDP: %d datagrams delivered" % args.udp_count,
              usrv.stdout().strip())

    # What crossed the switch, from the kernel's own counters: frames in
    # from a and b (each mirrored once), and frames out to a (the
    # reference capture holds in and out of pa).
    after = {p: m.link_stats(p) for p in ("pa", "pb", "vx0")}
    delta = lambda p, k: after[p][k]["packets"] - before[p][k]["packets"]
    mirrored = delta("pa", "rx") + delta("pb", "rx")
    on_pa = delta("pa", "rx") + delta("pa", "tx")
    res.note("switch: %d frames in from a, %d in from b, %d out to a; "
             "vx0 sent %d (dropped %d)" %
             (delta("pa", "rx"), delta("pb", "rx"), delta("pa", "tx"),
              delta("vx0", "tx"), after["vx0"]["tx"]["dropped"] -
              before["vx0"]["tx"]["dropped"]))
    res.check(delta("vx0", "tx") == mirrored,
              "the mirror sent every frame once through vx0",
              "in on pa+pb %d, vx0 tx %d" % (mirrored, delta("vx0", "tx")))

    # Wait for the captures and tapir to have everything.
    try:
        netns.wait_for(lambda: count_records(ref_path) >= on_pa, 15,
                       "tcpdump on pa to write %d frames" % on_pa)
    except netns.LabError as e:
        res.note(str(e))
    try:
        tp.wait_stats(lambda s: s.get("packets", 0) +
                      s.get("socket_drops", 0) >= mirrored, 20,
                      "tapir to count %d datagrams" % mirrored)
    except netns.LabError as e:
        res.note(str(e))
    ref.stop(signal.SIGINT, 10)
    s = lc.tcpdump_summary(ref.stderr())
    res.check(s["dropped"] == 0 and s["captured"] == s["received"],
              "tcpdump's reference capture on pa is complete",
              "captured %s, received by filter %s, dropped by kernel %s"
              % (s["captured"], s["received"], s["dropped"]))
    # The kernel of ns t: frames in on up0, datagrams for the socket.
    up0, udp = t.link_stats("up0"), t.snmp("Udp")
    rx = up0["rx"]["packets"] - t_before[0]["rx"]["packets"]
    dg = {k: udp.get(k, 0) - t_before[1].get(k, 0)
          for k in ("InDatagrams", "RcvbufErrors", "NoPorts", "InErrors")}
    res.note("ns t: up0 received %d frames; UDP %s" % (rx, lc.jdump(dg)))
    res.check(rx == mirrored and dg["InDatagrams"] == mirrored,
              "every VXLAN datagram reached tapir's socket",
              "mirrored %d, up0 rx %d, UDP delivered %d, dropped at the "
              "socket %d" % (mirrored, rx, dg["InDatagrams"],
                             dg["RcvbufErrors"]))

    lc.stop_tapir(res, tp, 30)
    logs = lc.final_logs(res, tp)
    if logs is None:
        return None
    last, conns = logs
    res.note("tapir final stats: %s" % lc.jdump(
        {k: last.get(k) for k in ("packets", "bytes", "duplicates", "flows",
                                  "socket_drops", "ring_drops",
                                  "queue_drops")}))
    res.check(last.get("packets") == mirrored,
              "stats packets = datagrams the mirror sent",
              "mirror %d, tapir %s" % (mirrored, last.get("packets")))
    for k in ("socket_drops", "ring_drops", "queue_drops", "duplicates"):
        res.check(last.get(k, 0) == 0, "stats %s = 0" % k,
                  "tapir %s" % last.get(k))

    want, nonip, total = lc.pcap_flows(ref_path)
    res.note("reference: %d frames on pa, %d flows, %d without IP (ARP: "
             "Zeek logs no connection for it, so neither side counts it "
             "as a flow)" % (total, len(want), nonip))
    res.check(total == on_pa, "reference holds every frame of pa",
              "pa in+out %d, captured %d" % (on_pa, total))
    got = lc.conn_flows(conns)
    res.check(len(got) == len(want), "same number of flows",
              "reference %d, tapir %d" % (len(want), len(got)))
    for k in sorted(set(want) | set(got)):
        name = lc.conv_name(k)
        if k not in got or k not in want:
            res.check(False, "%s in both" % name, "reference %s, tapir %s" %
                      (k in want, k in got))
            continue
        res.check(lc.dirs(want[k]) == lc.dirs(got[k]),
                  "%s packets and IP bytes per direction" % name,
                  "reference %s; tapir %s" % (lc.fmt_dirs(want[k]),
                                              lc.fmt_dirs(got[k])))
    # What a user reads off the records.
    vnis = sorted({c.get("vni") for c in conns}, key=str)
    res.check(vnis == [VNI], "every record carries VNI %d" % VNI, str(vnis))
    tcp = [c for c in conns if c.get("proto") == "tcp"]
    res.check(len(tcp) == 1 and tcp[0].get("id.orig_h") == A_IP and
              tcp[0].get("id.resp_p") == TCP_PORT and
              tcp[0].get("orig_bytes") == args.tcp_bytes and
              tcp[0].get("resp_bytes") == REPLY_LEN and
              tcp[0].get("conn_state") == "SF",
              "TCP record: a -> b:%d, orig_bytes %d, resp_bytes %d, SF" %
              (TCP_PORT, args.tcp_bytes, REPLY_LEN),
              lc.jdump(tcp))
    usent = sum(UDP_SIZES[i % len(UDP_SIZES)] for i in range(args.udp_count))
    udp = [c for c in conns if c.get("proto") == "udp"]
    res.check(len(udp) == 1 and udp[0].get("orig_pkts") == args.udp_count
              and udp[0].get("orig_bytes") == usent and
              udp[0].get("id.resp_p") == UDP_PORT,
              "UDP record: %d datagrams, orig_bytes %d" %
              (args.udp_count, usent), lc.jdump(udp))
    icmp = [c for c in conns if c.get("proto") == "icmp"]
    res.check(sum(c.get("orig_pkts", 0) for c in icmp) == args.pings and
              sum(c.get("resp_pkts", 0) for c in icmp) == args.pings,
              "ICMP: %d echo requests and %d replies" %
              (args.pings, args.pings), lc.jdump(icmp))
    return None


if __name__ == "__main__":
    sys.exit(main())
