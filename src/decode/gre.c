/* GRE: RFC 2784 with the key and sequence number of RFC 2890 (version 0),
 * and PPTP's enhanced GRE, RFC 2637 section 4.1 (version 1).
 *
 * Version 0:
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |C|R|K|S|s|Recur|  Flags  | Ver |         Protocol Type         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |      Checksum (optional)      |       Reserved1 (optional)    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                         Key (optional)                        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                 Sequence Number (optional)                    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Version 1 (PPTP), protocol type always 0x880B (PPP), key always present:
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |C|R|K|S|s|Recur|A| Flags | Ver |         Protocol Type         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |    Key (HW) Payload Length    |       Key (LW) Call ID        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                  Sequence Number (optional)                   |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |               Acknowledgment Number (optional)                |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The s bit and Recur (RFC 1701) change no length and are ignored; the R
 * bit (RFC 1701 source routing, deprecated) is not decoded.  The sequence
 * number is skipped, never interpreted.  The tunnel id is the key (version
 * 0) or the call id (version 1).  For ERSPAN (0x88BE, 0x22EB) the tunnel is
 * pushed here as GRE and the ERSPAN decoder that follows retags it.
 *
 * WCCP redirection (0x883E, draft-mclaggan-wccp-v2rev1): WCCP version 2
 * puts a 4-byte redirect header before the redirected IP packet, version 1
 * puts none; an IPv4 version nibble at once tells them apart. */
#include <stdio.h>

#include "decode/decode.h"
#include "decode/ip-common.h"

#define GRE_C 0x8000
#define GRE_R 0x4000
#define GRE_K 0x2000
#define GRE_S 0x1000
#define GRE_A 0x0080          /* version 1 only */
#define GRE_V0_RESERVED 0x00f8
#define GRE_V1_RESERVED 0x0078
#define GRE_VER 0x0007

#define GRE_P_TEB 0x6558
#define GRE_P_PPP 0x880b
#define GRE_P_ERSPAN 0x88be   /* type I, or type II with the S bit */
#define GRE_P_ERSPAN3 0x22eb
#define GRE_P_WCCP 0x883e
#define WCCP2_REDIRECT_HLEN 4

/* The next protocol for a version 0 protocol type; TP_P_NONE if unknown. */
static enum tp_proto gre_next(uint16_t type, uint16_t flags)
{
	switch (type) {
	case GRE_P_TEB:
		return TP_P_ETH;
	case GRE_P_PPP:
		return TP_P_PPP;
	case GRE_P_ERSPAN:
		/* Type I has neither sequence number nor ERSPAN header. */
		return (flags & GRE_S) ? TP_P_ERSPAN2 : TP_P_ERSPAN1;
	case GRE_P_ERSPAN3:
		return TP_P_ERSPAN3;
	case GRE_P_WCCP:
		return TP_P_RAW;
	default:
		return tp_proto_from_ethertype(type);
	}
}

static enum tp_dec_rc gre_decode(struct tp_dec *d, struct tp_pkt *p,
				 struct tp_cur *c, enum tp_proto *next)
{
	char addl[24];
	size_t start = c->off;
	uint16_t flags = tp_cur_be16(c);
	uint16_t type = tp_cur_be16(c);
	if (c->err) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_GRE, NULL);
		return TP_DEC_TRUNCATED;
	}

	unsigned ver = flags & GRE_VER;
	if (ver > 1) {
		snprintf(addl, sizeof(addl), "version=%u", ver);
		tp_dec_event(d, p, TP_EV_GRE_BAD_VERSION, addl);
		return TP_DEC_UNSUPPORTED;
	}
	if (flags & GRE_R) {
		tp_dec_event(d, p, TP_EV_GRE_ROUTING, NULL);
		return TP_DEC_UNSUPPORTED;
	}
	/* Unknown flags may announce fields we cannot skip. */
	if (flags & (ver == 0 ? GRE_V0_RESERVED : GRE_V1_RESERVED)) {
		snprintf(addl, sizeof(addl), "flags=0x%04x", flags);
		tp_dec_event(d, p, TP_EV_GRE_BAD_FLAGS, addl);
		return TP_DEC_INVALID;
	}
	if (ver == 1 && !(flags & GRE_K)) {
		tp_dec_event(d, p, TP_EV_GRE_BAD_FLAGS, "version 1 without key");
		return TP_DEC_INVALID;
	}
	if (ver == 1 && type != GRE_P_PPP) {
		snprintf(addl, sizeof(addl), "0x%04x", type);
		tp_dec_event(d, p, TP_EV_EGRE_BAD_PROTOCOL, addl);
		return TP_DEC_INVALID;
	}

	if (flags & GRE_C)
		tp_cur_skip(c, 4); /* checksum, reserved1 */
	uint32_t key = (flags & GRE_K) ? tp_cur_be32(c) : 0;
	if (flags & GRE_S)
		tp_cur_skip(c, 4);
	if (ver == 1 && (flags & GRE_A))
		tp_cur_skip(c, 4);
	if (c->err) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_GRE, NULL);
		return TP_DEC_TRUNCATED;
	}

	/* The checksum covers header and payload: only a whole datagram can
	 * be checked, so truncated copies and fragments are left alone. */
	if ((flags & GRE_C) && d->cfg->verify_checksums && !p->truncated &&
	    !p->is_fragment &&
	    tp_ip_csum(c->p + start, (uint32_t)(c->len - start)) != 0) {
		tp_dec_event(d, p, TP_EV_GRE_BAD_CHECKSUM, NULL);
		return TP_DEC_INVALID;
	}

	/* PPTP states the payload length: bytes past it are not payload. */
	if (ver == 1 && tp_cur_left(c) > (key >> 16))
		c->len = c->off + (key >> 16);

	/* Nothing inside (a keepalive, a PPTP acknowledgment), or a first
	 * fragment whose inner packet is incomplete: GRE is the last layer,
	 * as UDP is for a fragment on a VXLAN port. */
	if (tp_cur_left(c) == 0 || p->is_fragment) {
		*next = TP_P_NONE;
		return TP_DEC_OK;
	}

	*next = ver == 1 ? TP_P_PPP : gre_next(type, flags);
	if (*next == TP_P_NONE) {
		snprintf(addl, sizeof(addl), "0x%04x", type);
		tp_dec_event(d, p, TP_EV_GRE_UNKNOWN_PROTOCOL, addl);
		return TP_DEC_UNSUPPORTED;
	}
	if (ver == 0 && type == GRE_P_WCCP) {
		const uint8_t *w = tp_cur_peek(c, 1);
		if (w && (w[0] >> 4) != 4 &&
		    !tp_cur_take(c, WCCP2_REDIRECT_HLEN)) {
			tp_dec_event(d, p, TP_EV_TRUNCATED_GRE,
				     "WCCP redirect header");
			return TP_DEC_TRUNCATED;
		}
	}

	struct tp_tunnel *t = tp_dec_push_tunnel(d, p, TP_ENCAP_GRE);
	if (!t)
		return TP_DEC_UNSUPPORTED;
	if (ver == 1) {
		t->id = key & 0xffff;
		t->has_id = 1;
	} else if (flags & GRE_K) {
		t->id = key;
		t->has_id = 1;
	}
	return TP_DEC_OK;
}

const struct tp_decoder_ops tp_dec_gre = {
	.name = "gre",
	.decode = gre_decode,
};
