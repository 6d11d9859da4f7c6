/* Live receive for `tapir run`: each configured source runs on one or more
 * receive threads, and each thread owns one `struct tp_rx` (a socket, a
 * packet ring, or a replayed file) made by its kind's ops.  A thread calls
 * recv in a loop and hands every frame to the pipeline before the next
 * call; no frame outlives that.  Nothing here allocates per packet. */
#ifndef TP_CAPTURE_RX_H
#define TP_CAPTURE_RX_H

#include <stddef.h>
#include <stdint.h>

#include "decode/packet-t.h"
#include "util/config.h"

/* Most frames one recv returns. */
#define TP_RX_BATCH 64
/* Receive buffer per frame: a 9001-byte jumbo frame and its tunnel
 * headers, rounded up. */
#define TP_RX_FRAME 10240

/* What the kernel or the source itself counted (cumulative). */
struct tp_rx_stats {
	uint64_t frames;         /* frames delivered */
	uint64_t bytes;          /* their wire bytes */
	uint64_t drops;          /* lost before tapir saw them: socket
				  * overflow (SO_RXQ_OVFL) or ring drops
				  * (PACKET_STATISTICS) */
	uint64_t truncated;      /* longer than the receive buffer */
	uint64_t errors;         /* receive errors */
};

struct tp_rx;

struct tp_rx_ops {
	const char *name;
	/* Open thread idx of n for source sc.  Called before privileges are
	 * dropped.  0, or -errno with a message naming the source in err. */
	int (*open)(struct tp_rx *rx, const struct tp_source_cfg *sc,
		    unsigned idx, unsigned n, char *err, size_t errlen);
	/* Wait at most timeout_ms for frames and fill the input fields of
	 * up to max views (data, caplen, wirelen, ts_ns, linktype; first and
	 * the outer fields for tunnel payloads).  Timestamps are the time of
	 * receipt (CLOCK_REALTIME).  Returns the number of frames, 0 on
	 * timeout, TP_RX_END when a replay has ended, or another negative
	 * value on an error that ends the source, with a message in err.
	 * The frames stay valid until the next call. */
	int (*recv)(struct tp_rx *rx, struct tp_pkt *pkts, unsigned max,
		    int timeout_ms, char *err, size_t errlen);
	/* Cumulative counters; safe to call from the receiving thread. */
	void (*stats)(struct tp_rx *rx, struct tp_rx_stats *st);
	void (*close)(struct tp_rx *rx);
};

#define TP_RX_END (-1)

struct tp_rx {
	const struct tp_rx_ops *ops;
	const struct tp_source_cfg *cfg;
	unsigned idx, n;
	void *priv;
};

extern const struct tp_rx_ops tp_rx_udp, tp_rx_afpacket, tp_rx_replay;

/* The ops of a source kind. */
const struct tp_rx_ops *tp_rx_ops_of(enum tp_source_kind kind);

#endif
