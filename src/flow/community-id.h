/* Community ID v1 flow hashing (https://github.com/corelight/community-id-spec):
 * "1:" + base64(SHA-1(seed . saddr . daddr . proto . 0 . sport . dport)),
 * with the endpoints ordered so that both directions of a flow hash alike,
 * and ICMP/ICMPv6 type and code mapped to port equivalents. */
#ifndef TP_FLOW_COMMUNITY_ID_H
#define TP_FLOW_COMMUNITY_ID_H

#include <stdint.h>

#include "decode/packet-t.h"

/* Longest Community ID string, NUL included ("1:" + 28 base64 + NUL). */
#define TP_COMMUNITY_ID_LEN 31

/* Community ID of the flow (src, sport) -> (dst, dport) of IP protocol
 * proto over IP version ipver (4: addresses v4-mapped) into out.  For ICMP
 * (1) and ICMPv6 (58) sport and dport carry the type and code (or the type
 * and its counterpart type, as a conn.log flow key does: both give the same
 * ID).  Ports take part for TCP, UDP, SCTP and the ICMPs only.  Cannot
 * fail. */
void tp_community_id(uint8_t ipver, const struct tp_addr *src,
		     const struct tp_addr *dst, uint16_t sport, uint16_t dport,
		     uint8_t proto, uint16_t seed, char out[64]);

#endif
