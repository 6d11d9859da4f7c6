#!/usr/bin/env python3
"""`tapir run` as a service: the TCP health port a load balancer probes,
GET /healthz and /api/stats, SIGHUP, a stopped process, SIGTERM, a second
instance on the same log folder, and --check-config on a bad file.

    test-health.py --tapir BUILD/tapir [--work DIR] [--keep]

Everything runs in one network namespace of its own, so the fixed ports
(UDP/TCP 4789, HTTP 8080) are free whatever the machine runs.  Exit 0 all
passed, 1 a failure, 77 skipped (not root, no namespaces, or tapir without
`run`).
"""

import json
import os
import re
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import livecheck as lc  # noqa: E402
import netns  # noqa: E402

TRAFFIC = os.path.join(HERE, "traffic.py")
HTTP = "127.0.0.1:8080"
STATS_KEYS = ("packets", "bytes", "duplicates", "flows", "socket_drops",
              "ring_drops", "queue_drops", "sessions")


def probe_connect(ns, port, timeout=2):
    """(connected?, what the probe printed), from inside ns."""
    p = ns.run([sys.executable, TRAFFIC, "connect", "127.0.0.1", str(port),
                "--timeout", str(timeout)], check=False, timeout=timeout + 20)
    return p.returncode == 0, p.stdout.strip()


def probe_http(ns, path, timeout=2):
    """(status or None, body, what failed), from inside ns."""
    p = ns.run([sys.executable, TRAFFIC, "http", "http://%s%s" % (HTTP, path),
                "--timeout", str(timeout)], check=False, timeout=timeout + 20)
    first, _, body = p.stdout.partition("\n")
    m = re.match(r"status (\d+)", first)
    if m:
        return int(m.group(1)), body, ""
    return None, "", (first or p.stderr).strip()


def check_config_cases(args, res, t):
    """--check-config: a bad file exits 2 naming the key, a good one 0."""
    d = os.path.join(args.work, "check")
    os.makedirs(d, exist_ok=True)
    cases = [
        ("stats.interval: banana\n", 2, ["stats.interval"],
         "a duration that is not one"),
        ("sources:\n  - {kind: udp, listen: \"[::]:4789\", encap: nope, "
         "threads: 1}\n", 2, ["sources", "encap"],
         "a source with an unknown encapsulation"),
        ("sources:\n  - {kind: udp, listen: \"[::]:4789\", encap: vxlan, "
         "threads: 1}\nstats.interval: 1s\nlog.dir: \"%s\"\n" %
         os.path.join(d, "logs"), 0, [], "a good file"),
    ]
    for i, (text, want_rc, words, what) in enumerate(cases):
        path = os.path.join(d, "c%d.yaml" % i)
        with open(path, "w") as f:
            f.write(text)
        p = t.run([args.tapir, "run", "-c", path, "--check-config"],
                  check=False, timeout=30)
        msg = (p.stderr + p.stdout).strip()
        ok = p.returncode == want_rc and all(w in msg for w in words)
        res.check(ok, "--check-config on %s exits %d%s" %
                  (what, want_rc, ", naming %s" % "/".join(words)
                   if words else ""),
                  "status %d: %s" % (p.returncode, msg[:300]))
    res.check(not os.path.exists(os.path.join(d, "logs", "stats.log")),
              "--check-config writes no logs", "")
    res.check(not t.udp_bound(4789), "--check-config leaves no socket", "")


def main():
    ap = lc.common_args(__doc__)
    args = ap.parse_args()
    lc.setup(args, "health")
    return lc.run_lab(args, "health", lambda res, lab: run(args, res, lab))


def run(args, res, lab):
    t = lab.netns("t")
    check_config_cases(args, res, t)

    logdir = os.path.join(args.work, "logs")
    cfg = {"sources": [{"kind": "udp", "listen": "[::]:4789",
                        "encap": "vxlan", "threads": 1}],
           "log.dir": logdir, "stats.interval": "1s",
           "health.tcp_ports": "4789", "http.listen": HTTP, "run.user": ""}
    tp = t.start_tapir(args.tapir, os.path.join(args.work, "a"), cfg)
    tp.wait_udp(4789)
    tp.wait_tcp(4789)
    tp.wait_tcp(8080)
    res.note("tapir pid %d in %s" % (tp.pid, t.name))

    ok, out = probe_connect(t, 4789)
    res.check(ok, "TCP connect to the health port 4789", out)
    st, body, err = probe_http(t, "/healthz")
    res.check(st == 200 and body.strip().lower().startswith("ok"),
              "GET /healthz = 200 ok", "status %s %r %s" % (st, body[:100],
                                                            err))
    st, body, err = probe_http(t, "/api/stats")
    try:
        api = json.loads(body)
    except ValueError:
        api = None
    res.check(st == 200 and isinstance(api, dict),
              "GET /api/stats = 200 and a JSON object",
              "status %s %r %s" % (st, body[:200], err))
    api = api if isinstance(api, dict) else {}
    missing = [k for k in STATS_KEYS if k not in api]
    res.check(not missing and isinstance(api.get("sessions"), list),
              "/api/stats has the stats.log counters", "missing %s" % missing)
    line = tp.wait_stats(lambda s: True, 10, "a first stats.log line")
    res.check(set(line) == set(api), "/api/stats has the keys of a "
              "stats.log line", "only in stats.log %s, only in the API %s" %
              (sorted(set(line) - set(api)), sorted(set(api) - set(line))))

    # SIGHUP reopens the logs: moved away (as logrotate does), stats.log
    # comes back.
    moved = os.path.join(tp.logdir, "moved-away-stats.log")
    os.rename(tp.log("stats.log"), moved)
    tp.proc.send(signal.SIGHUP)
    try:
        netns.wait_for(lambda: os.path.exists(tp.log("stats.log")), 10,
                       "a new stats.log after SIGHUP", proc=tp.proc)
        reopened = True
    except netns.LabError as e:
        reopened = False
        res.note(str(e))
    res.check(reopened and tp.alive(),
              "SIGHUP: tapir reopens its logs and keeps running",
              "alive %s, files %s" % (tp.alive(),
                                      sorted(os.listdir(tp.logdir))))

    # A second instance on the same log folder (other ports, so that the
    # folder is the only thing they share).
    cfg2 = dict(cfg, **{"sources": [{"kind": "udp", "listen": "[::]:4790",
                                     "encap": "vxlan", "threads": 1}],
                        "health.tcp_ports": "", "http.listen": ""})
    tp2 = t.start_tapir(args.tapir, os.path.join(args.work, "b"), cfg2,
                        name="tapir-second")
    rc2 = tp2.proc.wait(20)
    err2 = tp2.stderr()
    res.check(rc2 == 1 and str(tp.pid) in err2,
              "a second instance on the same log folder exits 1 naming pid "
              "%d" % tp.pid, "status %s: %s" % (rc2, err2.strip()[:300]))
    if rc2 is None:
        tp2.stop(signal.SIGKILL, 5)
    res.check(tp.alive(), "the first instance keeps running", "")

    # A stopped process: the kernel still completes TCP handshakes on its
    # listening socket, so a TCP health check passes; HTTP needs tapir.
    tp.proc.send(signal.SIGSTOP)
    ok, out = probe_connect(t, 4789)
    res.note("stopped: TCP connect to 4789 %s (the kernel completes the "
             "handshake of a listening socket without the process: a TCP "
             "health check cannot see a stopped tapir)" %
             ("succeeds" if ok else "fails: " + out))
    st, body, err = probe_http(t, "/healthz", timeout=2)
    res.check(st is None, "stopped: GET /healthz fails (times out)",
              "status %s %s" % (st, err))
    tp.proc.send(signal.SIGCONT)
    try:
        netns.wait_for(lambda: probe_http(t, "/healthz")[0] == 200, 15,
                       "/healthz to answer 200 after SIGCONT", proc=tp.proc)
        resumed = True
    except netns.LabError as e:
        resumed = False
        res.note(str(e))
    res.check(resumed, "after SIGCONT: GET /healthz = 200 again", "")

    nlines = len(tp.stats_lines())
    lc.stop_tapir(res, tp, 30, "SIGTERM: tapir exits 0", tail=300)
    lines = tp.stats_lines()
    res.check(len(lines) > nlines and all(k in lines[-1] for k in STATS_KEYS),
              "SIGTERM: a last stats line is written",
              "%d lines before, %d after" % (nlines, len(lines)))
    ok, out = probe_connect(t, 4789)
    res.check(not ok, "after exit: TCP connect to 4789 fails", out)
    st, _, err = probe_http(t, "/healthz")
    res.check(st is None, "after exit: GET /healthz fails",
              "status %s %s" % (st, err))


if __name__ == "__main__":
    sys.exit(main())
