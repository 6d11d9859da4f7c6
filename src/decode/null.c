/* BSD loopback encapsulation (LINKTYPE_NULL 0, LINKTYPE_LOOP 108); see
 * tcpdump.org/linktypes/LINKTYPE_NULL.  A 4-byte address family precedes
 * the packet: in the byte order of the machine that captured it for NULL,
 * in network byte order for LOOP (OpenBSD).  Both orders are accepted.
 *
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |            Address family (either byte order)                 |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * AF_INET is 2 everywhere; AF_INET6 is 24 (NetBSD, OpenBSD, BSD/OS), 28
 * (FreeBSD, DragonFly) or 30 (macOS, iOS). */
#include <stdio.h>

#include "decode/decode.h"

#define NULL_AF_INET 2
#define NULL_AF_INET6_BSD 24
#define NULL_AF_INET6_FREEBSD 28
#define NULL_AF_INET6_DARWIN 30

static enum tp_dec_rc null_decode(struct tp_dec *d, struct tp_pkt *p,
				  struct tp_cur *c, enum tp_proto *next)
{
	uint32_t af = tp_cur_le32(c);
	if (c->err) {
		tp_dec_event(d, p, TP_EV_TRUNCATED_LINK_HEADER, "null");
		return TP_DEC_TRUNCATED;
	}
	/* Families are small numbers: a value only in the high half was
	 * written in the other byte order. */
	if ((af & 0xffff0000u) != 0 && (af & 0x0000ffffu) == 0)
		af = __builtin_bswap32(af);

	switch (af) {
	case NULL_AF_INET:
		*next = TP_P_IPV4;
		return TP_DEC_OK;
	case NULL_AF_INET6_BSD:
	case NULL_AF_INET6_FREEBSD:
	case NULL_AF_INET6_DARWIN:
		*next = TP_P_IPV6;
		return TP_DEC_OK;
	default: {
		char addl[32];
		snprintf(addl, sizeof(addl), "null family %u", (unsigned)af);
		tp_dec_event(d, p, TP_EV_UNKNOWN_PROTOCOL, addl);
		return TP_DEC_UNSUPPORTED;
	}
	}
}

const struct tp_decoder_ops tp_dec_null = {
	.name = "null",
	.decode = null_decode,
};
