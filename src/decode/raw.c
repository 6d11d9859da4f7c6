/* Raw IP link types (LINKTYPE_RAW 101 / DLT_RAW, LINKTYPE_IPV4 228,
 * LINKTYPE_IPV6 229): no link header; the first nibble, the IP version,
 * names the layer.  Nothing is consumed.
 *
 *   0 1 2 3 4 5 6 7
 *  +-+-+-+-+-+-+-+-+
 *  |Version|  ...  |   4: IPv4 (RFC 791), 6: IPv6 (RFC 8200)
 *  +-+-+-+-+-+-+-+-+
 */
#include <stdio.h>

#include "decode/decode.h"

static enum tp_dec_rc raw_decode(struct tp_dec *d, struct tp_pkt *p,
				 struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_peek(c, 1);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_IP, NULL);
		return TP_DEC_TRUNCATED;
	}
	switch (h[0] >> 4) {
	case 4:
		*next = TP_P_IPV4;
		return TP_DEC_OK;
	case 6:
		*next = TP_P_IPV6;
		return TP_DEC_OK;
	default: {
		char addl[16];
		snprintf(addl, sizeof(addl), "%u", (unsigned)(h[0] >> 4));
		tp_dec_event(d, p, TP_EV_BAD_IP_VERSION, addl);
		return TP_DEC_INVALID;
	}
	}
}

const struct tp_decoder_ops tp_dec_raw = {
	.name = "raw",
	.decode = raw_decode,
};
