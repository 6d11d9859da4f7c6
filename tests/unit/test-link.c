/* Link-layer and small protocol decoders, each fed hand-built bytes:
 * Linux cooked v1 / v2, BSD loopback, raw IP, MPLS, ARP, SCTP, ICMPv6. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include <pcap/dlt.h>

#include "decode/decode.h"

struct fx {
	struct tp_decode_cfg cfg;
	struct tp_dec d;
	struct tp_pkt p;
	struct tp_cur c;
	enum tp_proto next;
	unsigned logged;        /* on_event calls */
	enum tp_event last;     /* the last one's event and text */
	char addl[64];
};

static void count_event(void *arg, const struct tp_pkt *p, enum tp_event ev,
			const char *addl)
{
	struct fx *f = arg;
	(void)p;
	f->logged++;
	f->last = ev;
	snprintf(f->addl, sizeof(f->addl), "%s", addl ? addl : "");
}

static int setup(void **state)
{
	struct fx *f = test_calloc(1, sizeof(*f));
	tp_decode_cfg_default(&f->cfg);
	f->d.cfg = &f->cfg;
	f->d.on_event = count_event;
	f->d.on_event_arg = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	test_free(*state);
	return 0;
}

/* Run one decoder over buf[0, len). */
static enum tp_dec_rc run(struct fx *f, const struct tp_decoder_ops *ops,
			  const uint8_t *buf, size_t len)
{
	tp_cur_init(&f->c, buf, len);
	f->next = TP_P__COUNT; /* a decoder must set it on OK */
	return ops->decode(&f->d, &f->p, &f->c, &f->next);
}

/* --- Linux cooked v1 ------------------------------------------------- */

static const uint8_t sll_ipv4[] = {
	0x00, 0x00,                                     /* to us */
	0x00, 0x01,                                     /* ARPHRD_ETHER */
	0x00, 0x06,                                     /* address length */
	0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x00, 0x00, /* address */
	0x08, 0x00,                                     /* IPv4 */
	0x45, 0x00,
};

static void sll_v1(void **state)
{
	struct fx *f = *state;
	uint8_t b[sizeof(sll_ipv4)];

	assert_int_equal(run(f, &tp_dec_sll, sll_ipv4, sizeof(sll_ipv4)),
			 TP_DEC_OK);
	assert_int_equal(f->next, TP_P_IPV4);
	assert_int_equal(f->c.off, 16);

	memcpy(b, sll_ipv4, sizeof(b));
	b[14] = 0x86, b[15] = 0xdd;
	assert_int_equal(run(f, &tp_dec_sll, b, sizeof(b)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_IPV6);
	b[14] = 0x81, b[15] = 0x00;
	assert_int_equal(run(f, &tp_dec_sll, b, sizeof(b)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_VLAN);
	b[14] = 0x08, b[15] = 0x06;
	assert_int_equal(run(f, &tp_dec_sll, b, sizeof(b)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_ARP);
	/* ARPHRD_IPGRE: the protocol is the GRE protocol type. */
	b[2] = 0x03, b[3] = 0x0a;
	b[14] = 0x08, b[15] = 0x00;
	assert_int_equal(run(f, &tp_dec_sll, b, sizeof(b)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_IPV4);
	assert_int_equal(f->logged, 0);
}

static void sll_v1_unsupported(void **state)
{
	struct fx *f = *state;
	uint8_t b[sizeof(sll_ipv4)];

	/* 802.2 LLC frame (ETH_P_802_2), e.g. spanning tree: routine, so
	 * unsupported without an event (as 802.3 frames on Ethernet). */
	memcpy(b, sll_ipv4, sizeof(b));
	b[14] = 0x00, b[15] = 0x04;
	assert_int_equal(run(f, &tp_dec_sll, b, sizeof(b)), TP_DEC_UNSUPPORTED);
	assert_int_equal(f->logged, 0);
	/* Netlink: the protocol is a netlink family, even if it looks like
	 * IPv4. */
	b[2] = 0x03, b[3] = 0x38;
	b[14] = 0x00, b[15] = 0x00;
	assert_int_equal(run(f, &tp_dec_sll, b, sizeof(b)), TP_DEC_UNSUPPORTED);
	assert_int_equal(f->d.events[TP_EV_UNKNOWN_ETHERTYPE], 1);
	assert_string_equal(f->addl, "cooked netlink family 0");
	b[14] = 0x08;
	assert_int_equal(run(f, &tp_dec_sll, b, sizeof(b)), TP_DEC_UNSUPPORTED);
	assert_string_equal(f->addl, "cooked netlink family 2048");
	/* LLDP: an EtherType tapir does not decode. */
	memcpy(b, sll_ipv4, sizeof(b));
	b[14] = 0x88, b[15] = 0xcc;
	assert_int_equal(run(f, &tp_dec_sll, b, sizeof(b)), TP_DEC_UNSUPPORTED);
	assert_int_equal(f->d.events[TP_EV_UNKNOWN_ETHERTYPE], 3);
	assert_int_equal(f->last, TP_EV_UNKNOWN_ETHERTYPE);
	assert_string_equal(f->addl, "0x88cc");
	assert_int_equal(f->p.nevents, 3);
	assert_int_equal(f->logged, 3);

	assert_int_equal(run(f, &tp_dec_sll, sll_ipv4, 15), TP_DEC_TRUNCATED);
	assert_int_equal(f->d.events[TP_EV_TRUNCATED_SLL], 1);
	assert_int_equal(f->last, TP_EV_TRUNCATED_SLL);
}

/* --- Linux cooked v2 ------------------------------------------------- */

static const uint8_t sll2_ipv6[] = {
	0x86, 0xdd,                                     /* IPv6 */
	0x00, 0x00,                                     /* reserved */
	0x00, 0x00, 0x00, 0x03,                         /* ifindex 3 */
	0x00, 0x01,                                     /* ARPHRD_ETHER */
	0x04,                                           /* outgoing */
	0x06,                                           /* address length */
	0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 0x00, 0x00, /* address */
	0x60, 0x00,
};

static void sll_v2(void **state)
{
	struct fx *f = *state;
	uint8_t b[sizeof(sll2_ipv6)];

	assert_int_equal(run(f, &tp_dec_sll2, sll2_ipv6, sizeof(sll2_ipv6)),
			 TP_DEC_OK);
	assert_int_equal(f->next, TP_P_IPV6);
	assert_int_equal(f->c.off, 20);

	memcpy(b, sll2_ipv6, sizeof(b));
	b[0] = 0x88, b[1] = 0x47;
	assert_int_equal(run(f, &tp_dec_sll2, b, sizeof(b)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_MPLS);
	b[0] = 0x00, b[1] = 0x04;
	assert_int_equal(run(f, &tp_dec_sll2, b, sizeof(b)), TP_DEC_UNSUPPORTED);
	assert_int_equal(f->logged, 0);
	b[0] = 0x88, b[1] = 0x8e; /* 802.1X */
	assert_int_equal(run(f, &tp_dec_sll2, b, sizeof(b)), TP_DEC_UNSUPPORTED);
	assert_int_equal(f->d.events[TP_EV_UNKNOWN_ETHERTYPE], 1);
	assert_string_equal(f->addl, "0x888e");
	b[0] = 0x00, b[1] = 0x10; /* NETLINK_GENERIC */
	b[8] = 0x03, b[9] = 0x38;
	assert_int_equal(run(f, &tp_dec_sll2, b, sizeof(b)), TP_DEC_UNSUPPORTED);
	assert_string_equal(f->addl, "cooked netlink family 16");

	assert_int_equal(run(f, &tp_dec_sll2, sll2_ipv6, 19), TP_DEC_TRUNCATED);
	assert_int_equal(f->d.events[TP_EV_TRUNCATED_SLL2], 1);
}

/* --- BSD loopback ---------------------------------------------------- */

static void null_loopback(void **state)
{
	struct fx *f = *state;
	static const struct {
		uint8_t b[5];
		enum tp_proto next;
	} ok[] = {
		{{0x02, 0x00, 0x00, 0x00, 0x45}, TP_P_IPV4}, /* little-endian */
		{{0x00, 0x00, 0x00, 0x02, 0x45}, TP_P_IPV4}, /* big-endian, LOOP */
		{{0x18, 0x00, 0x00, 0x00, 0x60}, TP_P_IPV6}, /* 24 NetBSD/OpenBSD */
		{{0x1c, 0x00, 0x00, 0x00, 0x60}, TP_P_IPV6}, /* 28 FreeBSD */
		{{0x1e, 0x00, 0x00, 0x00, 0x60}, TP_P_IPV6}, /* 30 macOS */
		{{0x00, 0x00, 0x00, 0x1e, 0x60}, TP_P_IPV6}, /* 30, big-endian */
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		assert_int_equal(run(f, &tp_dec_null, ok[i].b, 5), TP_DEC_OK);
		assert_int_equal(f->next, ok[i].next);
		assert_int_equal(f->c.off, 4);
	}
	assert_int_equal(f->logged, 0);

	static const uint8_t ipx[] = {0x17, 0x00, 0x00, 0x00};
	assert_int_equal(run(f, &tp_dec_null, ipx, 4), TP_DEC_UNSUPPORTED);
	assert_int_equal(f->d.events[TP_EV_UNKNOWN_PROTOCOL], 1);
	assert_string_equal(f->addl, "null family 23");
	assert_int_equal(run(f, &tp_dec_null, ipx, 3), TP_DEC_TRUNCATED);
	assert_int_equal(f->d.events[TP_EV_TRUNCATED_LINK_HEADER], 1);
	assert_string_equal(f->addl, "null");
}

/* --- raw IP ---------------------------------------------------------- */

static void raw_ip(void **state)
{
	struct fx *f = *state;
	static const uint8_t v4[] = {0x45}, v6[] = {0x60}, v5[] = {0x50};

	assert_int_equal(run(f, &tp_dec_raw, v4, 1), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_IPV4);
	assert_int_equal(f->c.off, 0);
	assert_int_equal(run(f, &tp_dec_raw, v6, 1), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_IPV6);
	assert_int_equal(f->c.off, 0);
	assert_int_equal(run(f, &tp_dec_raw, v5, 1), TP_DEC_INVALID);
	assert_int_equal(f->d.events[TP_EV_BAD_IP_VERSION], 1);
	assert_string_equal(f->addl, "5");
	assert_int_equal(run(f, &tp_dec_raw, v4, 0), TP_DEC_TRUNCATED);
	assert_int_equal(f->d.events[TP_EV_TRUNCATED_IP], 1);
}

/* --- MPLS ------------------------------------------------------------ */

static void mpls_stack(void **state)
{
	struct fx *f = *state;

	/* Label 16, bottom, TTL 64, then IPv4. */
	static const uint8_t one[] = {0x00, 0x01, 0x01, 0x40, 0x45};
	assert_int_equal(run(f, &tp_dec_mpls, one, sizeof(one)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_IPV4);
	assert_int_equal(f->c.off, 4);

	/* Labels 1000 and 2000, then IPv6. */
	static const uint8_t two[] = {0x00, 0x3e, 0x80, 0x40,
				      0x00, 0x7d, 0x01, 0x40, 0x60};
	assert_int_equal(run(f, &tp_dec_mpls, two, sizeof(two)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_IPV6);
	assert_int_equal(f->c.off, 8);

	/* IPv6 explicit null at the bottom decides, whatever follows. */
	static const uint8_t null6[] = {0x00, 0x00, 0x21, 0x40, 0x45};
	assert_int_equal(run(f, &tp_dec_mpls, null6, sizeof(null6)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_IPV6);
	static const uint8_t null4[] = {0x00, 0x00, 0x01, 0x40, 0x60};
	assert_int_equal(run(f, &tp_dec_mpls, null4, sizeof(null4)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_IPV4);

	/* Ethernet pseudowire with a control word. */
	static const uint8_t pw[] = {0x00, 0x01, 0x01, 0x40,
				     0x00, 0x00, 0x00, 0x07,
				     0x00, 0x11, 0x22, 0x33, 0x44, 0x55};
	assert_int_equal(run(f, &tp_dec_mpls, pw, sizeof(pw)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_ETH);
	assert_int_equal(f->c.off, 8);
	assert_int_equal(f->logged, 0);

	/* Associated channel (first nibble 1): not tracked. */
	static const uint8_t ach[] = {0x00, 0x01, 0x01, 0x40,
				      0x10, 0x00, 0x00, 0x21};
	assert_int_equal(run(f, &tp_dec_mpls, ach, sizeof(ach)),
			 TP_DEC_UNSUPPORTED);
	assert_int_equal(f->d.events[TP_EV_UNKNOWN_PROTOCOL], 1);
	assert_string_equal(f->addl, "mpls payload nibble 1");

	/* Control word cut short. */
	assert_int_equal(run(f, &tp_dec_mpls, pw, 6), TP_DEC_TRUNCATED);
	assert_int_equal(f->d.events[TP_EV_TRUNCATED_MPLS], 1);
	/* Stack cut before its bottom. */
	assert_int_equal(run(f, &tp_dec_mpls, two, 6), TP_DEC_TRUNCATED);
	assert_int_equal(f->d.events[TP_EV_TRUNCATED_MPLS], 2);
	/* Nothing under the bottom label. */
	assert_int_equal(run(f, &tp_dec_mpls, two, 8), TP_DEC_TRUNCATED);
	assert_int_equal(f->d.events[TP_EV_TRUNCATED_MPLS], 3);
	assert_string_equal(f->addl, "no payload");
}

static void mpls_depth(void **state)
{
	struct fx *f = *state;
	uint8_t b[17 * 4 + 1];

	memset(b, 0, sizeof(b));
	for (int i = 0; i < 17; i++) {
		b[i * 4 + 1] = 0x10; /* label 256 */
		b[i * 4 + 3] = 0x40;
	}
	/* Sixteen labels, the last at the bottom: accepted. */
	b[15 * 4 + 2] = 0x01;
	b[16 * 4] = 0x45;
	assert_int_equal(run(f, &tp_dec_mpls, b, 16 * 4 + 1), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_IPV4);
	assert_int_equal(f->c.off, 64);
	/* Seventeen: refused. */
	b[15 * 4 + 2] = 0x00;
	b[16 * 4 + 2] = 0x01;
	assert_int_equal(run(f, &tp_dec_mpls, b, sizeof(b)), TP_DEC_UNSUPPORTED);
	assert_int_equal(f->d.events[TP_EV_MPLS_TOO_DEEP], 1);
}

/* --- ARP ------------------------------------------------------------- */

static const uint8_t arp_req[] = {
	0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,
	0x02, 0x42, 0xac, 0x11, 0x00, 0x02, 10, 0, 0, 1,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 10, 0, 0, 2,
	0x00, 0x00, /* Ethernet padding */
};

static void arp(void **state)
{
	struct fx *f = *state;

	assert_int_equal(run(f, &tp_dec_arp, arp_req, sizeof(arp_req)),
			 TP_DEC_OK);
	assert_int_equal(f->next, TP_P_NONE);
	assert_int_equal(f->c.off, 28);
	/* Counted, not logged. */
	assert_int_equal(f->d.events[TP_EV_ARP_PACKET], 1);
	assert_int_equal(f->p.nevents, 0);
	assert_int_equal(f->logged, 0);

	assert_int_equal(run(f, &tp_dec_arp, arp_req, 27), TP_DEC_TRUNCATED);
	assert_int_equal(run(f, &tp_dec_arp, arp_req, 7), TP_DEC_TRUNCATED);
	assert_int_equal(f->d.events[TP_EV_TRUNCATED_ARP], 2);
	assert_int_equal(f->d.events[TP_EV_ARP_PACKET], 1);
}

/* --- SCTP ------------------------------------------------------------ */

static void sctp(void **state)
{
	struct fx *f = *state;
	static const uint8_t b[] = {
		0x0b, 0x59, 0x0e, 0x7a,  /* 2905 → 3706 */
		0x00, 0x00, 0x00, 0x00,  /* verification tag */
		0x12, 0x34, 0x56, 0x78,  /* checksum */
		0x01, 0x00, 0x00, 0x10,  /* INIT chunk, 16 bytes */
		0xaa, 0xbb, 0xcc, 0xdd, 0x00, 0x01, 0x00, 0x00,
		0x00, 0x0a, 0x00, 0x0a,
	};

	f->p.ipver = 4;
	f->p.proto = 132;
	f->p.ip_hlen = 20;
	f->p.ip_len = 20 + sizeof(b);
	assert_int_equal(run(f, &tp_dec_sctp, b, sizeof(b)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_NONE);
	assert_int_equal(f->p.sport, 2905);
	assert_int_equal(f->p.dport, 3706);
	assert_int_equal(f->c.off, 12);
	assert_ptr_equal(f->p.payload, b + 12);
	assert_int_equal(f->p.payload_len, 16);
	assert_int_equal(f->p.payload_cap, 16);

	/* A mirror copy cut after 20 bytes of a 120-byte packet. */
	f->p.ip_len = 20 + 100;
	assert_int_equal(run(f, &tp_dec_sctp, b, 20), TP_DEC_OK);
	assert_int_equal(f->p.payload_len, 88);
	assert_int_equal(f->p.payload_cap, 8);

	assert_int_equal(run(f, &tp_dec_sctp, b, 11), TP_DEC_TRUNCATED);
	assert_int_equal(f->d.events[TP_EV_TRUNCATED_SCTP], 1);
}

/* --- ICMPv6 ---------------------------------------------------------- */

/* Echo request 2001:db8::1 → 2001:db8::2, id 0x1234, seq 1, "abcd". */
static const uint8_t echo6[] = {
	0x80, 0x00, 0x4d, 0x48, 0x12, 0x34, 0x00, 0x01, 'a', 'b', 'c', 'd',
};

static void icmp6_pkt(struct fx *f, uint32_t len)
{
	static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	static const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};
	f->p.ipver = 6;
	f->p.proto = 58;
	f->p.ip_hlen = 40;
	f->p.ip_len = 40 + len;
	memcpy(f->p.src.b, src, 16);
	memcpy(f->p.dst.b, dst, 16);
}

static void icmp6(void **state)
{
	struct fx *f = *state;
	uint8_t b[sizeof(echo6)];

	f->cfg.verify_checksums = true;
	icmp6_pkt(f, sizeof(echo6));
	assert_int_equal(run(f, &tp_dec_icmp6, echo6, sizeof(echo6)), TP_DEC_OK);
	assert_int_equal(f->next, TP_P_NONE);
	assert_int_equal(f->p.sport, 128);
	assert_int_equal(f->p.dport, 0);
	assert_int_equal(f->c.off, 8);
	assert_ptr_equal(f->p.payload, echo6 + 8);
	assert_int_equal(f->p.payload_len, 4);
	assert_int_equal(f->p.payload_cap, 4);
	assert_int_equal(f->d.events[TP_EV_BAD_ICMP_CHECKSUM], 0);

	memcpy(b, echo6, sizeof(b));
	b[11] ^= 1;
	assert_int_equal(run(f, &tp_dec_icmp6, b, sizeof(b)), TP_DEC_OK);
	assert_int_equal(f->d.events[TP_EV_BAD_ICMP_CHECKSUM], 1);
	assert_int_equal(f->last, TP_EV_BAD_ICMP_CHECKSUM);

	/* A truncated copy is not checked. */
	f->p.truncated = true;
	assert_int_equal(run(f, &tp_dec_icmp6, b, 10), TP_DEC_OK);
	assert_int_equal(f->d.events[TP_EV_BAD_ICMP_CHECKSUM], 1);
	assert_int_equal(f->p.payload_len, 4);
	assert_int_equal(f->p.payload_cap, 2);

	/* Neighbour solicitation: type 135, code 0. */
	b[0] = 135;
	assert_int_equal(run(f, &tp_dec_icmp6, b, sizeof(b)), TP_DEC_OK);
	assert_int_equal(f->p.sport, 135);
	assert_int_equal(f->p.dport, 0);

	assert_int_equal(run(f, &tp_dec_icmp6, b, 3), TP_DEC_TRUNCATED);
	assert_int_equal(f->d.events[TP_EV_TRUNCATED_ICMP], 1);
}

/* --- a whole frame ----------------------------------------------------- */

/* SLL → IPv4 → SCTP through the decode loop. */
static void sll_frame(void **state)
{
	struct fx *f = *state;
	uint8_t b[16 + 20 + 12];

	memcpy(b, sll_ipv4, 16);
	memset(b + 16, 0, 32);
	b[16] = 0x45;
	b[16 + 3] = 32;          /* total length */
	b[16 + 8] = 64;
	b[16 + 9] = 132;
	b[16 + 12] = 192, b[16 + 13] = 0, b[16 + 14] = 2, b[16 + 15] = 1;
	b[16 + 16] = 192, b[16 + 17] = 0, b[16 + 18] = 2, b[16 + 19] = 2;
	b[36] = 0x0b, b[37] = 0x59, b[38] = 0x0b, b[39] = 0x59;

	assert_int_equal(tp_dec_init(&f->d, &f->cfg), 0);
	f->p.linktype = DLT_LINUX_SLL;
	f->p.data = b;
	f->p.caplen = f->p.wirelen = sizeof(b);
	tp_pkt_reset(&f->p);
	assert_int_equal(tp_decode(&f->d, &f->p), TP_DEC_OK);
	assert_int_equal(f->p.ipver, 4);
	assert_int_equal(f->p.proto, 132);
	assert_int_equal(f->p.sport, 2905);
	assert_int_equal(f->p.dport, 2905);
	assert_int_equal(f->p.payload_len, 0);
	assert_int_equal(f->p.nevents, 0);
	tp_dec_fini(&f->d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(sll_v1, setup, teardown),
		cmocka_unit_test_setup_teardown(sll_v1_unsupported, setup, teardown),
		cmocka_unit_test_setup_teardown(sll_v2, setup, teardown),
		cmocka_unit_test_setup_teardown(null_loopback, setup, teardown),
		cmocka_unit_test_setup_teardown(raw_ip, setup, teardown),
		cmocka_unit_test_setup_teardown(mpls_stack, setup, teardown),
		cmocka_unit_test_setup_teardown(mpls_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(arp, setup, teardown),
		cmocka_unit_test_setup_teardown(sctp, setup, teardown),
		cmocka_unit_test_setup_teardown(icmp6, setup, teardown),
		cmocka_unit_test_setup_teardown(sll_frame, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
