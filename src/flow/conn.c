/* Connection semantics of conn.log, computed the way Zeek computes them so
 * that tapir's conn.log matches Zeek's line by line:
 *
 *  - roles: Zeek's WantConnection heuristics (likely server ports) decide
 *    the originator of a flow first seen mid-stream; a SYN answered before
 *    it was seen (SYN-ACK, then SYN) flips the roles later;
 *  - TCP: Zeek's endpoint state machine (INACTIVE, SYN_SENT, SYN_ACK_SENT,
 *    PARTIAL, ESTABLISHED, CLOSED, RESET), byte counts from sequence
 *    numbers (64-bit through wrap counters), content gaps from a model of
 *    Zeek's reassembler (what the peer acknowledged that never arrived, or
 *    arrived truncated), the close bookkeeping that ends the duration;
 *  - history letters, once-only or on a 1, 10, 100 ... scale, upper case
 *    for the originator;
 *  - UDP and ICMP: payload sums, 'D'/'d' for UDP.
 *
 * Sequence numbers of the reassembly model are relative to the endpoint's
 * initial sequence number and kept modulo 2^32; they are compared with
 * serial arithmetic, which holds while the data in flight stays under
 * 2 GiB. */
#include "flow/conn.h"

#include <assert.h>
#include <stddef.h>
#include <string.h>

#include "flow/flow-t.h"

static_assert(sizeof(struct tp_conn) <= 144, "tp_conn grew");
static_assert(sizeof(struct tp_flow) <= 256, "tp_flow exceeds 4 cache lines");

/* tp_conn.flags */
#define TP_CONN_KIND      0x03  /* transport, below */
#define TP_CONN_SEEN      0x04  /* a packet was accounted */
#define TP_CONN_PARTIAL   0x08  /* Zeek's is_partial */
#define TP_CONN_FPS_ORIG  0x10  /* first packet seen from the originator */
#define TP_CONN_FPS_RESP  0x20  /* ... from the responder */
#define TP_CONN_DEFERRED  0x40  /* a close waits for data to be delivered */

enum { KIND_OTHER = 0, KIND_TCP, KIND_UDP, KIND_ICMP };

/* tp_conn_dir.eflags: bits 0-2 hold the previous endpoint state. */
#define TP_EP_PREV        0x07
#define TP_EP_FIN         0x08  /* a FIN was sent */
#define TP_EP_RST         0x10  /* a RST was sent */
#define TP_EP_DID_CLOSE   0x20  /* the close was reported */
#define TP_EP_EOF         0x40  /* all data up to the close delivered */
#define TP_EP_SKIP        0x80  /* reassembly given up */

/* hist_seen bits, per endpoint; the responder's are shifted by 8. */
#define H_SYN      0x01
#define H_FIN      0x02
#define H_RST      0x04
#define H_FIN_RST  0x08
#define H_DATA     0x10
#define H_ACK      0x20
#define H_MULTI    0x40
#define H_LIMIT    0x80  /* connection-wide 'X' */

/* Zeek's constants (init-bare.zeek). */
#define TOO_LARGE_SEQ_DELTA      1048576
#define MAX_INITIAL_WINDOW       16384
#define MAX_ABOVE_HOLE_NO_ACKS   16384
#define EXCESSIVE_DATA_NO_ACKS   (10u * 1024 * 1024)

#define TH(p, f) (((p)->tcp_flags & TP_TH_##f) != 0)

static inline int32_t seq_delta(uint32_t a, uint32_t b)
{
	return (int32_t)(a - b);
}

static inline bool seq_lt(uint32_t a, uint32_t b) { return seq_delta(a, b) < 0; }
static inline bool seq_le(uint32_t a, uint32_t b) { return seq_delta(a, b) <= 0; }
static inline bool seq_gt(uint32_t a, uint32_t b) { return seq_delta(a, b) > 0; }

static inline int conn_kind(const struct tp_conn *c)
{
	return c->flags & TP_CONN_KIND;
}

/* ---- Likely server ports ------------------------------------------------
 *
 * The server ports Zeek's default scripts register (base/protocols and
 * base/packet-protocols: Analyzer::register_for_ports adds them to
 * likely_server_ports).  Sorted for binary search. */

static const uint16_t tcp_server_ports[] = {
	21,    /* ftp */
	22,    /* ssh */
	25,    /* smtp */
	53,    /* dns */
	79,    /* finger */
	80,    /* http */
	81,    /* http */
	88,    /* krb */
	110,   /* pop3 */
	135,   /* dce-rpc */
	139,   /* smb */
	143,   /* imap */
	389,   /* ldap */
	443,   /* ssl */
	445,   /* smb */
	502,   /* modbus */
	563,   /* ssl */
	585,   /* ssl */
	587,   /* smtp */
	614,   /* ssl */
	631,   /* http */
	636,   /* ssl */
	750,   /* krb */
	989,   /* ssl */
	990,   /* ssl */
	992,   /* ssl */
	993,   /* ssl */
	995,   /* ssl */
	1080,  /* http, socks */
	1434,  /* mysql */
	1883,  /* mqtt */
	2811,  /* gridftp */
	3128,  /* http */
	3268,  /* ldap */
	3306,  /* mysql */
	3389,  /* rdp */
	5222,  /* xmpp */
	5223,  /* ssl */
	5269,  /* xmpp */
	5432,  /* postgresql */
	6379,  /* redis */
	6666,  /* irc */
	6667,  /* irc */
	6668,  /* irc */
	6669,  /* irc */
	8000,  /* http */
	8080,  /* http */
	8888,  /* http */
	20000, /* dnp3 */
};

static const uint16_t udp_server_ports[] = {
	53,    /* dns */
	67,    /* dhcp */
	88,    /* krb */
	123,   /* ntp */
	137,   /* dns (NetBIOS name service) */
	161,   /* snmp */
	162,   /* snmp */
	389,   /* ldap */
	443,   /* dtls, quic */
	514,   /* syslog */
	750,   /* krb */
	1812,  /* radius */
	2123,  /* gtpv1 */
	2152,  /* gtpv1 */
	3389,  /* rdp (rdpeudp) */
	3544,  /* teredo */
	4789,  /* vxlan */
	5060,  /* sip */
	5072,  /* ayiya */
	5353,  /* dns (mDNS) */
	5355,  /* dns (LLMNR) */
	6081,  /* geneve */
	20000, /* dnp3 */
};

static bool in_sorted(const uint16_t *a, size_t n, uint16_t v)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (a[mid] == v)
			return true;
		if (a[mid] < v)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

bool tp_conn_likely_server_port(uint8_t proto, uint16_t port)
{
	if (proto == 6)
		return in_sorted(tcp_server_ports,
				 sizeof(tcp_server_ports) / sizeof(uint16_t),
				 port);
	if (proto == 17)
		return in_sorted(udp_server_ports,
				 sizeof(udp_server_ports) / sizeof(uint16_t),
				 port);
	return false;
}

bool tp_conn_first_is_resp(const struct tp_pkt *p)
{
	uint16_t sp = p->sport, dp = p->dport;

	if (p->proto == 6) {
		/* A bare SYN names its originator; anything else is a
		 * partial connection whose roles the ports suggest, except
		 * that a SYN-ACK between two server ports stays as seen
		 * (stealth scans). */
		if (TH(p, SYN) && !TH(p, ACK))
			return false;
		if (!tp_conn_likely_server_port(6, sp))
			return false;
		if (tp_conn_likely_server_port(6, dp))
			return !TH(p, SYN) && sp < dp;
		return true;
	}
	if (p->proto == 17)
		return tp_conn_likely_server_port(17, sp) &&
		       !tp_conn_likely_server_port(17, dp);
	return false;
}

/* ---- History ------------------------------------------------------------ */

/* Letter codes 1..27; 0 ends the string. */
static const char hist_alpha[] = "\0^SHADFRCGTWIQXshadfrcgtwiqx";

static void hist_put(struct tp_conn *c, char ch)
{
	const char *q = memchr(hist_alpha + 1, ch, sizeof(hist_alpha) - 2);

	if (!q || c->hlen >= TP_CONN_HISTORY_MAX)
		return;
	unsigned v = (unsigned)(q - hist_alpha);
	unsigned bit = c->hlen * 5u, i = bit / 8, sh = bit % 8;
	unsigned w = c->hist[i] | (unsigned)c->hist[i + 1] << 8;
	w |= v << sh;
	c->hist[i] = (uint8_t)w;
	c->hist[i + 1] = (uint8_t)(w >> 8);
	c->hlen++;
}

static char hist_get(const struct tp_conn *c, unsigned n)
{
	unsigned bit = n * 5u, i = bit / 8, sh = bit % 8;
	unsigned w = c->hist[i] | (unsigned)c->hist[i + 1] << 8;
	return hist_alpha[(w >> sh) & 0x1f];
}

size_t tp_conn_history(const struct tp_conn *c, char *buf, size_t size)
{
	size_t n = 0;

	if (size == 0)
		return 0;
	for (unsigned i = 0; i < c->hlen && n + 1 < size; i++)
		buf[n++] = hist_get(c, i);
	buf[n] = '\0';
	return n;
}

static inline char role_case(int role, char code)
{
	return role ? (char)(code - 'A' + 'a') : code;
}

/* A letter from the endpoint in role `role` (0 originator, 1 responder). */
static void hist_add(struct tp_conn *c, int role, char code)
{
	hist_put(c, role_case(role, code));
}

/* Once-only letters: gives the letter the first time and returns false;
 * true when it had been given already. */
static bool hist_check(struct tp_conn *c, int role, uint16_t mask, char code)
{
	uint16_t m = (uint16_t)(mask << (role ? 8 : 0));

	if (c->hist_seen & m)
		return true;
	c->hist_seen |= m;
	hist_add(c, role, code);
	return false;
}

/* Letters on a logarithmic scale: the 1st, 10th, 100th ... occurrence.
 * The counter saturates (no letter past the 10000th). */
static void hist_scaled(struct tp_conn *c, int role, char code, uint16_t *n)
{
	if (*n == UINT16_MAX)
		return;
	++*n;
	if (*n == 1 || *n == 10 || *n == 100 || *n == 1000 || *n == 10000)
		hist_add(c, role, code);
}

void tp_conn_note_partial(struct tp_conn *c)
{
	if (!(c->hist_seen & H_LIMIT)) {
		c->hist_seen |= H_LIMIT;
		hist_put(c, 'X');
	}
}

/* ---- Roles ---------------------------------------------------------------- */

void tp_conn_init(struct tp_conn *c, uint8_t orig_side)
{
	memset(c, 0, sizeof(*c));
	c->orig_side = orig_side & 1;
}

/* Swap originator and responder after the connection was created: the
 * endpoints with everything they carry, the first-packet marks.  The
 * once-only history marks stay where they are, as Zeek keeps them. */
static void flip_roles(struct tp_conn *c)
{
	struct tp_conn_dir t = c->d[0];
	uint8_t f = c->flags;

	c->d[0] = c->d[1];
	c->d[1] = t;
	c->orig_side ^= 1;
	c->flipped = 1;
	f &= (uint8_t)~(TP_CONN_FPS_ORIG | TP_CONN_FPS_RESP | TP_CONN_PARTIAL);
	if (c->flags & TP_CONN_FPS_ORIG)
		f |= TP_CONN_FPS_RESP;
	if (c->flags & TP_CONN_FPS_RESP)
		f |= TP_CONN_FPS_ORIG;
	c->flags = f;
	hist_put(c, '^');
}

/* ---- TCP endpoint --------------------------------------------------------- */

static inline uint8_t ep_prev(const struct tp_conn_dir *e)
{
	return e->eflags & TP_EP_PREV;
}

static void ep_set_state(struct tp_conn_dir *e, uint8_t s)
{
	if (s == e->state)
		return;
	e->eflags = (uint8_t)((e->eflags & ~TP_EP_PREV) | e->state);
	e->state = s;
}

static inline uint64_t full_seq(uint32_t seq, uint16_t wraps)
{
	return ((uint64_t)wraps << 32) + seq;
}

/* None of the endpoint's data acknowledged (the SYN's octet aside). */
static bool ep_no_data_acked(const struct tp_conn_dir *e)
{
	uint64_t ack = full_seq(e->ack, e->ack_wraps);
	return ack == e->start || ack == (uint64_t)e->start + 1;
}

/* Payload bytes sent, from sequence numbers: the farther of the highest
 * sequence sent and the highest acknowledged, less the SYN and FIN. */
static uint64_t ep_size(const struct tp_conn_dir *e,
			const struct tp_conn_dir *peer)
{
	/* A half-open connection found and aborted: its numbers mean
	 * nothing. */
	if (ep_prev(e) == TP_TCP_SYN_SENT && e->state == TP_TCP_RESET &&
	    peer->state == TP_TCP_INACTIVE && !ep_no_data_acked(e))
		return 0;

	uint64_t last = full_seq(e->last, e->seq_wraps);
	uint64_t ack = full_seq(e->ack, e->ack_wraps);
	uint64_t size = (last > ack ? last : ack) - (uint64_t)e->start;

	if (size != 0)
		size--;
	if ((e->eflags & TP_EP_FIN) && size != 0)
		size--;
	return size;
}

static void ep_update_last(struct tp_conn_dir *e, uint32_t seq)
{
	if (seq < e->last)
		e->seq_wraps++;
	e->last = seq;
}

static void ep_update_ack(struct tp_conn_dir *e, uint32_t seq)
{
	if (seq < e->ack)
		e->ack_wraps++;
	e->ack = seq;
}

/* Sequence numbers at the endpoint's first packet, or when a SYN restarts
 * it.  A partial connection is numbered as though a SYN had been seen. */
static void ep_init(struct tp_conn_dir *e, bool syn, uint32_t first,
		    uint32_t last)
{
	switch (e->state) {
	case TP_TCP_INACTIVE:
		if (syn) {
			e->ack = e->start = first;
		} else {
			e->ack = e->start = first - 1;
			last = first;
		}
		e->last = last;
		break;
	case TP_TCP_SYN_SENT:
	case TP_TCP_SYN_ACK_SENT:
		if (syn && first != e->start) {
			e->start = e->ack = first;
			e->last = last;
		}
		break;
	case TP_TCP_ESTABLISHED:
	case TP_TCP_PARTIAL:
		if (syn) {
			e->start = e->ack = first;
			e->last = last;
		}
		break;
	case TP_TCP_RESET:
		/* A RST seen first may have been injected: a SYN restarts
		 * the numbering. */
		if (syn && ep_prev(e) == TP_TCP_INACTIVE) {
			e->start = e->ack = first;
			e->last = last;
		}
		break;
	default:
		break;
	}
}

/* cur relative to the endpoint's initial sequence number (low 32 bits);
 * *underflow when it falls before it in the first 4 GiB. */
static uint32_t ep_rel(const struct tp_conn_dir *e, uint32_t cur,
		       uint32_t last, uint32_t wraps, bool *underflow)
{
	int32_t d = seq_delta(cur, last);

	if (d < 0) {
		if (wraps && cur > last)
			--wraps;
	} else if (d > 0) {
		if (cur < last)
			++wraps;
	}
	if (wraps == 0 && seq_delta(cur, e->start) < 0)
		*underflow = true;
	return cur - e->start;
}

static inline uint32_t ep_rel_last(const struct tp_conn_dir *e)
{
	return e->last - e->start;
}

/* ---- Reassembly model -----------------------------------------------------
 *
 * Per endpoint: rs_last, the relative sequence number up to which data is
 * contiguous (delivered, or skipped as a gap); [ooo_lo, ooo_hi), the span
 * of data held above a hole (one span: data beyond several holes is
 * merged); and how far the peer has acknowledged (derived from `ack`).
 * An acknowledgment beyond rs_last reveals data that the peer received and
 * the capture did not hold: a content gap, counted in missed_bytes while
 * both sides are established or closing cleanly. */

static inline bool ooo_any(const struct tp_conn_dir *e)
{
	return e->ooo_lo != e->ooo_hi;
}

static inline void ooo_clear(struct tp_conn_dir *e)
{
	e->ooo_lo = e->ooo_hi = 0;
}

/* Up to where acknowledgments have trimmed the held data: the highest
 * acknowledgment, not past the FIN, never below 1 (the first octet after
 * the SYN). */
static uint32_t ep_trim(const struct tp_conn_dir *e)
{
	uint32_t t = e->ack - e->start;

	if (e->eflags & TP_EP_FIN) {
		uint32_t f = ep_rel_last(e) - 1;
		if (seq_lt(f, t))
			t = f;
	}
	return seq_lt(t, 1) ? 1 : t;
}

/* Data held and not yet acknowledged.  With no acknowledgment seen past
 * the initial window, delivered data is not held (the peer's ACKs are
 * presumably not in the capture). */
static bool ep_has_blocks(const struct tp_conn_dir *e,
			  const struct tp_conn_dir *peer)
{
	if (e->eflags & TP_EP_SKIP)
		return false;
	if (ooo_any(e))
		return true;
	if (ep_no_data_acked(e) && ep_size(e, peer) > MAX_INITIAL_WINDOW)
		return false;
	return seq_gt(e->rs_last, ep_trim(e));
}

/* Data above rs_last that has become contiguous. */
static void ooo_settle(struct tp_conn_dir *e)
{
	if (!ooo_any(e))
		return;
	if (seq_le(e->ooo_lo, e->rs_last)) {
		if (seq_gt(e->ooo_hi, e->rs_last))
			e->rs_last = e->ooo_hi;
		ooo_clear(e);
	}
}

static inline bool ep_clean(const struct tp_conn_dir *e)
{
	return e->state == TP_TCP_ESTABLISHED ||
	       (e->state == TP_TCP_CLOSED &&
		ep_prev(e) == TP_TCP_ESTABLISHED);
}

static void gap(struct tp_conn *c, int role, uint32_t len)
{
	struct tp_conn_dir *e = &c->d[role], *pe = &c->d[role ^ 1];

	if (ep_clean(e) && ep_clean(pe)) {
		hist_scaled(c, role, 'G', &e->n_gap);
		c->missed_bytes += len;
	}
}

/* The peer acknowledged up to up_to, beyond what arrived. */
static void undelivered(struct tp_conn *c, int role, uint32_t up_to)
{
	struct tp_conn_dir *e = &c->d[role];

	/* A partial connection's made-up initial numbers: an ack of the
	 * first octet or two says nothing. */
	if (up_to <= 2 && (c->flags & TP_CONN_PARTIAL))
		return;
	if (!(e->eflags & TP_EP_SKIP)) {
		if (ooo_any(e) && seq_lt(e->ooo_lo, up_to)) {
			gap(c, role, e->ooo_lo - e->rs_last);
			e->rs_last = e->ooo_hi;
			ooo_clear(e);
		}
		if (seq_gt(up_to, e->rs_last))
			gap(c, role, up_to - e->rs_last);
	}
	if (seq_gt(up_to, e->rs_last))
		e->rs_last = up_to;
}

static bool data_pending(const struct tp_conn *c, int role)
{
	const struct tp_conn_dir *e = &c->d[role], *pe = &c->d[role ^ 1];

	if (e->eflags & TP_EP_SKIP)
		return false;
	int32_t d = seq_delta(ep_rel_last(e), e->rs_last);
	if (d < 0)
		return false;
	/* Delivered up to the FIN (which takes one octet) or the RST. */
	if (d != 0 && d != 1)
		return true;
	return e->state != TP_TCP_RESET && ep_has_blocks(pe, e);
}

/* The endpoint in `role` closed (FIN or RST): the close counts once all
 * its data up to there has been delivered. */
static void conn_closed(struct tp_conn *c, int role)
{
	if (data_pending(c, role)) {
		c->flags |= TP_CONN_DEFERRED;
		return;
	}
	c->flags &= (uint8_t)~TP_CONN_DEFERRED;
	c->d[role].eflags |= TP_EP_DID_CLOSE;
}

static void check_eof(struct tp_conn *c, int role)
{
	struct tp_conn_dir *e = &c->d[role];

	if (e->eflags & TP_EP_EOF)
		return;
	if (!(e->eflags & TP_EP_FIN) && e->state != TP_TCP_CLOSED &&
	    e->state != TP_TCP_RESET)
		return;
	if (data_pending(c, role))
		return;
	e->eflags |= TP_EP_EOF;
	if (c->flags & TP_CONN_DEFERRED) {
		conn_closed(c, role);
		c->flags &= (uint8_t)~TP_CONN_DEFERRED;
	}
}

/* Payload [seq, seq + len) (relative) from the endpoint in `role`. */
static void data_sent(struct tp_conn *c, int role, uint32_t seq, uint32_t len)
{
	struct tp_conn_dir *e = &c->d[role], *pe = &c->d[role ^ 1];
	uint32_t upper = seq + len, trim = ep_trim(e);

	if (e->eflags & TP_EP_SKIP)
		return;
	if (seq_le(upper, trim))
		return;         /* acknowledged already */
	if (seq_lt(seq, trim))
		seq = trim;

	if (seq_le(seq, e->rs_last)) {
		if (seq_gt(upper, e->rs_last)) {
			e->rs_last = upper;
			ooo_settle(e);
		}
	} else if (!ooo_any(e)) {
		e->ooo_lo = seq;
		e->ooo_hi = upper;
	} else {
		if (seq_lt(seq, e->ooo_lo))
			e->ooo_lo = seq;
		if (seq_gt(upper, e->ooo_hi))
			e->ooo_hi = upper;
	}

	/* Give up on an endpoint whose peer's ACKs are not seen, once too
	 * much is held above a hole or unacknowledged. */
	bool no_acks = ep_no_data_acked(e);
	uint64_t above = ooo_any(e) ? (uint32_t)(e->ooo_hi - e->rs_last) : 0;
	uint64_t held = ooo_any(e) ? (uint32_t)(e->ooo_hi - e->ooo_lo) : 0;
	if (!(no_acks && ep_size(e, pe) > MAX_INITIAL_WINDOW) &&
	    seq_gt(e->rs_last, trim))
		held += (uint32_t)(e->rs_last - trim);
	if ((no_acks && above > MAX_ABOVE_HOLE_NO_ACKS) ||
	    held > EXCESSIVE_DATA_NO_ACKS) {
		ooo_clear(e);
		e->eflags |= TP_EP_SKIP;
	}
}

/* The peer acknowledged the data of the endpoint in `role` up to seq
 * (relative); trim_before is how far acknowledgments reached before. */
static void ack_received(struct tp_conn *c, int role, uint32_t seq,
			 uint32_t trim_before)
{
	struct tp_conn_dir *e = &c->d[role];

	if (e->eflags & TP_EP_FIN) {
		uint32_t fin = ep_rel_last(e);
		if (!seq_lt(seq, fin))
			seq = fin - 1;  /* the FIN's octet carries no data */
	}
	if (seq_le(seq, trim_before))
		return;
	if (seq_gt(seq, e->rs_last))
		undelivered(c, role, seq);
	if (ooo_any(e) && seq_le(e->ooo_hi, seq))
		ooo_clear(e);
	ooo_settle(e);
	check_eof(c, role);
}

/* ---- TCP state machine ------------------------------------------------------
 *
 * Per packet, in Zeek's order: endpoint initialisation, history, window,
 * acknowledgment of the peer, highest sequence, state transitions (which
 * may flip the roles), content gaps, delivery, close. */

static void update_history(struct tp_conn *c, int role,
			   const struct tp_pkt *p, uint32_t rel, uint32_t len)
{
	struct tp_conn_dir *e = &c->d[role];
	bool syn = TH(p, SYN), fin = TH(p, FIN), rst = TH(p, RST);
	int bits = syn + fin + rst;

	if (bits > 1) {
		if (fin && rst)
			hist_check(c, role, H_FIN_RST, 'I');
		else
			hist_check(c, role, H_MULTI, 'Q');
	} else if (bits == 1) {
		if (syn) {
			char code = TH(p, ACK) ? 'H' : 'S';
			if (hist_check(c, role, H_SYN, code) &&
			    (uint16_t)rel != e->last_syn)
				hist_add(c, role, code);
			e->last_syn = (uint16_t)rel;
		}
		if (fin) {
			/* A FIN's sequence number is that of its end; a
			 * retransmitted FIN ends where the last one did. */
			uint32_t last_fin = ep_rel_last(e) - 1;
			if (hist_check(c, role, H_FIN, 'F') &&
			    rel + len != last_fin)
				hist_add(c, role, 'F');
		}
		if (rst) {
			if (hist_check(c, role, H_RST, 'R') &&
			    (uint16_t)rel != e->last_rst)
				hist_add(c, role, 'R');
			e->last_rst = (uint16_t)rel;
		}
	} else if (len) {
		hist_check(c, role, H_DATA, 'D');
	} else if (TH(p, ACK)) {
		hist_check(c, role, H_ACK, 'A');
	}
}

/* The highest sequence sent; a payload at or below it is a retransmission. */
static void update_last(struct tp_conn *c, int role, const struct tp_pkt *p,
			   uint32_t end, uint32_t len)
{
	struct tp_conn_dir *e = &c->d[role];
	int32_t d = seq_delta(end, e->last);

	if ((TH(p, SYN) || TH(p, RST)) &&
	    (d > TOO_LARGE_SEQ_DELTA || d < -TOO_LARGE_SEQ_DELTA))
		;       /* not trusted */
	else if (TH(p, FIN) && e->last == e->start + 1)
		ep_update_last(e, end);  /* only SYN and FIN: > 2 GiB */
	else if (e->state == TP_TCP_RESET)
		;       /* nothing after a RST is trusted */
	else if (d > 0)
		ep_update_last(e, end);
	else if (len > 0)
		hist_scaled(c, role, 'T', &e->n_rxmt);
}

static void update_ack(struct tp_conn_dir *e, uint32_t ack)
{
	int32_t d = seq_delta(ack, e->ack);

	/* An ack of 0 far ahead is more likely broken than a large
	 * connection landing on 0. */
	if (ack == 0 && d > TOO_LARGE_SEQ_DELTA)
		return;
	if (d > 0)
		ep_update_ack(e, ack);
}

static void set_partial_status(struct tp_conn *c, const struct tp_pkt *p,
			       int role)
{
	if (role == 0) {
		if (!(c->flags & TP_CONN_FPS_ORIG)) {
			if (!TH(p, SYN) || TH(p, ACK))
				c->flags |= TP_CONN_PARTIAL;
			else
				c->flags &= (uint8_t)~TP_CONN_PARTIAL;
		}
	} else {
		if (!(c->flags & TP_CONN_FPS_RESP) &&
		    !(c->flags & TP_CONN_PARTIAL) && !TH(p, SYN))
			c->flags |= TP_CONN_PARTIAL;
	}
}

/* Transitions from INACTIVE.  *role follows the sender through a flip;
 * is_orig is the sender's role when the packet arrived. */
static void st_inactive(struct tp_conn *c, int *role, const struct tp_pkt *p,
			uint32_t len, bool is_orig, bool *do_close)
{
	struct tp_conn_dir *e = &c->d[*role], *pe = &c->d[*role ^ 1];

	if (TH(p, SYN)) {
		if (is_orig) {
			ep_set_state(e, TH(p, ACK) ? TP_TCP_SYN_ACK_SENT
						   : TP_TCP_SYN_SENT);
		} else {
			if (!TH(p, ACK) &&
			    pe->state == TP_TCP_SYN_ACK_SENT &&
			    p->seq == e->start) {
				/* SYN-ACK seen before the SYN (two capture
				 * interfaces): the SYN's sender originated. */
				flip_roles(c);
				*role ^= 1;
				e = &c->d[*role];
				pe = &c->d[*role ^ 1];
				ep_set_state(pe, TP_TCP_ESTABLISHED);
				c->flags |= TP_CONN_FPS_ORIG;
			}
			if (pe->state == TP_TCP_SYN_SENT)
				ep_set_state(pe, TP_TCP_ESTABLISHED);
			ep_set_state(e, TP_TCP_ESTABLISHED);
		}
	}
	if (TH(p, FIN)) {
		ep_set_state(e, TP_TCP_CLOSED);
		*do_close = true;
	}
	if (TH(p, RST)) {
		ep_set_state(e, TP_TCP_RESET);
		*do_close = true;
	}
	if (e->state != TP_TCP_INACTIVE)
		return;
	if (!is_orig && len == 0 && c->d[0].state == TP_TCP_SYN_SENT) {
		/* Some stacks ack a SYN before answering it: not a partial
		 * connection. */
	} else if (TH(p, ACK) && pe->state == TP_TCP_ESTABLISHED) {
		/* The SYN was missed but the SYN-ACK and this ACK were not. */
		ep_set_state(e, TP_TCP_ESTABLISHED);
		c->flags &= (uint8_t)~TP_CONN_PARTIAL;
		c->flags |= is_orig ? TP_CONN_FPS_ORIG : TP_CONN_FPS_RESP;
	} else {
		ep_set_state(e, TP_TCP_PARTIAL);
	}
}

static void state_machine(struct tp_conn *c, int *role, const struct tp_pkt *p,
			  uint32_t len, bool is_orig, bool *do_close)
{
	struct tp_conn_dir *e = &c->d[*role], *pe = &c->d[*role ^ 1];
	bool fin = TH(p, FIN), rst = TH(p, RST);

	switch (e->state) {
	case TP_TCP_INACTIVE:
		st_inactive(c, role, p, len, is_orig, do_close);
		break;
	case TP_TCP_SYN_SENT:
	case TP_TCP_SYN_ACK_SENT:
		if (fin) {
			ep_set_state(e, TP_TCP_CLOSED);
			*do_close = true;
		}
		if (rst) {
			ep_set_state(e, TP_TCP_RESET);
			*do_close = true;
		}
		break;
	case TP_TCP_ESTABLISHED:
	case TP_TCP_PARTIAL:
		if (TH(p, SYN) && e->state == TP_TCP_PARTIAL &&
		    pe->state == TP_TCP_INACTIVE && !TH(p, ACK))
			ep_set_state(e, TP_TCP_SYN_SENT);
		if (fin && !rst) {
			ep_set_state(e, TP_TCP_CLOSED);
			/* A FIN then a RST from the peer was a normal end. */
			if (pe->state == TP_TCP_RESET &&
			    ep_prev(pe) == TP_TCP_CLOSED)
				ep_set_state(pe, TP_TCP_CLOSED);
			*do_close = true;
		}
		if (rst) {
			ep_set_state(e, TP_TCP_RESET);
			*do_close = true;
		}
		break;
	case TP_TCP_CLOSED:
		/* After a FIN exchange a RST changes nothing. */
		if (rst && pe->state != TP_TCP_CLOSED) {
			ep_set_state(e, TP_TCP_RESET);
			if (!(e->eflags & TP_EP_DID_CLOSE))
				*do_close = true;
		}
		break;
	default:
		break;
	}
}

static bool tcp_packet(struct tp_conn *c, int role, const struct tp_pkt *p)
{
	const bool is_orig = role == 0, syn = TH(p, SYN), fin = TH(p, FIN),
		   rst = TH(p, RST), ack = TH(p, ACK);
	const int arrival_role = role;
	uint32_t len = p->payload_len;
	struct tp_conn_dir *e = &c->d[role], *pe = &c->d[role ^ 1];
	bool extends = !((c->d[0].eflags & TP_EP_DID_CLOSE) &&
			 (c->d[1].eflags & TP_EP_DID_CLOSE));
	bool underflow = false, do_close = false;

	set_partial_status(c, p, role);

	uint32_t seg_len = len + syn + fin - (rst ? len : 0);
	uint32_t end = p->seq + seg_len;

	ep_init(e, syn, p->seq, end);
	uint32_t rel = ep_rel(e, p->seq, e->last, e->seq_wraps, &underflow);
	update_history(c, role, p, rel, len);

	/* Zero windows matter unless they come with or after a RST, or
	 * after the peer's FIN. */
	if (p->tcp_win == 0 && !rst && pe->state != TP_TCP_CLOSED &&
	    e->state != TP_TCP_RESET)
		hist_scaled(c, role, 'W', &e->n_win0);

	if (fin)
		e->eflags |= TP_EP_FIN;
	if (rst)
		e->eflags |= TP_EP_RST;

	uint32_t rel_ack = 0, peer_trim = ep_trim(pe);
	if (ack) {
		if (pe->state == TP_TCP_INACTIVE) {
			/* Number the peer as though its SYN had been seen. */
			rel_ack = 1;
			pe->start = pe->ack = pe->last = p->ack - 1;
		} else {
			bool au = false;
			rel_ack = ep_rel(pe, p->ack, pe->ack, pe->ack_wraps,
					 &au);
			if (au)
				rel_ack = 0;
			else if (!rst)  /* a RST's ack is not trusted */
				update_ack(pe, p->ack);
		}
	}

	update_last(c, role, p, end, len);
	state_machine(c, &role, p, len, is_orig, &do_close);

	if (ack)
		ack_received(c, role ^ 1, rel_ack, peer_trim);

	/* Only fully captured payload can be delivered; a truncated copy
	 * leaves a hole that the peer's ACK turns into a gap. */
	uint32_t rel_data = syn ? rel + 1 : rel;
	if (len > 0 && !rst && !underflow && p->payload_cap >= len)
		data_sent(c, role, rel_data, len);
	check_eof(c, role);
	if (do_close)
		conn_closed(c, role);

	c->flags |= arrival_role ? TP_CONN_FPS_RESP : TP_CONN_FPS_ORIG;

	/* Counted as the role it arrived in, after any flip (as Zeek's
	 * size analyzer sees it). */
	c->d[arrival_role].pkts++;
	c->d[arrival_role].ip_bytes += p->ip_len;
	return extends;
}

/* ---- Entry points ---------------------------------------------------------- */

bool tp_conn_update(struct tp_conn *c, uint8_t side, const struct tp_pkt *p)
{
	int role = (side & 1) == c->orig_side ? 0 : 1;

	if (!(c->flags & TP_CONN_SEEN)) {
		int kind = p->proto == 6 ? KIND_TCP :
			   p->proto == 17 ? KIND_UDP :
			   (p->proto == 1 || p->proto == 58) ? KIND_ICMP :
			   KIND_OTHER;
		c->flags |= (uint8_t)(TP_CONN_SEEN | kind);
		if (kind == KIND_TCP)
			c->d[0].rs_last = c->d[1].rs_last = 1;
		if (role == 1) {
			/* Roles were chosen against the first packet. */
			c->flipped = 1;
			hist_put(c, '^');
		}
	}

	switch (conn_kind(c)) {
	case KIND_TCP:
		/* A mirror copy cut inside the TCP options is still
		 * analysed on its fixed header (Zeek would drop it as a
		 * truncated_header; a mirror target sees such copies by
		 * design, and every packet must count). */
		return tcp_packet(c, role, p);
	case KIND_UDP:
		hist_check(c, 0, role ? H_DATA << 8 : H_DATA,
			   role ? 'd' : 'D');
		c->d[role].bytes += p->payload_len;
		break;
	case KIND_ICMP:
		c->d[role].bytes += p->payload_len;
		break;
	default:
		break;
	}
	c->d[role].pkts++;
	c->d[role].ip_bytes += p->ip_len;
	return true;
}

bool tp_conn_is_reuse(const struct tp_conn *c, const struct tp_pkt *p)
{
	if (conn_kind(c) != KIND_TCP || p->tcp_hlen < 20 || !TH(p, SYN))
		return false;

	const struct tp_conn_dir *o = &c->d[0];
	if (TH(p, ACK)) {
		/* A SYN-ACK reuses only a connection seen from one side. */
		if (c->d[0].state != TP_TCP_INACTIVE)
			return false;
		o = &c->d[1];
	}
	bool closed = (c->d[0].eflags & TP_EP_DID_CLOSE) ||
		      (c->d[1].eflags & TP_EP_DID_CLOSE);
	if (!closed) {
		if (p->seq == o->start)
			return false;
		/* A SYN after its SYN-ACK (reordered capture): the flip, not
		 * a new connection. */
		if (!TH(p, ACK) && o->state == TP_TCP_SYN_ACK_SENT &&
		    c->d[1].state == TP_TCP_INACTIVE && p->seq == c->d[1].start)
			return false;
	}
	return true;
}

uint8_t tp_conn_tcp_state(const struct tp_conn *c, int dir)
{
	return conn_kind(c) == KIND_TCP ? c->d[dir & 1].state
					: TP_TCP_INACTIVE;
}

uint64_t tp_conn_bytes(const struct tp_conn *c, int dir)
{
	dir &= 1;
	switch (conn_kind(c)) {
	case KIND_TCP:
		return ep_size(&c->d[dir], &c->d[dir ^ 1]);
	case KIND_UDP:
	case KIND_ICMP:
		return c->d[dir].bytes;
	default:
		return 0;
	}
}

/* history =~ /^\^?S[^HAFGIQ]*R.*$/: a SYN, then a RST from the originator
 * before anything from an established connection. */
static bool syn_then_rst(const struct tp_conn *c)
{
	unsigned i = 0, n = c->hlen;

	if (i < n && hist_get(c, i) == '^')
		i++;
	if (i >= n || hist_get(c, i) != 'S')
		return false;
	for (i++; i < n; i++) {
		char ch = hist_get(c, i);
		if (ch == 'R')
			return true;
		if (strchr("HAFGIQ", ch))
			return false;
	}
	return false;
}

const char *tp_conn_state(const struct tp_conn *c, uint8_t proto)
{
	if (proto == 6) {
		if (conn_kind(c) != KIND_TCP)
			return "OTH";
		uint8_t os = c->d[0].state, rs = c->d[1].state;
		bool o_inactive = os == TP_TCP_INACTIVE || os == TP_TCP_PARTIAL;
		bool r_inactive = rs == TP_TCP_INACTIVE || rs == TP_TCP_PARTIAL;

		if (rs == TP_TCP_RESET) {
			if (os == TP_TCP_SYN_SENT || os == TP_TCP_SYN_ACK_SENT ||
			    (os == TP_TCP_RESET && tp_conn_bytes(c, 0) == 0 &&
			     tp_conn_bytes(c, 1) == 0))
				return "REJ";
			return o_inactive ? "RSTRH" : "RSTR";
		}
		if (os == TP_TCP_RESET) {
			if (r_inactive)
				return syn_then_rst(c) ? "RSTOS0" : "OTH";
			return "RSTO";
		}
		if (rs == TP_TCP_CLOSED && os == TP_TCP_CLOSED)
			return "SF";
		if (os == TP_TCP_CLOSED)
			return r_inactive ? "SH" : "S2";
		if (rs == TP_TCP_CLOSED)
			return o_inactive ? "SHR" : "S3";
		if (os == TP_TCP_SYN_SENT && rs == TP_TCP_INACTIVE)
			return "S0";
		if (os == TP_TCP_ESTABLISHED && rs == TP_TCP_ESTABLISHED)
			return "S1";
		return "OTH";
	}
	if (proto == 17) {
		bool oa = c->d[0].pkts > 0, ra = c->d[1].pkts > 0;
		if (oa)
			return ra ? "SF" : "S0";
		return ra ? "SHR" : "OTH";
	}
	return "OTH";
}

void tp_icmp_ports(uint8_t ipver, uint8_t type, uint8_t code,
		   uint16_t *orig_p, uint16_t *resp_p, bool *is_one_way)
{
	int peer = -1;

	if (ipver == 6) {
		switch (type) {
		case 128: peer = 129; break;    /* echo request/reply */
		case 129: peer = 128; break;
		case 130: peer = 131; break;    /* MLD query/report */
		case 131: peer = 130; break;
		case 133: peer = 134; break;    /* router solicit/advert */
		case 134: peer = 133; break;
		case 135: peer = 136; break;    /* neighbor solicit/advert */
		case 136: peer = 135; break;
		case 139: peer = 140; break;    /* node information */
		case 140: peer = 139; break;
		case 144: peer = 145; break;    /* home agent discovery */
		case 145: peer = 144; break;
		default: break;
		}
	} else {
		switch (type) {
		case 8: peer = 0; break;        /* echo */
		case 0: peer = 8; break;
		case 13: peer = 14; break;      /* timestamp */
		case 14: peer = 13; break;
		case 15: peer = 16; break;      /* information */
		case 16: peer = 15; break;
		case 10: peer = 9; break;       /* router solicit/advert */
		case 9: peer = 10; break;
		case 17: peer = 18; break;      /* address mask */
		case 18: peer = 17; break;
		default: break;
		}
	}
	*orig_p = type;
	*resp_p = peer >= 0 ? (uint16_t)peer : code;
	*is_one_way = peer < 0;
}
