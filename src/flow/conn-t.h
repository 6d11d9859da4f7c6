/* Connection state that conn.log is made of: per-direction counters, the
 * TCP endpoint states, the history letters.  Owned by the worker that owns
 * the flow; no locks.  Read it through flow/conn.h: the TCP fields are
 * Zeek's endpoint model packed tight, so that struct tp_flow stays within
 * four cache lines. */
#ifndef TP_FLOW_CONN_T_H
#define TP_FLOW_CONN_T_H

#include <stdint.h>

/* Endpoint states, numbered as Zeek's TCP_INACTIVE ... TCP_RESET. */
enum tp_tcp_state {
	TP_TCP_INACTIVE = 0,
	TP_TCP_SYN_SENT,
	TP_TCP_SYN_ACK_SENT,
	TP_TCP_PARTIAL,
	TP_TCP_ESTABLISHED,
	TP_TCP_CLOSED,
	TP_TCP_RESET,
};

/* Most history letters a connection keeps (the rest are dropped). */
#define TP_CONN_HISTORY_MAX 28

/* One direction of a connection; index 0 is the originator.  A role flip
 * swaps the two directions whole. */
struct tp_conn_dir {
	uint64_t pkts;
	uint64_t ip_bytes;      /* sum of IP total lengths (wire) */
	union {
		uint64_t bytes; /* UDP/ICMP: payload bytes summed */
		struct {        /* TCP: the endpoint */
			uint32_t start;    /* initial sequence number */
			uint32_t last;     /* one past the highest seq sent */
			uint32_t ack;      /* highest ack the peer sent us */
			uint32_t rs_last;  /* relative seq delivered up to */
			uint32_t ooo_lo;   /* data held above a hole ... */
			uint32_t ooo_hi;   /* ... [ooo_lo, ooo_hi), relative */
			uint16_t seq_wraps, ack_wraps;
			uint16_t last_syn, last_rst; /* low bits, relative */
			uint16_t n_rxmt, n_win0, n_gap;
			uint8_t state;     /* enum tp_tcp_state */
			uint8_t eflags;    /* previous state, TP_EP_* bits */
		};
	};
};

struct tp_conn {
	struct tp_conn_dir d[2];
	uint64_t missed_bytes;  /* TCP content gaps the peer acknowledged */
	uint16_t hist_seen;     /* once-only history letters given */
	uint8_t orig_side;      /* which side of the canonical key originated */
	uint8_t flipped;        /* roles were flipped ('^' in the history) */
	uint8_t flags;          /* TP_CONN_* bits, for conn.c */
	uint8_t hlen;           /* history letters stored */
	uint8_t hist[18];       /* history letters, 5 bits each */
};

#endif
