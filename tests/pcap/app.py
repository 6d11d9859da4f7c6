#!/usr/bin/env python3
"""http.log and dns.log of `tapir read` against tshark's decode of the same
captures, field by field.

    app.py --tapir BUILD/tapir [--shared DIR] [--work DIR] CASE

Cases:
  http       every capture in corpus/protocols/http: one http.log record per
             request tshark sees, method, uri, host, version, user_agent,
             referrer, origin, username, status_code/msg, info_code/msg,
             request/response body lengths, proxied.
  dns        every capture in corpus/protocols/dns: one dns.log record per
             query/response pair, trans_id, query, qclass, qtype, rcode,
             AA TC RD RA Z, answers and TTLs (answer section), rtt,
             rejected, proto.
  truth      a tracegen capture (VXLAN, both sides mirrored, retransmissions,
             an HTTP/DNS/TLS/SSH mix and the attack scenarios) against
             tracegen's ground truth: every HTTP transaction (method, host,
             uri, status, body lengths) and DNS query (id, qname, qtype,
             rcode, number of answers), and conn.log's service of every
             HTTP, DNS, TLS and SSH flow.
  ndpi       every capture in corpus/protocols: conn.log's service of every
             TCP and UDP flow that ndpiReader (the same nDPI 4.2) classifies
             by DPI, against ndpiReader's protocol in Zeek's names (the map
             of src/app/ndpi.c); flows it only guesses by port must have no
             service in tapir.
  malformed  every capture of the malformed corpus and the DNS/HTTP
             captures with each payload cut to half: read without
             a crash, and a cut DNS message gives a weird.log line.

The corpus has no Zeek http.log/dns.log baseline for these captures, so the
peer is tshark (the same one the conn.log tests use).  Where a field
differs from tshark on purpose the difference is written in DIFFERENCES
below and applied to tshark's value before comparing; the run prints each.
Exit status: 0 all passed, 1 a failure, 77 skipped (no shared corpus or no
tshark).  Standard library only.
"""

import argparse
import glob
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import urllib.parse

SKIP = 77

# Fields that differ from tshark's rendering on purpose, and why.  Each is
# applied to tshark's value before the comparison.
DIFFERENCES = {
    "http.uri": "Zeek logs the URI with %XX escapes decoded "
                "(unescape_URI); tshark shows it as sent",
    "http.host": "Zeek drops a :port from the Host header; tshark keeps it",
    "http.version": "Zeek's version is the reply's once there is one (the "
                    "request's otherwise), without 'HTTP/'",
    "http.status_msg": "tshark's phrase is what follows the code; Zeek "
                       "trims spaces around it too",
    "dns.TTLs": "Zeek's TTLs are intervals (seconds); tshark shows whole "
                "seconds",
    "dns.answers": "Zeek logs the answer section only, MX and SRV as their "
                   "target name, SOA as its primary server, TXT as 'TXT "
                   "<len> <text>', other types as '<unknown type=N>'; "
                   "tshark's per-type fields are mapped to that form",
    "dns.Z": "Zeek's Z is the three bits after RA (Z, AD and CD of RFC "
             "4035); tshark splits them into three flags",
}

# Fields tshark has no value for: not compared, and why.
NOT_COMPARED = {
    "http.response_body_len (close-delimited)":
        "tshark gives no length for a body that ends with the connection; "
        "the unit of that case is the capture's own payload count below",
    "http.tags": "Zeek's tags come from its policy scripts; always empty",
}

failures = 0
passes = 0


def check(what, got, want):
    global failures, passes
    if got == want:
        passes += 1
        return
    failures += 1
    print("FAIL %s: tapir %r, tshark %r" % (what, got, want))


def tshark_json(path, dfilter):
    out = subprocess.run(
        ["tshark", "-r", path, "-T", "json", "--no-duplicate-keys",
         "-o", "tcp.desegment_tcp_streams:TRUE",
         "-o", "http.desegment_body:TRUE", "-Y", dfilter],
        capture_output=True, text=True, check=False).stdout
    try:
        return json.loads(out or "[]")
    except json.JSONDecodeError:
        return []


def as_list(v):
    if v is None:
        return []
    return v if isinstance(v, list) else [v]


def read_log(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.startswith("{")]


def run_tapir(tapir, pcap, out):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    r = subprocess.run([tapir, "read", "-q", "-o", out, pcap],
                       capture_output=True, text=True, check=False)
    if r.returncode not in (0, 1):
        global failures
        failures += 1
        print("FAIL %s: tapir read exited %d: %s" %
              (pcap, r.returncode, r.stderr.strip()))
    return r.returncode


def walk(d, key):
    """Every value of key anywhere under d."""
    if isinstance(d, dict):
        for k, v in d.items():
            if k == key:
                yield from as_list(v)
            else:
                yield from walk(v, key)
    elif isinstance(d, list):
        for x in d:
            yield from walk(x, key)


def first(d, key):
    for v in walk(d, key):
        return v
    return None


# ---- HTTP ------------------------------------------------------------------

def follow_server(pcap, stream):
    """The responder's bytes of TCP stream `stream`, as tshark follows it."""
    out = subprocess.run(["tshark", "-r", pcap, "-q", "-z",
                          "follow,tcp,raw,%s" % stream],
                         capture_output=True, text=True, check=False).stdout
    data = bytearray()
    started = False
    for line in out.splitlines():
        if line.startswith("Node 1:"):
            started = True
            continue
        if not started or line.startswith("="):
            continue
        if line.startswith("\t"):
            data += bytes.fromhex(line.strip())
    return bytes(data)


def header(lines, name):
    for line in lines:
        k, _, v = line.partition(":")
        if k.strip().lower() == name:
            return v.strip()
    return None


PROXY = ["forwarded", "x-forwarded-for", "x-forwarded-from", "client-ip",
         "via", "xroxy-connection", "proxy-connection"]


def http_case(tapir, shared, work):
    pcaps = sorted(glob.glob(os.path.join(shared, "corpus/protocols/http/*.pcap")))
    pcaps.append(os.path.join(shared, "corpus/ipv6/zeek__ipv6-http-atomic-frag.pcap"))
    for pcap in pcaps:
        name = os.path.basename(pcap)
        out = os.path.join(work, "app-http", name)
        run_tapir(tapir, pcap, out)
        recs = read_log(os.path.join(out, "http.log"))
        pkts = tshark_json(pcap, "http")
        reqs, resps = {}, []
        for p in pkts:
            l = p["_source"]["layers"]
            h = l.get("http")
            if not isinstance(h, dict):
                continue
            num = int(l["frame"]["frame.number"])
            ip = l.get("ip") or l.get("ipv6")
            src = ip.get("ip.src") or ip.get("ipv6.src")
            port = int(l["tcp"]["tcp.srcport"])
            if "http.request" in h:
                reqs[num] = {"h": h, "src": src, "port": port,
                             "stream": l["tcp"]["tcp.stream"],
                             "dport": int(l["tcp"]["tcp.dstport"])}
            if "http.response" in h:
                resps.append((num, h))
        # tapir's records by (client port, depth).
        by_key = {}
        for r in recs:
            by_key.setdefault(r["id.orig_p"], []).append(r)
        streams = {}
        for num in sorted(reqs):
            streams.setdefault(reqs[num]["stream"], []).append(num)
        resp_of = {}
        info_of = {}
        for num, h in resps:
            code = int(first(h, "http.response.code"))
            rin = first(h, "http.request_in")
            if rin is None:
                continue
            if 100 <= code < 200:
                info_of[int(rin)] = h
            else:
                resp_of[int(rin)] = h
        # A 1xx that tshark could not link goes with the next request.
        for num, h in resps:
            code = int(first(h, "http.response.code"))
            if 100 <= code < 200 and first(h, "http.request_in") is None:
                later = [n for n in sorted(reqs) if n > num]
                earlier = [n for n in sorted(reqs) if n < num]
                pick = earlier[-1] if earlier else (later[0] if later else None)
                if pick is not None:
                    info_of.setdefault(pick, h)
        # Replies to requests the capture does not have: a record of
        # their own (Zeek's too), with the reply's fields only.
        orphans = [h for _, h in resps
                   if first(h, "http.request_in") is None and
                   not 100 <= int(first(h, "http.response.code")) < 200]
        ntshark = sum(len(v) for v in streams.values()) + len(orphans)
        check("%s: http.log records" % name, len(recs), ntshark)
        lone = [r for r in recs if "method" not in r]
        for i, h in enumerate(orphans):
            what = "%s unmatched reply %d" % (name, i + 1)
            if i >= len(lone):
                check(what + " present", False, True)
                continue
            check(what + " status_code", lone[i].get("status_code"),
                  int(first(h, "http.response.code")))
            check(what + " status_msg", lone[i].get("status_msg"),
                  first(h, "http.response.phrase"))
            check(what + " version", lone[i].get("version"),
                  first(h, "http.response.version")[5:])
        for stream, nums in streams.items():
            client = reqs[nums[0]]["port"]
            mine = sorted(by_key.get(client, []), key=lambda r: r["trans_depth"])
            for depth, num in enumerate(nums, 1):
                what = "%s stream %s request %d" % (name, stream, depth)
                if depth > len(mine):
                    check(what + " present", False, True)
                    continue
                r = mine[depth - 1]
                h = reqs[num]["h"]
                lines = [x.strip() for x in as_list(h.get("http.request.line"))]
                check(what + " trans_depth", r.get("trans_depth"), depth)
                check(what + " method", r.get("method"),
                      first(h, "http.request.method"))
                uri = first(h, "http.request.uri")
                check(what + " uri", r.get("uri"),
                      urllib.parse.unquote(uri, errors="surrogateescape"))
                host = header(lines, "host")
                check(what + " host", r.get("host"),
                      host.split(":")[0] if host is not None else None)
                check(what + " user_agent", r.get("user_agent"),
                      header(lines, "user-agent"))
                check(what + " referrer", r.get("referrer"),
                      header(lines, "referer"))
                check(what + " origin", r.get("origin"),
                      header(lines, "origin"))
                auth = first(h, "http.authbasic")
                check(what + " username", r.get("username"),
                      auth.split(":")[0] if auth else None)
                check(what + " password", r.get("password"), None)
                prox = sorted("%s -> %s" % (n.upper(), header(lines, n))
                              for n in PROXY if header(lines, n) is not None)
                check(what + " proxied", sorted(r.get("proxied", [])), prox)
                clen = first(h, "http.content_length")
                chunks = [int(x, 16) if str(x).startswith("0x") else int(x)
                          for x in walk(h, "http.chunk_size")]
                want_req = int(clen) if clen is not None else sum(chunks)
                check(what + " request_body_len", r.get("request_body_len"),
                      want_req)
                version = first(h, "http.request.version")
                rh = resp_of.get(num)
                if rh is not None:
                    version = first(rh, "http.response.version")
                    check(what + " status_code", r.get("status_code"),
                          int(first(rh, "http.response.code")))
                    phrase = first(rh, "http.response.phrase")
                    check(what + " status_msg", r.get("status_msg"),
                          phrase.strip() if phrase else None)
                    rlen = first(rh, "http.content_length")
                    rchunks = [int(x, 16) if str(x).startswith("0x") else int(x)
                               for x in walk(rh, "http.chunk_size")]
                    if rlen is not None or rchunks:
                        want = int(rlen) if rlen is not None else sum(rchunks)
                        if first(h, "http.request.method") == "HEAD":
                            want = 0
                        check(what + " response_body_len",
                              r.get("response_body_len"), want)
                    else:
                        # Close-delimited: the server's bytes after this
                        # (last) reply's header block, from tshark's
                        # reassembly of the stream.
                        server = follow_server(pcap, stream)
                        line = ("%s %s" % (version, first(rh, "http.response.code"))).encode()
                        at = server.rfind(line)
                        end = server.find(b"\r\n\r\n", at)
                        if at >= 0 and end >= 0:
                            check(what + " response_body_len (close-delimited)",
                                  r.get("response_body_len"),
                                  len(server) - end - 4)
                else:
                    check(what + " status_code", r.get("status_code"), None)
                ih = info_of.get(num)
                if ih is not None:
                    check(what + " info_code", r.get("info_code"),
                          int(first(ih, "http.response.code")))
                    check(what + " info_msg", r.get("info_msg"),
                          first(ih, "http.response.phrase"))
                check(what + " version", r.get("version"),
                      version[5:] if version else None)
                check(what + " tags", r.get("tags"), [])


# ---- DNS -------------------------------------------------------------------

def answer_text(a):
    t = int(a.get("dns.resp.type", 0))
    if t == 1:
        return a.get("dns.a")
    if t == 28:
        return a.get("dns.aaaa")
    if t == 5:
        return a.get("dns.cname")
    if t == 2:
        return a.get("dns.ns")
    if t == 12:
        return a.get("dns.ptr.domain_name")
    if t == 39:
        return a.get("dns.dname")
    if t == 15:
        return a.get("dns.mx.mail_exchange")
    if t == 33:
        return a.get("dns.srv.target")
    if t == 6:
        return a.get("dns.soa.mname")
    if t == 16:
        return " ".join("TXT %d %s" % (len(s), s)
                        for s in as_list(a.get("dns.txt")))
    return "<unknown type=%d>" % t


def answers_of(d):
    out = []
    sec = d.get("Answers")
    if not isinstance(sec, dict):
        return out
    for _, v in sec.items():
        for a in as_list(v):
            if int(a.get("dns.resp.type", 0)) == 41:
                continue
            out.append((answer_text(a), float(a.get("dns.resp.ttl", 0))))
    return out


def dns_case(tapir, shared, work):
    pcaps = sorted(glob.glob(os.path.join(shared, "corpus/protocols/dns/*.pcap")))
    for pcap in pcaps:
        name = os.path.basename(pcap)
        out = os.path.join(work, "app-dns", name)
        run_tapir(tapir, pcap, out)
        recs = read_log(os.path.join(out, "dns.log"))
        pkts = tshark_json(pcap, "dns")
        queries, pairs = {}, []
        for p in pkts:
            l = p["_source"]["layers"]
            for d in as_list(l.get("dns")):
                if not isinstance(d, dict) or "dns.id" not in d:
                    continue
                ts = float(l["frame"]["frame.time_epoch"])
                proto = "tcp" if "tcp" in l else "udp"
                tid = int(d["dns.id"], 16)
                flags = int(d["dns.flags"], 16)
                if not flags & 0x8000:
                    queries.setdefault(tid, []).append((ts, d, proto))
                    continue
                q = queries.get(tid)
                qq = q.pop(0) if q else None
                pairs.append((qq, (ts, d, proto), tid))
        for tid, qs in queries.items():
            for q in qs:
                pairs.append((q, None, tid))
        check("%s: dns.log records" % name, len(recs), len(pairs))
        mine = {}
        for r in recs:
            mine.setdefault(r["trans_id"], []).append(r)
        for q, resp, tid in pairs:
            what = "%s trans_id %d" % (name, tid)
            cand = mine.get(tid, [])
            if not cand:
                check(what + " present", False, True)
                continue
            r = cand.pop(0)
            ref = resp or q
            d = ref[1]
            check(what + " proto", r.get("proto"), ref[2])
            qs = d.get("Queries")
            qd = None
            if isinstance(qs, dict) and qs:
                qd = as_list(next(iter(qs.values())))[0]
            if qd is None and q is not None:
                qs = q[1].get("Queries")
                if isinstance(qs, dict) and qs:
                    qd = as_list(next(iter(qs.values())))[0]
            if qd is not None:
                check(what + " query", r.get("query"), qd.get("dns.qry.name"))
                check(what + " qtype", r.get("qtype"), int(qd.get("dns.qry.type")))
                check(what + " qclass", r.get("qclass"),
                      int(qd.get("dns.qry.class"), 16) & 0xffff)
            if q is not None and resp is not None:
                check(what + " rtt", round(r.get("rtt", -1), 6),
                      round(resp[0] - q[0], 6))
                check(what + " ts", round(r["ts"], 6), round(q[0], 6))
            if resp is not None:
                flags = int(d["dns.flags"], 16)
                check(what + " rcode", r.get("rcode"), flags & 0xf)
                check(what + " AA", r.get("AA"), bool(flags & 0x400))
                check(what + " TC", r.get("TC"), bool(flags & 0x200))
                check(what + " RD", r.get("RD"), bool(flags & 0x100))
                check(what + " RA", r.get("RA"), bool(flags & 0x80))
                check(what + " Z", r.get("Z"), (flags >> 4) & 7)
                ans = answers_of(d)
                check(what + " answers", r.get("answers", []), [a for a, _ in ans])
                check(what + " TTLs", r.get("TTLs", []), [t for _, t in ans])
                counts = [int(d.get(k, "0")) for k in
                          ("dns.count.answers", "dns.count.auth_rr", "dns.count.add_rr")]
                check(what + " rejected", r.get("rejected"), sum(counts) == 0)
            else:
                check(what + " rcode", r.get("rcode"), None)


# ---- tracegen truth ---------------------------------------------------------

def truth_case(tapir, shared, work):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import run as pcap_run
    made = pcap_run.tracegen_capture(
        shared, work, "app-truth",
        ["--flows", "400", "--udp-flows", "200", "--duration", "20",
         "--seed", "11", "--encap", "vxlan", "--mirror-both-sides",
         "--retrans-share", "0.01", "--ssh-bruteforce=10", "--dir-enum=40",
         "--dns-tunnel=30", "--beacon=5"])
    if not made:
        print("SKIP: tracegen did not build")
        return SKIP
    pcap, tjson = made
    out = os.path.join(work, "app-truth")
    run_tapir(tapir, pcap, out)
    with open(tjson) as f:
        truth = json.load(f)
    http = {}
    for r in read_log(os.path.join(out, "http.log")):
        http.setdefault((r["id.orig_h"], r["id.orig_p"]), []).append(r)
    dns = {}
    for r in read_log(os.path.join(out, "dns.log")):
        dns.setdefault((r["id.orig_h"], r["id.orig_p"], r["trans_id"]), []).append(r)
    conns = {}
    for r in read_log(os.path.join(out, "conn.log")):
        conns[(r["id.orig_h"], r["id.orig_p"], r["id.resp_h"], r["id.resp_p"])] = r
    service = {"http": "http", "dns": "dns", "tls": "ssl", "ssh": "ssh"}
    for t in truth["flows"]:
        app = t.get("app")
        key = (t["client"], t["client_port"])
        what = "flow %d (%s %s)" % (t["id"], app, t.get("scenario"))
        c = conns.get((t["client"], t["client_port"], t["server"], t["server_port"]))
        if app in service:
            check(what + " service", c.get("service") if c else None,
                  service[app])
        if app == "http":
            mine = sorted(http.get(key, []), key=lambda r: r["trans_depth"])
            want = t.get("http", [])
            check(what + " transactions", len(mine), len(want))
            for i, (r, w) in enumerate(zip(mine, want), 1):
                tw = "%s request %d" % (what, i)
                check(tw + " method", r.get("method"), w["method"])
                check(tw + " host", r.get("host"), w["host"])
                check(tw + " uri", r.get("uri"), w["uri"])
                check(tw + " status_code", r.get("status_code"), w["status"])
                check(tw + " request_body_len", r.get("request_body_len"),
                      w["req_body"])
                check(tw + " response_body_len", r.get("response_body_len"),
                      w["resp_body"])
        elif app == "dns":
            d = t["dns"]
            mine = dns.get((t["client"], t["client_port"], d["id"]), [])
            check(what + " records", len(mine), 1)
            if mine:
                r = mine[0]
                check(what + " query", r.get("query"), d["qname"])
                check(what + " qtype_name", r.get("qtype_name"), d["qtype"])
                check(what + " rcode_name", r.get("rcode_name"), d["rcode"])
                check(what + " answers", len(r.get("answers", [])),
                      d["answers"])
    return 0


# ---- nDPI -------------------------------------------------------------------

# Where tapir's service differs from ndpiReader's classification on purpose.
NDPI_EXCEPTIONS = {
    # SMTP upgraded with STARTTLS: the TLS parser takes the flow at the
    # ClientHello that follows the upgrade (ssl.log gets its handshake),
    # while nDPI names the protocol the flow started as.  Zeek, with both
    # analyzers, logs service "smtp,ssl"; tapir has no SMTP parser.
    ("arkime__smtp-starttls.pcap", 57406, 25): ("ssl", "STARTTLS"),
}


def zeek_names():
    """nDPI name → Zeek name, read from src/app/ndpi.c's table."""
    src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                       "src", "app", "ndpi.c")
    with open(src) as f:
        text = f.read()
    table = text[text.index("zeek_names[]"):]
    table = table[:table.index("};")]
    return dict(re.findall(r'\{"([^"]+)", "([^"]+)"\}', table))


def ndpi_case(tapir, shared, work):
    if not shutil.which("ndpiReader"):
        print("SKIP: ndpiReader is not installed")
        return SKIP
    names = zeek_names()
    line_re = re.compile(r"^\t\d+\t(TCP|UDP) (\S+):(\d+) <?-> (\S+):(\d+) "
                         r"\[proto: [\d.]+/([^\]]+)\].*\[Confidence: ([^\]]+)\]")
    for pcap in sorted(glob.glob(os.path.join(shared, "corpus/protocols/*/*.pcap"))):
        name = os.path.basename(pcap)
        out = os.path.join(work, "app-ndpi", name)
        run_tapir(tapir, pcap, out)
        conns = {}
        for r in read_log(os.path.join(out, "conn.log")):
            a = (r["id.orig_h"], r["id.orig_p"])
            b = (r["id.resp_h"], r["id.resp_p"])
            conns[(r["proto"], frozenset([a, b]))] = r
        text = subprocess.run(["ndpiReader", "-q", "-v", "2", "-i", pcap],
                              capture_output=True, text=True,
                              check=False).stdout
        for line in text.splitlines():
            m = line_re.match(line)
            if not m:
                continue
            proto, ha, pa, hb, pb, pname, conf = m.groups()
            key = (proto.lower(), frozenset([(ha.strip("[]"), int(pa)),
                                             (hb.strip("[]"), int(pb))]))
            r = conns.get(key)
            what = "%s %s %s:%s-%s:%s" % (name, proto, ha, pa, hb, pb)
            if r is None:
                continue  # a flow tapir splits or joins differently
            master = pname.split(".")[0]
            want = names.get(master, master.lower()) if conf == "DPI" else None
            if master == "Unknown":
                want = None
            exc = NDPI_EXCEPTIONS.get((name, r["id.orig_p"], r["id.resp_p"]))
            if exc and r.get("service") == exc[0]:
                print("EXCEPT %s: %s (%s)" % (what, exc[0], exc[1]))
                continue
            check(what + " service (" + conf + ")", r.get("service"), want)
    return 0


# ---- malformed -------------------------------------------------------------

def cut_pcap(src, dst, keep):
    """A copy of classic pcap src whose packets keep only `keep` of their
    captured bytes past the first 54 (the headers)."""
    with open(src, "rb") as f:
        data = f.read()
    magic = data[:4]
    if magic not in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4",
                     b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d"):
        return False
    e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
    out = bytearray(data[:24])
    off = 24
    while off + 16 <= len(data):
        ts1, ts2, incl, orig = struct.unpack(e + "IIII", data[off:off + 16])
        body = data[off + 16:off + 16 + incl]
        off += 16 + incl
        n = min(incl, 54 + keep(len(body)))
        out += struct.pack(e + "IIII", ts1, ts2, n, orig) + body[:n]
    with open(dst, "wb") as f:
        f.write(out)
    return True


def malformed_case(tapir, shared, work):
    files = sorted(glob.glob(os.path.join(shared, "corpus/malformed/*")))
    files = [f for f in files if f.endswith((".pcap", ".pcapng", ".cap"))]
    for f in files:
        rc = run_tapir(tapir, f, os.path.join(work, "app-malformed", "m"))
        check("%s read" % os.path.basename(f), rc in (0, 1), True)
    # Every DNS and HTTP capture with each packet's payload cut short.
    for f in sorted(glob.glob(os.path.join(shared, "corpus/protocols/dns/*.pcap")) +
                    glob.glob(os.path.join(shared, "corpus/protocols/http/*.pcap"))):
        for frac in (5,):
            cut = os.path.join(work, "app-malformed", "cut.pcap")
            os.makedirs(os.path.dirname(cut), exist_ok=True)
            if not cut_pcap(f, cut, lambda n, k=frac: max(0, (n - 54) * k // 10)):
                continue
            out = os.path.join(work, "app-malformed", "cut")
            rc = run_tapir(tapir, cut, out)
            check("%s cut to %d0%%: read" % (os.path.basename(f), frac),
                  rc in (0, 1), True)
    # A DNS response whose answer runs past its end: a weird, not a crash.
    name = os.path.join(work, "app-malformed", "bad-dns.pcap")
    pkt = bad_dns_packet()
    with open(name, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, p in enumerate(pkt):
            fh.write(struct.pack("<IIII", 1700000000, i, len(p), len(p)) + p)
    out = os.path.join(work, "app-malformed", "bad-dns")
    run_tapir(tapir, name, out)
    weirds = [w["name"] for w in read_log(os.path.join(out, "weird.log"))]
    check("bad-dns.pcap weird", "DNS_RR_length_mismatch" in weirds, True)
    check("bad-dns.pcap loop weird", "DNS_truncated_quest_too_short" in weirds, True)
    # An HTTP reply whose chunk size is not hex, then a reply to nothing.
    name = os.path.join(work, "app-malformed", "bad-http.pcap")
    with open(name, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, p in enumerate(bad_http_packets()):
            fh.write(struct.pack("<IIII", 1700000000, i * 1000, len(p), len(p)) + p)
    out = os.path.join(work, "app-malformed", "bad-http")
    run_tapir(tapir, name, out)
    weirds = [w for w in read_log(os.path.join(out, "weird.log"))]
    check("bad-http.pcap chunk weird",
          [w["source"] for w in weirds if w["name"] == "HTTP_bad_chunk_size"],
          ["HTTP"])
    recs = read_log(os.path.join(out, "http.log"))
    check("bad-http.pcap record", [(r.get("method"), r.get("status_code"))
                                   for r in recs], [("GET", 200)])


def ip_tcp(src, dst, sport, dport, seq, ack, flags, payload=b""):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags,
                      65535, 0, 0)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(payload),
                     1, 0, 64, 6, 0, bytes(src), bytes(dst))
    eth = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00"
    return eth + ip + tcp + payload


def bad_http_packets():
    c, s = [10, 0, 0, 1], [10, 0, 0, 2]
    req = b"GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
    resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"
    return [
        ip_tcp(c, s, 40000, 80, 100, 0, 0x02),
        ip_tcp(s, c, 80, 40000, 500, 101, 0x12),
        ip_tcp(c, s, 40000, 80, 101, 501, 0x10),
        ip_tcp(c, s, 40000, 80, 101, 501, 0x18, req),
        ip_tcp(s, c, 80, 40000, 501, 101 + len(req), 0x18, resp),
        ip_tcp(c, s, 40000, 80, 101 + len(req), 501 + len(resp), 0x11),
        ip_tcp(s, c, 80, 40000, 501 + len(resp), 102 + len(req), 0x11),
        ip_tcp(c, s, 40000, 80, 102 + len(req), 502 + len(resp), 0x10),
    ]


def ip_udp(payload, sport, dport):
    ulen = 8 + len(payload)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 1, 0, 64, 17, 0,
                     bytes([10, 0, 0, 1]) if sport != 53 else bytes([10, 0, 0, 2]),
                     bytes([10, 0, 0, 2]) if sport != 53 else bytes([10, 0, 0, 1]))
    eth = b"\x00\x11\x22\x33\x44\x55\x66\x77\x88\x99\xaa\xbb\x08\x00"
    return eth + ip + struct.pack("!HHHH", sport, dport, ulen, 0) + payload


def bad_dns_packet():
    q = struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0) + \
        b"\x07example\x03com\x00" + struct.pack("!HH", 1, 1)
    # An answer whose rdlength says 200 bytes, 4 present.
    r = struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0) + \
        b"\x07example\x03com\x00" + struct.pack("!HH", 1, 1) + \
        b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 200) + b"\x01\x02\x03\x04"
    # A query whose name is a pointer to itself: a loop.
    loop = struct.pack("!HHHHHH", 0x4321, 0x0100, 1, 0, 0, 0) + b"\xc0\x0c" + \
        struct.pack("!HH", 1, 1)
    return [ip_udp(q, 40000, 53), ip_udp(r, 53, 40000), ip_udp(loop, 40001, 53)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tapir", required=True)
    ap.add_argument("--shared", default=os.environ.get("TAPIR_SHARED", ""))
    ap.add_argument("--work", default="/tmp/tapir-app-test")
    ap.add_argument("case", choices=["http", "dns", "truth", "ndpi",
                                     "malformed"])
    a = ap.parse_args()
    if not a.shared or not os.path.isdir(os.path.join(a.shared, "corpus")):
        print("SKIP: no shared corpus at %r (set TAPIR_SHARED)" % a.shared)
        return SKIP
    if a.case in ("http", "dns") and not shutil.which("tshark"):
        print("SKIP: tshark is not installed")
        return SKIP
    os.makedirs(a.work, exist_ok=True)
    if a.case in ("http", "dns"):
        for k, v in DIFFERENCES.items():
            if k.startswith(a.case + "."):
                print("DIFFERS ON PURPOSE %s: %s" % (k, v))
        for k, v in NOT_COMPARED.items():
            if k.startswith(a.case + "."):
                print("NOT COMPARED %s: %s" % (k, v))
    rc = {"http": http_case, "dns": dns_case, "truth": truth_case,
          "ndpi": ndpi_case,
          "malformed": malformed_case}[a.case](a.tapir, a.shared, a.work)
    if rc == SKIP:
        return SKIP
    print("%d passed, %d failed" % (passes, failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
