/* Ethernet II (IEEE 802.3 with EtherType; 802.3 length frames with LLC
 * are counted as unsupported).
 *
 *   0                   1                   2                   3
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                  destination MAC (6 bytes)                    |
 *  +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                               |                               |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 *  |                    source MAC (6 bytes)                       |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |          EtherType            |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Mirrored frames carry no FCS (AWS strips it). */
#include <stdio.h>

#include "decode/decode.h"

static enum tp_dec_rc eth_decode(struct tp_dec *d, struct tp_pkt *p,
				 struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_take(c, 14);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_LINK_HEADER, "ethernet");
		return TP_DEC_TRUNCATED;
	}
	uint16_t type = tp_load_be16(h + 12);
	*next = tp_proto_from_ethertype(type);
	if (*next == TP_P_NONE) {
		char addl[16];
		if (type < 0x0600) /* 802.3 length + LLC: no IP inside that we track */
			return TP_DEC_UNSUPPORTED;
		snprintf(addl, sizeof(addl), "0x%04x", type);
		tp_dec_event(d, p, TP_EV_UNKNOWN_ETHERTYPE, addl);
		return TP_DEC_UNSUPPORTED;
	}
	return TP_DEC_OK;
}

const struct tp_decoder_ops tp_dec_eth = {
	.name = "ethernet",
	.decode = eth_decode,
};
