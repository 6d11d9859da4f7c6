/* Geneve, RFC 8926 section 3: AWS Gateway Load Balancer (UDP 6081, a bare
 * IP packet inside) and GCP's out-of-band mirroring send it.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |        Virtual Network Identifier (VNI)       |    Reserved   |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Variable-Length Options                    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Opt Len counts 4-byte words of options.  Each option (section 3.5):
 *
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |          Option Class         |C|    Type     |R|R|R| Length  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                  Variable-Length Option Data                  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * with Length in 4-byte words of data after this 4-byte option header.
 * The Gateway Load Balancer's options, class 0x0108, are kept in p->gwlb:
 * type 1 endpoint id (8 bytes), type 2 attachment id (8 bytes), type 3
 * flow cookie (4 bytes).  Other options are skipped: a passive observer
 * has no use for the critical bit's "drop if not understood". */
#include <stdio.h>

#include "decode/decode.h"

#define GENEVE_HLEN 8
#define GENEVE_OPT_HLEN 4
#define GENEVE_CLASS_AWS 0x0108

enum {
	AWS_OPT_ENDPOINT = 1,
	AWS_OPT_ATTACHMENT = 2,
	AWS_OPT_COOKIE = 3,
};

/* One AWS option; false (event raised) when its length is not the one AWS
 * defines, so that a malformed value never lands in p->gwlb. */
static bool aws_option(struct tp_dec *d, struct tp_pkt *p, uint8_t type,
		       struct tp_cur *data, size_t len)
{
	size_t want;

	switch (type) {
	case AWS_OPT_ENDPOINT:
	case AWS_OPT_ATTACHMENT:
		want = 8;
		break;
	case AWS_OPT_COOKIE:
		want = 4;
		break;
	default:
		return true; /* a type AWS may add later: skipped */
	}
	if (len != want) {
		char addl[40];
		snprintf(addl, sizeof(addl), "aws type %u length %zu", type, len);
		tp_dec_event(d, p, TP_EV_GENEVE_BAD_OPTION, addl);
		return false;
	}
	switch (type) {
	case AWS_OPT_ENDPOINT:
		p->gwlb.endpoint_id = tp_cur_be64(data);
		p->gwlb.present |= 1;
		break;
	case AWS_OPT_ATTACHMENT:
		p->gwlb.attachment_id = tp_cur_be64(data);
		p->gwlb.present |= 2;
		break;
	default:
		p->gwlb.flow_cookie = tp_cur_be32(data);
		p->gwlb.present |= 4;
		break;
	}
	return true;
}

/* Walk the options area; false (event raised) when an option overruns it. */
static bool walk_options(struct tp_dec *d, struct tp_pkt *p,
			 const uint8_t *opts, size_t opts_len)
{
	struct tp_cur oc;

	tp_cur_init(&oc, opts, opts_len);
	while (tp_cur_left(&oc) > 0) {
		uint16_t cls = tp_cur_be16(&oc);
		uint8_t type = tp_cur_u8(&oc) & 0x7f; /* without the C bit */
		size_t len = (size_t)(tp_cur_u8(&oc) & 0x1f) * 4;
		const uint8_t *data = oc.err ? NULL : tp_cur_take(&oc, len);
		if (!data) {
			tp_dec_event(d, p, TP_EV_GENEVE_BAD_OPTION,
				     "option overruns the options length");
			return false;
		}
		if (cls == GENEVE_CLASS_AWS) {
			struct tp_cur dc;
			tp_cur_init(&dc, data, len);
			(void)aws_option(d, p, type, &dc, len);
		}
	}
	return true;
}

static enum tp_dec_rc geneve_decode(struct tp_dec *d, struct tp_pkt *p,
				    struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_take(c, GENEVE_HLEN);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_GENEVE, NULL);
		return TP_DEC_TRUNCATED;
	}
	unsigned version = h[0] >> 6;
	if (version != 0) {
		char addl[16];
		snprintf(addl, sizeof(addl), "version=%u", version);
		tp_dec_event(d, p, TP_EV_GENEVE_BAD_VERSION, addl);
		return TP_DEC_UNSUPPORTED;
	}
	size_t opts_len = (size_t)(h[0] & 0x3f) * 4;
	const uint8_t *opts = tp_cur_take(c, opts_len);
	if (!opts) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_GENEVE, "options");
		return TP_DEC_TRUNCATED;
	}
	/* Options first: the GWLB ids name the mirror session even when the
	 * payload cannot be decoded. */
	if (!walk_options(d, p, opts, opts_len))
		return TP_DEC_INVALID;

	uint16_t type = tp_load_be16(h + 2);
	switch (type) {
	case 0x6558:
		*next = TP_P_ETH;
		break;
	case 0x0800:
		*next = TP_P_IPV4;
		break;
	case 0x86dd:
		*next = TP_P_IPV6;
		break;
	default: {
		char addl[16];
		snprintf(addl, sizeof(addl), "0x%04x", type);
		tp_dec_event(d, p, TP_EV_GENEVE_UNKNOWN_PAYLOAD, addl);
		return TP_DEC_UNSUPPORTED;
	}
	}
	if (tp_cur_left(c) == 0) {
		tp_dec_event(d, p, TP_EV_GENEVE_EMPTY, NULL);
		return TP_DEC_TRUNCATED;
	}

	struct tp_tunnel *t = tp_dec_push_tunnel(d, p, TP_ENCAP_GENEVE);
	if (!t)
		return TP_DEC_UNSUPPORTED;
	t->id = (uint32_t)h[4] << 16 | (uint32_t)h[5] << 8 | h[6];
	t->has_id = 1;
	return TP_DEC_OK;
}

const struct tp_decoder_ops tp_dec_geneve = {
	.name = "geneve",
	.decode = geneve_decode,
};
