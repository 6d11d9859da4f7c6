/* TCP sequence analysis with Wireshark's definitions.
 *
 * Follows tcp_analyze_sequence_number() of Wireshark's
 * epan/dissectors/packet-tcp.c (the rules below are quoted by the names
 * Wireshark uses: nextseq, maxseqtobeacked, lastack, dupacknum,
 * ts_first_rtt, ...), so that every flag can be checked against
 * `tshark -T fields -e tcp.analysis.<flag>`.  A sequence number of 0 means
 * "not seen yet", as in Wireshark (a quirk kept on purpose).
 *
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Source Port          |       Destination Port        |
 * |                        Sequence Number                        |  seq
 * |                    Acknowledgment Number                      |  ack
 * | Offset|  Res  |     Flags     |            Window             |  window
 * |           Checksum            |         Urgent Pointer        |
 * |                    Options (WS on SYN: shift)                 |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
#include "flow/tcp-analysis.h"

#include <stdbool.h>
#include <string.h>

#include "decode/decode.h"
#include "util/log.h"

#define GT_SEQ(a, b) ((int32_t)((a) - (b)) > 0)
#define LT_SEQ(a, b) ((int32_t)((a) - (b)) < 0)
#define LE_SEQ(a, b) ((int32_t)((a) - (b)) <= 0)

/* Wireshark's tcp_analyze_seq defaults. */
#define OOO_THRES_NS 3000000ull       /* out-of-order without an iRTT */
#define FAST_RTX_NS 20000000ull       /* fast retransmission after dup ACK */

#define TH_SFR (TP_TH_SYN | TP_TH_FIN | TP_TH_RST)

/* Times are kept as 32-bit ns offsets from base_ns, moved forward when
 * a time no longer fits: 4.29 s of range, of which the older half is
 * given up at a move.  A time older than that reads as 2.1 s old, which
 * no test here tells apart (out-of-order window, 20 ms of a fast
 * retransmission); an unacknowledged segment that old is dropped, its
 * ACK RTT not taken. */
#define BASE_KEEP_NS (1ull << 31)

void tp_tcpa_init(struct tp_tcpa *a)
{
	memset(a, 0, sizeof(*a));
	a->d[0].win_scale = -1;
	a->d[1].win_scale = -1;
	a->ooo_ns = OOO_THRES_NS;
	a->base_ns = UINT64_MAX;   /* set by the first segment */
}

static inline uint32_t sub_sat(uint32_t v, uint64_t by)
{
	return v > by ? (uint32_t)(v - by) : 0;
}

static void rebase(struct tp_tcpa *a, uint64_t now)
{
	uint64_t nb = now - BASE_KEEP_NS, by = nb - a->base_ns;

	for (unsigned s = 0; s < 2; s++) {
		struct tp_tcpa_dir *d = &a->d[s];
		unsigned k = 0;
		d->nextseq_off = sub_sat(d->nextseq_off, by);
		d->lastack_off = sub_sat(d->lastack_off, by);
		for (unsigned i = 0; i < d->ua_n; i++) {
			if (d->ua_off[i] < by)
				continue;
			d->ua_nextseq[k] = d->ua_nextseq[i];
			d->ua_off[k] = (uint32_t)(d->ua_off[i] - by);
			k++;
		}
		d->ua_n = (uint8_t)k;
	}
	a->base_ns = nb;
}

/* now as an offset from base_ns; a time before it (capture time going
 * backwards) as 0. */
static inline uint32_t off_of(const struct tp_tcpa *a, uint64_t now)
{
	return now > a->base_ns ? (uint32_t)(now - a->base_ns) : 0;
}

static inline uint64_t abs_of(const struct tp_tcpa *a, uint32_t off)
{
	return a->base_ns + off;
}

static inline uint32_t us_sat(uint64_t ns)
{
	uint64_t us = ns / 1000;
	return us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

/* The window scale shift of a SYN's options, or -2 when it has none
 * (Wireshark's "SYN seen without the option"). */
static int8_t syn_wscale(const struct tp_pkt *p)
{
	return tp_tcp_wscale(p->tcp_opts, p->tcp_opts_len);
}

/* Handshake times and Wireshark's ts_mru_syn / ts_first_rtt. */
static void handshake(struct tp_tcpa *a, uint8_t side, const struct tp_pkt *p)
{
	uint8_t fl = p->tcp_flags & (TP_TH_SYN | TP_TH_ACK);

	/* Rejected: a RST from the other side before any SYN-ACK. */
	if ((p->tcp_flags & TP_TH_RST) && (a->have & TP_TCPA_HAVE_SYN) &&
	    side != a->syn_side && !(a->have & TP_TCPA_HAVE_SYNACK) &&
	    !(a->have & (TP_TCPA_SEEN0 << side)))
		a->have |= TP_TCPA_REJECTED;
	a->have |= (uint8_t)(TP_TCPA_SEEN0 << side);

	if (fl == TP_TH_SYN) {
		/* ts_mru_syn: a SYN sent again moves it. */
		a->syn_ns = p->ts_ns;
		a->syn_side = side;
		a->have |= TP_TCPA_HAVE_SYN;
		a->have &= (uint8_t)~TP_TCPA_HAVE_SYNACK;
	} else if (fl == (TP_TH_SYN | TP_TH_ACK)) {
		if ((a->have & TP_TCPA_HAVE_SYN) && side != a->syn_side &&
		    !(a->have & TP_TCPA_HAVE_HS_CLIENT)) {
			a->synack_ns = p->ts_ns;
			a->have |= TP_TCPA_HAVE_SYNACK;
			a->hs_server_us = us_sat(p->ts_ns - a->syn_ns);
			a->have |= TP_TCPA_HAVE_HS_SERVER;
		}
	} else if (fl == TP_TH_ACK) {
		/* ts_first_rtt: the first ACK without SYN (a RST-ACK too),
		 * in either direction, after a SYN; Wireshark does not ask
		 * for the SYN-ACK.  A zero delta leaves it unset, as
		 * Wireshark's nstime_is_zero() test does. */
		if ((a->have & TP_TCPA_HAVE_SYN) &&
		    !(a->have & TP_TCPA_HAVE_FIRST_RTT) &&
		    p->ts_ns != a->syn_ns) {
			uint64_t rtt = p->ts_ns - a->syn_ns;
			a->first_rtt_us = us_sat(rtt);
			a->ooo_ns = rtt > UINT32_MAX ? UINT32_MAX
						     : (uint32_t)rtt;
			a->have |= TP_TCPA_HAVE_FIRST_RTT;
		}
		if ((a->have & TP_TCPA_HAVE_SYNACK) && side == a->syn_side &&
		    !(a->have & TP_TCPA_HAVE_HS_CLIENT)) {
			a->hs_client_us = us_sat(p->ts_ns - a->synack_ns);
			a->have |= TP_TCPA_HAVE_HS_CLIENT;
		}
	}
}

/* Application response time: the first payload byte of each side, and
 * of each side after the other's first. */
static void app_data(struct tp_tcpa *a, uint8_t side, uint64_t now)
{
	if (!a->data_ns[side])
		a->data_ns[side] = now;
	if (a->data_ns[side ^ 1] && !a->reply_ns[side])
		a->reply_ns[side] = now;
}

static void window_scale(struct tp_tcpa *a, uint8_t side,
			 const struct tp_pkt *p)
{
	struct tp_tcpa_dir *fwd = &a->d[side], *rev = &a->d[side ^ 1];

	if (!(p->tcp_flags & TP_TH_SYN))
		return;
	fwd->win_scale = syn_wscale(p);
	/* Scaling holds only when both SYNs carried the option. */
	if ((p->tcp_flags & TP_TH_ACK) &&
	    (fwd->win_scale == -2 || rev->win_scale == -2)) {
		fwd->win_scale = -2;
		if (rev->win_scale != -1)
			rev->win_scale = -2;
	}
}

/* The rev list: ACK RTT from the oldest segment this ack ends exactly,
 * and every segment it covers removed. */
static bool ack_segments(const struct tp_tcpa *a, struct tp_tcpa_dir *rev,
			 uint32_t ack, uint64_t now, uint64_t *rtt)
{
	bool found = false;
	unsigned k = 0;

	for (unsigned i = 0; i < rev->ua_n; i++) {
		uint32_t nx = rev->ua_nextseq[i];
		if (nx == ack && !found) {
			*rtt = now - abs_of(a, rev->ua_off[i]);
			found = true;
		}
		if (GT_SEQ(nx, ack)) {
			rev->ua_nextseq[k] = nx;
			rev->ua_off[k] = rev->ua_off[i];
			k++;
		}
	}
	rev->ua_n = (uint8_t)k;
	return found;
}

/* Wireshark keeps every unacknowledged segment (up to 1000); an ACK
 * takes its RTT from the oldest segment it ends exactly.  Of the few kept
 * here: a segment ending where a kept one ends is not kept (the older one
 * gives the RTT); when full, the newest is replaced, so that the oldest
 * (the next ACKs end them) and the latest sent (the ACK of a burst's end
 * ends it) are both there. */
static void add_segment(struct tp_tcpa_dir *fwd, uint32_t nextseq, uint32_t off)
{
	for (unsigned i = 0; i < fwd->ua_n; i++)
		if (fwd->ua_nextseq[i] == nextseq)
			return;
	if (fwd->ua_n == TP_TCPA_UNACKED)
		fwd->ua_n--;
	fwd->ua_nextseq[fwd->ua_n] = nextseq;
	fwd->ua_off[fwd->ua_n] = off;
	fwd->ua_n++;
}

static void count(struct tp_tcpa_stats *st, unsigned fl)
{
	static const struct {
		unsigned bits;
		enum tp_tcpa_count n;
	} map[] = {
		/* tcp.analysis.retransmission is given to all three kinds */
		{TP_TCPA_RETRANSMISSION | TP_TCPA_FAST_RETRANSMISSION |
			 TP_TCPA_SPURIOUS_RETRANSMISSION,
		 TP_TCPA_N_RETRANSMISSION},
		{TP_TCPA_FAST_RETRANSMISSION, TP_TCPA_N_FAST_RETRANSMISSION},
		{TP_TCPA_SPURIOUS_RETRANSMISSION,
		 TP_TCPA_N_SPURIOUS_RETRANSMISSION},
		{TP_TCPA_OUT_OF_ORDER, TP_TCPA_N_OUT_OF_ORDER},
		{TP_TCPA_LOST_PACKET, TP_TCPA_N_LOST_SEGMENT},
		{TP_TCPA_ACK_LOST_PACKET, TP_TCPA_N_ACK_LOST_SEGMENT},
		{TP_TCPA_DUPLICATE_ACK, TP_TCPA_N_DUPLICATE_ACK},
		{TP_TCPA_ZERO_WINDOW, TP_TCPA_N_ZERO_WINDOW},
		{TP_TCPA_ZERO_WINDOW_PROBE, TP_TCPA_N_ZERO_WINDOW_PROBE},
		{TP_TCPA_WINDOW_FULL, TP_TCPA_N_WINDOW_FULL},
		{TP_TCPA_KEEP_ALIVE, TP_TCPA_N_KEEP_ALIVE},
		{TP_TCPA_WINDOW_UPDATE, TP_TCPA_N_WINDOW_UPDATE},
	};
	for (unsigned i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if ((fl & map[i].bits) && st->count[map[i].n] < UINT32_MAX)
			st->count[map[i].n]++;
}

unsigned tp_tcpa_update(struct tp_tcpa *a, uint8_t side,
			const struct tp_pkt *p, uint64_t *ack_rtt_ns)
{
	struct tp_tcpa_dir *fwd = &a->d[side & 1], *rev = &a->d[(side & 1) ^ 1];
	const uint32_t seq = p->seq, ack = p->ack, seglen = p->payload_len;
	const uint16_t window = p->tcp_win;
	const uint8_t flags = p->tcp_flags;
	const uint64_t now = p->ts_ns;
	unsigned ta = 0;
	uint32_t nextseq;

	if (TP_UNLIKELY(a->base_ns == UINT64_MAX))
		a->base_ns = now > BASE_KEEP_NS ? now - BASE_KEEP_NS : 0;
	else if (TP_UNLIKELY(now > a->base_ns + UINT32_MAX))
		rebase(a, now);
	const uint32_t now_off = off_of(a, now);

	handshake(a, side & 1, p);
	if (seglen)
		app_data(a, side & 1, now);
	window_scale(a, side & 1, p);

	/* ZERO WINDOW PROBE: exactly 1 byte at nextseq while the other
	 * direction's window is 0.  Nothing else is checked. */
	if (seglen == 1 && seq == fwd->nextseq && rev->window == 0) {
		ta |= TP_TCPA_ZERO_WINDOW_PROBE;
		goto finished_fwd;
	}

	/* ZERO WINDOW: window 0, none of SYN/FIN/RST. */
	if (window == 0 && !(flags & TH_SFR))
		ta |= TP_TCPA_ZERO_WINDOW;

	/* LOST PACKET ("previous segment not captured"): seq beyond nextseq,
	 * once a segment was seen; not for RST. */
	if (fwd->nextseq && GT_SEQ(seq, fwd->nextseq) && !(flags & TP_TH_RST))
		ta |= TP_TCPA_LOST_PACKET;

	/* KEEP ALIVE: 0 or 1 byte starting at nextseq - 1, no SYN/FIN/RST. */
	if (seglen <= 1 && seq == fwd->nextseq - 1 && !(flags & TH_SFR))
		ta |= TP_TCPA_KEEP_ALIVE;

	/* WINDOW UPDATE: no data, same seq (nextseq) and ack (lastack) as
	 * before, a new non-zero window. */
	if (seglen == 0 && window && window != fwd->window &&
	    seq == fwd->nextseq && ack == fwd->lastack && !(flags & TH_SFR))
		ta |= TP_TCPA_WINDOW_UPDATE;

	/* WINDOW FULL: data reaching exactly the right edge of the window
	 * the other direction advertised (lastack + window << win_scale),
	 * when its scale is known; no SYN/FIN/RST. */
	if (seglen > 0 && rev->win_scale != -1 && !(flags & TH_SFR)) {
		unsigned sh = (rev->bits & TP_TCPA_B_LAST_SYN) ||
				      rev->win_scale < 0 ?
				      0 : (unsigned)rev->win_scale;
		uint32_t edge = rev->lastack + (uint32_t)((uint64_t)rev->window
							  << sh);
		if (seq + seglen == edge)
			ta |= TP_TCPA_WINDOW_FULL;
	}

	/* KEEP ALIVE ACK: a repeated ACK answering a keep-alive. */
	if (seglen == 0 && window && window == fwd->window &&
	    seq == fwd->nextseq && ack == fwd->lastack &&
	    (rev->bits & TP_TCPA_B_KEEP_ALIVE) && !(flags & TH_SFR)) {
		ta |= TP_TCPA_KEEP_ALIVE_ACK;
		goto finished_fwd;
	}

	/* ZERO WINDOW PROBE ACK: a repeated zero-window ACK answering a
	 * zero window probe. */
	if (seglen == 0 && window == 0 && window == fwd->window &&
	    seq == fwd->nextseq && ack == fwd->lastack &&
	    (rev->bits & TP_TCPA_B_ZWP) && !(flags & TH_SFR)) {
		ta |= TP_TCPA_ZERO_WINDOW_PROBE_ACK;
		goto finished_fwd;
	}

	/* DUPLICATE ACK: no data, same window (non-zero), seq and ack as the
	 * direction's previous segment; no SYN/FIN/RST.  dupacknum counts
	 * them (only ">= 2" is ever asked: it saturates). */
	if (seglen == 0 && window && window == fwd->window &&
	    seq == fwd->nextseq && ack == fwd->lastack && !(flags & TH_SFR)) {
		if (fwd->dupacknum < INT8_MAX)
			fwd->dupacknum++;
		ta |= TP_TCPA_DUPLICATE_ACK;
	}

finished_fwd:
	/* The dup-ack count restarts when the ack number moves. */
	if (ack != fwd->lastack)
		fwd->dupacknum = 0;

	/* ACKED LOST PACKET ("ACKed unseen segment"): the ack goes beyond the
	 * other direction's maxseqtobeacked, which then jumps to its nextseq
	 * so that the hole is flagged once (Wireshark 4.0; 4.2 flags a hole
	 * again through dupacknum). */
	if (rev->maxseqtobeacked && GT_SEQ(ack, rev->maxseqtobeacked) &&
	    (flags & TP_TH_ACK)) {
		ta |= TP_TCPA_ACK_LOST_PACKET;
		rev->maxseqtobeacked = rev->nextseq;
	}

	/* RETRANSMISSION / FAST RETRANSMISSION / SPURIOUS / OUT-OF-ORDER:
	 * for segments with data, SYN or FIN that do not advance nextseq
	 * (seq_not_advanced); never a keep-alive. */
	if ((seglen > 0 || (flags & (TP_TH_SYN | TP_TH_FIN))) &&
	    !(ta & TP_TCPA_KEEP_ALIVE)) {
		bool seq_not_advanced = fwd->nextseq &&
					LT_SEQ(seq, fwd->nextseq);

		/* More than one byte from nextseq - 1 (after a possible zero
		 * window probe) adds new data: not a retransmission. */
		if (seglen > 1 && fwd->nextseq - 1 == seq)
			seq_not_advanced = false;

		/* FAST RETRANSMISSION: >= 2 duplicate ACKs from the other
		 * direction for exactly this seq, the last within 20 ms. */
		if (seq_not_advanced && rev->dupacknum >= 2 &&
		    rev->lastack == seq &&
		    now - abs_of(a, rev->lastack_off) < FAST_RTX_NS) {
			ta |= TP_TCPA_FAST_RETRANSMISSION;
			goto finished_checking_retransmission_type;
		}

		/* OUT-OF-ORDER: within ooo_thres of the segment that set
		 * nextseq (ts_first_rtt when known, else 3 ms), and its data
		 * not ending exactly at nextseq. */
		if (seq_not_advanced &&
		    now - abs_of(a, fwd->nextseq_off) < a->ooo_ns &&
		    fwd->nextseq != seq + seglen) {
			ta |= TP_TCPA_OUT_OF_ORDER;
			goto finished_checking_retransmission_type;
		}

		/* SPURIOUS RETRANSMISSION: all its data was already acked by
		 * the other direction (seq + seglen <= rev lastack); checked
		 * after fast retransmission and out-of-order, as in 4.0. */
		if (seglen > 0 && rev->lastack &&
		    LE_SEQ(seq + seglen, rev->lastack)) {
			ta |= TP_TCPA_SPURIOUS_RETRANSMISSION;
			goto finished_checking_retransmission_type;
		}

		/* RETRANSMISSION: anything else below nextseq. */
		if (seq_not_advanced)
			ta |= TP_TCPA_RETRANSMISSION;
	}

finished_checking_retransmission_type:
	nextseq = seq + seglen;
	if (seglen || (flags & (TP_TH_SYN | TP_TH_FIN))) {
		if (flags & (TP_TH_SYN | TP_TH_FIN))
			nextseq += 1;
		add_segment(fwd, nextseq, now_off);
	}

	/* nextseq: the highest seen; a zero window probe does not move it. */
	if ((GT_SEQ(nextseq, fwd->nextseq) || !fwd->nextseq) &&
	    !(ta & TP_TCPA_ZERO_WINDOW_PROBE)) {
		fwd->nextseq = nextseq;
		fwd->nextseq_off = now_off;
	}

	/* maxseqtobeacked: the highest contiguous seq. */
	if ((seq == fwd->maxseqtobeacked || !fwd->maxseqtobeacked) &&
	    !(ta & TP_TCPA_ZERO_WINDOW_PROBE))
		fwd->maxseqtobeacked = fwd->nextseq;

	fwd->window = window;
	fwd->lastack = ack;
	fwd->lastack_off = now_off;
	/* lastsegmentflags, the two bits the next ACKs look at */
	fwd->bits = (uint8_t)(((ta & TP_TCPA_KEEP_ALIVE) ?
				       TP_TCPA_B_KEEP_ALIVE : 0) |
			      ((ta & TP_TCPA_ZERO_WINDOW_PROBE) ?
				       TP_TCPA_B_ZWP : 0) |
			      ((flags & TP_TH_SYN) ? TP_TCPA_B_LAST_SYN : 0));

	/* tcp.analysis.ack_rtt: shown by Wireshark only when non-zero. */
	uint64_t rtt = 0;
	if (rev->ua_n && ack_segments(a, rev, ack, now, &rtt) && rtt > 0) {
		struct tp_tcpa_stats *st = &a->st[side & 1];
		uint32_t us = us_sat(rtt);
		ta |= TP_TCPA_ACK_RTT;
		if (fwd->rtt_n == 0 || us < st->rtt_min_us)
			st->rtt_min_us = us;
		if (us > st->rtt_max_us)
			st->rtt_max_us = us;
		st->rtt_sum_ns += rtt;
		fwd->rtt_n++;
		if (ack_rtt_ns)
			*ack_rtt_ns = rtt;
	}
	if (ta & ~(unsigned)TP_TCPA_ACK_RTT)
		count(&a->st[side & 1], ta);
	return ta;
}
