/* Named anomaly events.  Every packet-level problem that tapir notices is
 * one of these: it bumps a counter (globally and per mirror session) and
 * writes a weird.log line.  The name is Zeek's weird name where Zeek has
 * one, so that existing weird.log tooling keeps working. */
#ifndef TP_DECODE_EVENT_T_H
#define TP_DECODE_EVENT_T_H

#define TP_EVENTS(X)                                                        \
	X(TRUNCATED_LINK_HEADER, "truncated_link_header")                  \
	X(UNKNOWN_LINKTYPE, "unknown_link_type")                           \
	X(UNKNOWN_ETHERTYPE, "unknown_ethertype")                          \
	X(TRUNCATED_VLAN, "truncated_VLAN_header")                         \
	X(TRUNCATED_MPLS, "truncated_MPLS_header")                         \
	X(ARP_PACKET, "arp_packet")                                        \
	X(TRUNCATED_IP, "truncated_IP")                                    \
	X(TRUNCATED_IPV6, "truncated_IPv6")                                \
	X(BAD_IP_VERSION, "invalid_IP_version")                            \
	X(BOGUS_IP_HEADER_LEN, "invalid_IP_header_size")                   \
	X(BOGUS_IP_TOTAL_LEN, "bogus_IP_header_lengths")                   \
	X(INTERNALLY_TRUNCATED, "internally_truncated_header")             \
	X(BAD_IP_CHECKSUM, "bad_IP_checksum")                              \
	X(IPV6_EXT_TRUNCATED, "truncated_IPv6_extension_header")           \
	X(IPV6_JUMBO, "ipv6_jumbogram")                                    \
	X(UNKNOWN_PROTOCOL, "unknown_protocol")                            \
	X(FRAG_OVERLAP, "fragment_overlap")                                \
	X(FRAG_INCONSISTENT, "fragment_inconsistency")                     \
	X(FRAG_TOO_LARGE, "excessively_large_fragment")                    \
	X(FRAG_TOO_SMALL, "excessively_small_fragment")                    \
	X(FRAG_DROPPED_CAP, "fragment_memory_cap")                         \
	X(FRAG_TIMEOUT, "fragment_reassembly_timeout")                     \
	X(TRUNCATED_TCP, "truncated_TCP_header")                           \
	X(BAD_TCP_HEADER_LEN, "bad_TCP_header_len")                        \
	X(BAD_TCP_CHECKSUM, "bad_TCP_checksum")                            \
	X(TRUNCATED_UDP, "truncated_UDP_header")                           \
	X(UDP_LENGTH_MISMATCH, "UDP_datagram_length_mismatch")             \
	X(BAD_UDP_CHECKSUM, "bad_UDP_checksum")                            \
	X(TRUNCATED_ICMP, "truncated_ICMP")                                \
	X(BAD_ICMP_CHECKSUM, "bad_ICMP_checksum")                          \
	X(TRUNCATED_SCTP, "truncated_SCTP_header")                         \
	X(TRUNCATED_VXLAN, "vxlan_truncated")                              \
	X(VXLAN_BAD_FLAGS, "vxlan_invalid_flags")                          \
	X(TRUNCATED_GENEVE, "geneve_truncated")                            \
	X(GENEVE_BAD_VERSION, "geneve_invalid_version")                    \
	X(GENEVE_BAD_OPTION, "geneve_invalid_option")                      \
	X(GENEVE_UNKNOWN_PAYLOAD, "geneve_unknown_protocol")               \
	X(TRUNCATED_GRE, "truncated_GRE")                                  \
	X(GRE_BAD_VERSION, "unknown_gre_version")                          \
	X(GRE_UNKNOWN_PROTOCOL, "unknown_gre_protocol")                    \
	X(TRUNCATED_ERSPAN, "truncated_ERSPAN")                            \
	X(ERSPAN_BAD_VERSION, "unknown_erspan_version")                    \
	X(VXLAN_EMPTY, "vxlan_empty_packet")                               \
	X(GENEVE_EMPTY, "geneve_empty_packet")                             \
	X(GRE_ROUTING, "gre_routing")                                      \
	X(GRE_BAD_FLAGS, "unknown_gre_flags")                              \
	X(GRE_BAD_CHECKSUM, "bad_GRE_checksum")                            \
	X(EGRE_BAD_PROTOCOL, "egre_protocol_type")                         \
	X(TRUNCATED_PPP, "truncated_ppp_header")                           \
	X(PPP_NON_IP, "non_ip_packet_in_encap")                            \
	X(ERSPAN_BAD_FRAME_TYPE, "unknown_erspan_frame_type")              \
	X(TUNNEL_TOO_DEEP, "exceeded_tunnel_max_depth")                        \
	X(TRUNCATED_SLL, "truncated_Linux_SLL_header")                     \
	X(TRUNCATED_SLL2, "truncated_Linux_SLL2_header")                   \
	X(TRUNCATED_ARP, "truncated_ARP")                                  \
	X(MPLS_TOO_DEEP, "excessive_MPLS_label_stack")                     \
	X(FRAG_SIZE_INCONSISTENT, "fragment_size_inconsistency")           \
	X(FRAG_WITH_DF, "fragment_with_DF")                                \
	X(FRAG_INCOMPLETE, "incompletely_captured_fragment")

enum tp_event {
#define TP_EVENT_ENUM(name, str) TP_EV_##name,
	TP_EVENTS(TP_EVENT_ENUM)
#undef TP_EVENT_ENUM
	TP_EV__COUNT
};

/* Zeek-style name of an event. */
const char *tp_event_name(enum tp_event ev);

#endif
