/* The packet view: what a captured frame decodes to.  It never owns packet
 * bytes; every pointer points into the capture buffer or, after IP
 * reassembly, into the decoder's reassembly buffer, and is valid until the
 * next packet is decoded.  Tunnels do not nest views recursively: each
 * tunnel crossed pushes one `struct tp_tunnel` (the outer headers that
 * carried it) and the inner headers overwrite the L3/L4 fields, so after
 * decoding the L3/L4 fields describe the innermost packet. */
#ifndef TP_DECODE_PACKET_T_H
#define TP_DECODE_PACKET_T_H

#include <stdbool.h>
#include <stdint.h>

#define TP_MAX_TUNNELS 8     /* hard ceiling for the configurable cap */
#define TP_MAX_PKT_EVENTS 4  /* events remembered on one packet */

/* An IP address; IPv4 is stored v4-mapped (::ffff:a.b.c.d). */
struct tp_addr {
	uint8_t b[16];
};

enum tp_encap {
	TP_ENCAP_NONE = 0,
	TP_ENCAP_VXLAN,
	TP_ENCAP_GENEVE,
	TP_ENCAP_GRE,
	TP_ENCAP_ERSPAN1,
	TP_ENCAP_ERSPAN2,
	TP_ENCAP_ERSPAN3,
	TP_ENCAP_IPIP,
	TP_ENCAP__COUNT
};

/* One tunnel crossed: the outer headers that carried the inner packet. */
struct tp_tunnel {
	uint8_t encap;      /* enum tp_encap */
	uint8_t has_id;     /* id is meaningful (VNI, GRE key, session id) */
	uint8_t ipver;      /* outer IP version */
	uint8_t pad;
	uint16_t sport, dport; /* outer UDP ports, 0 for GRE/IP-in-IP */
	uint32_t id;
	struct tp_addr src, dst;
};

/* AWS Gateway Load Balancer Geneve options (class 0x0108). */
struct tp_gwlb {
	uint8_t present;    /* bit 0 endpoint, bit 1 attachment, bit 2 cookie */
	uint64_t endpoint_id;
	uint64_t attachment_id;
	uint32_t flow_cookie;
};

struct tp_pkt {
	/* Input, set by the capture source. */
	const uint8_t *data;
	uint32_t caplen;        /* bytes present */
	uint32_t wirelen;       /* bytes on the wire */
	uint64_t ts_ns;         /* packet time, ns since the epoch */
	uint32_t linktype;      /* DLT_* / LINKTYPE_* of the capture */
	/* Sources that deliver a tunnel's payload without its outer headers
	 * (a UDP socket) name the first protocol to decode (enum tp_proto;
	 * 0: from linktype) and give the outer addresses and ports, which
	 * become the tunnel record. */
	uint8_t first;
	uint8_t outer_ipver;
	uint16_t outer_sport, outer_dport;
	struct tp_addr outer_src, outer_dst;

	/* Tunnels crossed, outermost first. */
	uint8_t ntun;
	struct tp_tunnel tun[TP_MAX_TUNNELS];
	struct tp_gwlb gwlb;

	/* Innermost link layer. */
	uint8_t nvlan;
	uint16_t vlan[2];       /* outer and inner VLAN id of the innermost frame */
	uint8_t layers;         /* decoder invocations, for the depth cap */

	/* Innermost IP packet. */
	uint8_t ipver;          /* 0: no IP, 4 or 6 */
	uint8_t proto;          /* transport protocol number */
	uint8_t ttl;            /* TTL or hop limit */
	bool reassembled;       /* L3 came out of fragment reassembly */
	bool held;              /* a fragment kept for reassembly: no L4 yet */
	bool truncated;         /* fewer IP bytes present than the header says */
	bool is_fragment;       /* an IP fragment that was not reassembled */
	const uint8_t *ip;      /* first byte of the IP header */
	uint32_t ip_cap;        /* IP bytes present from ip */
	uint32_t ip_len;        /* IP total length as the header says */
	uint16_t ip_hlen;       /* IP header length, IPv6 extension headers included */
	struct tp_addr src, dst;

	/* Innermost transport. */
	bool l4;                /* a transport decoder accepted its header */
	uint16_t sport, dport;  /* ICMP: type and code */
	uint8_t tcp_flags;
	uint8_t tcp_hlen;
	uint16_t tcp_win;
	uint32_t seq, ack;
	const uint8_t *tcp_opts;
	uint8_t tcp_opts_len;
	const uint8_t *payload; /* first transport payload byte */
	uint32_t payload_cap;   /* payload bytes present */
	uint32_t payload_len;   /* payload bytes on the wire (from IP lengths) */

	/* Events raised while decoding this packet. */
	uint8_t nevents;
	uint8_t events[TP_MAX_PKT_EVENTS];
};

#define TP_TH_FIN 0x01
#define TP_TH_SYN 0x02
#define TP_TH_RST 0x04
#define TP_TH_PSH 0x08
#define TP_TH_ACK 0x10
#define TP_TH_URG 0x20
#define TP_TH_ECE 0x40
#define TP_TH_CWR 0x80

#endif
