#!/usr/bin/env python3
"""The TLS, X.509 and SSH parsers on the shared corpus, field by field
against independent accounts of the same captures.

    app.py --feed BUILD/tests/pcap/app-feed [--shared DIR] [--work DIR] CASE

Every TCP stream of every capture in corpus/protocols/tls (CASE tls) or
corpus/protocols/ssh (CASE ssh) is taken apart by tshark
(`-z follow,tcp,raw,N`: each direction's bytes in order, one line a
segment), fed to the parser by app-feed, and its ssl.log, x509.log or
ssh.log is compared with

  - tshark's own dissection of the capture: JA3, JA3S, SNI, the DER of
    every certificate (whose SHA-256 is the fingerprint), HASSH,
    HASSH-server, the banners and the host key;
  - Arkime's expected session documents (cipher, version, JA3, JA3S, JA4,
    certificate serials, validity, SANs, CNs; HASSH and the host key);
  - ndpiReader's expected output (JA3C, JA3S, JA4, HASSH-C, HASSH-S);
  - `openssl x509` on the same DER for subject, issuer and serial.

CASE truth: tracegen's TLS, SSH and ssh-bruteforce flows against its
ground truth (SNI, banners, auth_attempts, auth_success).

Each check prints PASS, FAIL or EXCEPT (a difference listed in EXCEPTIONS
with its reason; an entry that matches nothing fails as stale).  Exit
status: 0 all passed, 1 a failure, 77 skipped (../shared or tshark absent).
Standard library only.
"""

import argparse
import base64
import glob
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
SKIP = 77

# Where the parser deliberately differs from the reference.  Key: (file
# relative to corpus/protocols, client port, reference, field).
EXCEPTIONS = [
    {"file": "tls/arkime__ssl-selfsign.pcap", "port": 60101,
     "ref": "arkime", "field": "cert0.serial",
     "reason": "Arkime prints the serial's DER content octets, with the "
               "leading 00 that keeps it positive; Zeek (and tapir) print "
               "the integer (i2a_ASN1_INTEGER): B27E45D092B4DDDF"},
    {"file": "tls/zeek__hrr.pcap", "port": 63564,
     "ref": "tshark", "field": "ja3s",
     "reason": "after the HelloRetryRequest tshark takes the server's "
               "records for encrypted and never dissects the second "
               "ServerHello, so its only JA3S is the HRR's; tapir's is the "
               "ServerHello that completes the handshake (the one Zeek's "
               "ssl_server_hello raises last)"},
    {"file": "tls/arkime__tls13.pcap", "port": 62510,
     "ref": "arkime", "field": "version",
     "reason": "TLS 1.3 draft 18 (0x7f12): Arkime writes TLSv1.3-draft-18, "
               "Zeek's version_strings TLSv13-draft18"},
]


class Result:
    def __init__(self):
        self.passed = self.failed = self.excepted = 0
        self.used = set()

    def check(self, ok, label, detail="", key=None):
        if not ok and key is not None:
            for i, e in enumerate(EXCEPTIONS):
                if (e["file"], e["port"], e["ref"], e["field"]) == key:
                    self.used.add(i)
                    self.excepted += 1
                    print("EXCEPT %s: %s (%s)" % (label, detail,
                                                   e["reason"]))
                    return
        if ok:
            self.passed += 1
            print("PASS %s" % label)
        else:
            self.failed += 1
            print("FAIL %s: %s" % (label, detail))


def sh(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, **kw)


def tshark_fields(pcap, fields, yfilter=None, decode=()):
    """One dict per frame; decode: (port, dissector) pairs for servers on
    ports tshark does not know the protocol of."""
    cmd = ["tshark", "-n", "-r", pcap, "-T", "fields", "-E",
           "separator=\t", "-E", "occurrence=a", "-E", "aggregator=|"]
    for port, proto in decode:
        cmd += ["-d", "tcp.port==%d,%s" % (port, proto)]
    if yfilter:
        cmd += ["-Y", yfilter]
    for f in fields:
        cmd += ["-e", f]
    out = sh(cmd).stdout.decode(errors="replace")
    rows = []
    for line in out.splitlines():
        parts = line.split("\t")
        parts += [""] * (len(fields) - len(parts))
        rows.append(dict(zip(fields, parts)))
    return rows


def split_endpoint(s):
    """'10.0.0.1:443' or '[2001:db8::1]:443' -> (addr, port)."""
    m = re.match(r"^\[(.*)\]:(\d+)$", s) or re.match(r"^(.*):(\d+)$", s)
    return m.group(1), int(m.group(2))


def follow(pcap, stream, first_ns, path):
    """Write the app-feed stream file of one TCP stream; returns the
    (orig, resp) endpoints, or None for an empty stream."""
    out = sh(["tshark", "-n", "-r", pcap, "-q", "-z",
              "follow,tcp,raw,%d" % stream]).stdout.decode()
    nodes = {}
    lines = []
    for line in out.splitlines():
        m = re.match(r"^Node (\d): (.*)$", line)
        if m:
            nodes[int(m.group(1))] = split_endpoint(m.group(2))
            continue
        if re.match(r"^\t?[0-9a-f]+$", line):
            d = "r" if line.startswith("\t") else "o"
            lines.append("%s %d %s" % (d, first_ns, line.strip()))
    if 0 not in nodes or 1 not in nodes or not lines:
        return None
    with open(path, "w") as f:
        f.write("flow %s %d %s %d %d\n" % (nodes[0][0], nodes[0][1],
                                           nodes[1][0], nodes[1][1],
                                           first_ns))
        f.write("\n".join(lines) + "\n")
    return nodes[0], nodes[1]


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def run_streams(args, pcap, parser, res):
    """{client port: {"orig":, "resp":, "log": [...], "x509": [...],
    "weird": [...]}} for every stream of pcap."""
    rows = tshark_fields(pcap, ["tcp.stream", "frame.time_epoch"], "tcp")
    first = {}
    for r in rows:
        if r["tcp.stream"] and r["tcp.stream"] not in first:
            first[r["tcp.stream"]] = int(round(float(
                r["frame.time_epoch"]) * 1e9))
    got = {}
    for s, ts in sorted(first.items(), key=lambda kv: int(kv[0])):
        work = os.path.join(args.work, "%s-%s" % (
            os.path.basename(pcap), s))
        os.makedirs(work, exist_ok=True)
        stream_file = os.path.join(work, "stream.txt")
        ends = follow(pcap, int(s), ts, stream_file)
        if ends is None:
            continue
        p = sh([args.feed, parser, stream_file, work])
        res.check(p.returncode == 0, "app-feed %s %s stream %s" % (
            parser, os.path.basename(pcap), s),
            p.stderr.decode(errors="replace"))
        weird = []
        wp = os.path.join(work, "weird.txt")
        if os.path.exists(wp):
            weird = [l.rstrip("\n") for l in open(wp)]
        got[ends[0][1]] = {
            "orig": ends[0], "resp": ends[1], "stream": int(s),
            "log": read_log(os.path.join(work, ("ssl" if parser == "tls"
                                               else "ssh") + ".log")),
            "x509": read_log(os.path.join(work, "x509.log")),
            "weird": weird,
        }
    return got


def cmp(res, rel, port, ref, field, have, want):
    res.check(have == want, "%s :%d %s %s" % (rel, port, ref, field),
              "%s %r, tapir %r" % (ref, want, have),
              key=(rel, port, ref, field))


def arkime_sessions(path):
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        d = json.load(f)
    return {s["body"]["source"]["port"]: s["body"]
            for s in d.get("sessions3", [])
            if "tcp" in s["body"].get("protocol", [])}


def ndpi_flows(path):
    """{client port: {"JA3C":..., "JA4":..., ...}} from ndpiReader's
    expected output."""
    flows = {}
    if not os.path.exists(path):
        return flows
    for line in open(path, errors="replace"):
        m = re.match(r"^\s*\d+\s+TCP (\S+) <-> (\S+) ", line)
        if not m:
            continue
        port = split_endpoint(m.group(1))[1]
        flows[port] = dict(re.findall(
            r"\[(JA3C|JA3S|JA4|HASSH-C|HASSH-S): ([^\]]+)\]", line))
    return flows


def openssl_x509(der):
    """subject, issuer (RFC 2253) and serial of a DER certificate, from the
    openssl command."""
    p = sh(["openssl", "x509", "-inform", "der", "-noout", "-subject",
            "-issuer", "-serial", "-nameopt", "RFC2253"], input=der)
    out = {}
    for line in p.stdout.decode(errors="replace").splitlines():
        k, _, v = line.partition("=")
        out[k.strip()] = v.strip()
    return out


def version_arkime(v):
    return {"SSLv3": "SSLv3", "TLSv1": "TLSv10", "TLSv1.1": "TLSv11",
            "TLSv1.2": "TLSv12", "TLSv1.3": "TLSv13"}.get(v, v)


def check_tls_file(args, res, rel):
    pcap = os.path.join(args.corpus, "protocols", rel)
    got = run_streams(args, pcap, "tls", res)
    base = re.sub(r"\.pcap(ng)?$", "", pcap)
    arkime = arkime_sessions(base + ".arkime-expected.json")
    ndpi = ndpi_flows(pcap + ".nDPI-expected.txt")
    # tshark, per stream: hello fingerprints, SNI, certificates by side.
    ts = tshark_fields(pcap, ["tcp.stream", "tcp.srcport",
                              "tls.handshake.type", "tls.handshake.ja3",
                              "tls.handshake.ja3s",
                              "tls.handshake.extensions_server_name",
                              "tls.handshake.certificate"], "tls",
                      [(g["resp"][1], "tls") for g in got.values()
                       if g["resp"][1] != 443])
    for port, g in sorted(got.items()):
        logs = g["log"]
        res.check(len(logs) == 1, "%s :%d one ssl.log record" % (rel, port),
                  "%d records, weird %s" % (len(logs), g["weird"]))
        if len(logs) != 1:
            continue
        rec = logs[0]
        rows = [r for r in ts if r["tcp.stream"] == str(g["stream"])]
        ja3 = [v for r in rows for v in r["tls.handshake.ja3"].split("|")
               if v]
        ja3s = [v for r in rows for v in r["tls.handshake.ja3s"].split("|")
                if v]
        sni = [v for r in rows
               for v in r["tls.handshake.extensions_server_name"].split("|")
               if v]
        if ja3:
            cmp(res, rel, port, "tshark", "ja3", rec.get("ja3"), ja3[0])
        if ja3s:
            cmp(res, rel, port, "tshark", "ja3s", rec.get("ja3s"), ja3s[-1])
        cmp(res, rel, port, "tshark", "server_name",
            rec.get("server_name"), sni[0] if sni else None)
        certs = {"srv": [], "cli": []}
        for r in rows:
            if not r["tls.handshake.certificate"]:
                continue
            side = "cli" if int(r["tcp.srcport"]) == port else "srv"
            for h in r["tls.handshake.certificate"].split("|"):
                certs[side].append(bytes.fromhex(h.replace(":", "")))
        fps = [hashlib.sha256(c).hexdigest() for c in certs["srv"]]
        cfps = [hashlib.sha256(c).hexdigest() for c in certs["cli"]]
        cmp(res, rel, port, "tshark", "cert_chain_fps",
            rec.get("cert_chain_fps", []), fps)
        cmp(res, rel, port, "tshark", "client_cert_chain_fps",
            rec.get("client_cert_chain_fps", []), cfps)
        cmp(res, rel, port, "tshark", "x509 fingerprints",
            [x["fingerprint"] for x in g["x509"]],
            [hashlib.sha256(c).hexdigest()
             for c in certs["srv"] + certs["cli"]])
        for i, der in enumerate(certs["srv"][:len(g["x509"])]):
            o = openssl_x509(der)
            x = g["x509"][i]
            cmp(res, rel, port, "openssl", "cert%d.subject" % i,
                x.get("certificate.subject"), o.get("subject"))
            cmp(res, rel, port, "openssl", "cert%d.issuer" % i,
                x.get("certificate.issuer"), o.get("issuer"))
            cmp(res, rel, port, "openssl", "cert%d.serial" % i,
                x.get("certificate.serial"), o.get("serial"))
            if i == 0:
                cmp(res, rel, port, "openssl", "subject",
                    rec.get("subject"), o.get("subject"))
                cmp(res, rel, port, "openssl", "issuer",
                    rec.get("issuer"), o.get("issuer"))
        a = arkime.get(port)
        if a and "tls" in a:
            t = a["tls"]
            for f in ("ja3", "ja3s", "ja4"):
                if f in t:
                    cmp(res, rel, port, "arkime", f, rec.get(f), t[f][0])
            if "cipher" in t:
                cmp(res, rel, port, "arkime", "cipher", rec.get("cipher"),
                    t["cipher"][0])
            if "version" in t:
                cmp(res, rel, port, "arkime", "version",
                    rec.get("version"), version_arkime(t["version"][0]))
            # Arkime lists certificates by its own order; match by serial.
            # Arkime counts the server's certificates only.
            ak = a.get("cert", [])
            cmp(res, rel, port, "arkime", "certCnt",
                len([x for x in g["x509"] if not x.get("client_cert")]),
                a.get("certCnt", 0))
            for i, c in enumerate(ak):
                # Matched on the integer: Arkime keeps the DER's leading
                # 00 octet (the serial text itself is compared below).
                x = [x for x in g["x509"]
                     if x.get("certificate.serial", "").lower() ==
                     re.sub(r"^(00)+(?=.)", "", c["serial"].lower())]
                if not x:
                    cmp(res, rel, port, "arkime", "cert%d serial known" % i,
                        [y.get("certificate.serial", "").lower()
                         for y in g["x509"]], c["serial"])
                    continue
                cmp(res, rel, port, "arkime", "cert%d.serial" % i,
                    x[0]["certificate.serial"].lower(), c["serial"])
                x = x[0]
                cmp(res, rel, port, "arkime", "cert%d.not_valid_before" % i,
                    int(round(x["certificate.not_valid_before"] * 1000)),
                    c["notBefore"])
                cmp(res, rel, port, "arkime", "cert%d.not_valid_after" % i,
                    int(round(x["certificate.not_valid_after"] * 1000)),
                    c["notAfter"])
                cmp(res, rel, port, "arkime", "cert%d.san.dns" % i,
                    x.get("san.dns", []), c.get("alt", []))
                cmp(res, rel, port, "arkime", "cert%d.key_alg" % i,
                    x.get("certificate.key_alg"), c["publicAlgorithm"])
                for k, fld in (("subjectCN", "certificate.subject"),
                               ("issuerCN", "certificate.issuer")):
                    for cn in c.get(k, []):
                        names = [p[3:].lower() for p in
                                 re.split(r"(?<!\\),", x.get(fld, ""))
                                 if p.startswith("CN=")]
                        cmp(res, rel, port, "arkime",
                            "cert%d.%s" % (i, k), cn in names, True)
        n = ndpi.get(port)
        if n:
            for nf, f in (("JA3C", "ja3"), ("JA3S", "ja3s"), ("JA4", "ja4")):
                if nf in n:
                    cmp(res, rel, port, "ndpi", f, rec.get(f), n[nf])


def check_ssh_file(args, res, rel):
    pcap = os.path.join(args.corpus, "protocols", rel)
    got = run_streams(args, pcap, "ssh", res)
    base = re.sub(r"\.pcap(ng)?$", "", pcap)
    arkime = arkime_sessions(base + ".arkime-expected.json")
    ndpi = ndpi_flows(pcap + ".nDPI-expected.txt")
    ts = tshark_fields(pcap, ["tcp.stream", "tcp.srcport", "ssh.protocol",
                              "ssh.kex.hassh", "ssh.kex.hasshserver",
                              "ssh.host_key.type", "ssh.host_key.length",
                              "ssh.host_key.data"], "ssh",
                      [(g["resp"][1], "ssh") for g in got.values()
                       if g["resp"][1] != 22])
    for port, g in sorted(got.items()):
        logs = g["log"]
        res.check(len(logs) == 1, "%s :%d one ssh.log record" % (rel, port),
                  "%d records, weird %s" % (len(logs), g["weird"]))
        if len(logs) != 1:
            continue
        rec = logs[0]
        rows = [r for r in ts if r["tcp.stream"] == str(g["stream"])]

        def first(field, cond=lambda r: True):
            for r in rows:
                if r[field] and cond(r):
                    return r[field].split("|")[0]
            return None
        cli = lambda r: int(r["tcp.srcport"]) == port
        srv = lambda r: int(r["tcp.srcport"]) != port
        cmp(res, rel, port, "tshark", "client", rec.get("client"),
            first("ssh.protocol", cli))
        cmp(res, rel, port, "tshark", "server", rec.get("server"),
            first("ssh.protocol", srv))
        cmp(res, rel, port, "tshark", "hassh", rec.get("hassh"),
            first("ssh.kex.hassh", cli))
        cmp(res, rel, port, "tshark", "hasshServer", rec.get("hasshServer"),
            first("ssh.kex.hasshserver", srv))
        a = arkime.get(port)
        if a and "ssh" in a:
            s = a["ssh"]
            cmp(res, rel, port, "arkime", "hassh", rec.get("hassh"),
                s["hassh"][0])
            cmp(res, rel, port, "arkime", "hasshServer",
                rec.get("hasshServer"), s["hasshServer"][0])
            cmp(res, rel, port, "arkime", "banners",
                sorted([rec.get("client", "").lower(),
                        rec.get("server", "").lower()]),
                sorted(s["version"]))
            if s.get("key"):
                md5 = hashlib.md5(base64.b64decode(s["key"][0])).hexdigest()
                cmp(res, rel, port, "arkime", "host_key",
                    rec.get("host_key"),
                    ":".join(md5[i:i + 2] for i in range(0, 32, 2)))
        n = ndpi.get(port)
        if n:
            for nf, f in (("HASSH-C", "hassh"), ("HASSH-S", "hasshServer")):
                if nf in n:
                    cmp(res, rel, port, "ndpi", f,
                        (rec.get(f) or "").upper(), n[nf])


def build_tracegen(args):
    src = os.path.join(args.shared, "tools", "tracegen")
    if not os.path.exists(os.path.join(src, "tracegen.c")):
        return None
    out = os.path.join(args.work, "tracegen-bin")
    os.makedirs(out, exist_ok=True)
    p = sh(["make", "-s", "-C", out, "-f", os.path.join(src, "Makefile"),
            "--eval", "vpath %.c " + src, "tracegen"])
    return os.path.join(out, "tracegen") if p.returncode == 0 else None


def pcap_tcp_streams(path):
    """The TCP streams of a classic Ethernet pcap (what tracegen writes),
    by client port: {"orig": (ip, port), "resp": (ip, port), "first_ns",
    "items": ["o TS HEX" | "r TS HEX" | "go N" | "gr N"]}.  A small
    reassembler: segments in sequence order as captured, a repeat dropped,
    a hole reported as a gap."""
    import ipaddress
    import struct
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    nano = magic == 0xa1b23c4d
    off = 24
    streams = {}
    while off + 16 <= len(data):
        sec, frac, incl, _ = struct.unpack("<IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        ts = sec * 10**9 + (frac if nano else frac * 1000)
        et = struct.unpack(">H", pkt[12:14])[0]
        if et == 0x0800:
            ihl = (pkt[14] & 15) * 4
            if pkt[23] != 6:
                continue
            src = str(ipaddress.IPv4Address(pkt[26:30]))
            dst = str(ipaddress.IPv4Address(pkt[30:34]))
            tot = struct.unpack(">H", pkt[16:18])[0]
            l4 = 14 + ihl
            end = 14 + tot
        elif et == 0x86dd:
            if pkt[20] != 6:
                continue
            src = str(ipaddress.IPv6Address(pkt[22:38]))
            dst = str(ipaddress.IPv6Address(pkt[38:54]))
            l4 = 54
            end = 54 + struct.unpack(">H", pkt[18:20])[0]
        else:
            continue
        sport, dport, seq = struct.unpack(">HHI", pkt[l4:l4 + 8])
        flags = pkt[l4 + 13]
        payload = pkt[l4 + (pkt[l4 + 12] >> 4) * 4:end]
        key = tuple(sorted([(src, sport), (dst, dport)]))
        st = streams.get(key)
        if st is None:
            if not (flags & 0x02) or (flags & 0x10):
                continue        # starts with the client's SYN
            st = streams[key] = {"orig": (src, sport), "resp": (dst, dport),
                                 "first_ns": ts, "items": [], "next": {}}
        d = "o" if (src, sport) == st["orig"] else "r"
        if flags & 0x02:
            st["next"][d] = (seq + 1) & 0xffffffff
            continue
        if not payload or d not in st["next"]:
            continue
        rel = (seq - st["next"][d]) & 0xffffffff
        if rel >= 1 << 31:      # before what was delivered: trim it
            cut = (1 << 32) - rel
            if cut >= len(payload):
                continue
            payload = payload[cut:]
            rel = 0
        if rel:
            st["items"].append("g%s %d" % (d, rel))
        st["items"].append("%s %d %s" % (d, ts, payload.hex()))
        st["next"][d] = (st["next"][d] + rel + len(payload)) & 0xffffffff
    return {st["orig"][1]: st for st in streams.values()}


def feed_stream(args, st, parser, name):
    work = os.path.join(args.work, name)
    os.makedirs(work, exist_ok=True)
    path = os.path.join(work, "stream.txt")
    with open(path, "w") as f:
        f.write("flow %s %d %s %d %d\n" % (st["orig"][0], st["orig"][1],
                                           st["resp"][0], st["resp"][1],
                                           st["first_ns"]))
        f.write("\n".join(st["items"]) + "\n")
    p = sh([args.feed, parser, path, work])
    log = read_log(os.path.join(work, ("ssl" if parser == "tls" else "ssh") +
                                ".log"))
    return p.returncode, log


def case_truth(args, res):
    tg = build_tracegen(args)
    if not tg:
        print("SKIP: tracegen is absent (%s/tools/tracegen)" % args.shared)
        return SKIP
    pcap = os.path.join(args.work, "mix.pcap")
    truth = os.path.join(args.work, "mix.json")
    p = sh([tg, "--flows", "120", "--udp-flows", "0", "--duration", "5",
            "--seed", "4", "--tls-share", "0.4", "--ssh-share", "0.3",
            "--retrans-share", "0.05", "--ssh-bruteforce=8", "--beacon=1",
            "-o", pcap, "--truth", truth])
    if p.returncode != 0:
        res.check(False, "tracegen", p.stderr.decode(errors="replace"))
        return None
    with open(truth) as f:
        t = json.load(f)
    streams = pcap_tcp_streams(pcap)
    n = {"tls": 0, "ssh": 0}
    for fl in t["flows"]:
        app = fl.get("app")
        if app not in ("tls", "ssh"):
            continue
        port = fl["client_port"]
        label = "truth %s :%d" % (app, port)
        st = streams.get(port)
        if st is None:
            res.check(False, label, "stream not found in the capture")
            continue
        rc, logs = feed_stream(args, st, app, "%s-%d" % (app, port))
        if rc != 0 or len(logs) != 1:
            res.check(False, label, "app-feed exit %d, %d records" % (
                rc, len(logs)))
            continue
        rec = logs[0]
        n[app] += 1
        if app == "tls":
            res.check(rec.get("server_name") == fl["tls"]["sni"],
                      label + " server_name", "truth %r, tapir %r" % (
                          fl["tls"]["sni"], rec.get("server_name")))
            v = {"1.3": "TLSv13", "1.2": "TLSv12"}.get(fl["tls"]["version"])
            res.check(rec.get("version") == v, label + " version",
                      "truth %r, tapir %r" % (v, rec.get("version")))
            res.check(rec.get("established") is True,
                      label + " established", repr(rec))
            continue
        s = fl["ssh"]
        res.check(rec.get("client") == s["client_banner"] and
                  rec.get("server") == s["server_banner"],
                  label + " banners", "truth %r/%r, tapir %r/%r" % (
                      s["client_banner"], s["server_banner"],
                      rec.get("client"), rec.get("server")))
        if "auth_attempts" not in s:
            continue
        # Zeek's inference reads the sizes of encrypted packets and errs
        # on the side of caution: the first failure only learns the size
        # of a USERAUTH_FAILURE, and with AES-GCM (tracegen's cipher) a
        # SERVICE_ACCEPT and a failure are the same size.  So it never
        # claims more attempts than there were, nor a success that was
        # not; it may claim fewer, or leave auth_success unset.
        res.check(rec.get("auth_attempts", 0) <= s["auth_attempts"],
                  label + " auth_attempts <= truth", "truth %r, tapir %r" %
                  (s["auth_attempts"], rec.get("auth_attempts")))
        res.check(rec.get("auth_success") in (None, s["auth_success"]),
                  label + " auth_success unset or truth's",
                  "truth %r, tapir %r" % (s["auth_success"],
                                          rec.get("auth_success")))
    res.check(n["tls"] > 0 and n["ssh"] > 0, "truth has TLS and SSH flows",
              str(n))
    return None


CASES = ["tls", "ssh", "truth"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--feed", required=True, help="the app-feed binary")
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(REPO),
                                                     "shared"))
    ap.add_argument("--work", help="scratch folder (default: a temp dir)")
    ap.add_argument("case", choices=CASES)
    args = ap.parse_args()
    args.shared = os.environ.get("TAPIR_SHARED") or args.shared
    args.corpus = os.path.join(args.shared, "corpus")
    if not os.path.isdir(args.corpus):
        print("SKIP: the shared corpus is absent at %s (set TAPIR_SHARED "
              "or --shared)" % args.shared)
        return SKIP
    if shutil.which("tshark") is None or shutil.which("openssl") is None:
        print("SKIP: tshark or openssl is not installed (scripts/deps.sh)")
        return SKIP
    if args.work is None:
        args.work = tempfile.mkdtemp(prefix="tapir-app-")
    args.work = os.path.abspath(os.path.join(args.work, "app-" + args.case))
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    res = Result()
    files = []
    if args.case == "truth":
        if case_truth(args, res) == SKIP:
            return SKIP
    else:
        folder = os.path.join(args.corpus, "protocols", args.case)
        for p in sorted(glob.glob(os.path.join(folder, "*.pcap")) +
                        glob.glob(os.path.join(folder, "*.pcapng"))):
            rel = os.path.relpath(p, os.path.join(args.corpus, "protocols"))
            files.append(rel)
            (check_tls_file if args.case == "tls" else check_ssh_file)(
                args, res, rel)
    for i, e in enumerate(EXCEPTIONS):
        if i not in res.used and e["file"] in files:
            res.check(False, "exception still needed: %s :%d %s %s" % (
                e["file"], e["port"], e["ref"], e["field"]),
                "it matched no difference")
    if res.excepted:
        print("%d differences excepted (see EXCEPTIONS in %s)" % (
            res.excepted, os.path.relpath(__file__, REPO)))
    print("%d passed, %d failed" % (res.passed, res.failed))
    return 1 if res.failed else 0


if __name__ == "__main__":
    sys.exit(main())
