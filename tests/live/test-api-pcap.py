#!/usr/bin/env python3
"""GET /api/pcap of a running `tapir run` against `tapir query` on the same
store: a mkmirror.py capture is sent to tapir over loopback UDP
(tests/tools/udp-replay.py), then for each expression the body that curl
gets equals, byte for byte, what `tapir query -w -` writes; limits in
packets and bytes; a uid of the live conn.log; bad requests get 400 with
the message that points at the mistake; the store's counters are in
/api/stats and `tapir stats`; SIGTERM still stops tapir cleanly.

    test-api-pcap.py --tapir BUILD/tapir [--work DIR] [--keep]

Loopback only, on ports picked free, so it needs neither root nor network
namespaces.  Exit 0 all passed, 1 a failure, 77 skipped (curl absent, or
tapir without `run`).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
REPO = os.path.dirname(os.path.dirname(HERE))

import livecheck as lc  # noqa: E402

MKMIRROR = os.path.join(REPO, "tests", "tools", "mkmirror.py")
REPLAY = os.path.join(REPO, "tests", "tools", "udp-replay.py")

EXPRS = ["", "tcp port 443", "host 10.0.1.14 and udp", "vni 1004",
         "icmp or udp port 53", "zone default and tcp", "host 192.0.2.99"]


def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def curl(url, out=None):
    """(HTTP status, body bytes) of GET url; status 0 when curl failed."""
    p = subprocess.run(["curl", "-s", "-S", "--max-time", "60", "-o",
                        out or "-", "-w", "\n%{http_code}", url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=90)
    body, _, code = p.stdout.rpartition(b"\n")
    if out:
        with open(out, "rb") as f:
            body = f.read()
    try:
        return int(code), body
    except ValueError:
        return 0, body


def pcap_count(data):
    n, off = 0, 24
    while off + 16 <= len(data):
        off += 16 + int.from_bytes(data[off + 8:off + 12], "little")
        n += 1
    return n if off == len(data) else -1


def main():
    ap = lc.common_args(__doc__)
    args = ap.parse_args()
    if not shutil.which("curl"):
        print("SKIP: curl is not installed")
        return lc.SKIP
    why = lc.tapir_run_missing(args.tapir)
    if why:
        print("SKIP: %s" % why)
        return lc.SKIP
    tapir = os.path.abspath(args.tapir)
    base = args.work or tempfile.mkdtemp(prefix="tapir-live-")
    work = os.path.abspath(os.path.join(base, "api-pcap"))
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    res = lc.Result()

    cap = os.path.join(work, "mirror.pcap")
    subprocess.run([sys.executable, MKMIRROR, "--both-sides", "--flows",
                    "60", "-o", cap], check=True, stdout=subprocess.DEVNULL)
    uport, hport = free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    logs = os.path.join(work, "logs")
    cfg = os.path.join(work, "tapir.yaml")
    with open(cfg, "w") as f:
        f.write("sources:\n  - {kind: udp, listen: \"127.0.0.1:%d\", "
                "encap: vxlan}\nhealth:\n  tcp_ports: []\nhttp:\n  listen: "
                "\"127.0.0.1:%d\"\nrun:\n  user: \"\"\nlog:\n  rotate: 0\n"
                "  dir: %s\nstats:\n  interval: 1s\nstore:\n  segment_age: "
                "1s\n" % (uport, hport, logs))
    url = "http://127.0.0.1:%d" % hport
    err = open(os.path.join(work, "tapir.err"), "w")
    proc = subprocess.Popen([tapir, "run", "-c", cfg], stderr=err)
    try:
        body(res, work, tapir, cfg, cap, uport, url, logs)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                rc = proc.wait()
            err.close()
            text = open(os.path.join(work, "tapir.err")).read()
            res.check(rc == 0 and not lc.crashed(rc, text),
                      "tapir run exits 0 on SIGTERM", "status %s %s" %
                      (rc, text.strip()[-400:]))
    out = res.summary()
    if out == 0 and not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return out


def stats(url):
    code, b = curl(url + "/api/stats")
    try:
        return json.loads(b) if code == 200 else {}
    except ValueError:
        return {}


def wait(what, cond, timeout):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise TimeoutError("waited %d s for %s" % (timeout, what))


def body(res, work, tapir, cfg, cap, uport, url, logs):
    try:
        wait("/healthz", lambda: curl(url + "/healthz")[0] == 200, 20)
    except TimeoutError as e:
        res.check(False, "tapir run starts", str(e))
        return
    p = subprocess.run([sys.executable, REPLAY, "--pps", "4000",
                        "--vxlan-port", str(uport), cap], check=True,
                       stdout=subprocess.PIPE, text=True)
    sent = int(p.stdout.split()[2])
    try:
        # Every datagram stored, and its segment closed (1 s of age).
        wait("the store to hold every datagram",
             lambda: stats(url).get("store", {}).get("packets") == sent, 30)
        time.sleep(2.5)
    except TimeoutError as e:
        res.check(False, "store counts what was sent", str(e))
        return
    st = stats(url)["store"]
    res.check(st["segments"] >= 1 and st["write_errors"] == 0 and
              st["bytes"] > 0, "/api/stats has the store's counters",
              json.dumps(st))
    p = subprocess.run([tapir, "stats", "--url", url], stdout=subprocess.PIPE,
                       text=True)
    res.check("store.packets" in p.stdout and str(sent) in p.stdout,
              "tapir stats shows store.packets", p.stdout[-300:])

    def cli(expr, *extra):
        p = subprocess.run([tapir, "query", "-c", cfg, "-w", "-"] +
                           list(extra) + [expr], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        return p.returncode, p.stdout

    total = 0
    for expr in EXPRS:
        code, got = curl(url + "/api/pcap?expr=" + urllib.parse.quote(expr),
                         os.path.join(work, "api.pcap"))
        rc, want = cli(expr)
        n = pcap_count(got)
        total += max(n, 0)
        res.check(code == 200 and rc == 0 and got == want,
                  "GET /api/pcap?expr=%r equals tapir query (%d packets)" %
                  (expr, n), "status %d, %d vs %d bytes" %
                  (code, len(got), len(want)))
        if expr == "":
            res.check(n == sent, "every datagram comes back",
                      "%d of %d" % (n, sent))
    res.check(total > sent, "the expressions match packets", str(total))

    for q, extra in (("limit=5", ["--limit", "5"]),
                     ("limit=10kB", ["--limit", "10kB"]),
                     ("since=1d&until=0s", ["--since", "1d", "--until",
                                            "0s"])):
        code, got = curl(url + "/api/pcap?expr=tcp&" + q)
        rc, want = cli("tcp", *extra)
        res.check(code == 200 and got == want, "%s equals tapir query %s" %
                  (q, " ".join(extra)), "status %d, %d vs %d bytes" %
                  (code, len(got), len(want)))
    code, got = curl(url + "/api/pcap?expr=tcp&limit=5")
    res.check(pcap_count(got) == 5, "limit=5 gives 5 packets",
              str(pcap_count(got)))
    code, got = curl(url + "/api/pcap?expr=&limit=10kB")
    res.check(0 < len(got) <= 10240, "limit=10kB stays within 10240 bytes",
              str(len(got)))

    for q, needle in (("expr=host%2010.0.0.1%20and%20(vni%205)", "^^^"),
                      ("expr=tcp%20port%20foo", "BPF"),
                      ("expr=&since=yesterday", "since 'yesterday'"),
                      ("expr=&since=1700000100&until=1700000000",
                       "after until"),
                      ("expr=&limit=0", "limit '0'"),
                      ("expr=zone%20nowhere", "not a zone"),
                      ("since=1h", "give the expression")):
        code, got = curl(url + "/api/pcap?" + q)
        res.check(code == 400 and needle.encode() in got,
                  "%s: 400 with %r" % (q, needle),
                  "status %d: %s" % (code, got[:200]))
    code, got = curl(url + "/api/pcap?expr=uid%20CNotInTheLog1")
    res.check(code == 404 and b"no conn.log" in got,
              "an unknown uid: 404 naming conn.log",
              "status %d: %s" % (code, got[:200]))

    # A uid of the live conn.log: TCP flows are logged 5 s after their
    # close (flow.tcp_close_delay).
    def tcp_conn():
        try:
            with open(os.path.join(logs, "conn.log")) as f:
                for line in f:
                    c = json.loads(line)
                    if c.get("proto") == "tcp" and c.get("conn_state") == "SF":
                        return c
        except (OSError, ValueError):
            return None
        return None
    try:
        c = wait("a closed TCP flow in conn.log", tcp_conn, 30)
    except TimeoutError as e:
        res.check(False, "uid query", str(e))
        return
    expr = "uid " + c["uid"]
    code, got = curl(url + "/api/pcap?expr=" + urllib.parse.quote(expr))
    rc, want = cli(expr, "--logs", logs)
    n, uniq = pcap_count(got), len(inner_packets(got))
    # A flow mirrored from both ends is stored twice: its copies, less
    # the TTL and the IP checksum, are conn.log's packets.
    res.check(code == 200 and got == want and
              uniq == c["orig_pkts"] + c["resp_pkts"],
              "uid %s: the flow's %d packets, as tapir query" %
              (c["uid"], c["orig_pkts"] + c["resp_pkts"]),
              "status %d, %d frames, %d distinct, %d vs %d bytes" %
              (code, n, uniq, len(got), len(want)))


def inner_packets(data):
    """The distinct inner IP packets of a store pcap of a UDP listener
    (outer IPv4 + UDP + VXLAN + Ethernet: 50 bytes), TTL and IPv4 checksum
    zeroed, as tapir's dedup compares them."""
    out, off = set(), 24
    while off + 16 <= len(data):
        n = int.from_bytes(data[off + 8:off + 12], "little")
        ip = bytearray(data[off + 16 + 50:off + 16 + n])
        if ip and ip[0] >> 4 == 4 and len(ip) >= 20:
            ip[8] = ip[10] = ip[11] = 0
        elif ip and ip[0] >> 4 == 6 and len(ip) >= 40:
            ip[7] = 0
        out.add(bytes(ip))
        off += 16 + n
    return out


if __name__ == "__main__":
    sys.exit(main())
