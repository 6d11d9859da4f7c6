/* VXLAN, RFC 7348 section 5: an Ethernet frame in UDP (port 4789 by
 * default; AWS VPC Traffic Mirroring and Azure vTAP send it).
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |R|R|R|R|I|R|R|R|                   Reserved                    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |          VXLAN Network Identifier (VNI)       |   Reserved    |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The I flag is required.  The reserved bits are checked only under
 * vxlan_strict: extensions such as VXLAN-GBP put a group policy id in
 * them, and the frame inside is still plain Ethernet.  The VNI becomes the
 * tunnel id (with the outer source address it names the mirror session). */
#include "decode/decode.h"

#define VXLAN_HLEN 8
#define VXLAN_FLAG_I 0x08

static enum tp_dec_rc vxlan_decode(struct tp_dec *d, struct tp_pkt *p,
				   struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_take(c, VXLAN_HLEN);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_VXLAN, NULL);
		return TP_DEC_TRUNCATED;
	}
	if (!(h[0] & VXLAN_FLAG_I)) {
		tp_dec_event(d, p, TP_EV_VXLAN_BAD_FLAGS, "I flag not set");
		return TP_DEC_INVALID;
	}
	if (d->cfg->vxlan_strict &&
	    (h[0] != VXLAN_FLAG_I || h[1] || h[2] || h[3] || h[7])) {
		tp_dec_event(d, p, TP_EV_VXLAN_BAD_FLAGS, "reserved bits set");
		return TP_DEC_INVALID;
	}
	if (tp_cur_left(c) == 0) {
		tp_dec_event(d, p, TP_EV_VXLAN_EMPTY, NULL);
		return TP_DEC_TRUNCATED;
	}

	struct tp_tunnel *t = tp_dec_push_tunnel(d, p, TP_ENCAP_VXLAN);
	if (!t)
		return TP_DEC_UNSUPPORTED;
	t->id = (uint32_t)h[4] << 16 | (uint32_t)h[5] << 8 | h[6];
	t->has_id = 1;
	*next = TP_P_ETH;
	return TP_DEC_OK;
}

const struct tp_decoder_ops tp_dec_vxlan = {
	.name = "vxlan",
	.decode = vxlan_decode,
};
