/* IEEE 802.1Q VLAN tag and 802.1ad (QinQ) service tag; any depth, each
 * tag one pass through the decode loop.
 *
 *   0                   1                   2                   3
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  | PCP |D|        VLAN id        |      inner EtherType          |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * (The TPID 0x8100 / 0x88a8 was the EtherType that led here.) */
#include <stdio.h>

#include "decode/decode.h"

static enum tp_dec_rc vlan_decode(struct tp_dec *d, struct tp_pkt *p,
				  struct tp_cur *c, enum tp_proto *next)
{
	uint16_t tci = tp_cur_be16(c);
	uint16_t type = tp_cur_be16(c);
	if (c->err) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_VLAN, NULL);
		return TP_DEC_TRUNCATED;
	}
	if (p->nvlan < 2)
		p->vlan[p->nvlan] = tci & 0x0fff;
	if (p->nvlan < 255)
		p->nvlan++;
	*next = tp_proto_from_ethertype(type);
	if (*next == TP_P_NONE) {
		char addl[16];
		snprintf(addl, sizeof(addl), "0x%04x", type);
		tp_dec_event(d, p, TP_EV_UNKNOWN_ETHERTYPE, addl);
		return TP_DEC_UNSUPPORTED;
	}
	return TP_DEC_OK;
}

const struct tp_decoder_ops tp_dec_vlan = {
	.name = "vlan",
	.decode = vlan_decode,
};
