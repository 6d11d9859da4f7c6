/* IPv4, RFC 791.  Options are skipped (their length is bounded by IHL).
 * Fragments go to reassembly (decode/defrag.c); a reassembled datagram is
 * decoded again from its header.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |Version|  IHL  |Type of Service|          Total Length         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |         Identification        |Flags|      Fragment Offset    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Time to Live |    Protocol   |         Header Checksum       |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                       Source Address                          |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Destination Address                        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A mirrored copy may be truncated (session packet length, MTU): a total
 * length larger than the bytes present is expected, marks the packet
 * truncated and is not an error.  Total length 0 with more than 64 KiB
 * present is a Linux BIG TCP / GSO super-packet: the bytes present count. */
#include "decode/decode.h"
#include "decode/defrag.h"
#include "decode/ip-common.h"

static enum tp_dec_rc ipv4_decode(struct tp_dec *d, struct tp_pkt *p,
				  struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_peek(c, 20);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_IP, NULL);
		return TP_DEC_TRUNCATED;
	}
	if ((h[0] >> 4) != 4) {
		tp_dec_event(d, p, TP_EV_BAD_IP_VERSION, NULL);
		return TP_DEC_INVALID;
	}
	uint32_t hlen = (uint32_t)(h[0] & 0x0f) * 4;
	uint32_t tot = tp_load_be16(h + 2);
	uint32_t present = (uint32_t)tp_cur_left(c);

	if (hlen < 20) {
		tp_dec_event(d, p, TP_EV_BOGUS_IP_HEADER_LEN, NULL);
		return TP_DEC_INVALID;
	}
	if (hlen > present) {
		tp_dec_event(d, p, TP_EV_INTERNALLY_TRUNCATED, NULL);
		return TP_DEC_TRUNCATED;
	}
	if (tot == 0 && present > 0xffff)
		tot = present; /* BIG TCP / GSO super-packet */
	if (tot < hlen) {
		tp_dec_event(d, p, TP_EV_BOGUS_IP_TOTAL_LEN, NULL);
		return TP_DEC_INVALID;
	}
	if (d->cfg->verify_checksums && tp_ip_csum(h, hlen) != 0) {
		tp_dec_event(d, p, TP_EV_BAD_IP_CHECKSUM, NULL);
		return TP_DEC_INVALID;
	}

	/* Drop Ethernet padding; keep truncation visible. */
	if (tot < present)
		c->len = c->off + tot;
	present = (uint32_t)tp_cur_left(c);

	p->ipver = 4;
	p->proto = h[9];
	p->ttl = h[8];
	p->ip = h;
	p->ip_cap = present;
	p->ip_len = tot;
	p->ip_hlen = (uint16_t)hlen;
	p->truncated = present < tot;
	tp_addr_from_v4(&p->src, h + 12);
	tp_addr_from_v4(&p->dst, h + 16);

	uint16_t frag = tp_load_be16(h + 6);
	if (frag & 0x3fff) { /* MF or a non-zero offset */
		const uint8_t *out;
		uint32_t out_len;
		int r = tp_defrag_v4(d, p, h, present, &out, &out_len);
		if (r == 0) {
			p->held = true;
			return TP_DEC_OK;
		}
		if (r < 0) {
			/* Not reassembled: a flow still sees the first fragment's
			 * addresses; the transport header is absent or partial. */
			p->is_fragment = true;
			if (frag & 0x1fff)
				return TP_DEC_OK;
			c->off += hlen;
			*next = tp_proto_from_ipproto(d, p->proto);
			return TP_DEC_OK;
		}
		p->reassembled = true;
		tp_cur_init(c, out, out_len);
		*next = TP_P_IPV4;
		return TP_DEC_OK;
	}

	c->off += hlen;
	return tp_ip_next(d, p, next);
}

const struct tp_decoder_ops tp_dec_ipv4 = {
	.name = "ipv4",
	.decode = ipv4_decode,
};
