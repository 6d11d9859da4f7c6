/* The receive ops of each live source kind (see capture/rx.h). */
#include "capture/rx.h"

static const struct tp_rx_ops *const rx_ops[] = {
	[TP_SRC_UDP] = &tp_rx_udp,
	[TP_SRC_AFPACKET] = &tp_rx_afpacket,
	[TP_SRC_PCAP] = &tp_rx_replay,
};

const struct tp_rx_ops *tp_rx_ops_of(enum tp_source_kind kind)
{
	if ((unsigned)kind >= sizeof(rx_ops) / sizeof(rx_ops[0]))
		return NULL;
	return rx_ops[kind];
}
