/* Tunnel decoders: VXLAN, Geneve (AWS GWLB options), GRE v0/v1, PPP in
 * PPTP, ERSPAN I/II/III.  Packets are built byte by byte; field values
 * follow captures of the real protocols (tcpdump's and Zeek's test
 * traces) where one exists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "decode/decode.h"

/* --- fixture ---------------------------------------------------------- */

struct fx {
	struct tp_decode_cfg cfg;
	struct tp_dec d;
	struct tp_pkt p;
	struct tp_cur c;
	unsigned nev;
	enum tp_event last_ev;
	char last_addl[64];
};

static struct fx F;

static void on_event(void *arg, const struct tp_pkt *p, enum tp_event ev,
		     const char *addl)
{
	struct fx *f = arg;
	(void)p;
	f->nev++;
	f->last_ev = ev;
	snprintf(f->last_addl, sizeof(f->last_addl), "%s", addl ? addl : "");
}

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	tp_decode_cfg_default(&F.cfg);
	if (tp_dec_init(&F.d, &F.cfg) != 0)
		return -1;
	F.d.on_event = on_event;
	F.d.on_event_arg = &F;
	/* The outer packet as the IP and UDP decoders leave it. */
	static const uint8_t src[4] = {192, 168, 203, 1};
	static const uint8_t dst[4] = {192, 168, 202, 1};
	F.p.ipver = 4;
	F.p.proto = 17;
	tp_addr_from_v4(&F.p.src, src);
	tp_addr_from_v4(&F.p.dst, dst);
	F.p.sport = 45149;
	F.p.dport = 4789;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	tp_dec_fini(&F.d);
	return 0;
}

static void set_outer_gre(const uint8_t src[4], const uint8_t dst[4])
{
	F.p.proto = 47;
	tp_addr_from_v4(&F.p.src, src);
	tp_addr_from_v4(&F.p.dst, dst);
	F.p.sport = F.p.dport = 0;
}

static const struct tp_decoder_ops *tunnel_ops(enum tp_proto pr)
{
	switch (pr) {
	case TP_P_VXLAN:
		return &tp_dec_vxlan;
	case TP_P_GENEVE:
		return &tp_dec_geneve;
	case TP_P_GRE:
		return &tp_dec_gre;
	case TP_P_PPP:
		return &tp_dec_ppp;
	case TP_P_ERSPAN1:
		return &tp_dec_erspan1;
	case TP_P_ERSPAN2:
		return &tp_dec_erspan2;
	case TP_P_ERSPAN3:
		return &tp_dec_erspan3;
	default:
		return NULL;
	}
}

/* Run the tunnel decoders from `first` over buf; stop at the first layer
 * that is not a tunnel header and report it in *stop (TP_P_NONE when a
 * decoder ended decoding, the failing layer on an error). */
static enum tp_dec_rc run(enum tp_proto first, const uint8_t *buf,
			  size_t len, enum tp_proto *stop)
{
	enum tp_proto cur = first;

	tp_cur_init(&F.c, buf, len);
	for (;;) {
		const struct tp_decoder_ops *ops = tunnel_ops(cur);
		enum tp_proto next = TP_P_NONE;
		enum tp_dec_rc rc;

		if (!ops) {
			*stop = cur;
			return TP_DEC_OK;
		}
		rc = ops->decode(&F.d, &F.p, &F.c, &next);
		if (rc != TP_DEC_OK) {
			*stop = cur;
			return rc;
		}
		cur = next;
	}
}

static void assert_addr_v4(const struct tp_addr *a, uint8_t x0, uint8_t x1,
			   uint8_t x2, uint8_t x3)
{
	struct tp_addr want;
	const uint8_t v4[4] = {x0, x1, x2, x3};
	tp_addr_from_v4(&want, v4);
	assert_memory_equal(a->b, want.b, 16);
}

static void assert_event(enum tp_event ev, const char *addl)
{
	assert_int_equal(F.nev, 1);
	assert_int_equal(F.last_ev, ev);
	assert_int_equal(F.d.events[ev], 1);
	if (addl)
		assert_string_equal(F.last_addl, addl);
}

/* An inner Ethernet + IPv4 start, enough for "something follows". */
#define INNER_ETH                                                         \
	0x00, 0x30, 0x88, 0x01, 0x00, 0x02, 0x00, 0x16, 0x3e, 0x37, 0xf6,  \
		0x04, 0x08, 0x00
#define INNER_IP4 0x45, 0x00, 0x00, 0x54

/* --- VXLAN ------------------------------------------------------------- */

/* AWS-style header: flags 0x08, VNI 100 (tcpdump vxlan.pcap, frame 1). */
static void vxlan_vni(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x08, 0x00, 0x00, 0x00,
				      0x00, 0x00, 0x64, 0x00, INNER_ETH};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_VXLAN, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_ETH);
	assert_int_equal(F.c.off, 8);
	assert_int_equal(F.nev, 0);
	assert_int_equal(F.p.ntun, 1);
	const struct tp_tunnel *t = &F.p.tun[0];
	assert_int_equal(t->encap, TP_ENCAP_VXLAN);
	assert_int_equal(t->has_id, 1);
	assert_int_equal(t->id, 100);
	assert_int_equal(t->ipver, 4);
	assert_int_equal(t->sport, 45149);
	assert_int_equal(t->dport, 4789);
	assert_addr_v4(&t->src, 192, 168, 203, 1);
	assert_addr_v4(&t->dst, 192, 168, 202, 1);
	/* The inner packet starts afresh. */
	assert_int_equal(F.p.ipver, 0);
	assert_int_equal(F.p.sport, 0);
	assert_int_equal(F.d.by_encap[TP_ENCAP_VXLAN], 1);
}

static void vxlan_vni_24bit(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x08, 0x00, 0x00, 0x00,
				      0xab, 0xcd, 0xef, 0x00, INNER_ETH};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_VXLAN, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(F.p.tun[0].id, 0xabcdef);
}

static void vxlan_no_i_flag(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x00, 0x00, 0x00, 0x00,
				      0x00, 0x00, 0x64, 0x00, INNER_ETH};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_VXLAN, pkt, sizeof(pkt), &stop),
			 TP_DEC_INVALID);
	assert_event(TP_EV_VXLAN_BAD_FLAGS, "I flag not set");
	assert_int_equal(F.p.ntun, 0);
}

/* VXLAN-GBP: G bit and a group policy id in the "reserved" bits. */
static const uint8_t vxlan_gbp[] = {0x88, 0x00, 0x12, 0x34,
				    0x00, 0x00, 0x07, 0x00, INNER_ETH};

static void vxlan_reserved_lenient(void **state)
{
	(void)state;
	enum tp_proto stop;

	assert_int_equal(run(TP_P_VXLAN, vxlan_gbp, sizeof(vxlan_gbp), &stop),
			 TP_DEC_OK);
	assert_int_equal(stop, TP_P_ETH);
	assert_int_equal(F.p.tun[0].id, 7);
	assert_int_equal(F.nev, 0);
}

static void vxlan_reserved_strict(void **state)
{
	(void)state;
	enum tp_proto stop;

	F.cfg.vxlan_strict = true;
	assert_int_equal(run(TP_P_VXLAN, vxlan_gbp, sizeof(vxlan_gbp), &stop),
			 TP_DEC_INVALID);
	assert_event(TP_EV_VXLAN_BAD_FLAGS, "reserved bits set");
	assert_int_equal(F.p.ntun, 0);
}

static void vxlan_strict_last_byte(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x08, 0x00, 0x00, 0x00,
				      0x00, 0x00, 0x64, 0x01, INNER_ETH};
	enum tp_proto stop;

	F.cfg.vxlan_strict = true;
	assert_int_equal(run(TP_P_VXLAN, pkt, sizeof(pkt), &stop),
			 TP_DEC_INVALID);
	assert_event(TP_EV_VXLAN_BAD_FLAGS, NULL);
}

static void vxlan_truncated(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x64};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_VXLAN, pkt, sizeof(pkt), &stop),
			 TP_DEC_TRUNCATED);
	assert_event(TP_EV_TRUNCATED_VXLAN, NULL);
	assert_int_equal(F.p.ntun, 0);
}

static void vxlan_empty(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x08, 0x00, 0x00, 0x00,
				      0x00, 0x00, 0x64, 0x00};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_VXLAN, pkt, sizeof(pkt), &stop),
			 TP_DEC_TRUNCATED);
	assert_event(TP_EV_VXLAN_EMPTY, NULL);
	assert_int_equal(F.p.ntun, 0);
}

static void vxlan_nesting_cap(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x08, 0x00, 0x00, 0x00,
				      0x00, 0x00, 0x64, 0x00, INNER_ETH};
	enum tp_proto stop;

	F.cfg.max_tunnels = 1;
	F.p.ntun = 1;
	assert_int_equal(run(TP_P_VXLAN, pkt, sizeof(pkt), &stop),
			 TP_DEC_UNSUPPORTED);
	assert_event(TP_EV_TUNNEL_TOO_DEEP, NULL);
	assert_int_equal(F.p.ntun, 1);
}

/* --- Geneve ------------------------------------------------------------ */

/* AWS Gateway Load Balancer: three class 0x0108 options, then IPv4. */
static const uint8_t geneve_gwlb[] = {
	0x08, 0x00, 0x08, 0x00, /* ver 0, opt len 8 words, IPv4 */
	0x00, 0x00, 0x00, 0x00, /* VNI 0 */
	0x01, 0x08, 0x01, 0x02, /* endpoint id, 2 words */
	0x0f, 0x1e, 0x2d, 0x3c, 0x4b, 0x5a, 0x69, 0x78,
	0x01, 0x08, 0x02, 0x02, /* attachment id, 2 words */
	0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x01, 0x08, 0x03, 0x01, /* flow cookie, 1 word */
	0xde, 0xad, 0xbe, 0xef,
	INNER_IP4,
};

static void geneve_gwlb_options(void **state)
{
	(void)state;
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, geneve_gwlb, sizeof(geneve_gwlb),
			     &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_IPV4);
	assert_int_equal(F.c.off, 40);
	assert_int_equal(F.nev, 0);
	assert_int_equal(F.p.gwlb.present, 7);
	assert_true(F.p.gwlb.endpoint_id == 0x0f1e2d3c4b5a6978ull);
	assert_true(F.p.gwlb.attachment_id == 0x8001020304050607ull);
	assert_int_equal(F.p.gwlb.flow_cookie, 0xdeadbeef);
	assert_int_equal(F.p.ntun, 1);
	assert_int_equal(F.p.tun[0].encap, TP_ENCAP_GENEVE);
	assert_int_equal(F.p.tun[0].has_id, 1);
	assert_int_equal(F.p.tun[0].id, 0);
}

/* GCP: three class 0x0132 options (tcpdump geneve-gcp.pcap), then IPv4;
 * nothing lands in the GWLB fields. */
static void geneve_gcp(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {
		0x0a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x32, 0x01, 0x01, 0x80, 0x00, 0x00, 0xd1,
		0x01, 0x32, 0x02, 0x04, 0x08, 0x00, 0x00, 0x0d,
		0xc0, 0xa8, 0x64, 0x02, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00,
		0x01, 0x32, 0x03, 0x02, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x12, 0x34,
		INNER_IP4,
	};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_IPV4);
	assert_int_equal(F.c.off, 48);
	assert_int_equal(F.p.gwlb.present, 0);
	assert_int_equal(F.p.tun[0].id, 0);
	assert_int_equal(F.nev, 0);
}

/* Critical flag and a critical option of class 0 (tcpdump geneve.pcap):
 * skipped, the Ethernet frame still decoded. */
static void geneve_critical_option(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {
		0x02, 0x40, 0x65, 0x58, 0x00, 0x00, 0x0a, 0x00,
		0x00, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x0c,
		INNER_ETH,
	};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_ETH);
	assert_int_equal(F.c.off, 16);
	assert_int_equal(F.p.tun[0].id, 10);
	assert_int_equal(F.nev, 0);
}

static void geneve_ipv6(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x00, 0x00, 0x86, 0xdd, 0x12, 0x34,
				      0x56, 0x00, 0x60, 0x00, 0x00, 0x00};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_IPV6);
	assert_int_equal(F.c.off, 8);
	assert_int_equal(F.p.tun[0].id, 0x123456);
}

static void geneve_bad_version(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x40, 0x00, 0x65, 0x58, 0x00, 0x00,
				      0x0a, 0x00, INNER_ETH};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, pkt, sizeof(pkt), &stop),
			 TP_DEC_UNSUPPORTED);
	assert_event(TP_EV_GENEVE_BAD_VERSION, "version=1");
	assert_int_equal(F.p.ntun, 0);
}

/* One word of options, but the option claims one more word of data. */
static void geneve_option_overrun(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {
		0x01, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x08, 0x03, 0x01, 0xde, 0xad, 0xbe, 0xef, INNER_IP4,
	};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, pkt, sizeof(pkt), &stop),
			 TP_DEC_INVALID);
	assert_event(TP_EV_GENEVE_BAD_OPTION, NULL);
	assert_int_equal(F.p.gwlb.present, 0);
	assert_int_equal(F.p.ntun, 0);
}

/* Options area longer than the bytes present. */
static void geneve_options_truncated(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {
		0x0a, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x32, 0x01, 0x01, 0x80, 0x00, 0x00, 0xd1,
	};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, pkt, sizeof(pkt), &stop),
			 TP_DEC_TRUNCATED);
	assert_event(TP_EV_TRUNCATED_GENEVE, "options");
}

static void geneve_truncated(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x00, 0x00, 0x65, 0x58, 0x00};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, pkt, sizeof(pkt), &stop),
			 TP_DEC_TRUNCATED);
	assert_event(TP_EV_TRUNCATED_GENEVE, NULL);
}

/* An AWS flow cookie of two words: reported and not stored; the other
 * options and the payload are still decoded. */
static void geneve_aws_bad_length(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {
		0x06, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x08, 0x03, 0x02, 0xde, 0xad, 0xbe, 0xef,
		0x00, 0x00, 0x00, 0x00,
		0x01, 0x08, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x2a,
		INNER_IP4,
	};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_IPV4);
	assert_event(TP_EV_GENEVE_BAD_OPTION, "aws type 3 length 8");
	assert_int_equal(F.p.gwlb.present, 1);
	assert_true(F.p.gwlb.endpoint_id == 42);
	assert_int_equal(F.p.gwlb.flow_cookie, 0);
}

/* The three reserved bits above an option's length are not length, and
 * the critical bit is not part of the AWS option type. */
static void geneve_option_reserved_bits(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {
		0x02, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00,
		0x01, 0x08, 0x83, 0xe1, 0x01, 0x02, 0x03, 0x04,
		INNER_IP4,
	};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_IPV4);
	assert_int_equal(F.c.off, 16);
	assert_int_equal(F.p.gwlb.present, 4);
	assert_int_equal(F.p.gwlb.flow_cookie, 0x01020304);
	assert_int_equal(F.p.tun[0].id, 1);
}

/* MPLS inside Geneve is not decoded, but the GWLB ids are kept. */
static void geneve_unknown_payload(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {
		0x03, 0x00, 0x88, 0x47, 0x00, 0x00, 0x00, 0x00,
		0x01, 0x08, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x2a, 0x00, 0x01, 0x01, 0x40,
	};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, pkt, sizeof(pkt), &stop),
			 TP_DEC_UNSUPPORTED);
	assert_event(TP_EV_GENEVE_UNKNOWN_PAYLOAD, "0x8847");
	assert_int_equal(F.p.gwlb.present, 1);
	assert_int_equal(F.p.ntun, 0);
}

static void geneve_empty(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x00, 0x00, 0x65, 0x58,
				      0x00, 0x00, 0x0a, 0x00};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GENEVE, pkt, sizeof(pkt), &stop),
			 TP_DEC_TRUNCATED);
	assert_event(TP_EV_GENEVE_EMPTY, NULL);
	assert_int_equal(F.p.ntun, 0);
}

/* --- GRE --------------------------------------------------------------- */

static const uint8_t gre_src[4] = {10, 172, 64, 7};
static const uint8_t gre_dst[4] = {10, 172, 64, 6};

/* Key 0x28 (tcpdump various_gre.pcap), IPv4 inside. */
static void gre_key_ipv4(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x20, 0x00, 0x08, 0x00, 0x00, 0x00,
				      0x00, 0x28, INNER_IP4};
	enum tp_proto stop;

	set_outer_gre(gre_src, gre_dst);
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_IPV4);
	assert_int_equal(F.c.off, 8);
	assert_int_equal(F.nev, 0);
	assert_int_equal(F.p.ntun, 1);
	const struct tp_tunnel *t = &F.p.tun[0];
	assert_int_equal(t->encap, TP_ENCAP_GRE);
	assert_int_equal(t->has_id, 1);
	assert_int_equal(t->id, 0x28);
	assert_int_equal(t->sport, 0);
	assert_int_equal(t->dport, 0);
	assert_addr_v4(&t->src, 10, 172, 64, 7);
	assert_addr_v4(&t->dst, 10, 172, 64, 6);
}

static void gre_plain_ipv6(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x00, 0x00, 0x86, 0xdd, 0x60, 0x00};
	enum tp_proto stop;

	set_outer_gre(gre_src, gre_dst);
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_IPV6);
	assert_int_equal(F.c.off, 4);
	assert_int_equal(F.p.tun[0].has_id, 0);
}

/* Transparent Ethernet bridging, key 0 (Zeek erspan.pcap). */
static void gre_teb(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x20, 0x00, 0x65, 0x58, 0x00, 0x00,
				      0x00, 0x00, INNER_ETH};
	enum tp_proto stop;

	set_outer_gre(gre_src, gre_dst);
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_ETH);
	assert_int_equal(F.c.off, 8);
	assert_int_equal(F.p.tun[0].has_id, 1);
	assert_int_equal(F.p.tun[0].id, 0);
}

static void gre_vlan_mpls(void **state)
{
	(void)state;
	static const uint8_t vlan[] = {0x00, 0x00, 0x81, 0x00, 0x00, 0x0a};
	static const uint8_t mpls[] = {0x00, 0x00, 0x88, 0x47, 0x00, 0x01};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, vlan, sizeof(vlan), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_VLAN);
	F.p.ntun = 0;
	assert_int_equal(run(TP_P_GRE, mpls, sizeof(mpls), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_MPLS);
}

/* Cisco keepalive reply: key, protocol 0, nothing inside. */
static void gre_keepalive(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x20, 0x00, 0x00, 0x00,
				      0x00, 0x00, 0x00, 0x28};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_NONE);
	assert_int_equal(F.nev, 0);
	assert_int_equal(F.p.ntun, 0);
}

/* Protocol 0x8909 (Cisco, tcpdump various_gre.pcap) is not decoded. */
static void gre_unknown_protocol(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x20, 0x00, 0x89, 0x09, 0x00, 0x00,
				      0x00, 0x28, 0x01, 0x02, 0x03};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop),
			 TP_DEC_UNSUPPORTED);
	assert_event(TP_EV_GRE_UNKNOWN_PROTOCOL, "0x8909");
	assert_int_equal(F.p.ntun, 0);
}

static void gre_bad_version(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x00, 0x02, 0x08, 0x00, INNER_IP4};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop),
			 TP_DEC_UNSUPPORTED);
	assert_event(TP_EV_GRE_BAD_VERSION, "version=2");
}

static void gre_routing(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x40, 0x00, 0x08, 0x00, 0x00, 0x00,
				      0x00, 0x00, INNER_IP4};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop),
			 TP_DEC_UNSUPPORTED);
	assert_event(TP_EV_GRE_ROUTING, NULL);
}

static void gre_reserved_flags(void **state)
{
	(void)state;
	static const uint8_t v0_flag[] = {0x00, 0x40, 0x08, 0x00, INNER_IP4};
	static const uint8_t v0_ack[] = {0x00, 0x80, 0x08, 0x00, INNER_IP4};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, v0_flag, sizeof(v0_flag), &stop),
			 TP_DEC_INVALID);
	assert_event(TP_EV_GRE_BAD_FLAGS, "flags=0x0040");
	/* The A bit exists in version 1 only. */
	assert_int_equal(run(TP_P_GRE, v0_ack, sizeof(v0_ack), &stop),
			 TP_DEC_INVALID);
	assert_int_equal(F.d.events[TP_EV_GRE_BAD_FLAGS], 2);
	assert_string_equal(F.last_addl, "flags=0x0080");
}

/* s and Recur (RFC 1701) change no length: ignored.  Flags 0x1d00 come
 * from tcpdump's erspan-type-iii-pb-1.pcap. */
static void gre_strict_route_recur_ignored(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x1d, 0x00, 0x08, 0x00, 0xff, 0x28,
				      0x01, 0x01, INNER_IP4};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_IPV4);
	assert_int_equal(F.c.off, 8);
	assert_int_equal(F.p.tun[0].has_id, 0);
}

static void gre_truncated(void **state)
{
	(void)state;
	static const uint8_t base[] = {0x20, 0x00, 0x08};
	static const uint8_t key[] = {0x20, 0x00, 0x08, 0x00, 0x00, 0x00};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, base, sizeof(base), &stop),
			 TP_DEC_TRUNCATED);
	assert_event(TP_EV_TRUNCATED_GRE, NULL);
	assert_int_equal(run(TP_P_GRE, key, sizeof(key), &stop),
			 TP_DEC_TRUNCATED);
	assert_int_equal(F.d.events[TP_EV_TRUNCATED_GRE], 2);
	assert_int_equal(F.p.ntun, 0);
}

/* C bit: checksum over the GRE header and payload. */
static uint8_t gre_csum_pkt[] = {0x80, 0x00, 0x08, 0x00, 0x00, 0x00,
				 0x00, 0x00, 0x45, 0x00, 0x00, 0x14};

static void gre_csum_fill(void)
{
	/* One's-complement sum of the words, checksum field zero. */
	uint32_t sum = 0x8000 + 0x0800 + 0x4500 + 0x0014;
	uint16_t ck = (uint16_t)~sum;
	gre_csum_pkt[4] = (uint8_t)(ck >> 8);
	gre_csum_pkt[5] = (uint8_t)ck;
}

static void gre_checksum(void **state)
{
	(void)state;
	enum tp_proto stop;

	gre_csum_fill();
	F.cfg.verify_checksums = true;
	assert_int_equal(run(TP_P_GRE, gre_csum_pkt, sizeof(gre_csum_pkt),
			     &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_IPV4);
	assert_int_equal(F.c.off, 8);
	assert_int_equal(F.nev, 0);
}

static void gre_checksum_bad(void **state)
{
	(void)state;
	uint8_t pkt[sizeof(gre_csum_pkt)];
	enum tp_proto stop;

	gre_csum_fill();
	memcpy(pkt, gre_csum_pkt, sizeof(pkt));
	pkt[11] ^= 0x01;
	F.cfg.verify_checksums = true;
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop),
			 TP_DEC_INVALID);
	assert_event(TP_EV_GRE_BAD_CHECKSUM, NULL);
	assert_int_equal(F.p.ntun, 0);
}

/* A truncated copy cannot be checked; without verify_checksums nothing is
 * checked at all. */
static void gre_checksum_skipped(void **state)
{
	(void)state;
	uint8_t pkt[sizeof(gre_csum_pkt)];
	enum tp_proto stop;

	gre_csum_fill();
	memcpy(pkt, gre_csum_pkt, sizeof(pkt));
	pkt[11] ^= 0x01;
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	F.cfg.verify_checksums = true;
	F.p.ntun = 0;
	F.p.truncated = true;
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(F.nev, 0);
}

/* A first fragment that was not reassembled: the GRE header is read, the
 * partial inner packet is not. */
static void gre_fragment(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x20, 0x00, 0x08, 0x00, 0x00, 0x00,
				      0x00, 0x28, INNER_IP4};
	enum tp_proto stop;

	F.p.is_fragment = true;
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_NONE);
	assert_int_equal(F.p.ntun, 0);
}

/* WCCP redirection: version 2 with its redirect header (service 89,
 * bucket 72; tcpdump wccp_redirect_gre.pcap), version 1 without. */
static void gre_wccp(void **state)
{
	(void)state;
	static const uint8_t v2[] = {0x00, 0x00, 0x88, 0x3e, 0x05, 0x59,
				     0x00, 0x48, INNER_IP4};
	static const uint8_t v1[] = {0x00, 0x00, 0x88, 0x3e, INNER_IP4};
	static const uint8_t cut[] = {0x00, 0x00, 0x88, 0x3e, 0x05, 0x59};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, v2, sizeof(v2), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_RAW);
	assert_int_equal(F.c.off, 8);
	assert_int_equal(F.p.tun[0].encap, TP_ENCAP_GRE);
	assert_int_equal(run(TP_P_GRE, v1, sizeof(v1), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_RAW);
	assert_int_equal(F.c.off, 4);
	assert_int_equal(F.nev, 0);
	assert_int_equal(run(TP_P_GRE, cut, sizeof(cut), &stop),
			 TP_DEC_TRUNCATED);
	assert_event(TP_EV_TRUNCATED_GRE, "WCCP redirect header");
}

/* --- GRE version 1 (PPTP) and PPP --------------------------------------- */

/* LCP Configure-Request, call 0, seq 0 (tcpdump pptp.pcap, frame 16),
 * followed by 4 bytes that are not PPTP payload. */
static void pptp_lcp(void **state)
{
	(void)state;
	uint8_t pkt[12 + 48 + 4];
	static const uint8_t hdr[] = {0x30, 0x01, 0x88, 0x0b, 0x00, 0x30,
				      0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
				      0xff, 0x03, 0xc0, 0x21, 0x01, 0x00,
				      0x00, 0x2c};
	enum tp_proto stop;

	memset(pkt, 0xee, sizeof(pkt));
	memcpy(pkt, hdr, sizeof(hdr));
	set_outer_gre((const uint8_t[4]){10, 1, 1, 11},
		      (const uint8_t[4]){10, 1, 1, 10});
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_NONE); /* LCP ends decoding */
	assert_int_equal(F.nev, 0);
	assert_int_equal(F.c.off, 16);
	assert_int_equal(F.c.len, 12 + 48);
	assert_int_equal(F.p.ntun, 1);
	assert_int_equal(F.p.tun[0].encap, TP_ENCAP_GRE);
	assert_int_equal(F.p.tun[0].has_id, 1);
	assert_int_equal(F.p.tun[0].id, 0);
	assert_addr_v4(&F.p.tun[0].src, 10, 1, 1, 11);
}

/* Sequence and acknowledgment, call id 0x1234, IPv4 inside. */
static void pptp_ipv4(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x30, 0x81, 0x88, 0x0b, 0x00, 0x08,
				      0x12, 0x34, 0x00, 0x00, 0x00, 0x07,
				      0x00, 0x00, 0x00, 0x05, 0xff, 0x03,
				      0x00, 0x21, INNER_IP4};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_IPV4);
	assert_int_equal(F.c.off, 20);
	assert_int_equal(F.p.tun[0].id, 0x1234);
	assert_int_equal(F.p.tun[0].has_id, 1);
}

/* Acknowledgment only: no payload, nothing to push. */
static void pptp_ack_only(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x20, 0x81, 0x88, 0x0b, 0x00, 0x00,
				      0x12, 0x34, 0x00, 0x00, 0x00, 0x05};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_NONE);
	assert_int_equal(F.p.ntun, 0);
	assert_int_equal(F.nev, 0);
}

static void pptp_without_key(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x10, 0x01, 0x88, 0x0b, 0x00, 0x00,
				      0x00, 0x01, 0xff, 0x03, 0x00, 0x21};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop),
			 TP_DEC_INVALID);
	assert_event(TP_EV_GRE_BAD_FLAGS, "version 1 without key");
}

static void pptp_not_ppp(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x20, 0x01, 0x08, 0x00, 0x00, 0x04,
				      0x00, 0x01, INNER_IP4};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop),
			 TP_DEC_INVALID);
	assert_event(TP_EV_EGRE_BAD_PROTOCOL, "0x0800");
	assert_int_equal(F.p.ntun, 0);
}

static enum tp_dec_rc ppp_only(const uint8_t *buf, size_t len,
			       enum tp_proto *next)
{
	tp_cur_init(&F.c, buf, len);
	*next = TP_P__COUNT;
	return tp_dec_ppp.decode(&F.d, &F.p, &F.c, next);
}

static void ppp_framings(void **state)
{
	(void)state;
	static const uint8_t full[] = {0xff, 0x03, 0x00, 0x21, 0x45};
	static const uint8_t acfc[] = {0x00, 0x57, 0x60};
	static const uint8_t pfc[] = {0xff, 0x03, 0x21, 0x45};
	static const uint8_t both[] = {0x57, 0x60};
	enum tp_proto next;

	assert_int_equal(ppp_only(full, sizeof(full), &next), TP_DEC_OK);
	assert_int_equal(next, TP_P_IPV4);
	assert_int_equal(F.c.off, 4);
	assert_int_equal(ppp_only(acfc, sizeof(acfc), &next), TP_DEC_OK);
	assert_int_equal(next, TP_P_IPV6);
	assert_int_equal(F.c.off, 2);
	assert_int_equal(ppp_only(pfc, sizeof(pfc), &next), TP_DEC_OK);
	assert_int_equal(next, TP_P_IPV4);
	assert_int_equal(F.c.off, 3);
	assert_int_equal(ppp_only(both, sizeof(both), &next), TP_DEC_OK);
	assert_int_equal(next, TP_P_IPV6);
	assert_int_equal(F.c.off, 1);
	assert_int_equal(F.nev, 0);
}

/* IPCP, CCP, MPPE-encrypted data: normal PPTP traffic, no event. */
static void ppp_control_and_encrypted(void **state)
{
	(void)state;
	static const uint8_t ipcp[] = {0xff, 0x03, 0x80, 0x21, 0x01};
	static const uint8_t mppe[] = {0xff, 0x03, 0x00, 0xfd, 0x90, 0x01};
	static const uint8_t mppe_pfc[] = {0xfd, 0x90, 0x01};
	enum tp_proto next;

	assert_int_equal(ppp_only(ipcp, sizeof(ipcp), &next), TP_DEC_OK);
	assert_int_equal(next, TP_P_NONE);
	assert_int_equal(ppp_only(mppe, sizeof(mppe), &next), TP_DEC_OK);
	assert_int_equal(next, TP_P_NONE);
	assert_int_equal(ppp_only(mppe_pfc, sizeof(mppe_pfc), &next),
			 TP_DEC_OK);
	assert_int_equal(next, TP_P_NONE);
	assert_int_equal(F.nev, 0);
}

static void ppp_non_ip(void **state)
{
	(void)state;
	static const uint8_t ipx[] = {0xff, 0x03, 0x00, 0x2b, 0xff, 0xff};
	enum tp_proto next;

	assert_int_equal(ppp_only(ipx, sizeof(ipx), &next),
			 TP_DEC_UNSUPPORTED);
	assert_event(TP_EV_PPP_NON_IP, "0x002b");
}

static void ppp_truncated(void **state)
{
	(void)state;
	static const uint8_t half[] = {0xff, 0x03, 0x00};
	static const uint8_t one[] = {0x00};
	enum tp_proto next;

	assert_int_equal(ppp_only(half, sizeof(half), &next),
			 TP_DEC_TRUNCATED);
	assert_event(TP_EV_TRUNCATED_PPP, NULL);
	assert_int_equal(ppp_only(one, sizeof(one), &next), TP_DEC_TRUNCATED);
	assert_int_equal(ppp_only(NULL, 0, &next), TP_DEC_TRUNCATED);
	assert_int_equal(F.d.events[TP_EV_TRUNCATED_PPP], 3);
}

/* --- ERSPAN ------------------------------------------------------------ */

/* Type I: protocol 0x88BE without sequence number, Ethernet at once
 * (tcpdump erspan-type-i-3.pcap). */
static void erspan_type1(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x00, 0x00, 0x88, 0xbe, INNER_ETH};
	enum tp_proto stop;

	set_outer_gre((const uint8_t[4]){192, 168, 90, 17},
		      (const uint8_t[4]){192, 168, 90, 127});
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_ETH);
	assert_int_equal(F.c.off, 4);
	assert_int_equal(F.nev, 0);
	assert_int_equal(F.p.ntun, 1);
	assert_int_equal(F.p.tun[0].encap, TP_ENCAP_ERSPAN1);
	assert_int_equal(F.p.tun[0].has_id, 0);
	assert_addr_v4(&F.p.tun[0].src, 192, 168, 90, 17);
	assert_int_equal(F.d.by_encap[TP_ENCAP_ERSPAN1], 1);
	assert_int_equal(F.d.by_encap[TP_ENCAP_GRE], 0);
}

/* Type II: session 666, cos 6, index 32760, VLAN 342, GRE seq 171
 * (tcpdump erspan-type-ii-1.pcap). */
static void erspan_type2(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x10, 0x00, 0x88, 0xbe, 0x00, 0x00,
				      0x00, 0xab, 0x11, 0x56, 0xc2, 0x9a,
				      0x00, 0x00, 0x7f, 0xf8, INNER_ETH};
	enum tp_proto stop;

	set_outer_gre((const uint8_t[4]){1, 1, 1, 2},
		      (const uint8_t[4]){192, 168, 255, 5});
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_ETH);
	assert_int_equal(F.c.off, 16);
	assert_int_equal(F.nev, 0);
	assert_int_equal(F.p.ntun, 1);
	const struct tp_tunnel *t = &F.p.tun[0];
	assert_int_equal(t->encap, TP_ENCAP_ERSPAN2);
	assert_int_equal(t->has_id, 1);
	assert_int_equal(t->id, 666);
	assert_addr_v4(&t->src, 1, 1, 1, 2);
	assert_addr_v4(&t->dst, 192, 168, 255, 5);
	assert_int_equal(F.d.by_encap[TP_ENCAP_ERSPAN2], 1);
	assert_int_equal(F.d.by_encap[TP_ENCAP_GRE], 0);
}

/* The session id is the low 10 bits: COS, En and T around it are not. */
static void erspan_type2_session_bits(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x10, 0x00, 0x88, 0xbe, 0x00, 0x00,
				      0x00, 0x01, 0x1f, 0xff, 0xff, 0xff,
				      0xff, 0xff, 0xff, 0xff, INNER_ETH};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(F.p.tun[0].id, 1023);
}

static void erspan_type2_truncated(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x10, 0x00, 0x88, 0xbe, 0x00, 0x00,
				      0x00, 0xab, 0x11, 0x56, 0xc2, 0x9a,
				      0x00, 0x00, 0x7f};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop),
			 TP_DEC_TRUNCATED);
	assert_int_equal(stop, TP_P_ERSPAN2);
	assert_event(TP_EV_TRUNCATED_ERSPAN, NULL);
}

static void erspan_type2_bad_version(void **state)
{
	(void)state;
	static const uint8_t v2[] = {0x10, 0x00, 0x88, 0xbe, 0x00, 0x00,
				     0x00, 0xab, 0x21, 0x56, 0xc2, 0x9a,
				     0x00, 0x00, 0x7f, 0xf8, INNER_ETH};
	static const uint8_t v15[] = {0x10, 0x00, 0x88, 0xbe, 0x00, 0x00,
				      0x00, 0xab, 0xf1, 0x56, 0xc2, 0x9a,
				      0x00, 0x00, 0x7f, 0xf8, INNER_ETH};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, v2, sizeof(v2), &stop),
			 TP_DEC_INVALID);
	assert_event(TP_EV_ERSPAN_BAD_VERSION, "version=2");
	assert_int_equal(run(TP_P_GRE, v15, sizeof(v15), &stop),
			 TP_DEC_UNSUPPORTED);
	assert_string_equal(F.last_addl, "version=15");
}

/* Type III, FT Ethernet, VLAN 20, session 0, no sub-header (tcpdump
 * erspan-type-iii-ft-0.pcap). */
static void erspan_type3(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x00, 0x00, 0x22, 0xeb, 0x20, 0x14,
				      0x00, 0x00, 0xa3, 0x59, 0x5b, 0xff,
				      0x00, 0x00, 0x00, 0x06, INNER_ETH};
	enum tp_proto stop;

	set_outer_gre((const uint8_t[4]){10, 29, 30, 104},
		      (const uint8_t[4]){10, 29, 11, 13});
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_ETH);
	assert_int_equal(F.c.off, 16);
	assert_int_equal(F.nev, 0);
	assert_int_equal(F.p.tun[0].encap, TP_ENCAP_ERSPAN3);
	assert_int_equal(F.p.tun[0].has_id, 1);
	assert_int_equal(F.p.tun[0].id, 0);
	assert_addr_v4(&F.p.tun[0].dst, 10, 29, 11, 13);
	assert_int_equal(F.d.by_encap[TP_ENCAP_ERSPAN3], 1);
}

/* O set: 8-byte platform sub-header (Zeek gre-erspan3-dot1q.pcap), with
 * the session changed to 101. */
static void erspan_type3_platform(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x00, 0x00, 0x22, 0xeb, 0x20, 0x0a,
				      0x00, 0x65, 0x70, 0x50, 0x7e, 0x55,
				      0x00, 0x00, 0x00, 0x07, 0x0c, 0x00,
				      0x00, 0x03, 0x15, 0xf7, 0x42, 0xe8,
				      INNER_ETH};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_ETH);
	assert_int_equal(F.c.off, 24);
	assert_int_equal(F.p.tun[0].id, 101);
}

/* O set, sub-header cut short (tcpdump erspan-type-iii-pb-1.pcap). */
static void erspan_type3_platform_truncated(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x1d, 0x00, 0x22, 0xeb, 0xff, 0x28,
				      0x01, 0x01, 0x2d, 0x2d, 0x08, 0x00,
				      0x48, 0x00, 0x08, 0x46, 0x01, 0x00,
				      0x00, 0x01, 0x3d, 0x0e, 0x45};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop),
			 TP_DEC_TRUNCATED);
	assert_int_equal(stop, TP_P_ERSPAN3);
	assert_event(TP_EV_TRUNCATED_ERSPAN, "platform sub-header");
	/* The session was read before the sub-header. */
	assert_int_equal(F.p.tun[0].encap, TP_ENCAP_ERSPAN3);
	assert_int_equal(F.p.tun[0].id, 0);
}

/* FT 7, session 101, BSO bad (tcpdump erspan-type-iii-ft-7.pcap): the
 * frame is not decoded but the mirror session is known. */
static void erspan_type3_unknown_frame_type(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x10, 0x00, 0x22, 0xeb, 0x00, 0x00,
				      0xba, 0xde, 0x20, 0x01, 0x18, 0x65,
				      0x34, 0x76, 0x0b, 0x01, 0x00, 0x00,
				      0x1e, 0x00, 0x00, 0x00, 0xab, 0xc5};
	enum tp_proto stop;

	set_outer_gre((const uint8_t[4]){192, 168, 1, 172},
		      (const uint8_t[4]){192, 168, 1, 249});
	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop),
			 TP_DEC_UNSUPPORTED);
	assert_event(TP_EV_ERSPAN_BAD_FRAME_TYPE, "ft=7");
	assert_int_equal(F.p.ntun, 1);
	assert_int_equal(F.p.tun[0].encap, TP_ENCAP_ERSPAN3);
	assert_int_equal(F.p.tun[0].id, 101);
	assert_addr_v4(&F.p.tun[0].src, 192, 168, 1, 172);
}

/* FT 2: an IP packet without Ethernet header. */
static void erspan_type3_ip(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x00, 0x00, 0x22, 0xeb, 0x20, 0x00,
				      0x00, 0x07, 0x00, 0x00, 0x00, 0x00,
				      0x00, 0x00, 0x08, 0x00, INNER_IP4};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop), TP_DEC_OK);
	assert_int_equal(stop, TP_P_RAW);
	assert_int_equal(F.c.off, 16);
	assert_int_equal(F.p.tun[0].id, 7);
}

static void erspan_type3_bad_version(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x00, 0x00, 0x22, 0xeb, 0x10, 0x14,
				      0x00, 0x00, 0xa3, 0x59, 0x5b, 0xff,
				      0x00, 0x00, 0x00, 0x06, INNER_ETH};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_GRE, pkt, sizeof(pkt), &stop),
			 TP_DEC_INVALID);
	assert_event(TP_EV_ERSPAN_BAD_VERSION, "version=1");
	/* Not ERSPAN after all: the tunnel stays GRE. */
	assert_int_equal(F.p.tun[0].encap, TP_ENCAP_GRE);
}

/* Reached without a GRE tunnel record (e.g. a fuzz entry point): the
 * ERSPAN decoder records the tunnel itself. */
static void erspan_without_gre(void **state)
{
	(void)state;
	static const uint8_t pkt[] = {0x11, 0x56, 0xc2, 0x9a, 0x00,
				      0x00, 0x7f, 0xf8, INNER_ETH};
	enum tp_proto stop;

	assert_int_equal(run(TP_P_ERSPAN2, pkt, sizeof(pkt), &stop),
			 TP_DEC_OK);
	assert_int_equal(stop, TP_P_ETH);
	assert_int_equal(F.p.ntun, 1);
	assert_int_equal(F.p.tun[0].encap, TP_ENCAP_ERSPAN2);
	assert_int_equal(F.p.tun[0].id, 666);
	assert_int_equal(F.d.by_encap[TP_ENCAP_ERSPAN2], 1);
}

/* --- whole frames through tp_decode -------------------------------------- */

struct pb {
	uint8_t b[512];
	size_t n;
};

static size_t pb_put(struct pb *pb, const uint8_t *q, size_t n)
{
	size_t at = pb->n;
	memcpy(pb->b + pb->n, q, n);
	pb->n += n;
	return at;
}

#define PB(pb, ...)                                                       \
	pb_put(pb, (const uint8_t[]){__VA_ARGS__},                        \
	       sizeof((const uint8_t[]){__VA_ARGS__}))

static void pb_be16(struct pb *pb, size_t at, size_t v)
{
	pb->b[at] = (uint8_t)(v >> 8);
	pb->b[at + 1] = (uint8_t)v;
}

/* IPv4 header without options; total length patched by ip_end(). */
static size_t ip4(struct pb *pb, uint8_t proto, uint8_t a, uint8_t b)
{
	return PB(pb, 0x45, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x40,
		  proto, 0x00, 0x00, 10, 0, 0, a, 10, 0, 0, b);
}

static void ip4_end(struct pb *pb, size_t at)
{
	pb_be16(pb, at + 2, pb->n - at);
}

static size_t udp(struct pb *pb, uint16_t sport, uint16_t dport)
{
	return PB(pb, (uint8_t)(sport >> 8), (uint8_t)sport,
		  (uint8_t)(dport >> 8), (uint8_t)dport, 0, 0, 0, 0);
}

static void udp_end(struct pb *pb, size_t at)
{
	pb_be16(pb, at + 4, pb->n - at);
}

static void decode_frame(const struct pb *pb)
{
	F.p.data = pb->b;
	F.p.caplen = F.p.wirelen = (uint32_t)pb->n;
	F.p.linktype = 1; /* Ethernet */
	tp_pkt_reset(&F.p);
}

/* Mirroring to a GWLB endpoint: Geneve (AWS options) → IPv4 → UDP 4789 →
 * VXLAN → Ethernet → IPv4 → TCP. */
static void frame_gwlb_vxlan(void **state)
{
	(void)state;
	struct pb pb = {.n = 0};

	PB(&pb, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00);
	size_t ip_o = ip4(&pb, 17, 1, 2);
	size_t udp_o = udp(&pb, 40000, 6081);
	PB(&pb, 0x03, 0x00, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
	   0x01, 0x08, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00,
	   0x11, 0x22, 0x33, 0x44);
	size_t ip_m = ip4(&pb, 17, 3, 4);
	size_t udp_m = udp(&pb, 50000, 4789);
	PB(&pb, 0x08, 0x00, 0x00, 0x00, 0x00, 0x30, 0x39, 0x00);
	PB(&pb, 0, 1, 2, 3, 4, 7, 0, 1, 2, 3, 4, 8, 0x08, 0x00);
	size_t ip_i = ip4(&pb, 6, 5, 6);
	PB(&pb, 0x04, 0xd2, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0,
	   0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0);
	ip4_end(&pb, ip_i);
	udp_end(&pb, udp_m);
	ip4_end(&pb, ip_m);
	udp_end(&pb, udp_o);
	ip4_end(&pb, ip_o);

	decode_frame(&pb);
	assert_int_equal(tp_decode(&F.d, &F.p), TP_DEC_OK);
	assert_int_equal(F.nev, 0);
	assert_int_equal(F.p.ntun, 2);
	assert_int_equal(F.p.tun[0].encap, TP_ENCAP_GENEVE);
	assert_int_equal(F.p.tun[0].dport, 6081);
	assert_addr_v4(&F.p.tun[0].src, 10, 0, 0, 1);
	assert_int_equal(F.p.tun[1].encap, TP_ENCAP_VXLAN);
	assert_int_equal(F.p.tun[1].id, 12345);
	assert_addr_v4(&F.p.tun[1].src, 10, 0, 0, 3);
	assert_int_equal(F.p.gwlb.present, 1);
	assert_true(F.p.gwlb.endpoint_id == 0x11223344ull);
	assert_int_equal(F.p.ipver, 4);
	assert_int_equal(F.p.proto, 6);
	assert_addr_v4(&F.p.src, 10, 0, 0, 5);
	assert_addr_v4(&F.p.dst, 10, 0, 0, 6);
	assert_int_equal(F.p.sport, 1234);
	assert_int_equal(F.p.dport, 80);
	assert_int_equal(F.p.tcp_flags, TP_TH_SYN);
}

/* Ethernet → IPv4 → GRE (seq) → ERSPAN II session 666 → Ethernet → IPv4 →
 * UDP. */
static void frame_erspan2(void **state)
{
	(void)state;
	struct pb pb = {.n = 0};

	PB(&pb, 0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 6, 0x08, 0x00);
	size_t ip_o = ip4(&pb, 47, 1, 2);
	PB(&pb, 0x10, 0x00, 0x88, 0xbe, 0x00, 0x00, 0x00, 0xab,
	   0x11, 0x56, 0xc2, 0x9a, 0x00, 0x00, 0x7f, 0xf8);
	PB(&pb, 0, 1, 2, 3, 4, 7, 0, 1, 2, 3, 4, 8, 0x08, 0x00);
	size_t ip_i = ip4(&pb, 17, 5, 6);
	size_t udp_i = udp(&pb, 5353, 53);
	PB(&pb, 0xaa, 0xbb);
	udp_end(&pb, udp_i);
	ip4_end(&pb, ip_i);
	ip4_end(&pb, ip_o);

	decode_frame(&pb);
	assert_int_equal(tp_decode(&F.d, &F.p), TP_DEC_OK);
	assert_int_equal(F.nev, 0);
	assert_int_equal(F.p.ntun, 1);
	assert_int_equal(F.p.tun[0].encap, TP_ENCAP_ERSPAN2);
	assert_int_equal(F.p.tun[0].id, 666);
	assert_addr_v4(&F.p.tun[0].src, 10, 0, 0, 1);
	assert_addr_v4(&F.p.tun[0].dst, 10, 0, 0, 2);
	assert_int_equal(F.p.proto, 17);
	assert_addr_v4(&F.p.src, 10, 0, 0, 5);
	assert_int_equal(F.p.sport, 5353);
	assert_int_equal(F.p.dport, 53);
	assert_int_equal(F.p.payload_len, 2);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(vxlan_vni),
		T(vxlan_vni_24bit),
		T(vxlan_no_i_flag),
		T(vxlan_reserved_lenient),
		T(vxlan_reserved_strict),
		T(vxlan_strict_last_byte),
		T(vxlan_truncated),
		T(vxlan_empty),
		T(vxlan_nesting_cap),
		T(geneve_gwlb_options),
		T(geneve_gcp),
		T(geneve_critical_option),
		T(geneve_ipv6),
		T(geneve_bad_version),
		T(geneve_option_overrun),
		T(geneve_options_truncated),
		T(geneve_truncated),
		T(geneve_aws_bad_length),
		T(geneve_option_reserved_bits),
		T(geneve_unknown_payload),
		T(geneve_empty),
		T(gre_key_ipv4),
		T(gre_plain_ipv6),
		T(gre_teb),
		T(gre_vlan_mpls),
		T(gre_keepalive),
		T(gre_unknown_protocol),
		T(gre_bad_version),
		T(gre_routing),
		T(gre_reserved_flags),
		T(gre_strict_route_recur_ignored),
		T(gre_truncated),
		T(gre_checksum),
		T(gre_checksum_bad),
		T(gre_checksum_skipped),
		T(gre_fragment),
		T(gre_wccp),
		T(pptp_lcp),
		T(pptp_ipv4),
		T(pptp_ack_only),
		T(pptp_without_key),
		T(pptp_not_ppp),
		T(ppp_framings),
		T(ppp_control_and_encrypted),
		T(ppp_non_ip),
		T(ppp_truncated),
		T(erspan_type1),
		T(erspan_type2),
		T(erspan_type2_session_bits),
		T(erspan_type2_truncated),
		T(erspan_type2_bad_version),
		T(erspan_type3),
		T(erspan_type3_platform),
		T(erspan_type3_platform_truncated),
		T(erspan_type3_unknown_frame_type),
		T(erspan_type3_ip),
		T(erspan_type3_bad_version),
		T(erspan_without_gre),
		T(frame_gwlb_vxlan),
		T(frame_erspan2),
	};
	return cmocka_run_group_tests_name("tunnels", tests, NULL, NULL);
}
