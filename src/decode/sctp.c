/* SCTP common header, RFC 9260 §3.1.  Only the ports are read, for the
 * flow key; chunks are left as payload.  The CRC32c checksum is not
 * verified.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |     Source Port Number        |     Destination Port Number   |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                      Verification Tag                         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                           Checksum                            |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                 Chunk #1 ... Chunk #n                         |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
#include "decode/decode.h"
#include "util/log.h"

#define SCTP_HDR_LEN 12

static enum tp_dec_rc sctp_decode(struct tp_dec *d, struct tp_pkt *p,
				  struct tp_cur *c, enum tp_proto *next)
{
	const uint8_t *h = tp_cur_peek(c, SCTP_HDR_LEN);
	if (!h) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_SCTP, NULL);
		return TP_DEC_TRUNCATED;
	}
	uint32_t l4_wire = p->ip_len > p->ip_hlen ? p->ip_len - p->ip_hlen : 0;
	p->sport = tp_load_be16(h);
	p->dport = tp_load_be16(h + 2);
	c->off += SCTP_HDR_LEN;
	p->payload = c->p + c->off;
	p->payload_len = l4_wire > SCTP_HDR_LEN ? l4_wire - SCTP_HDR_LEN : 0;
	p->payload_cap = (uint32_t)TP_MIN(tp_cur_left(c), (size_t)p->payload_len);
	*next = TP_P_NONE;
	return TP_DEC_OK;
}

const struct tp_decoder_ops tp_dec_sctp = {
	.name = "sctp",
	.decode = sctp_decode,
};
