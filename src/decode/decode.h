/* Packet decoding: a loop over a static table of per-protocol decoders.
 * Each decoder reads its header through a bounds-checked cursor, fills the
 * packet view, and names the next protocol; the loop, not the decoder,
 * moves on, so tunnels nest without recursion and under a depth cap.  See
 * docs/internals/decode.md. */
#ifndef TP_DECODE_DECODE_H
#define TP_DECODE_DECODE_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/event-t.h"
#include "decode/packet-t.h"
#include "util/cursor.h"

enum tp_dec_rc {
	TP_DEC_OK = 0,
	TP_DEC_TRUNCATED,
	TP_DEC_INVALID,
	TP_DEC_UNSUPPORTED,
};

enum tp_proto {
	TP_P_NONE = 0,
	TP_P_ETH,
	TP_P_SLL,
	TP_P_SLL2,
	TP_P_NULL,      /* BSD loopback, host byte order family */
	TP_P_RAW,       /* raw IP: version nibble decides */
	TP_P_VLAN,
	TP_P_MPLS,
	TP_P_ARP,
	TP_P_IPV4,
	TP_P_IPV6,
	TP_P_TCP,
	TP_P_UDP,
	TP_P_ICMP,
	TP_P_ICMP6,
	TP_P_SCTP,
	TP_P_VXLAN,
	TP_P_GENEVE,
	TP_P_GRE,
	TP_P_ERSPAN1,
	TP_P_ERSPAN2,
	TP_P_ERSPAN3,
	TP_P_PPP,       /* PPP inside GRE v1 (PPTP) */
	TP_P__COUNT
};

/* Decoder settings (from the configuration). */
struct tp_decode_cfg {
	uint16_t vxlan_ports[8];
	uint8_t n_vxlan_ports;
	uint16_t geneve_ports[8];
	uint8_t n_geneve_ports;
	bool vxlan_strict;        /* reserved bits must be zero */
	bool verify_checksums;    /* off by default: truncated copies fail */
	uint8_t max_tunnels;      /* nesting cap, <= TP_MAX_TUNNELS */
	uint64_t defrag_mem_cap;  /* bytes held by IP reassembly */
	uint64_t defrag_timeout_ns;
};

struct tp_defrag;
struct tp_dec;

/* Called for every event raised, with the packet as decoded so far. */
typedef void tp_event_fn(void *arg, const struct tp_pkt *p, enum tp_event ev,
			 const char *addl);

/* Per-thread decoder state. */
struct tp_dec {
	const struct tp_decode_cfg *cfg;
	struct tp_defrag *defrag;
	uint64_t events[TP_EV__COUNT];
	uint64_t packets;
	uint64_t by_encap[TP_ENCAP__COUNT];
	tp_event_fn *on_event;
	void *on_event_arg;
};

struct tp_decoder_ops {
	const char *name;
	/* Decode the header at c->off; on TP_DEC_OK leave c->off past it and
	 * set *next (TP_P_NONE ends decoding).  A decoder may narrow c->len
	 * (IP total length) or switch c to a reassembly buffer. */
	enum tp_dec_rc (*decode)(struct tp_dec *d, struct tp_pkt *p,
				 struct tp_cur *c, enum tp_proto *next);
};

/* Fill decoder settings with tapir's defaults. */
void tp_decode_cfg_default(struct tp_decode_cfg *cfg);

/* Set up a decoder; 0 or -errno.  The cfg must outlive d. */
int tp_dec_init(struct tp_dec *d, const struct tp_decode_cfg *cfg);
void tp_dec_fini(struct tp_dec *d);

/* Decode p->data according to p->linktype.  The return code is that of the
 * layer where decoding stopped; the fields decoded so far stay valid. */
enum tp_dec_rc tp_decode(struct tp_dec *d, struct tp_pkt *p);

/* The same, starting at protocol first instead of the link type (tests,
 * fuzzing, and sources that deliver bare IP). */
enum tp_dec_rc tp_decode_from(struct tp_dec *d, struct tp_pkt *p,
			      enum tp_proto first);

/* Reset the decode-output part of a view before decoding a new frame. */
void tp_pkt_reset(struct tp_pkt *p);

/* Raise an event on p: counter, packet's event list, callback. */
void tp_dec_event(struct tp_dec *d, struct tp_pkt *p, enum tp_event ev,
		  const char *addl);

/* Protocol helpers for decoders. */
enum tp_proto tp_proto_from_ethertype(uint16_t type);
enum tp_proto tp_proto_from_ipproto(struct tp_dec *d, uint8_t proto);
enum tp_proto tp_proto_from_udp_port(const struct tp_dec *d, uint16_t dport);
/* Push a tunnel record built from the current outer L3/L4; NULL if the
 * nesting cap is reached (the event is raised). */
struct tp_tunnel *tp_dec_push_tunnel(struct tp_dec *d, struct tp_pkt *p,
				     enum tp_encap encap);

/* The window scale shift in TCP options (over 14 taken as 14, RFC 7323
 * 2.3), or -2 when they have none. */
int8_t tp_tcp_wscale(const uint8_t *opts, unsigned n);

/* IPv4 address to the v4-mapped form. */
void tp_addr_from_v4(struct tp_addr *a, const uint8_t *v4);
bool tp_addr_is_v4(const struct tp_addr *a);
/* Text form; buf must hold 46 bytes.  Returns buf. */
char *tp_addr_str(const struct tp_addr *a, char *buf);

/* The decoder table, indexed by enum tp_proto. */
extern const struct tp_decoder_ops *const tp_decoders[TP_P__COUNT];

/* One ops per file under src/decode/. */
extern const struct tp_decoder_ops tp_dec_eth, tp_dec_sll, tp_dec_sll2,
	tp_dec_null, tp_dec_raw, tp_dec_vlan, tp_dec_mpls, tp_dec_arp,
	tp_dec_ipv4, tp_dec_ipv6, tp_dec_tcp, tp_dec_udp, tp_dec_icmp,
	tp_dec_icmp6, tp_dec_sctp, tp_dec_vxlan, tp_dec_geneve, tp_dec_gre,
	tp_dec_erspan1, tp_dec_erspan2, tp_dec_erspan3, tp_dec_ppp;

#endif
