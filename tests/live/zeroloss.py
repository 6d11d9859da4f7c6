#!/usr/bin/env python3
"""The zero-loss rate of a mirror receiver on a veth path: the highest
sending rate at which the receiver loses nothing over a trial, found by
binary search, for `tapir run -j 1`, `tapir run -j 2` and, as the
reference, `tcpdump -i t0 -w /dev/null`.  With --soak, tapir runs at half
its zero-loss rate for a while and its RSS is sampled.  Run by hand
through bench/live.sh (see bench/README.md), never by `meson test`.

    zeroloss.py --tapir BUILD/tapir [--trial SEC] [--iterations N]
                [--receivers tapir-j1,tapir-j2,tcpdump] [--soak SEC]
                [--rate PPS] [--sender blast|tcpreplay] [--bench-dir DIR]
                [--shared DIR]

Path: ns s (the sender on s0, the capture looped for the trial) ──veth──
t0 in ns t.  A new pair of namespaces for every trial, so no trial
inherits another's queues or counters.  The sender is blast.py
(sendmmsg(2) on AF_PACKET, paced in batches of 64) by default, or
tcpreplay -K --pps R --loop 0 --duration T: on the 2-core test VM
tcpreplay, one frame per system call, tops out near 150 000 frames/s,
below what every receiver takes, and blast.py near 700 000.

What each receiver's figure measures:
  tapir run     its UDP source on [::]:4789: the kernel's IP and UDP
                receive path into one socket (SO_REUSEPORT with
                --threads), tapir's decode, dedup, flow tracking and logs.
                Lost = sent - tapir's packets; tapir's socket_drops,
                queue_drops and the kernel's counters say where.
  tcpdump       an AF_PACKET TPACKET_V3 ring on t0 (t0 without an address,
                so the kernel's IP layer drops the frames at once), and a
                pcap writer into /dev/null: what capturing the same frames
                costs, with no decoding.  Lost = sent - "packets captured"
                (its "dropped by kernel" and the veth's drops say where).
A trial passes when the receiver lost nothing and the sender reached at
least 97% of the asked rate (else the sender, not the receiver, set the
rate, and the figure is marked as bounded by the sender).

Standard library only.
"""

import argparse
import contextlib
import datetime
import json
import os
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import livecheck as lc  # noqa: E402
import netns  # noqa: E402

# The capture: tests/live/test-load.py's load capture (AWS VPC Traffic
# Mirroring, VXLAN, both sides of east-west traffic mirrored), about
# 211 000 frames of 612 bytes on average; looped for the trial.
CAPTURE_TG = ["--flows", "5000", "--udp-flows", "2500", "--duration", "10",
              "--size-max", "300000", "--hosts", "50", "--encap", "vxlan",
              "--mirror-both-sides", "--east-west-share", "0.4", "--seed",
              "21"]
REACHED = 0.97


def log(msg):
    print(msg, flush=True)


def capture_facts(pcap):
    """Frames and wire bytes of the capture (cached beside it)."""
    path = pcap + ".facts.json"
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    n = b = 0
    for _, _, orig in lc.read_pcap(pcap):
        n += 1
        b += orig
    facts = {"frames": n, "bytes": b, "mean": b / n}
    with open(path, "w") as f:
        json.dump(facts, f)
    return facts


def send(args, s, pcap, rate):
    if args.sender == "tcpreplay":
        return lc.replay(s, pcap, rate, duration=args.trial)
    return lc.blast(s, pcap, rate, duration=args.trial)


@contextlib.contextmanager
def scratch_lab(tag, workdir):
    """A netns.Lab in workdir, closed and its folder removed at the end."""
    lab = netns.Lab(tag, workdir=workdir)
    try:
        yield lab
    finally:
        lab.close()
        lab.remove_dir()


class Trial:
    """One trial of one receiver at one rate."""

    def __init__(self, sent, lost, rate, detail):
        self.sent, self.lost, self.rate, self.detail = sent, lost, rate, \
            detail


def tapir_loss(tp, rp):
    """Stop tapir; (sent, lost, its last stats).  A packet dropped at a
    worker's queue is lost too, though received."""
    rc, _ = tp.stop(signal.SIGTERM, 120)
    st = tp.final_stats()
    if rc != 0:
        raise netns.LabError("tapir exited %s: %s" %
                             (rc, tp.stderr()[-300:]))
    sent = rp["successful"]
    return sent, sent - st.get("packets", 0) + st.get("queue_drops", 0), st


def trial_tapir(args, pcap, rate, workers, idx):
    with scratch_lab("zl", os.path.join(args.work, "t%03d" % idx)) as lab:
        s, t = lc.replay_path(lab, pcap, udp=True)
        tp = lc.start_tapir(t, args.tapir, os.path.join(lab.dir, "tapir"),
                            lc.udp_source(threads=args.threads),
                            workers=workers)
        before = lc.kernel_counters(s, t)
        rp = send(args, s, pcap, rate)
        try:
            lc.drain_udp(tp, s, t, 4789, before, 30)
        except netns.LabError as e:
            log("    note: %s" % e)
        k = lc.kernel_delta(before, lc.kernel_counters(s, t))
        sent, lost, st = tapir_loss(tp, rp)
        detail = ("socket_drops %d, queue_drops %d, veth %d, kernel UDP "
                  "RcvbufErrors %d" % (st.get("socket_drops", 0),
                                       st.get("queue_drops", 0),
                                       k["s0_tx_dropped"],
                                       k["udp.RcvbufErrors"]))
        return Trial(sent, lost, rp.get("pps", 0), detail)


def trial_tapir_af(args, pcap, rate, workers, idx):
    """tapir's afpacket source on t0: the path tcpdump takes."""
    with scratch_lab("zl", os.path.join(args.work, "t%03d" % idx)) as lab:
        s, t = lc.replay_path(lab, pcap, udp=False)
        tp = lc.start_tapir(t, args.tapir, os.path.join(lab.dir, "tapir"),
                            {"kind": "afpacket", "interface": "t0",
                             "threads": args.threads}, workers=workers)
        before = lc.kernel_counters(s, t)
        rp = send(args, s, pcap, rate)
        # As for tcpdump: the ring drains well within this grace.
        time.sleep(1.0)
        k = lc.kernel_delta(before, lc.kernel_counters(s, t))
        sent, lost, st = tapir_loss(tp, rp)
        detail = ("ring_drops %d, queue_drops %d, veth drops %d" %
                  (st.get("ring_drops", 0), st.get("queue_drops", 0),
                   k["s0_tx_dropped"] + k["t0_rx_dropped"]))
        return Trial(sent, lost, rp.get("pps", 0), detail)


def trial_tcpdump(args, pcap, rate, idx):
    with scratch_lab("zl", os.path.join(args.work, "t%03d" % idx)) as lab:
        s, t = lc.replay_path(lab, pcap, udp=False)
        buf = ["-B", str(args.tcpdump_buffer)] if args.tcpdump_buffer else []
        td = t.popen(["tcpdump", "-i", "t0", "-n", "-w", "/dev/null"] + buf,
                     name="tcpdump")
        td.wait_output(r"listening on", 20, stream="stderr")
        before = lc.kernel_counters(s, t)
        rp = send(args, s, pcap, rate)
        # How far tcpdump has read its ring cannot be seen from outside;
        # even a 64 MiB ring drains well within this grace.
        time.sleep(1.0)
        k = lc.kernel_delta(before, lc.kernel_counters(s, t))
        td.stop(signal.SIGINT, 30)
        sm = lc.tcpdump_summary(td.stderr())
        if sm["received"] is None:
            raise netns.LabError("no tcpdump summary: %s" %
                                 td.stderr()[-300:])
        sent = rp["successful"]
        # Everything not written: the veth's drops, the ring's ("dropped by
        # kernel", which "received by filter" includes), and any frame
        # left unread in the ring.
        lost = sent - sm["captured"]
        detail = ("captured %d, received by filter %d, dropped by kernel "
                  "%d, veth drops %d" % (sm["captured"], sm["received"],
                                         sm["dropped"],
                                         k["s0_tx_dropped"] +
                                         k["t0_rx_dropped"]))
        return Trial(sent, lost, rp.get("pps", 0), detail)


def search(args, name, run_trial, facts):
    """Binary search on --pps between a rate known to pass and one known
    to fail.  Returns a result dict."""
    trials = []

    def do(rate):
        tr = run_trial(rate, len(trials) + 1)
        asked = rate or "topspeed"
        ok = tr.lost == 0
        reached = rate == 0 or tr.rate >= REACHED * rate
        trials.append((asked, tr))
        log("  %-9s asked %-9s sent %9d at %9.0f pps  lost %8d  %s  (%s)" %
            (name, asked, tr.sent, tr.rate, tr.lost,
             "PASS" if ok else "LOSS", tr.detail))
        return ok, reached, tr

    ok, _, top = do(0)
    ceiling = top.rate
    if ok:
        return {"name": name, "pps": ceiling, "bound": "sender",
                "ceiling": ceiling, "trials": trials}
    lo, hi = 0.0, ceiling
    best, bound = 0.0, "receiver"
    for _ in range(args.iterations):
        if hi - lo <= max(1000.0, 0.02 * hi):
            break
        mid = int((lo + hi) / 2)
        ok, reached, tr = do(mid)
        if ok and reached:
            lo = best = float(mid)
        elif ok:
            # The sender fell short of mid: what it reached passed.
            best = max(best, tr.rate)
            lo, hi, bound = tr.rate, mid, "sender"
        else:
            hi = float(mid)
    return {"name": name, "pps": best, "bound": bound, "ceiling": ceiling,
            "hi": hi, "trials": trials}


def soak(args, pcap, rate, facts):
    """tapir at rate for args.soak seconds; its RSS every 10 s, from 10 s
    in (VmRSS of the process, all threads)."""
    with scratch_lab("soak", os.path.join(args.work, "soak")) as lab:
        s, t = lc.replay_path(lab, pcap, udp=True)
        tp = lc.start_tapir(t, args.tapir, os.path.join(lab.dir, "tapir"),
                            lc.udp_source(threads=args.threads),
                            workers=args.soak_workers, interval="10s")
        if args.sender == "tcpreplay":
            cmd = ["tcpreplay", "-i", "s0", "-K", "--pps", str(int(rate)),
                   "--loop", "0", "--duration", str(int(args.soak)), pcap]
        else:
            cmd = [sys.executable, os.path.join(HERE, "blast.py"), "-i",
                   "s0", "--pps", str(int(rate)), "--duration",
                   str(args.soak), pcap]
        sender = s.popen(cmd, name="sender-soak")
        samples = []
        start = time.monotonic()
        # The first sample comes 10 s in, past the start-up, so that the
        # ratio tells growth under steady load rather than warm-up.
        while sender.wait(10) is None:
            samples.append((time.monotonic() - start, rss_kb(tp.pid)))
            log("  soak %5.0f s  RSS %d kB" % samples[-1])
        out = sender.stdout() + sender.stderr()
        if sender.poll() != 0:
            log("  the sender failed: %s" % out[-500:])
        m = lc.re.search(r"sent (\d+) frames", out)
        sender_out = lc.tcpreplay_summary(out) if args.sender == \
            "tcpreplay" else {"successful": int(m.group(1)) if m else None}
        rc, _ = tp.stop(signal.SIGTERM, 120)
        return samples, sender_out, tp.final_stats(), rc


def tapir_version(tapir):
    p = lc.subprocess.run([tapir, "version"], stdout=lc.subprocess.PIPE,
                          stderr=lc.subprocess.STDOUT, text=True)
    return (p.stdout.splitlines() or ["?"])[0]


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tapir", required=True)
    ap.add_argument("--shared", default=os.path.join(lc.REPO, "..",
                                                     "shared"))
    ap.add_argument("--bench-dir", default="/var/tmp/tapir-bench")
    ap.add_argument("--trial", type=int, default=60,
                    help="seconds per trial (default 60)")
    ap.add_argument("--iterations", type=int, default=7,
                    help="bisection steps per receiver (default 7)")
    ap.add_argument("--receivers", default="tapir-j1,tapir-j2,tcpdump")
    ap.add_argument("--sender", choices=("blast", "tcpreplay"),
                    default="blast",
                    help="blast (tests/live/blast.py, sendmmsg; default) or "
                    "tcpreplay (one frame per system call: it tops out "
                    "below what the receivers take on a small VM)")
    ap.add_argument("--threads", type=int, default=1,
                    help="receive sockets of tapir's udp source")
    ap.add_argument("--soak", type=int, default=0,
                    help="after the search, run tapir -j 1 at half its "
                    "zero-loss rate for SEC seconds, sampling RSS")
    ap.add_argument("--soak-workers", type=int, default=1)
    ap.add_argument("--tcpdump-buffer", type=int, default=0,
                    help="tcpdump -B KiB (default: tcpdump's own, 2 MiB; "
                    "tapir's sources default to 64 MiB)")
    ap.add_argument("--rate", type=float, default=0,
                    help="with --soak: the zero-loss rate to halve, "
                    "instead of searching for it")
    args = ap.parse_args()

    netns.skip_unless_able(("tcpreplay", "tcpdump"))
    args.tapir = os.path.abspath(args.tapir)
    why = lc.tapir_run_missing(args.tapir)
    if why:
        print("live.sh: %s" % why, file=sys.stderr)
        return 1
    args.shared = os.environ.get("TAPIR_SHARED") or args.shared
    cache = os.path.join(args.bench_dir, "live-cache")
    os.makedirs(cache, exist_ok=True)
    tg = lc.build_tracegen(args.shared, cache)
    if tg is None:
        print("live.sh: tracegen is absent (%s/tools/tracegen)" %
              args.shared, file=sys.stderr)
        return 1
    pcap, _ = lc.tracegen_capture(tg, cache, CAPTURE_TG)
    facts = capture_facts(pcap)
    stamp = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    args.work = os.path.join(args.bench_dir, "live-" + stamp)
    os.makedirs(args.work, exist_ok=True)

    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    head = [
        "# tapir live zero-loss search, %s" %
        datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
        "",
        "machine: %d CPUs, %s, %s" % (os.cpu_count(), cpu, os.uname().release),
        "",
        "**The sender (%s), the receiver and the kernel's softirq "
        "work on both veth ends share these %d CPUs**: a veth has no "
        "hardware queue, so the receive path up to the socket or ring "
        "runs on the core that sent the frame, and the figures are those "
        "of the whole path on this machine, not of the receiver alone." %
        ({"blast": "tests/live/blast.py, sendmmsg on AF_PACKET",
          "tcpreplay": "tcpreplay -K"}[args.sender], os.cpu_count()),
        "",
        "capture: `%s` (tracegen %s): %d frames, %.1f bytes per frame on "
        "average, looped for each %d s trial; Gbit/s = packets/s x %.1f x 8 "
        "(Ethernet frames without preamble, FCS or gaps)." %
        (pcap, " ".join(CAPTURE_TG), facts["frames"], facts["mean"],
         args.trial, facts["mean"]),
        "",
        "tapir: %s" % tapir_version(args.tapir),
        "load average at start: %s" % " ".join(
            open("/proc/loadavg").read().split()[:3]),
        "",
    ]
    out = os.path.join(args.bench_dir, "live-results-%s.md" % stamp)
    with open(out, "w") as f:
        f.write("\n".join(head) + "\n")
    for line in head:
        log(line)

    results = []
    names = [r.strip() for r in args.receivers.split(",") if r.strip()]
    if args.soak and args.rate:
        names = []
    for name in names:
        log("## %s" % name)
        if name.startswith("tapir-j"):
            j = int(name[len("tapir-j"):])
            fn = (lambda rate, i, j=j:
                  trial_tapir(args, pcap, rate, j, len(results) * 100 + i))
        elif name.startswith("tapir-af-j"):
            j = int(name[len("tapir-af-j"):])
            fn = (lambda rate, i, j=j:
                  trial_tapir_af(args, pcap, rate, j,
                                 len(results) * 100 + i))
        elif name == "tcpdump":
            fn = (lambda rate, i:
                  trial_tcpdump(args, pcap, rate, len(results) * 100 + i))
        else:
            print("live.sh: unknown receiver %s" % name, file=sys.stderr)
            return 2
        results.append(search(args, name, fn, facts))

    what = {"tapir-j1": "`tapir run -j 1`, udp source [::]:4789, %d "
                        "socket(s)" % args.threads,
            "tapir-j2": "`tapir run -j 2`, udp source [::]:4789, %d "
                        "socket(s)" % args.threads,
            "tapir-af-j1": "`tapir run -j 1`, afpacket source t0 (the "
                           "path tcpdump takes), %d ring(s)" % args.threads,
            "tapir-af-j2": "`tapir run -j 2`, afpacket source t0 (the "
                           "path tcpdump takes), %d ring(s)" % args.threads,
            "tcpdump": "`tcpdump -i t0 -w /dev/null%s` (AF_PACKET ring of "
                       "%s, no decoding): the reference" %
                       (" -B %d" % args.tcpdump_buffer
                        if args.tcpdump_buffer else "",
                        "%d KiB" % args.tcpdump_buffer
                        if args.tcpdump_buffer else "2 MiB")}
    table = ["| receiver | zero-loss packets/s | Gbit/s | bounded by | "
             "sender ceiling (topspeed) packets/s | trials |",
             "|---|---|---|---|---|---|"]
    for r in results:
        table.append("| %s | %s%.0f | %.3f | %s | %.0f | %d |" % (
            what.get(r["name"], r["name"]),
            ">= " if r["bound"] == "sender" else "", r["pps"],
            r["pps"] * facts["mean"] * 8 / 1e9, r["bound"], r["ceiling"],
            len(r["trials"])))
    tail = [""] + table + [""]
    ref = [r for r in results if r["name"] == "tcpdump"]
    if ref and ref[0]["pps"]:
        for r in results:
            if r["name"] != "tcpdump":
                tail.append("- %s: %.0f%% of tcpdump's figure" %
                            (r["name"], 100 * r["pps"] / ref[0]["pps"]))
        tail.append("")
    if args.soak:
        base = args.rate or next((r["pps"] for r in results
                                  if r["name"] == "tapir-j%d" %
                                  args.soak_workers), 0)
        if not base:
            tail.append("soak: no zero-loss rate for tapir -j %d to halve "
                        "(give --rate)" % args.soak_workers)
        else:
            log("## soak at %.0f pps for %d s" % (base / 2, args.soak))
            samples, snd, st, rc = soak(args, pcap, base / 2, facts)
            rss = [x[1] for x in samples if x[1]]
            tail += [
                "## Soak", "",
                "tapir -j %d at %.0f packets/s (half of %.0f) for %d s: "
                "sent %s, tapir packets %s, lost %s (socket_drops %s, "
                "queue_drops %s), exit %s" %
                (args.soak_workers, base / 2, base, args.soak,
                 snd.get("successful"), st.get("packets"),
                 (snd.get("successful") or 0) - (st.get("packets") or 0),
                 st.get("socket_drops"), st.get("queue_drops"), rc),
                "",
                "RSS every 10 s (kB): %s" % " ".join(str(x) for x in rss),
                "",
                "max/min RSS: %d / %d kB = **%.3f**" %
                (max(rss), min(rss), max(rss) / min(rss)) if rss else
                "no RSS samples",
                ""]
    tail.append("load average at end: %s" % " ".join(
        open("/proc/loadavg").read().split()[:3]))
    with open(out, "a") as f:
        f.write("\n".join(tail) + "\n")
    for line in tail:
        log(line)
    try:
        os.rmdir(args.work)     # each trial removed its own folder
    except OSError:
        pass
    print("results in %s" % out, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
