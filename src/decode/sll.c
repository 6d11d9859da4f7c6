/* Linux "cooked" capture v1 (LINKTYPE_LINUX_SLL, 113), as written by
 * libpcap on the "any" device; see tcpdump.org/linktypes/LINKTYPE_LINUX_SLL
 * and the kernel's packet(7).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |          Packet type          |          ARPHRD type          |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |   Link-layer address length   |                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *  |              Link-layer address (8 bytes, zero padded)        |
 *  +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                               |         Protocol type         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The protocol type is an EtherType for most ARPHRD types (for ARPHRD_IPGRE
 * it is the GRE protocol type, also an EtherType).  Values below 0x0600 are
 * Linux ETH_P_* pseudo-types (0x0001 Novell 802.3, 0x0004 802.2 LLC,
 * 0x000c CAN, ...), and for ARPHRD_NETLINK the field is a netlink family:
 * none of them carries IP that tapir tracks.
 *
 * Linux "cooked" capture v2 (LINKTYPE_LINUX_SLL2, 276), libpcap >= 1.10 on
 * the "any" device; see tcpdump.org/linktypes/LINKTYPE_LINUX_SLL2.  Unlike
 * v1 it leads with the protocol type and carries the interface index.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |         Protocol type         |       Reserved (MBZ)          |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                        Interface index                        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |          ARPHRD type          |  Packet type  | LL addr len   |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |              Link-layer address (8 bytes, zero padded)        |
 *  +                                                               +
 *  |                                                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Its protocol type follows the v1 rules. */
#include <stdio.h>

#include "decode/decode.h"

#define SLL_HDR_LEN 16
#define SLL2_HDR_LEN 20
#define ARPHRD_NETLINK 824

/* The layer after a cooked header, v1 or v2. */
static enum tp_dec_rc sll_next(struct tp_dec *d, struct tp_pkt *p,
			       uint16_t hatype, uint16_t proto,
			       enum tp_proto *next)
{
	char addl[40];

	/* 802.2 LLC, Novell 802.3 and CAN frames are routine and carry no IP:
	 * unsupported but not anomalous, as for 802.3 frames in ether.c. */
	if (hatype != ARPHRD_NETLINK && proto < 0x0600)
		return TP_DEC_UNSUPPORTED;
	if (hatype == ARPHRD_NETLINK) {
		snprintf(addl, sizeof(addl), "cooked netlink family %u",
			 (unsigned)proto);
		tp_dec_event(d, p, TP_EV_UNKNOWN_ETHERTYPE, addl);
		return TP_DEC_UNSUPPORTED;
	}
	*next = tp_proto_from_ethertype(proto);
	if (*next == TP_P_NONE) {
		snprintf(addl, sizeof(addl), "0x%04x", (unsigned)proto);
		tp_dec_event(d, p, TP_EV_UNKNOWN_ETHERTYPE, addl);
		return TP_DEC_UNSUPPORTED;
	}
	return TP_DEC_OK;
}

static enum tp_dec_rc sll_decode(struct tp_dec *d, struct tp_pkt *p,
				 struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_take(c, SLL_HDR_LEN);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_SLL, NULL);
		return TP_DEC_TRUNCATED;
	}
	return sll_next(d, p, tp_load_be16(h + 2), tp_load_be16(h + 14), next);
}

const struct tp_decoder_ops tp_dec_sll = {
	.name = "sll",
	.decode = sll_decode,
};

static enum tp_dec_rc sll2_decode(struct tp_dec *d, struct tp_pkt *p,
				  struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_take(c, SLL2_HDR_LEN);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_SLL2, NULL);
		return TP_DEC_TRUNCATED;
	}
	return sll_next(d, p, tp_load_be16(h + 8), tp_load_be16(h), next);
}

const struct tp_decoder_ops tp_dec_sll2 = {
	.name = "sll2",
	.decode = sll2_decode,
};
