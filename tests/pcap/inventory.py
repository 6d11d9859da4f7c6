#!/usr/bin/env python3
"""The passive inventory (known_hosts.log, known_services.log,
known_certs.log, software.log) of `tapir read` against tshark's decode of
the same captures, tracegen's ground truth and Zeek's rules.

    inventory.py --tapir BUILD/tapir [--shared DIR] [--work DIR] CASE

Cases:
  truth   a tracegen capture (VXLAN, both sides mirrored, an HTTP/DNS/TLS/
          SSH mix and the attack scenarios), read with -j 1 and -j 2:
          * known_hosts: the local hosts of every TCP connection whose
            SYN and then SYN-ACK tshark shows (Zeek's connection_established
            with both endpoints ESTABLISHED), each once, at the time of its
            first SYN-ACK;
          * known_services: the local responders (address, port, tcp) of
            those connections and the local UDP responders that answered,
            with conn.log's service of the flow ("" when it has none);
          * software: SSH::CLIENT / SSH::SERVER from tracegen's banners,
            HTTP::BROWSER from tshark's http.user_agent, HTTP::SERVER from
            http.server, each parsed as Zeek's Software::parse does (the
            expected parse of every string tracegen sends is written out
            in PARSED below) and logged as Zeek's Software::register
            decides (a host's software again only when its version
            changes), with the time of the packet that carried it;
          * the same records, line for line once sorted, for -j 1 and -j 2.
  corpus  every capture in corpus/protocols/{http,ssh,tls}, all addresses
          local (site.local_nets=0.0.0.0/0 ::/0): software's
          (host, type, unparsed_version) are tshark's http.user_agent,
          http.server and ssh.protocol (without Zeek's SSH prefix), every
          host and type tshark has is there; known_certs are the server
          certificates of x509.log (subject, issuer, serial), on the
          addresses and ports that tshark sees send a TLS Certificate.

Exit status: 0 all passed, 1 a failure, 77 skipped (no shared corpus, no
tshark).  Standard library only.
"""

import argparse
import glob
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys

SKIP = 77
failures = 0
passes = 0

# Zeek's Software::parse of every string tracegen sends, written out by
# hand from base/frameworks/software/main.zeek:
# (name, major, minor, minor2, minor3, addl); None: not set.
PARSED = {
    # User-Agents (browser strings go through parse_mozilla)
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, "
    "like Gecko) Chrome/120.0 Safari/537.36":
        ("Chrome", 120, 0, None, None, None),
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.2 Safari/605.1.15":
        ("Safari", 17, 2, None, None, None),
    "curl/8.4.0": ("curl", 8, 4, 0, None, None),
    "python-requests/2.31.0": ("python-requests", 2, 31, 0, None, None),
    "okhttp/4.12.0": ("okhttp", 4, 12, 0, None, None),
    "Go-http-client/1.1": ("Go-http-client", 1, 1, None, None, None),
    "gobuster/3.6": ("gobuster", 3, 6, None, None, None),
    # Server
    "nginx/1.24.0": ("nginx", 1, 24, 0, None, None),
    # SSH banners without "SSH-2.0-"
    "OpenSSH_8.9p1 Ubuntu-3ubuntu0.6": ("OpenSSH", 8, 9, None, None, "p1"),
    "OpenSSH_9.6": ("OpenSSH", 9, 6, None, None, None),
    "OpenSSH_7.4": ("OpenSSH", 7, 4, None, None, None),
    "OpenSSH_9.3": ("OpenSSH", 9, 3, None, None, None),
    "PuTTY_Release_0.80": ("PuTTY_Release", 0, 80, None, None, None),
    "OpenSSH_for_Windows_8.1": ("OpenSSH_for_Windows", 8, 1, None, None,
                                None),
    "paramiko_3.4.0": ("paramiko", 3, 4, 0, None, None),
    "dropbear_2022.83": ("dropbear", 2022, 83, None, None, None),
    "libssh_0.9.6": ("libssh", 0, 9, 6, None, None),
}

# Zeek's Site::private_address_space (tapir's default site.local_nets).
LOCAL = [ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
    "127.0.0.0/8", "fc00::/7", "fe80::/10", "::1/128")]


def local(a):
    ip = ipaddress.ip_address(a)
    return any(ip in n for n in LOCAL)


def check(what, got, want):
    global failures, passes
    if got == want:
        passes += 1
        return
    failures += 1
    print("FAIL %s:\n  tapir    %r\n  expected %r" % (what, got, want))


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def run_tapir(tapir, pcap, out, extra=()):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    r = subprocess.run([tapir, "read", "-q", "-o", out, *extra, pcap],
                       capture_output=True, text=True, check=False)
    if r.returncode not in (0, 1):
        global failures
        failures += 1
        print("FAIL %s: tapir read exited %d: %s" %
              (pcap, r.returncode, r.stderr.strip()))


def tshark_fields(pcap, dfilter, fields, occurrence="l", extra=()):
    """Rows of tshark's fields; the last occurrence of each (the inner
    headers of a tunnelled packet), or all of them joined by \x1f."""
    # An HTTP message is dissected where its header ends (as Zeek's
    # http_header events come), not where its body does.
    cmd = ["tshark", "-r", pcap, "-o", "http.desegment_body:FALSE",
           "-Y", dfilter, "-T", "fields",
           "-E", "occurrence=" + occurrence, "-E", "separator=\t",
           "-E", "aggregator=\x1f", *extra]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True,
                         check=False).stdout
    return [line.split("\t") for line in out.splitlines()]


def usec(t):
    return round(float(t) * 1e6)


def norm_ip(a):
    return str(ipaddress.ip_address(a))


# ---- Zeek's rules, for the expected records --------------------------------

def zeek_sub_first(pattern, s):
    """Zeek's sub(): the first offset where the pattern matches a prefix,
    its longest match there, removed once ('^' matches at every offset)."""
    rx = re.compile(pattern.lstrip("^"))
    for i in range(len(s)):
        m = rx.match(s, i)
        if m and m.end() > i:
            return s[:i] + s[m.end():]
    return s


def ssh_clean(banner, client):
    return zeek_sub_first(r"^SSH[0-9.\-]+" if client else r"SSH[0-9.\-]{2,}",
                          banner)


def register(sightings):
    """Zeek's Software::register over sightings (ts, host, host_p, type,
    unparsed) in time order: the records it logs."""
    tracked = {}
    recs = []
    for ts, host, port, typ, unparsed in sorted(sightings):
        p = PARSED.get(unparsed)
        if p is None:
            global failures
            failures += 1
            print("FAIL no expected parse for %r (add it to PARSED)" %
                  unparsed)
            continue
        name, ver = p[0], p[1:]
        ts_set = tracked.setdefault(host, {})
        if ts_set.get(name) == ver:
            continue
        ts_set[name] = ver
        recs.append((ts, host, port, typ, name) + ver + (unparsed,))
    return sorted(recs)


def software_records(path):
    out = []
    for r in read_log(path):
        out.append((usec(r["ts"]), r["host"], r.get("host_p"),
                    r["software_type"], r["name"], r.get("version.major"),
                    r.get("version.minor"), r.get("version.minor2"),
                    r.get("version.minor3"), r.get("version.addl"),
                    r["unparsed_version"]))
    return sorted(out)


# ---- tracegen ---------------------------------------------------------------

def handshakes(pcap):
    """Per TCP stream, the originator's first SYN and the responder's first
    SYN-ACK after it: (syn-ack time, orig, resp, resp port)."""
    rows = tshark_fields(pcap, "tcp.flags.syn==1",
                         ["frame.time_epoch", "ip.src", "ipv6.src", "ip.dst",
                          "ipv6.dst", "tcp.srcport", "tcp.dstport",
                          "tcp.flags", "tcp.stream"])
    syn = {}
    done = {}
    for t, s4, s6, d4, d6, sp, dp, fl, st in rows:
        src, dst = norm_ip(s6 or s4), norm_ip(d6 or d4)
        flags = int(fl, 16)
        if not flags & 0x10:
            syn.setdefault(st, (src, int(sp), dst, int(dp)))
        elif st in syn and st not in done:
            o, op, r, rp = syn[st]
            if (src, int(sp), dst, int(dp)) == (r, rp, o, op):
                done[st] = (usec(t), o, r, rp)
    return list(done.values())


def udp_answered(pcap):
    """UDP conversations whose responder sent a datagram: (resp, port).
    The inner UDP header of a tunnelled packet is the last of the frame's
    (a frame with one is TCP inside the tunnel's UDP, or not tunnelled)."""
    rows = tshark_fields(pcap, "udp", ["frame.protocols", "ip.src",
                                       "ipv6.src", "ip.dst", "ipv6.dst",
                                       "udp.srcport", "udp.dstport"])
    first = {}
    answered = set()
    for protos, s4, s6, d4, d6, sp, dp in rows:
        if ":tcp" in protos or protos.endswith(":vxlan") or \
                protos.count(":udp") < 2 and ":vxlan" in protos:
            continue
        src, dst = norm_ip(s6 or s4), norm_ip(d6 or d4)
        a, b = (src, int(sp)), (dst, int(dp))
        key = tuple(sorted([a, b]))
        if key not in first:
            first[key] = a
        elif first[key] != a:
            answered.add(a)
    return answered


def truth_case(tapir, shared, work):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import run as pcap_run
    made = pcap_run.tracegen_capture(
        shared, work, "inventory-truth",
        ["--flows", "500", "--udp-flows", "200", "--duration", "20",
         "--seed", "23", "--encap", "vxlan", "--mirror-both-sides",
         "--retrans-share", "0.01", "--ssh-bruteforce=10", "--dir-enum=40",
         "--dns-tunnel=30", "--beacon=5"])
    if not made:
        print("SKIP: tracegen did not build")
        return SKIP
    pcap, tjson = made
    with open(tjson) as f:
        truth = json.load(f)
    outs = {}
    for j in (1, 2):
        outs[j] = os.path.join(work, "inventory-truth-j%d" % j)
        run_tapir(tapir, pcap, outs[j], ["-j", str(j)])
    out = outs[1]

    # known_hosts
    hs = handshakes(pcap)
    want = {}
    for ts, o, r, _ in hs:
        for h in (o, r):
            if local(h):
                want[h] = min(want.get(h, ts), ts)
    got = {}
    for rec in read_log(os.path.join(out, "known_hosts.log")):
        if rec["host"] in got:
            check("known_hosts %s logged once" % rec["host"], 2, 1)
        got[rec["host"]] = usec(rec["ts"])
    check("known_hosts hosts", sorted(got), sorted(want))
    check("known_hosts times", got, want)

    # known_services
    conns = {}
    for c in read_log(os.path.join(out, "conn.log")):
        conns.setdefault((c["id.resp_h"], c["id.resp_p"], c["proto"]),
                         set()).add(c.get("service", ""))
    want = set()
    for _, o, r, rp in hs:
        if local(r):
            for s in conns.get((r, rp, "tcp"), {""}):
                want.add((r, rp, "tcp", s))
    for r, rp in udp_answered(pcap):
        if local(r):
            for s in conns.get((r, rp, "udp"), {""}):
                want.add((r, rp, "udp", s))
    got = set()
    for rec in read_log(os.path.join(out, "known_services.log")):
        key = (rec["host"], rec["port_num"], rec["port_proto"],
               ",".join(rec["service"]))
        if key in got:
            check("known_services %r logged once" % (key,), 2, 1)
        got.add(key)
    check("known_services", sorted(got), sorted(want))

    # software
    sightings = []
    for t in truth["flows"]:
        if t.get("app") != "ssh":
            continue
        ssh = t["ssh"]
        # Only banners tshark saw on the wire count (a flow may end first).
        if local(t["client"]) and ssh.get("client_banner"):
            sightings.append(("ssh-c", t["client"], t["client_port"],
                              ssh["client_banner"]))
        if local(t["server"]) and ssh.get("server_banner"):
            sightings.append(("ssh-s", t["server"], t["server_port"],
                              ssh["server_banner"]))
    wire = {}
    for row in tshark_fields(pcap, "ssh.protocol && !tcp.analysis.retransmission",
                             ["frame.time_epoch", "ip.src", "ipv6.src",
                              "tcp.srcport", "ssh.protocol"]):
        t, s4, s6, sp, proto = row
        wire.setdefault((norm_ip(s6 or s4), int(sp), proto), usec(t))
    sw = []
    for kind, host, port, banner in sightings:
        ts = wire.get((host, port, banner))
        check("ssh banner %s:%d %r on the wire" % (host, port, banner),
              ts is not None, True)
        if ts is None:
            continue
        client = kind == "ssh-c"
        sw.append((ts, host, None if client else port,
                   "SSH::CLIENT" if client else "SSH::SERVER",
                   ssh_clean(banner, client)))
    for row in tshark_fields(pcap, "(http.user_agent || http.server) && "
                             "!tcp.analysis.retransmission",
                             ["frame.time_epoch", "ip.src", "ipv6.src",
                              "tcp.srcport", "http.user_agent",
                              "http.server"]):
        t, s4, s6, sp, ua, server = row
        host = norm_ip(s6 or s4)
        if not local(host):
            continue
        if ua:
            sw.append((usec(t), host, None, "HTTP::BROWSER", ua))
        if server:
            sw.append((usec(t), host, int(sp), "HTTP::SERVER", server))
    want = register(sw)
    got = software_records(os.path.join(out, "software.log"))
    check("software records", len(got), len(want))
    for g, w in zip(got, want):
        check("software record", g, w)
    kinds = {r[3] for r in want}
    check("software types present", sorted(kinds),
          ["HTTP::BROWSER", "HTTP::SERVER", "SSH::CLIENT", "SSH::SERVER"])

    # the same records for any -j
    for log in ("known_hosts", "known_services", "software", "known_certs"):
        lines = []
        for j in (1, 2):
            p = os.path.join(outs[j], log + ".log")
            lines.append(sorted(open(p).read().splitlines())
                         if os.path.exists(p) else [])
        check("%s.log the same for -j 1 and -j 2" % log, lines[1], lines[0])
        print("%s.log: %d records" % (log, len(lines[0])))
    return 0


# ---- corpus -----------------------------------------------------------------

def corpus_case(tapir, shared, work):
    allnets = ["--set", "site.local_nets=0.0.0.0/0 ::/0"]
    for proto in ("http", "ssh", "tls"):
        for pcap in sorted(glob.glob(os.path.join(
                shared, "corpus", "protocols", proto, "*.pcap"))):
            name = os.path.basename(pcap)
            out = os.path.join(work, "inventory-corpus", name)
            run_tapir(tapir, pcap, out, allnets)
            got = {(r["host"], r["software_type"], r["unparsed_version"])
                   for r in read_log(os.path.join(out, "software.log"))}
            want = set()
            if proto == "http":
                for t, s4, s6, ua, server in tshark_fields(
                        pcap, "http.user_agent || http.server",
                        ["frame.time_epoch", "ip.src", "ipv6.src",
                         "http.user_agent", "http.server"]):
                    host = norm_ip(s6 or s4)
                    if ua:
                        want.add((host, "HTTP::BROWSER", ua))
                    if server:
                        want.add((host, "HTTP::SERVER", server))
                # tshark has no field of its own for X-Powered-By.
                for s4, s6, lines in tshark_fields(
                        pcap, "http.response", ["ip.src", "ipv6.src",
                                                "http.response.line"], "a"):
                    host = norm_ip((s6 or s4).split("\x1f")[-1])
                    for line in lines.split("\x1f"):
                        # tshark's fields show the CR LF escaped.
                        if line.endswith("\\r\\n"):
                            line = line[:-4]
                        k, _, v = line.partition(":")
                        if k.strip().lower() == "x-powered-by":
                            want.add((host, "HTTP::APPSERVER",
                                      v.strip(" \t\r\n")))
            elif proto == "ssh":
                # SSH on other ports than 22 is decoded as SSH too (tapir
                # finds it by its banner).
                ports = {min(int(sp), int(dp)) for sp, dp in tshark_fields(
                    pcap, 'tcp.payload[0:4] == "SSH-"',
                    ["tcp.srcport", "tcp.dstport"])}
                dec = []
                for port in sorted(ports - {22}):
                    dec += ["-d", "tcp.port==%d,ssh" % port]
                for s4, s6, sp, dp, banner in tshark_fields(
                        pcap, "ssh.protocol",
                        ["ip.src", "ipv6.src", "tcp.srcport", "tcp.dstport",
                         "ssh.protocol"], extra=dec):
                    host = norm_ip(s6 or s4)
                    client = int(sp) > int(dp)
                    want.add((host, "SSH::CLIENT" if client
                              else "SSH::SERVER", ssh_clean(banner, client)))
            if proto in ("http", "ssh"):
                check("%s software (host, type, unparsed) within tshark's" %
                      name, sorted(got - want), [])
                check("%s software hosts and types" % name,
                      sorted({g[:2] for g in got}),
                      sorted({w[:2] for w in want}))
            if proto == "tls":
                x509 = {(r.get("certificate.subject"),
                         r.get("certificate.issuer"),
                         r.get("certificate.serial"))
                        for r in read_log(os.path.join(out, "x509.log"))
                        if r.get("host_cert") and not r.get("client_cert")}
                kc = read_log(os.path.join(out, "known_certs.log"))
                check("%s known_certs = x509.log's server certificates" %
                      name, sorted({(r.get("subject"),
                                     r.get("issuer_subject"),
                                     r.get("serial")) for r in kc}),
                      sorted(x509))
                senders = {(norm_ip(s6 or s4), int(sp)) for s4, s6, sp in
                           tshark_fields(pcap, "tls.handshake.type == 11",
                                         ["ip.src", "ipv6.src",
                                          "tcp.srcport"])}
                got_senders = {(r["host"], r["port_num"]) for r in kc}
                check("%s known_certs hosts and ports within tshark's "
                      "Certificate senders" % name,
                      sorted(got_senders - senders), [])
                if x509:
                    check("%s known_certs present" % name, bool(kc), True)
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tapir", required=True)
    ap.add_argument("--shared", default=os.environ.get("TAPIR_SHARED", ""))
    ap.add_argument("--work", default="/tmp/tapir-inventory-test")
    ap.add_argument("case", choices=["truth", "corpus"])
    a = ap.parse_args()
    if not a.shared or not os.path.isdir(os.path.join(a.shared, "corpus")):
        print("SKIP: no shared corpus at %r (set TAPIR_SHARED)" % a.shared)
        return SKIP
    if not shutil.which("tshark"):
        print("SKIP: tshark is not installed")
        return SKIP
    os.makedirs(a.work, exist_ok=True)
    rc = {"truth": truth_case, "corpus": corpus_case}[a.case](
        a.tapir, a.shared, a.work)
    if rc == SKIP:
        return SKIP
    print("%d passed, %d failed" % (passes, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
