/* ICMP for IPv4, RFC 792.  Type and code stand in for ports, as Zeek and
 * Community ID do; the flow layer pairs request and reply types.
 *
 *   0                   1                   2                   3
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |     Type      |     Code      |          Checksum             |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                     rest of header                            |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
#include "decode/decode.h"
#include "util/log.h"
#include "decode/ip-common.h"

static enum tp_dec_rc icmp_decode(struct tp_dec *d, struct tp_pkt *p,
				  struct tp_cur *c, enum tp_proto *next)
{
	(void)next;
	const uint8_t *h = tp_cur_peek(c, 4);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_ICMP, NULL);
		return TP_DEC_TRUNCATED;
	}
	uint32_t l4_wire = p->ip_len > p->ip_hlen ? p->ip_len - p->ip_hlen : 0;
	p->sport = h[0];
	p->dport = h[1];
	if (d->cfg->verify_checksums && !p->truncated &&
	    tp_ip_csum(h, (uint32_t)tp_cur_left(c)) != 0)
		tp_dec_event(d, p, TP_EV_BAD_ICMP_CHECKSUM, NULL);
	/* Zeek counts ICMP payload after the 8-byte header. */
	uint32_t hdr = l4_wire >= 8 ? 8 : l4_wire;
	p->payload_len = l4_wire - hdr;
	c->off += TP_MIN(hdr, (uint32_t)tp_cur_left(c));
	p->payload = c->p + c->off;
	p->payload_cap = (uint32_t)TP_MIN(tp_cur_left(c), (size_t)p->payload_len);
	return TP_DEC_OK;
}

const struct tp_decoder_ops tp_dec_icmp = {
	.name = "icmp",
	.decode = icmp_decode,
};
