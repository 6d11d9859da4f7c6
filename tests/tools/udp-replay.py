#!/usr/bin/env python3
"""Send the tunnel payloads of a capture to a UDP target, as the mirror
sources would: every IPv4 UDP datagram to a VXLAN or Geneve port in the
capture is sent again, from a loopback address that stands for its outer
source (10.1.2.3 -> 127.1.2.3, so each mirror source stays a session of its
own), to HOST:PORT of the same tunnel kind.

    udp-replay.py [--host 127.0.0.1] [--pps N] [--vxlan-port P]
                  [--geneve-port P] capture.pcap

--vxlan-port and --geneve-port send to another port than the capture's
(4789, 6081), for a tapir that listens elsewhere.

Only classic pcap with Ethernet or raw-IP link types; stdlib only.
"""
import argparse
import socket
import struct
import sys
import time

TUNNEL_PORTS = (4789, 6081)


def frames(path):
    with open(path, "rb") as f:
        hdr = f.read(24)
        if len(hdr) < 24:
            sys.exit(f"{path}: not a pcap file")
        magic = struct.unpack("<I", hdr[:4])[0]
        if magic in (0xA1B2C3D4, 0xA1B23C4D):
            end = "<"
        elif magic in (0xD4C3B2A1, 0x4D3CB2A1):
            end = ">"
        else:
            sys.exit(f"{path}: not a classic pcap file (pcapng: convert "
                     "with editcap -F pcap)")
        linktype = struct.unpack(end + "I", hdr[20:24])[0]
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            _, _, caplen, _ = struct.unpack(end + "IIII", rec)
            data = f.read(caplen)
            if len(data) < caplen:
                return
            yield linktype, data


def tunnel_payload(linktype, data):
    """(outer source, dport, UDP payload) of an IPv4 tunnel datagram."""
    off = 0
    if linktype == 1:
        off = 14
        etype = struct.unpack("!H", data[12:14])[0]
        while etype in (0x8100, 0x88A8) and len(data) >= off + 4:
            etype = struct.unpack("!H", data[off + 2:off + 4])[0]
            off += 4
        if etype != 0x0800:
            return None
    elif linktype not in (101, 228):
        return None
    ip = data[off:]
    if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
        return None
    ihl = (ip[0] & 15) * 4
    if len(ip) < ihl + 8:
        return None
    dport = struct.unpack("!H", ip[ihl + 2:ihl + 4])[0]
    if dport not in TUNNEL_PORTS:
        return None
    ulen = struct.unpack("!H", ip[ihl + 4:ihl + 6])[0]
    return ip[12:16], dport, ip[ihl + 8:ihl + max(ulen, 8)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("capture")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--pps", type=float, default=0,
                    help="packets per second (default: as fast as possible)")
    ap.add_argument("--vxlan-port", type=int, default=4789)
    ap.add_argument("--geneve-port", type=int, default=6081)
    args = ap.parse_args()
    ports = {4789: args.vxlan_port, 6081: args.geneve_port}

    socks = {}
    sent = 0
    start = time.monotonic()
    for linktype, data in frames(args.capture):
        t = tunnel_payload(linktype, data)
        if not t:
            continue
        src, dport, payload = t
        s = socks.get(src)
        if s is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("127.%d.%d.%d" % (src[1], src[2], src[3]), 0))
            socks[src] = s
        if args.pps:
            delay = start + sent / args.pps - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        s.sendto(payload, (args.host, ports[dport]))
        sent += 1
    print(f"udp-replay: sent {sent} datagrams from {len(socks)} sources")


if __name__ == "__main__":
    main()
