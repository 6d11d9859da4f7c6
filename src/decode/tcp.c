/* TCP, RFC 9293.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |          Source Port          |       Destination Port        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                        Sequence Number                        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Acknowledgment Number                      |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Data |       |C|E|U|A|P|R|S|F|                               |
 *  | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |           Checksum            |         Urgent Pointer        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Payload length comes from the IP lengths (what was on the wire), the
 * payload present from the captured bytes: a truncated mirror copy has
 * fewer of the second. */
#include "decode/decode.h"
#include "util/log.h"

static enum tp_dec_rc tcp_decode(struct tp_dec *d, struct tp_pkt *p,
				 struct tp_cur *c, enum tp_proto *next)
{
	(void)next;
	const uint8_t *h = tp_cur_peek(c, 20);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_TCP, NULL);
		return TP_DEC_TRUNCATED;
	}
	uint32_t hlen = (uint32_t)(h[12] >> 4) * 4;
	if (hlen < 20) {
		tp_dec_event(d, p, TP_EV_BAD_TCP_HEADER_LEN, NULL);
		return TP_DEC_INVALID;
	}
	uint32_t l4_wire = p->ip_len > p->ip_hlen ? p->ip_len - p->ip_hlen : 0;
	if (hlen > l4_wire) {
		tp_dec_event(d, p, TP_EV_BAD_TCP_HEADER_LEN, NULL);
		return TP_DEC_INVALID;
	}
	p->sport = tp_load_be16(h);
	p->dport = tp_load_be16(h + 2);
	p->seq = tp_load_be32(h + 4);
	p->ack = tp_load_be32(h + 8);
	p->tcp_flags = h[13];
	p->tcp_win = tp_load_be16(h + 14);
	p->tcp_hlen = (uint8_t)hlen;
	p->payload_len = l4_wire - hlen;

	size_t left = tp_cur_left(c);
	if (left < hlen) {
		/* Options cut off by truncation: the fixed header is enough. */
		p->tcp_opts = NULL;
		p->tcp_opts_len = 0;
		p->payload = NULL;
		p->payload_cap = 0;
		return TP_DEC_OK;
	}
	p->tcp_opts = h + 20;
	p->tcp_opts_len = (uint8_t)(hlen - 20);
	c->off += hlen;
	p->payload = c->p + c->off;
	p->payload_cap = (uint32_t)TP_MIN(tp_cur_left(c), (size_t)p->payload_len);
	return TP_DEC_OK;
}

int8_t tp_tcp_wscale(const uint8_t *o, unsigned n)
{
	unsigned i = 0;

	while (o && i < n) {
		uint8_t kind = o[i];
		if (kind == 0)
			break;
		if (kind == 1) {
			i++;
			continue;
		}
		if (i + 1 >= n || o[i + 1] < 2 || i + o[i + 1] > n)
			break;
		if (kind == 3 && o[i + 1] == 3)
			return (int8_t)(o[i + 2] > 14 ? 14 : o[i + 2]);
		i += o[i + 1];
	}
	return -2;
}

const struct tp_decoder_ops tp_dec_tcp = {
	.name = "tcp",
	.decode = tcp_decode,
};
