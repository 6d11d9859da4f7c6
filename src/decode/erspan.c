/* ERSPAN, Cisco's encapsulated remote SPAN, inside GRE version 0
 * (draft-foschiano-erspan-03).  Three types, told apart by the GRE header:
 *
 *   protocol 0x88BE, no sequence number: type I, no ERSPAN header, the
 *   mirrored Ethernet frame follows the GRE header at once;
 *   protocol 0x88BE with a sequence number: type II, 8-byte header;
 *   protocol 0x22EB: type III, 12-byte header, then an 8-byte platform
 *   specific sub-header when O is set.
 *
 * Type II (Ver = 1):
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Ver  |          VLAN         | COS | En|T|    Session ID     |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |      Reserved         |                  Index                |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Type III (Ver = 2):
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Ver  |          VLAN         | COS |BSO|T|    Session ID     |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                          Timestamp                            |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |             SGT               |P|    FT   |   Hw ID   |D|Gra|O|
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |  Platf ID |     Platform Specific Info (when O is set)        |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                    Platform Specific Info                     |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * FT (frame type) 0 is an Ethernet frame, 2 an IP packet; the others are
 * reserved.  The GRE decoder has pushed the tunnel as GRE; here it becomes
 * ERSPAN of its type, with the 10-bit session id as tunnel id (the outer
 * source address and the session id name the mirror session). */
#include <stdio.h>

#include "decode/decode.h"

#define ERSPAN2_HLEN 8
#define ERSPAN3_HLEN 12
#define ERSPAN3_PLATFORM_HLEN 8

#define ERSPAN3_FT_ETH 0
#define ERSPAN3_FT_IP 2

/* The tunnel record for this ERSPAN header: the GRE one just pushed,
 * retagged (and recounted), or a new one when ERSPAN did not come through
 * the GRE decoder.  NULL at the nesting cap (the event is raised). */
static struct tp_tunnel *erspan_tunnel(struct tp_dec *d, struct tp_pkt *p,
				       enum tp_encap encap)
{
	if (p->ntun > 0 && p->tun[p->ntun - 1].encap == TP_ENCAP_GRE) {
		struct tp_tunnel *t = &p->tun[p->ntun - 1];
		t->encap = (uint8_t)encap;
		if (d->by_encap[TP_ENCAP_GRE] > 0)
			d->by_encap[TP_ENCAP_GRE]--;
		d->by_encap[encap]++;
		return t;
	}
	return tp_dec_push_tunnel(d, p, encap);
}

/* Check the Ver field against the type the GRE header announced. */
static bool erspan_version_ok(struct tp_dec *d, struct tp_pkt *p,
			      unsigned ver, unsigned want,
			      enum tp_dec_rc *rc)
{
	if (ver == want)
		return true;
	char addl[16];
	snprintf(addl, sizeof(addl), "version=%u", ver);
	tp_dec_event(d, p, TP_EV_ERSPAN_BAD_VERSION, addl);
	/* Type II and III exist; a header of the other one is malformed. */
	*rc = (ver == 1 || ver == 2) ? TP_DEC_INVALID : TP_DEC_UNSUPPORTED;
	return false;
}

static enum tp_dec_rc erspan1_decode(struct tp_dec *d, struct tp_pkt *p,
				     struct tp_cur *c, enum tp_proto *next)
{
	(void)c;
	if (!erspan_tunnel(d, p, TP_ENCAP_ERSPAN1))
		return TP_DEC_UNSUPPORTED;
	*next = TP_P_ETH;
	return TP_DEC_OK;
}

static enum tp_dec_rc erspan2_decode(struct tp_dec *d, struct tp_pkt *p,
				     struct tp_cur *c, enum tp_proto *next)
{
	enum tp_dec_rc rc;
	const uint8_t *h = tp_cur_take(c, ERSPAN2_HLEN);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_ERSPAN, NULL);
		return TP_DEC_TRUNCATED;
	}
	if (!erspan_version_ok(d, p, h[0] >> 4, 1, &rc))
		return rc;

	struct tp_tunnel *t = erspan_tunnel(d, p, TP_ENCAP_ERSPAN2);
	if (!t)
		return TP_DEC_UNSUPPORTED;
	t->id = tp_load_be16(h + 2) & 0x03ff;
	t->has_id = 1;
	*next = TP_P_ETH;
	return TP_DEC_OK;
}

static enum tp_dec_rc erspan3_decode(struct tp_dec *d, struct tp_pkt *p,
				     struct tp_cur *c, enum tp_proto *next)
{
	enum tp_dec_rc rc;
	const uint8_t *h = tp_cur_take(c, ERSPAN3_HLEN);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_ERSPAN, NULL);
		return TP_DEC_TRUNCATED;
	}
	if (!erspan_version_ok(d, p, h[0] >> 4, 2, &rc))
		return rc;

	/* The session is known from here on, even if the frame is not. */
	struct tp_tunnel *t = erspan_tunnel(d, p, TP_ENCAP_ERSPAN3);
	if (!t)
		return TP_DEC_UNSUPPORTED;
	t->id = tp_load_be16(h + 2) & 0x03ff;
	t->has_id = 1;

	uint16_t w = tp_load_be16(h + 10);
	if (w & 0x0001) {
		if (!tp_cur_take(c, ERSPAN3_PLATFORM_HLEN)) {
			tp_dec_event(d, p, TP_EV_TRUNCATED_ERSPAN,
				     "platform sub-header");
			return TP_DEC_TRUNCATED;
		}
	}
	unsigned ft = (w >> 10) & 0x1f;
	switch (ft) {
	case ERSPAN3_FT_ETH:
		*next = TP_P_ETH;
		return TP_DEC_OK;
	case ERSPAN3_FT_IP:
		*next = TP_P_RAW; /* the version nibble tells IPv4 from IPv6 */
		return TP_DEC_OK;
	default: {
		char addl[16];
		snprintf(addl, sizeof(addl), "ft=%u", ft);
		tp_dec_event(d, p, TP_EV_ERSPAN_BAD_FRAME_TYPE, addl);
		return TP_DEC_UNSUPPORTED;
	}
	}
}

const struct tp_decoder_ops tp_dec_erspan1 = {
	.name = "erspan1",
	.decode = erspan1_decode,
};

const struct tp_decoder_ops tp_dec_erspan2 = {
	.name = "erspan2",
	.decode = erspan2_decode,
};

const struct tp_decoder_ops tp_dec_erspan3 = {
	.name = "erspan3",
	.decode = erspan3_decode,
};
