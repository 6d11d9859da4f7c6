/* IPv6, RFC 8200, with its extension headers (hop-by-hop, routing,
 * destination options, fragment, mobility RFC 6275, AH RFC 4302).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |Version| Traffic Class |           Flow Label                  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |         Payload Length        |  Next Header  |   Hop Limit   |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                  Source Address (16 bytes)                    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |               Destination Address (16 bytes)                  |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Extension headers:  | Next Header | Hdr Ext Len | ... |  (8-byte units,
 * AH in 4-byte units); fragment header: | NH | res | offset |res|M| id |.
 * Payload length 0 (jumbogram, RFC 2675, or a GSO super-packet): the bytes
 * present count. */
#include "decode/decode.h"
#include "decode/defrag.h"
#include "decode/ip-common.h"

#include <string.h>

#define TP_IPV6_MAX_EXT 16

static bool is_ext_header(uint8_t nh)
{
	return nh == 0 || nh == 43 || nh == 44 || nh == 60 || nh == 51 ||
	       nh == 135 || nh == 139 || nh == 140;
}

/* A routing header with segments left names the packet's final
 * destination, which is what the flow is with (as Zeek's FinalDst):
 * type 0 and type 2 (mobility) list addresses in visiting order, the
 * last being final; type 4 (segment routing, RFC 8754) lists them in
 * reverse, the first being final. */
static void final_dst(struct tp_pkt *p, const uint8_t *e, size_t len)
{
	uint8_t type = e[2];
	if (len < 24)
		return;
	if (type == 0 || type == 2) {
		size_t n = (len - 8) / 16;
		memcpy(p->dst.b, e + 8 + (n - 1) * 16, 16);
	} else if (type == 4) {
		memcpy(p->dst.b, e + 8, 16);
	}
}

static enum tp_dec_rc ipv6_decode(struct tp_dec *d, struct tp_pkt *p,
				  struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_peek(c, 40);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_IPV6, NULL);
		return TP_DEC_TRUNCATED;
	}
	if ((h[0] >> 4) != 6) {
		tp_dec_event(d, p, TP_EV_BAD_IP_VERSION, NULL);
		return TP_DEC_INVALID;
	}
	uint32_t present = (uint32_t)tp_cur_left(c);
	uint32_t tot = 40u + tp_load_be16(h + 4);
	if (tot == 40 && h[6] == 0 && present > 40) {
		tot = present; /* jumbogram or super-packet */
		tp_dec_event(d, p, TP_EV_IPV6_JUMBO, NULL);
	}
	if (tot < present)
		c->len = c->off + tot;
	present = (uint32_t)tp_cur_left(c);

	p->ipver = 6;
	p->ttl = h[7];
	p->ip = h;
	p->ip_cap = present;
	p->ip_len = tot;
	p->truncated = present < tot;
	memcpy(p->src.b, h + 8, 16);
	memcpy(p->dst.b, h + 24, 16);

	size_t start = c->off;
	uint8_t nh = h[6];
	c->off += 40;
	for (int n = 0; is_ext_header(nh); n++) {
		const uint8_t *e = tp_cur_peek(c, 8);
		if (!e || n >= TP_IPV6_MAX_EXT) {
			tp_dec_event(d, p, TP_EV_IPV6_EXT_TRUNCATED, NULL);
			p->proto = nh;
			p->ip_hlen = (uint16_t)(c->off - start);
			return TP_DEC_TRUNCATED;
		}
		if (nh == 44) {
			uint16_t fo = tp_load_be16(e + 2);
			uint32_t off = (uint32_t)(fo & 0xfff8);
			bool more = fo & 1;
			uint32_t ident = tp_load_be32(e + 4);
			uint8_t inner = e[0];
			const uint8_t *out;
			uint32_t out_len;

			if (off == 0 && !more) { /* atomic fragment, RFC 6946 */
				c->off += 8;
				nh = inner;
				continue;
			}
			c->off += 8;
			p->proto = inner;
			p->ip_hlen = (uint16_t)(c->off - start);
			int r = tp_defrag_v6(d, p, h, inner, off, more, ident,
					     c->p + c->off,
					     (uint32_t)tp_cur_left(c), &out,
					     &out_len);
			if (r == 0) {
				p->held = true;
				return TP_DEC_OK;
			}
			if (r < 0) {
				p->is_fragment = true;
				if (off != 0)
					return TP_DEC_OK;
				return tp_ip_next(d, p, next);
			}
			p->reassembled = true;
			tp_cur_init(c, out, out_len);
			*next = TP_P_IPV6;
			return TP_DEC_OK;
		}
		size_t len = nh == 51 ? ((size_t)e[1] + 2) * 4
				      : ((size_t)e[1] + 1) * 8;
		if (!tp_cur_has(c, len)) {
			tp_dec_event(d, p, TP_EV_IPV6_EXT_TRUNCATED, NULL);
			p->proto = nh;
			p->ip_hlen = (uint16_t)(c->off - start);
			return TP_DEC_TRUNCATED;
		}
		if (nh == 43 && e[3] > 0)
			final_dst(p, e, len);
		nh = e[0];
		c->off += len;
	}
	p->proto = nh;
	p->ip_hlen = (uint16_t)(c->off - start);
	if (nh == 59) /* no next header */
		return TP_DEC_OK;
	return tp_ip_next(d, p, next);
}

const struct tp_decoder_ops tp_dec_ipv6 = {
	.name = "ipv6",
	.decode = ipv6_decode,
};
