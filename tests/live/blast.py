#!/usr/bin/env python3
"""Send a capture's frames out of an interface as fast as asked: the
frames are loaded once, and sendmmsg(2) on an AF_PACKET socket sends them
in batches (libc through ctypes), so the cost per frame is the kernel's,
not Python's.  tcpreplay sends one frame per system call; on the 2-core
test VM it tops out near 150 000 frames/s, which is below what a receiver
can take, so a zero-loss search with it only finds the sender's limit.

    blast.py -i IFACE [--pps N] [--duration SEC | --loops N] FILE

--pps 0 (default) sends flat out.  Prints one line:
    sent N frames B bytes in S s (R pps, G Gbit/s), failed F
and the count is what the kernel accepted (sendmmsg's return values).

Standard library only (ctypes).
"""

import argparse
import ctypes
import ctypes.util
import errno
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import livecheck as lc  # noqa: E402

SOL_PACKET = 263
PACKET_QDISC_BYPASS = 20


class IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


class MsgHdr(ctypes.Structure):
    _fields_ = [("name", ctypes.c_void_p), ("namelen", ctypes.c_uint32),
                ("iov", ctypes.POINTER(IOVec)), ("iovlen", ctypes.c_size_t),
                ("control", ctypes.c_void_p), ("controllen", ctypes.c_size_t),
                ("flags", ctypes.c_int)]


class MMsgHdr(ctypes.Structure):
    _fields_ = [("hdr", MsgHdr), ("len", ctypes.c_uint)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-i", "--interface", required=True)
    ap.add_argument("--pps", type=float, default=0)
    ap.add_argument("--duration", type=float, default=0)
    ap.add_argument("--loops", type=int, default=1)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("file")
    a = ap.parse_args()

    frames = [d for _, d, _ in lc.read_pcap(a.file)]
    n = len(frames)
    blob = b"".join(frames)
    buf = ctypes.create_string_buffer(blob, len(blob))
    base = ctypes.addressof(buf)
    iov = (IOVec * n)()
    msgs = (MMsgHdr * n)()
    off = 0
    for i, f in enumerate(frames):
        iov[i].base = base + off
        iov[i].len = len(f)
        off += len(f)
        msgs[i].hdr.iov = ctypes.pointer(iov[i])
        msgs[i].hdr.iovlen = 1
    sizes = [len(f) for f in frames]
    del frames, blob

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
    s.bind((a.interface, 0))
    try:
        s.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
    except OSError:
        pass
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    sendmmsg = libc.sendmmsg
    sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint,
                         ctypes.c_int]
    sendmmsg.restype = ctypes.c_int
    fd = s.fileno()
    stride = ctypes.sizeof(MMsgHdr)
    mbase = ctypes.addressof(msgs)

    sent = nbytes = failed = 0
    start = time.perf_counter()
    end = start + a.duration if a.duration else None
    loops = 0
    i = 0
    while True:
        if end is None and loops >= a.loops:
            break
        now = time.perf_counter()
        if end is not None and now >= end:
            break
        if a.pps:
            # Ahead of the schedule: wait for it.
            due = start + sent / a.pps
            if due > now:
                time.sleep(min(due - now, 0.01))
                continue
        k = min(a.batch, n - i)
        r = sendmmsg(fd, mbase + i * stride, k, 0)
        if r < 0:
            e = ctypes.get_errno()
            if e in (errno.ENOBUFS, errno.EAGAIN, errno.EINTR):
                continue
            if e == errno.EMSGSIZE:
                # A frame longer than the MTU: skip it, as tcpreplay does.
                failed += 1
                r = 1
            else:
                raise OSError(e, os.strerror(e))
        else:
            sent += r
            nbytes += sum(sizes[i:i + r])
        i += r
        if i >= n:
            i = 0
            loops += 1
    el = time.perf_counter() - start
    print("sent %d frames %d bytes in %.3f s (%.0f pps, %.3f Gbit/s), "
          "failed %d" % (sent, nbytes, el, sent / el, nbytes * 8 / el / 1e9,
                         failed), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
