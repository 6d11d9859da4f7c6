#!/usr/bin/env python3
"""files.log and http.log's file fields of `tapir read`, against tshark's
exported HTTP objects, Arkime's expected body hashes, tracegen's ground
truth and captures made here with known bodies.

    files.py --tapir BUILD/tapir [--shared DIR] [--work DIR] CASE

Cases:
  corpus     every HTTP capture of the corpus (protocols/http, the HTTP
             captures of ipv6/ and attacks/web-scanning/): the bodies that
             `tshark --export-objects http` writes, hashed, equal files.log's
             md5, sha1 and seen_bytes (as multisets per capture); the `md5`
             arrays of Arkime's expected JSON equal tapir's with bodies taken
             as sent (app.file_decompress_max=0: Arkime hashes the body before
             any Content-Encoding is undone); every fuid of http.log is a
             files.log record of the same uid and direction, with the same
             MIME type.
  truth      a tracegen capture (VXLAN, both sides mirrored, retransmissions):
             one file per non-empty body of every HTTP transaction, of the
             truth's size, none missing; `-j 1` and `-j 2` write the same
             files.log records.
  synthetic  captures built here: chunked + gzip, deflate (zlib and raw),
             pipelined requests and replies, Content-Disposition filenames, a
             gap inside a body, a body cut by the end of the capture, a broken
             gzip stream, the decompression cap, app.file_mime and
             app.file_hashes; hashes against Python's hashlib of the
             bodies.

Exit status: 0 all passed, 1 a failure, 77 skipped (no shared corpus, or no
tshark for `corpus`).  Standard library only.
"""

import argparse
import glob
import gzip
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import app as A  # noqa: E402  (check, read_log, ip_tcp, run_tapir)

SKIP = 77

# Captures whose files differ from tshark's on purpose, and why.
DIFFERENCES = {
    "zeek__ipv6-http-atomic-frag.pcap":
        "HTTP/0.9: a request line without a version and a reply without a "
        "status line; tapir's HTTP parser (as its http.log) takes HTTP/1.x "
        "only, tshark exports the bare reply bodies",
}


def check(what, got, want):
    A.check(what, got, want)


def read_log(path):
    return A.read_log(path)


def tapir_read(tapir, pcap, out, *extra):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    r = subprocess.run([tapir, "read", "-q", "-o", out, *extra, pcap],
                       capture_output=True, text=True, check=False)
    check("%s: tapir read %s exit" % (os.path.basename(pcap), " ".join(extra)),
          r.returncode in (0, 1), True)
    return r


def digests(data):
    return (hashlib.md5(data).hexdigest(), hashlib.sha1(data).hexdigest(),
            len(data))


def linked(name, http, files):
    """Every fuid of http.log names a files.log record of the same
    connection and direction, with the same MIME type; every file is named
    once."""
    by_fuid = {f["fuid"]: f for f in files}
    named = []
    for r in http:
        for side, is_orig in (("orig", True), ("resp", False)):
            fuids = r.get(side + "_fuids", [])
            mimes = r.get(side + "_mime_types", [])
            for i, fu in enumerate(fuids):
                named.append(fu)
                f = by_fuid.get(fu)
                what = "%s %s %s" % (name, side, fu)
                check(what + " in files.log", f is not None, True)
                if f is None:
                    continue
                check(what + " uid", f["uid"], r["uid"])
                check(what + " is_orig", f["is_orig"], is_orig)
                want = [f["mime_type"]] if "mime_type" in f else []
                check(what + " mime_type", mimes[i:i + 1], want)
    check("%s: files named once in http.log" % name, sorted(named),
          sorted(by_fuid))


# ---- corpus ----------------------------------------------------------------

def corpus_pcaps(shared):
    c = os.path.join(shared, "corpus")
    return sorted(glob.glob(os.path.join(c, "protocols/http/*.pcap")) +
                  glob.glob(os.path.join(c, "ipv6/*http*.pcap")) +
                  glob.glob(os.path.join(c, "attacks/web-scanning/*.pcap")))


def arkime_md5s(path):
    with open(path) as f:
        doc = json.load(f)
    out = set()
    for v in A.walk(doc, "md5"):
        out.add(v)
    return out


def corpus_case(tapir, shared, work):
    if not shutil.which("tshark"):
        print("SKIP: tshark is not installed")
        return SKIP
    for k, v in DIFFERENCES.items():
        print("DIFFERS ON PURPOSE %s: %s" % (k, v))
    for pcap in corpus_pcaps(shared):
        name = os.path.basename(pcap)
        out = os.path.join(work, "files-corpus", name)
        tapir_read(tapir, pcap, out)
        files = read_log(os.path.join(out, "files.log"))
        linked(name, read_log(os.path.join(out, "http.log")), files)
        ex = os.path.join(work, "files-corpus", name + ".objects")
        shutil.rmtree(ex, ignore_errors=True)
        os.makedirs(ex)
        subprocess.run(["tshark", "-r", pcap, "-q", "--export-objects",
                        "http," + ex], capture_output=True, check=False)
        want = []
        for fn in sorted(os.listdir(ex)):
            with open(os.path.join(ex, fn), "rb") as fh:
                want.append(digests(fh.read()))
        got = [(f.get("md5"), f.get("sha1"), f["seen_bytes"]) for f in files]
        if name in DIFFERENCES:
            print("EXCEPT %s: %d files, tshark %d" % (name, len(got),
                                                       len(want)))
            continue
        check("%s: files (md5, sha1, size)" % name, sorted(got), sorted(want))
        check("%s: no missing bytes" % name,
              [f["missing_bytes"] for f in files if f["missing_bytes"]], [])
        expected = pcap[:-len(".pcap")] + ".arkime-expected.json"
        if os.path.exists(expected):
            raw = os.path.join(work, "files-corpus", name + ".raw")
            tapir_read(tapir, pcap, raw, "--set", "app.file_decompress_max=0")
            mine = {f["md5"] for f in read_log(os.path.join(raw, "files.log"))
                    if "md5" in f}
            check("%s: md5 as Arkime" % name, sorted(mine),
                  sorted(arkime_md5s(expected)))
    return 0


# ---- tracegen --------------------------------------------------------------

def truth_case(tapir, shared, work):
    import run as pcap_run
    made = pcap_run.tracegen_capture(
        shared, work, "files-truth",
        ["--flows", "300", "--udp-flows", "20", "--duration", "20",
         "--seed", "23", "--encap", "vxlan", "--mirror-both-sides",
         "--retrans-share", "0.01", "--http-share", "0.7",
         "--tls-share", "0.1", "--ssh-share", "0.05"])
    if not made:
        print("SKIP: tracegen did not build")
        return SKIP
    pcap, tjson = made
    with open(tjson) as f:
        truth = json.load(f)
    logs = {}
    for j in ("1", "2"):
        out = os.path.join(work, "files-truth-j" + j)
        # Bodies run to a MiB and more: with the default depth (1 MiB a
        # direction) the end of such a body and what follows it are gaps
        # (the synthetic case tests gaps); here every byte is parsed.
        tapir_read(tapir, pcap, out, "-j", j,
                   "--set", "app.reassembly_depth=0")
        logs[j] = read_log(os.path.join(out, "files.log"))
        if j == "1":
            http = read_log(os.path.join(out, "http.log"))
            linked("files-truth.pcap", http, logs[j])
    check("files.log -j 1 and -j 2: same records",
          sorted(json.dumps(r, sort_keys=True) for r in logs["1"]),
          sorted(json.dumps(r, sort_keys=True) for r in logs["2"]))
    by_flow = {}
    for f in logs["1"]:
        key = (f["id.orig_h"], f["id.orig_p"], f["is_orig"])
        by_flow.setdefault(key, []).append(f)
    nbodies = 0
    for t in truth["flows"]:
        if t.get("app") != "http":
            continue
        what = "flow %d" % t["id"]
        for is_orig, field in ((True, "req_body"), (False, "resp_body")):
            want = [h[field] for h in t.get("http", []) if h[field]]
            nbodies += len(want)
            mine = sorted(by_flow.get((t["client"], t["client_port"], is_orig),
                                      []), key=lambda f: f["ts"])
            check("%s %s files: sizes" % (what, field),
                  [f["seen_bytes"] + f["missing_bytes"] for f in mine], want)
            check("%s %s files: total_bytes" % (what, field),
                  [f.get("total_bytes") for f in mine], want)
            check("%s %s files: missing" % (what, field),
                  [f["missing_bytes"] for f in mine], [0] * len(mine))
            check("%s %s files: hashed" % (what, field),
                  [len(f.get("sha256", "")) for f in mine], [64] * len(mine))
    check("files.log records", len(logs["1"]), nbodies)
    return 0


# ---- synthetic -------------------------------------------------------------

C, S = [10, 0, 0, 1], [10, 0, 0, 2]


def conversation(msgs, cport=40000, drop=(), close=True):
    """The packets of one TCP connection carrying msgs, a list of
    (from_client, bytes, segment size).  Segments whose running index is in
    drop are not written (the peer still acknowledges them: a capture gap);
    with close False the capture stops after the last message."""
    cseq, sseq = 1000, 5000
    pk = [A.ip_tcp(C, S, cport, 80, cseq, 0, 0x02),
          A.ip_tcp(S, C, 80, cport, sseq, cseq + 1, 0x12)]
    cseq += 1
    sseq += 1
    pk.append(A.ip_tcp(C, S, cport, 80, cseq, sseq, 0x10))
    seg = 0
    for from_client, data, size in msgs:
        for off in range(0, len(data), size):
            part = data[off:off + size]
            if seg not in drop:
                if from_client:
                    pk.append(A.ip_tcp(C, S, cport, 80, cseq + off, sseq, 0x18,
                                       part))
                else:
                    pk.append(A.ip_tcp(S, C, 80, cport, sseq + off, cseq, 0x18,
                                       part))
            seg += 1
        if from_client:
            cseq += len(data)
            pk.append(A.ip_tcp(S, C, 80, cport, sseq, cseq, 0x10))
        else:
            sseq += len(data)
            pk.append(A.ip_tcp(C, S, cport, 80, cseq, sseq, 0x10))
    if close:
        pk += [A.ip_tcp(C, S, cport, 80, cseq, sseq, 0x11),
               A.ip_tcp(S, C, 80, cport, sseq, cseq + 1, 0x11),
               A.ip_tcp(C, S, cport, 80, cseq + 1, sseq + 1, 0x10)]
    return pk


def write_pcap(path, pkts):
    with open(path, "wb") as fh:
        fh.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
        for i, p in enumerate(pkts):
            fh.write(struct.pack("<IIII", 1700000000 + i // 1000,
                                 (i % 1000) * 1000, len(p), len(p)) + p)


def chunked(data, size):
    out = b""
    for off in range(0, len(data), size):
        part = data[off:off + size]
        out += b"%x;ext=1\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\nX-Trailer: 1\r\n\r\n"


def reply(body, headers=b"", status=b"200 OK"):
    return (b"HTTP/1.1 " + status + b"\r\nContent-Length: %d\r\n" % len(body) +
            headers + b"\r\n" + body)


def get(uri=b"/"):
    return b"GET " + uri + b" HTTP/1.1\r\nHost: h\r\n\r\n"


HTML = b"<!DOCTYPE html>\n<html><head><title>t</title></head><body>" + \
    b"".join(b"<p>line %d of a page</p>\n" % i for i in range(400)) + \
    b"</body></html>\n"


def synth(tapir, work, name, pkts, *extra):
    path = os.path.join(work, "files-synth", name + ".pcap")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    write_pcap(path, pkts)
    out = os.path.join(work, "files-synth", name)
    tapir_read(tapir, path, out, *extra)
    return (read_log(os.path.join(out, "files.log")),
            read_log(os.path.join(out, "http.log")),
            [w["name"] for w in read_log(os.path.join(out, "weird.log"))])


def expect_file(what, f, body, mime=None, total=None):
    md5, sha1, n = digests(body)
    check(what + " seen_bytes", f.get("seen_bytes"), n)
    check(what + " md5", f.get("md5"), md5)
    check(what + " sha1", f.get("sha1"), sha1)
    check(what + " sha256", f.get("sha256"), hashlib.sha256(body).hexdigest())
    check(what + " missing_bytes", f.get("missing_bytes"), 0)
    check(what + " total_bytes", f.get("total_bytes"), total)
    if mime:
        check(what + " mime_type", f.get("mime_type"), mime)


def synthetic_case(tapir, shared, work):
    # Chunked and gzip: the file is the decoded page.
    gz = gzip.compress(HTML)
    resp = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
            b"Content-Encoding: gzip\r\nContent-Type: text/html\r\n\r\n" +
            chunked(gz, 700))
    files, http, weirds = synth(tapir, work, "chunked-gzip",
                                conversation([(True, get(), 1000),
                                              (False, resp, 536)]))
    check("chunked-gzip files", len(files), 1)
    if files:
        expect_file("chunked-gzip", files[0], HTML, "text/html")
        check("chunked-gzip is_orig", files[0]["is_orig"], False)
        check("chunked-gzip analyzers", files[0]["analyzers"],
              ["MD5", "SHA1", "SHA256"])
    check("chunked-gzip http.log resp_mime_types",
          [r.get("resp_mime_types") for r in http], [["text/html"]])
    check("chunked-gzip http.log response_body_len",
          [r.get("response_body_len") for r in http], [len(gz)])

    # Two gzip members one after the other are one body.
    two = gzip.compress(HTML[:3000]) + gzip.compress(HTML[3000:])
    files, _, _ = synth(tapir, work, "gzip-members", conversation(
        [(True, get(), 1000),
         (False, reply(two, b"Content-Encoding: x-gzip\r\n"), 1400)]))
    if files:
        expect_file("gzip-members", files[0], HTML)

    # deflate: zlib-wrapped (RFC 9110) and raw (what some servers send).
    for kind, wbits in (("zlib", 15), ("raw", -15)):
        c = zlib.compressobj(9, zlib.DEFLATED, wbits)
        body = c.compress(HTML) + c.flush()
        files, _, weirds = synth(tapir, work, "deflate-" + kind, conversation(
            [(True, get(), 1000),
             (False, reply(body, b"Content-Encoding: deflate\r\n"), 1400)]))
        check("deflate-%s files" % kind, len(files), 1)
        if files:
            expect_file("deflate-" + kind, files[0], HTML, "text/html")
        check("deflate-%s weirds" % kind, weirds, [])

    # Pipelining: three requests in one segment (one a POST with a named
    # upload), their replies in one segment, each body its own file.
    up = b"%PDF-1.4\n" + bytes(range(256)) * 8
    reqs = (get(b"/a") +
            b"POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n"
            b"Content-Disposition: attachment; filename=\"report 1.pdf\"\r\n"
            b"\r\n" % len(up) + up + get(b"/c"))
    bodies = [b"first body\n", b"{\"k\": [1, 2, 3]}\n", b"GIF89a" + bytes(64)]
    resps = (reply(bodies[0]) + reply(bodies[1]) +
             reply(bodies[2], b"Content-Disposition: inline; "
                   b"filename*=UTF-8''na%C3%AFve%20c.gif\r\n"))
    files, http, _ = synth(tapir, work, "pipelined", conversation(
        [(True, reqs, 4000), (False, resps, 4000)]))
    check("pipelined files", len(files), 4)
    check("pipelined http.log", len(http), 3)
    linked("pipelined", http, files)
    by_fuid = {f["fuid"]: f for f in files}
    http.sort(key=lambda r: r["trans_depth"])
    for i, r in enumerate(http):
        what = "pipelined request %d" % (i + 1)
        fu = r.get("resp_fuids", [])
        check(what + " resp_fuids", len(fu), 1)
        if fu:
            expect_file(what + " reply", by_fuid[fu[0]], bodies[i],
                        total=len(bodies[i]))
    if len(http) == 3:
        check("pipelined POST orig_filenames", http[1].get("orig_filenames"),
              ["report 1.pdf"])
        check("pipelined POST orig_mime_types",
              http[1].get("orig_mime_types"), ["application/pdf"])
        fu = http[1].get("orig_fuids", [])
        if fu:
            expect_file("pipelined POST body", by_fuid[fu[0]], up,
                        "application/pdf", len(up))
            check("pipelined POST filename", by_fuid[fu[0]].get("filename"),
                  "report 1.pdf")
        # UTF-8 decoded from %XX; the log writer escapes bytes past ASCII
        # as Zeek's does (\xNN).
        check("pipelined reply 3 resp_filenames",
              http[2].get("resp_filenames"), ["na\\xc3\\xafve c.gif"])
        check("pipelined reply 3 resp_mime_types",
              http[2].get("resp_mime_types"), ["image/gif"])
    fuids = [f["fuid"] for f in files]
    check("pipelined fuids distinct", len(set(fuids)), len(fuids))
    check("pipelined fuid form", all(len(x) == 18 and x[0] == "F"
                                     for x in fuids), True)

    # A gap inside a body of known length: missing_bytes, no hashes.
    body = bytes((i * 7) & 0xff for i in range(3000))
    r = reply(body)
    head = len(r) - len(body)
    files, http, weirds = synth(tapir, work, "gap", conversation(
        [(True, get(), 1000), (False, r[:head], 1000),
         (False, body, 1000)], drop={2}))
    check("gap files", len(files), 1)
    if files:
        f = files[0]
        check("gap seen_bytes", f["seen_bytes"], 2000)
        check("gap missing_bytes", f["missing_bytes"], 1000)
        check("gap total_bytes", f.get("total_bytes"), 3000)
        check("gap no md5", "md5" in f or "sha256" in f, False)
    check("gap http.log response_body_len",
          [x.get("response_body_len") for x in http], [3000])

    # A gap from inside one body into the next reply's header: the rest of
    # the first body is missing, the parser loses step (a weird).
    r1, r2 = reply(body), reply(b"second")
    head = len(r1) - len(body)
    files, http, weirds = synth(tapir, work, "gap-past-body", conversation(
        [(True, get() + get(b"/2"), 1000), (False, r1[:head], 1000),
         (False, body + r2, 1400)], drop={4}))
    check("gap-past-body files", len(files), 1)
    if files:
        check("gap-past-body seen_bytes", files[0]["seen_bytes"], 2800)
        check("gap-past-body missing_bytes", files[0]["missing_bytes"], 200)
    check("gap-past-body weird", "HTTP_content_gap" in weirds, True)

    # The capture ends inside a body: the file is what was seen.
    body = HTML
    r = reply(body)
    files, http, weirds = synth(tapir, work, "cut", conversation(
        [(True, get(), 1000), (False, r[:len(r) - 5000], 1000)],
        close=False))
    check("cut files", len(files), 1)
    if files:
        check("cut seen_bytes", files[0]["seen_bytes"], len(body) - 5000)
        check("cut total_bytes", files[0].get("total_bytes"), len(body))
        check("cut md5", files[0].get("md5"),
              hashlib.md5(body[:len(body) - 5000]).hexdigest())
    check("cut weird", "HTTP_body_incomplete" in weirds, True)

    # A gzip body that is not gzip: a weird, the file without hashes.
    bad = b"\x1f\x8b\x08\x00" + b"\xff" * 300
    files, http, weirds = synth(tapir, work, "bad-gzip", conversation(
        [(True, get(), 1000),
         (False, reply(bad, b"Content-Encoding: gzip\r\n"), 1400)]))
    check("bad-gzip weird", "inflate_failed" in weirds, True)
    check("bad-gzip files", len(files), 1)
    if files:
        check("bad-gzip no md5", "md5" in files[0], False)
    check("bad-gzip http.log", [x.get("status_code") for x in http], [200])

    # A bomb: 8 MiB of zeros in 8 KiB of gzip, with a 64 KiB cap.
    bomb = gzip.compress(bytes(8 << 20), 9)
    files, _, weirds = synth(tapir, work, "cap", conversation(
        [(True, get(), 1000),
         (False, reply(bomb, b"Content-Encoding: gzip\r\n"), 1400)]),
        "--set", "app.file_decompress_max=64KiB")
    check("cap weird", "file_decompress_limit" in weirds, True)
    if files:
        check("cap seen_bytes", files[0]["seen_bytes"], 64 << 10)
        check("cap no md5", "md5" in files[0], False)

    # MIME types by libmagic's database instead of the signatures, or none.
    conv = conversation([(True, get(), 1000), (False, reply(HTML), 1400),
                         (True, get(), 1000),
                         (False, reply(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"
                                       b"1 0 obj\n<< >>\nendobj\n"), 1400)])
    for how, want in (("libmagic", ["text/html", "application/pdf"]),
                      ("signatures", ["text/html", "application/pdf"]),
                      ("off", [None, None])):
        files, _, _ = synth(tapir, work, "mime-" + how, conv,
                            "--set", "app.file_mime=" + how)
        files.sort(key=lambda f: f["ts"])
        check("app.file_mime=%s mime_type" % how,
              [f.get("mime_type") for f in files], want)

    # Hashes chosen by configuration.
    files, _, _ = synth(tapir, work, "sha1-only", conversation(
        [(True, get(), 1000), (False, reply(HTML), 1400)]),
        "--set", "app.file_hashes=sha1")
    if files:
        check("sha1-only analyzers", files[0]["analyzers"], ["SHA1"])
        check("sha1-only hashes", (files[0].get("md5"), files[0].get("sha1"),
                                   files[0].get("sha256")),
              (None, hashlib.sha1(HTML).hexdigest(), None))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tapir", required=True)
    ap.add_argument("--shared", default=os.environ.get("TAPIR_SHARED", ""))
    ap.add_argument("--work", default="/tmp/tapir-files-test")
    ap.add_argument("case", choices=["corpus", "truth", "synthetic"])
    a = ap.parse_args()
    if a.case != "synthetic" and (
            not a.shared or not os.path.isdir(os.path.join(a.shared, "corpus"))):
        print("SKIP: no shared corpus at %r (set TAPIR_SHARED)" % a.shared)
        return SKIP
    os.makedirs(a.work, exist_ok=True)
    rc = {"corpus": corpus_case, "truth": truth_case,
          "synthetic": synthetic_case}[a.case](a.tapir, a.shared, a.work)
    if rc == SKIP:
        return SKIP
    print("%d passed, %d failed" % (A.passes, A.failures))
    return 1 if A.failures else 0


if __name__ == "__main__":
    sys.exit(main())
