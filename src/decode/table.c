/* The decoder table: one entry per protocol, one file per decoder. */
#include "decode/decode.h"

const struct tp_decoder_ops *const tp_decoders[TP_P__COUNT] = {
	/* link layers */
	[TP_P_ETH] = &tp_dec_eth,
	[TP_P_SLL] = &tp_dec_sll,
	[TP_P_SLL2] = &tp_dec_sll2,
	[TP_P_NULL] = &tp_dec_null,
	[TP_P_RAW] = &tp_dec_raw,
	[TP_P_VLAN] = &tp_dec_vlan,
	[TP_P_MPLS] = &tp_dec_mpls,
	[TP_P_ARP] = &tp_dec_arp,
	[TP_P_PPP] = &tp_dec_ppp,
	/* network */
	[TP_P_IPV4] = &tp_dec_ipv4,
	[TP_P_IPV6] = &tp_dec_ipv6,
	/* transport */
	[TP_P_TCP] = &tp_dec_tcp,
	[TP_P_UDP] = &tp_dec_udp,
	[TP_P_ICMP] = &tp_dec_icmp,
	[TP_P_ICMP6] = &tp_dec_icmp6,
	[TP_P_SCTP] = &tp_dec_sctp,
	/* tunnels */
	[TP_P_VXLAN] = &tp_dec_vxlan,
	[TP_P_GENEVE] = &tp_dec_geneve,
	[TP_P_GRE] = &tp_dec_gre,
	[TP_P_ERSPAN1] = &tp_dec_erspan1,
	[TP_P_ERSPAN2] = &tp_dec_erspan2,
	[TP_P_ERSPAN3] = &tp_dec_erspan3,
};
