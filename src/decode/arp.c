/* ARP, RFC 826 (and RARP / InARP, which share the format).  ARP is counted,
 * not logged: every ARP on a mirrored segment would flood weird.log, so
 * the arp_packet counter is bumped without raising the event.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |        Hardware type          |         Protocol type         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  HW addr len  | Proto addr len|           Operation           |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  | Sender HW address (hln) | Sender proto address (pln) |
 *  | Target HW address (hln) | Target proto address (pln) |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
#include "decode/decode.h"

#define ARP_FIXED_LEN 8

static enum tp_dec_rc arp_decode(struct tp_dec *d, struct tp_pkt *p,
				 struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_peek(c, ARP_FIXED_LEN);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_ARP, NULL);
		return TP_DEC_TRUNCATED;
	}
	size_t len = ARP_FIXED_LEN + 2 * ((size_t)h[4] + h[5]);
	if (!tp_cur_has(c, len)) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_ARP, NULL);
		return TP_DEC_TRUNCATED;
	}
	d->events[TP_EV_ARP_PACKET]++;
	c->off += len;
	*next = TP_P_NONE;
	return TP_DEC_OK;
}

const struct tp_decoder_ops tp_dec_arp = {
	.name = "arp",
	.decode = arp_decode,
};
