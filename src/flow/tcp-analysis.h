/* TCP performance analytics per flow and direction, with Wireshark's
 * tcp.analysis definitions (epan/dissectors/packet-tcp.c,
 * tcp_analyze_sequence_number()), so that counts can be checked against
 * `tshark -T fields -e tcp.analysis.*` packet by packet.
 *
 * Directions are the canonical key sides of the flow (0/1), not the
 * originator/responder roles, so that a conn.log role flip does not move
 * the state; the log writer maps them with tp_conn.orig_side. */
#ifndef TP_FLOW_TCP_ANALYSIS_H
#define TP_FLOW_TCP_ANALYSIS_H

#include <stddef.h>
#include <stdint.h>

#include "decode/packet-t.h"

/* Segments kept per direction for ACK RTT (Wireshark keeps up to 1000 in
 * a list; this keeps the oldest few not yet acknowledged). */
#define TP_TCPA_UNACKED 3

/* Per-segment classification bits, Wireshark's TCP_A_* names. */
enum tp_tcpa_flag {
	TP_TCPA_RETRANSMISSION = 1u << 0,
	TP_TCPA_LOST_PACKET = 1u << 1,        /* previous segment not captured */
	TP_TCPA_ACK_LOST_PACKET = 1u << 2,    /* ACKed unseen segment */
	TP_TCPA_KEEP_ALIVE = 1u << 3,
	TP_TCPA_DUPLICATE_ACK = 1u << 4,
	TP_TCPA_ZERO_WINDOW = 1u << 5,
	TP_TCPA_ZERO_WINDOW_PROBE = 1u << 6,
	TP_TCPA_ZERO_WINDOW_PROBE_ACK = 1u << 7,
	TP_TCPA_KEEP_ALIVE_ACK = 1u << 8,
	TP_TCPA_OUT_OF_ORDER = 1u << 9,
	TP_TCPA_FAST_RETRANSMISSION = 1u << 10,
	TP_TCPA_WINDOW_UPDATE = 1u << 11,
	TP_TCPA_WINDOW_FULL = 1u << 12,
	TP_TCPA_SPURIOUS_RETRANSMISSION = 1u << 13,
	TP_TCPA_ACK_RTT = 1u << 14,           /* this segment gave an ack_rtt */
};

/* Counters, in enum tp_tcpa_count order (the tcp.log field order). */
enum tp_tcpa_count {
	TP_TCPA_N_RETRANSMISSION,
	TP_TCPA_N_FAST_RETRANSMISSION,
	TP_TCPA_N_SPURIOUS_RETRANSMISSION,
	TP_TCPA_N_OUT_OF_ORDER,
	TP_TCPA_N_LOST_SEGMENT,
	TP_TCPA_N_ACK_LOST_SEGMENT,
	TP_TCPA_N_DUPLICATE_ACK,
	TP_TCPA_N_ZERO_WINDOW,
	TP_TCPA_N_ZERO_WINDOW_PROBE,
	TP_TCPA_N_WINDOW_FULL,
	TP_TCPA_N_KEEP_ALIVE,
	TP_TCPA_N_WINDOW_UPDATE,
	TP_TCPA_NCOUNT,
};

/* Wireshark's tcp_flow_t and tcp_analyze_seq_flow_info_t, the part the
 * classification reads: every segment reads both directions, so the two
 * share the first two cache lines of struct tp_tcpa.  Times are ns
 * offsets from tp_tcpa.base_ns (see tp_tcpa_update). */
struct tp_tcpa_dir {
	uint32_t nextseq_off;      /* nextseqtime */
	uint32_t lastack_off;      /* lastacktime */
	uint32_t nextseq;          /* highest seq + len seen; 0 = none yet */
	uint32_t maxseqtobeacked;  /* highest contiguous seq; 0 = none yet */
	uint32_t lastack;          /* last ack this direction sent */
	uint16_t window;           /* last window field, unscaled */
	int8_t dupacknum;          /* -1: an ACKed-unseen was just flagged;
				    * saturates at 127 */
	int8_t win_scale;          /* -1 unknown, -2 SYN without WS, else shift */
	uint8_t bits;              /* TP_TCPA_B_* */
	uint8_t ua_n;              /* unacked segments, oldest first */
	uint16_t pad;
	uint32_t ua_nextseq[TP_TCPA_UNACKED];
	uint32_t ua_off[TP_TCPA_UNACKED];
	uint32_t rtt_n;            /* ACK RTT samples this direction gave */
};

/* lastsegmentflags and the window of the last segment */
#define TP_TCPA_B_KEEP_ALIVE 1
#define TP_TCPA_B_ZWP 2
#define TP_TCPA_B_LAST_SYN 4       /* its window is not scaled */

/* What a direction's segments counted: read only when a segment is
 * flagged or gives an ACK RTT.  One cache line. */
struct tp_tcpa_stats {
	uint32_t count[TP_TCPA_NCOUNT];
	uint64_t rtt_sum_ns;
	uint32_t rtt_min_us, rtt_max_us;   /* saturate at 2^32 us (71 min) */
};

struct tp_tcpa {
	/* hot: every segment */
	uint64_t base_ns;          /* the *_off times count from here;
				    * UINT64_MAX before the first segment */
	struct tp_tcpa_dir d[2];
	uint32_t ooo_ns;           /* out-of-order window: ts_first_rtt once
				    * known (saturated), else 3 ms */
	uint8_t have;              /* TP_TCPA_HAVE_* bits */
	uint8_t syn_side;          /* side that sent the SYN */
	uint8_t pad[2];
	/* counted */
	struct tp_tcpa_stats st[2];
	/* timing: handshake and application response */
	uint64_t syn_ns;           /* ts_mru_syn: the latest SYN without ACK */
	uint64_t synack_ns;        /* the latest SYN-ACK after it */
	uint64_t data_ns[2];       /* first payload byte sent by each side */
	uint64_t reply_ns[2];      /* first payload byte of a side after the
				    * other side's first */
	uint32_t first_rtt_us;     /* ts_first_rtt (tcp.analysis.initial_rtt) */
	uint32_t hs_server_us;     /* SYN -> SYN-ACK */
	uint32_t hs_client_us;     /* SYN-ACK -> ACK */
	uint32_t pad2;
} __attribute__((aligned(64)));

#define TP_TCPA_HAVE_SYN 1
#define TP_TCPA_HAVE_SYNACK 2
#define TP_TCPA_HAVE_FIRST_RTT 4
#define TP_TCPA_HAVE_HS_SERVER 8
#define TP_TCPA_HAVE_HS_CLIENT 16
#define TP_TCPA_SEEN0 32           /* a segment from side 0 (1: << 1) */
#define TP_TCPA_REJECTED 128       /* RST answered the SYN */

/* Zero a for a new flow. */
void tp_tcpa_init(struct tp_tcpa *a);

/* Classify one TCP segment of p sent by canonical side `side` and update
 * the state (prefetch it first: tp_tcpa_prefetch).  Reads ts_ns, seq, ack, tcp_flags, tcp_win, payload_len (the
 * length on the wire, also of a truncated copy) and the TCP options (for
 * the window scale of a SYN).  Returns the segment's TP_TCPA_* bits; when
 * TP_TCPA_ACK_RTT is set, *ack_rtt_ns holds the tcp.analysis.ack_rtt.
 * ack_rtt_ns may be NULL. */
unsigned tp_tcpa_update(struct tp_tcpa *a, uint8_t side,
			const struct tp_pkt *p, uint64_t *ack_rtt_ns);

/* Start loading the cache lines a segment reads: both directions, and
 * the statistics that an ACK RTT sample updates. */
static inline void tp_tcpa_prefetch(const struct tp_tcpa *a)
{
	for (unsigned i = 0; i < offsetof(struct tp_tcpa, syn_ns); i += 64)
		__builtin_prefetch((const char *)a + i, 1);
}

/* ... and all of it, for the log record. */
static inline void tp_tcpa_prefetch_all(const struct tp_tcpa *a)
{
	for (unsigned i = 0; i < sizeof(*a); i += 64)
		__builtin_prefetch((const char *)a + i);
}

/* The SYN was not answered: no segment at all from the other side. */
static inline int tp_tcpa_syn_unanswered(const struct tp_tcpa *a)
{
	return (a->have & TP_TCPA_HAVE_SYN) &&
	       !(a->have & (TP_TCPA_SEEN0 << (a->syn_side ^ 1)));
}

#endif
