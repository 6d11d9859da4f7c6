/* MPLS label stack, RFC 3032, over Ethernet (0x8847 / 0x8848), with the
 * payload recognised as RFC 4928 recommends: the bottom label 0 / 2
 * (explicit null) or the first nibble of the payload; a first nibble of 0
 * is a pseudowire control word (RFC 4385) in front of an Ethernet frame
 * (RFC 4448).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                Label                  | TC  |S|      TTL      |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     ... one entry per label, S set on the bottom one, then:
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |0 0 0 0| Flags |FRG|  Length   |        Sequence number        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *     (pseudowire control word; an IP header starts with 4 or 6)
 *
 * Other first nibbles (1: associated channel, RFC 4385 / RFC 5586) carry
 * no traffic that tapir tracks. */
#include <stdio.h>

#include "decode/decode.h"

/* Deeper stacks than this are not seen in practice (segment routing uses
 * around ten labels); the cap bounds the loop on crafted packets. */
#define TP_MPLS_MAX_LABELS 16

#define MPLS_LABEL_IPV4_NULL 0
#define MPLS_LABEL_IPV6_NULL 2

static enum tp_dec_rc mpls_decode(struct tp_dec *d, struct tp_pkt *p,
				  struct tp_cur *c, enum tp_proto *next)
{
	uint32_t entry = 0;
	unsigned n;

	*next = TP_P_NONE;
	for (n = 0; n < TP_MPLS_MAX_LABELS; n++) {
		entry = tp_cur_be32(c);
		if (c->err) {
			tp_dec_event(d, p, TP_EV_TRUNCATED_MPLS, NULL);
			return TP_DEC_TRUNCATED;
		}
		if (entry & 0x100) /* bottom of stack */
			break;
	}
	if (n == TP_MPLS_MAX_LABELS) {
		tp_dec_event(d, p, TP_EV_MPLS_TOO_DEEP, NULL);
		return TP_DEC_UNSUPPORTED;
	}

	switch (entry >> 12) {
	case MPLS_LABEL_IPV4_NULL:
		*next = TP_P_IPV4;
		return TP_DEC_OK;
	case MPLS_LABEL_IPV6_NULL:
		*next = TP_P_IPV6;
		return TP_DEC_OK;
	default:
		break;
	}

	const uint8_t *q = tp_cur_peek(c, 1);
	if (!q) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_MPLS, "no payload");
		return TP_DEC_TRUNCATED;
	}
	switch (q[0] >> 4) {
	case 4:
		*next = TP_P_IPV4;
		return TP_DEC_OK;
	case 6:
		*next = TP_P_IPV6;
		return TP_DEC_OK;
	case 0:
		tp_cur_skip(c, 4);
		if (c->err) {
			tp_dec_event(d, p, TP_EV_TRUNCATED_MPLS, "control word");
			return TP_DEC_TRUNCATED;
		}
		*next = TP_P_ETH;
		return TP_DEC_OK;
	default: {
		char addl[32];
		snprintf(addl, sizeof(addl), "mpls payload nibble %u",
			 (unsigned)(q[0] >> 4));
		tp_dec_event(d, p, TP_EV_UNKNOWN_PROTOCOL, addl);
		return TP_DEC_UNSUPPORTED;
	}
	}
}

const struct tp_decoder_ops tp_dec_mpls = {
	.name = "mpls",
	.decode = mpls_decode,
};
