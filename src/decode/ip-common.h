/* What IPv4 and IPv6 decoding share: the next-protocol choice (including
 * IP-in-IP tunnels) and the Internet checksum. */
#ifndef TP_DECODE_IP_COMMON_H
#define TP_DECODE_IP_COMMON_H

#include "decode/decode.h"

/* Internet checksum (RFC 1071) in parts: add big-endian 16-bit words of
 * buf to a running sum (a pseudo-header first, where there is one), then
 * fold and complement. */
static inline uint64_t tp_csum_add(uint64_t sum, const uint8_t *buf,
				   uint32_t len)
{
	for (uint32_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)buf[i] << 8 | buf[i + 1];
	if (len & 1)
		sum += (uint32_t)buf[len - 1] << 8;
	return sum;
}

static inline uint16_t tp_csum_fold(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

/* One's-complement sum over buf, folded; 0 when a header checksums OK. */
static inline uint16_t tp_ip_csum(const uint8_t *buf, uint32_t len)
{
	return tp_csum_fold(tp_csum_add(0, buf, len));
}

/* Choose the layer after an IP header whose protocol is p->proto; IP-in-IP
 * and IPv6-in-IP push a tunnel. */
static inline enum tp_dec_rc tp_ip_next(struct tp_dec *d, struct tp_pkt *p,
					 enum tp_proto *next)
{
	if (p->proto == 4 || p->proto == 41) {
		uint8_t inner = p->proto;
		if (!tp_dec_push_tunnel(d, p, TP_ENCAP_IPIP))
			return TP_DEC_UNSUPPORTED;
		*next = inner == 4 ? TP_P_IPV4 : TP_P_IPV6;
		return TP_DEC_OK;
	}
	*next = tp_proto_from_ipproto(d, p->proto);
	return TP_DEC_OK;
}

#endif
