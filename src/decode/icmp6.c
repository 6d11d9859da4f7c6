/* ICMPv6, RFC 4443 (with neighbour discovery, RFC 4861, and MLD, RFC 2710 /
 * RFC 3810, in the same header).  Type and code stand in for ports, as Zeek
 * and Community ID do; the flow layer pairs request and reply types.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |     Type      |     Code      |          Checksum             |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |   4 bytes: id / sequence, MTU, pointer or reserved            |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                      Message body ...                         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The checksum covers an IPv6 pseudo-header (RFC 8200 §8.1): source,
 * destination, upper-layer length (32 bits), three zero bytes, next
 * header 58. */
#include "decode/decode.h"
#include "decode/ip-common.h"
#include "util/log.h"

#define ICMP6_MIN_LEN 4   /* type, code, checksum */
#define ICMP6_HDR_LEN 8   /* what Zeek counts as header, as for ICMPv4 */
#define IPPROTO_ICMPV6_NUM 58

/* One's-complement sum of the pseudo-header and the message; 0 when the
 * checksum is right. */
static uint16_t icmp6_csum(const struct tp_pkt *p, const uint8_t *msg,
			   uint32_t len)
{
	uint64_t sum = 0;

	sum = tp_csum_add(sum, p->src.b, 16);
	sum = tp_csum_add(sum, p->dst.b, 16);
	sum += len >> 16;
	sum += len & 0xffff;
	sum += IPPROTO_ICMPV6_NUM;
	return tp_csum_fold(tp_csum_add(sum, msg, len));
}

static enum tp_dec_rc icmp6_decode(struct tp_dec *d, struct tp_pkt *p,
				   struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_peek(c, ICMP6_MIN_LEN);
	*next = TP_P_NONE;
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_ICMP, "icmp6");
		return TP_DEC_TRUNCATED;
	}
	uint32_t l4_wire = p->ip_len > p->ip_hlen ? p->ip_len - p->ip_hlen : 0;
	uint32_t present = (uint32_t)tp_cur_left(c);

	p->sport = h[0];
	p->dport = h[1];
	/* Only a whole message can be checked; truncated copies would all
	 * fail. */
	if (d->cfg->verify_checksums && p->ipver == 6 && !p->truncated &&
	    !p->is_fragment && present == l4_wire &&
	    icmp6_csum(p, h, present) != 0)
		tp_dec_event(d, p, TP_EV_BAD_ICMP_CHECKSUM, "icmp6");

	uint32_t hdr = l4_wire >= ICMP6_HDR_LEN ? ICMP6_HDR_LEN : l4_wire;
	p->payload_len = l4_wire - hdr;
	c->off += TP_MIN(hdr, present);
	p->payload = c->p + c->off;
	p->payload_cap = (uint32_t)TP_MIN(tp_cur_left(c), (size_t)p->payload_len);
	return TP_DEC_OK;
}

const struct tp_decoder_ops tp_dec_icmp6 = {
	.name = "icmp6",
	.decode = icmp6_decode,
};
