/* UDP, RFC 768; hands VXLAN and Geneve ports to the tunnel decoders.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |          Source Port          |       Destination Port        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |            Length             |           Checksum            |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
#include "decode/decode.h"

static enum tp_dec_rc udp_decode(struct tp_dec *d, struct tp_pkt *p,
				 struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_peek(c, 8);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_UDP, NULL);
		return TP_DEC_TRUNCATED;
	}
	uint32_t l4_wire = p->ip_len > p->ip_hlen ? p->ip_len - p->ip_hlen : 0;
	uint32_t ulen = tp_load_be16(h + 4);
	p->sport = tp_load_be16(h);
	p->dport = tp_load_be16(h + 2);
	if (ulen < 8 || ulen > l4_wire) {
		/* A GSO super-packet has a UDP length of 0 or a stale one;
		 * the IP length is the better witness. */
		tp_dec_event(d, p, TP_EV_UDP_LENGTH_MISMATCH, NULL);
		ulen = l4_wire >= 8 ? l4_wire : 8;
	}
	c->off += 8;
	/* Bytes after the datagram (IP longer than UDP) are not payload. */
	if (tp_cur_left(c) > ulen - 8)
		c->len = c->off + (ulen - 8);
	p->payload = c->p + c->off;
	p->payload_len = ulen - 8;
	p->payload_cap = (uint32_t)tp_cur_left(c);
	if (!p->is_fragment)
		*next = tp_proto_from_udp_port(d, p->dport);
	return TP_DEC_OK;
}

const struct tp_decoder_ops tp_dec_udp = {
	.name = "udp",
	.decode = udp_decode,
};
