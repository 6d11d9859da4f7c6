/* PPP inside GRE version 1 (PPTP, RFC 2637 section 4.1): a PPP frame in
 * HDLC-like framing (RFC 1662 section 3.1) without flags or FCS.
 *
 *  +----------+----------+----------+-------------
 *  | Address  | Control  | Protocol | Information
 *  |   0xff   |   0x03   | 16 bits  |
 *  +----------+----------+----------+-------------
 *
 * Address and control are absent when address/control field compression
 * was negotiated; the protocol is one byte when protocol field compression
 * was (RFC 1661 section 6.5: a compressed field is the odd low byte).
 * Protocols: 0x0021 IPv4, 0x0057 IPv6, 0x0281/0x0283 MPLS are decoded.  Link and network
 * control (0x8000 and up: LCP, IPCP, CCP, ...) and compressed or MPPE
 * encrypted datagrams (0x00fb, 0x00fd) are what a PPTP session normally
 * carries besides IP: they end decoding without an event. */
#include <stdio.h>

#include "decode/decode.h"

#define PPP_IPV4 0x0021
#define PPP_IPV6 0x0057
#define PPP_MPLS_UC 0x0281  /* RFC 3032 */
#define PPP_MPLS_MC 0x0283
#define PPP_COMP_LINK 0x00fb  /* individual link compressed datagram */
#define PPP_COMP 0x00fd       /* compressed datagram (MPPC / MPPE) */

static enum tp_dec_rc ppp_decode(struct tp_dec *d, struct tp_pkt *p,
				 struct tp_cur *c, enum tp_proto *next)
{
	/* A frame shorter than 2 bytes is judged on its protocol field. */
	const uint8_t *ac = tp_cur_has(c, 2) ? tp_cur_peek(c, 2) : NULL;
	if (ac && ac[0] == 0xff && ac[1] == 0x03)
		tp_cur_skip(c, 2);

	uint16_t proto = tp_cur_u8(c);
	if (!(proto & 1))
		proto = (uint16_t)(proto << 8 | tp_cur_u8(c));
	if (c->err) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_PPP, NULL);
		return TP_DEC_TRUNCATED;
	}

	switch (proto) {
	case PPP_IPV4:
		*next = TP_P_IPV4;
		return TP_DEC_OK;
	case PPP_IPV6:
		*next = TP_P_IPV6;
		return TP_DEC_OK;
	case PPP_MPLS_UC:
	case PPP_MPLS_MC:
		*next = TP_P_MPLS;
		return TP_DEC_OK;
	case PPP_COMP_LINK:
	case PPP_COMP:
		*next = TP_P_NONE;
		return TP_DEC_OK;
	default:
		if (proto >= 0x8000) {
			*next = TP_P_NONE;
			return TP_DEC_OK;
		}
		char addl[16];
		snprintf(addl, sizeof(addl), "0x%04x", proto);
		tp_dec_event(d, p, TP_EV_PPP_NON_IP, addl);
		return TP_DEC_UNSUPPORTED;
	}
}

const struct tp_decoder_ops tp_dec_ppp = {
	.name = "ppp",
	.decode = ppp_decode,
};
