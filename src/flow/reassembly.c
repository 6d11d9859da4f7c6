/* TCP stream reassembly for the application parsers (RFC 9293 sequence
 * space; overlap policy and gap semantics of Zeek's Reassem.cc).
 *
 *   seq space of one direction:
 *
 *     base        next                 held[0]        held[1]
 *      |  handed on |  hole (waiting)   |##########|   |#####|
 *      0 .......... next ............... off ......... off ...
 *
 * Bytes before `next` were handed on (or declared a gap) and any copy of
 * them is dropped: the first copy wins.  A hole becomes a gap when the
 * peer acknowledges past it (the sender will not send it again, so the
 * capture missed it), when a truncated mirror copy lacks it, or at the
 * end of the flow. */
#include "flow/reassembly.h"

#include <string.h>

#include "util/mem.h"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_ACK 0x10

/* An acknowledgement further than this past `next` is not believed (a
 * stream picked up mid-way, or a forged ACK). */
#define MAX_ACK_JUMP (1ull << 30)

struct tp_reasm_seg {
	struct tp_reasm_seg *next;
	uint64_t off;
	uint32_t cap;                /* bytes held */
	uint32_t len;                /* bytes the segment stood for */
	uint8_t b[];
};

/* The offset of sequence number seq nearest to `near`. */
static uint64_t off_of(const struct tp_reasm_dir *d, uint32_t seq,
		       uint64_t near)
{
	uint32_t at = d->base + (uint32_t)near;
	int32_t delta = (int32_t)(seq - at);
	if (delta < 0 && (uint64_t)(-(int64_t)delta) > near)
		return 0;
	return (uint64_t)((int64_t)near + delta);
}

/* Hand on b[0..n) at d->next, as data up to the depth and as a gap after
 * it. */
static void emit(struct tp_reasm_dir *d, struct tp_reasm_ctx *cx, int dir,
		 const uint8_t *b, uint64_t n)
{
	uint64_t keep = n;
	if (cx->depth) {
		uint64_t room = d->next < cx->depth ? cx->depth - d->next : 0;
		if (keep > room)
			keep = room;
		if (keep < n && !d->depth_hit) {
			d->depth_hit = 1;
			cx->depth_hits++;
		}
	}
	if (keep)
		cx->data(cx->arg, dir, b, (size_t)keep);
	if (n > keep)
		cx->gap(cx->arg, dir, n - keep);
	d->next += n;
}

static void emit_gap(struct tp_reasm_dir *d, struct tp_reasm_ctx *cx, int dir,
		     uint64_t n)
{
	if (!n)
		return;
	cx->gaps++;
	cx->gap_bytes += n;
	cx->gap(cx->arg, dir, n);
	d->next += n;
}

/* Hand on the part of [off, off+len) not yet handed on: the cap bytes of
 * b, then the missing rest as a gap. */
static void take(struct tp_reasm_dir *d, struct tp_reasm_ctx *cx, int dir,
		 uint64_t off, const uint8_t *b, uint32_t cap, uint32_t len)
{
	uint64_t end = off + len;
	if (end <= d->next)
		return;
	if (off < d->next) {
		cx->overlaps++;
		uint64_t skip = d->next - off;
		if (skip >= cap) {
			cap = 0;
		} else {
			b += skip;
			cap -= (uint32_t)skip;
		}
		off = d->next;
	}
	if (cap)
		emit(d, cx, dir, b, cap);
	if (end > d->next)
		emit_gap(d, cx, dir, end - d->next);
}

static void seg_free(struct tp_reasm_dir *d, struct tp_reasm_ctx *cx,
		     struct tp_reasm_seg *s)
{
	d->held_bytes -= s->cap;
	d->nheld--;
	cx->mem_used -= s->cap;
	tp_free(s, sizeof(*s) + s->cap);
}

/* Hand on held segments that are now in order. */
static void drain(struct tp_reasm_dir *d, struct tp_reasm_ctx *cx, int dir)
{
	struct tp_reasm_seg *s;
	while ((s = d->held) && s->off <= d->next) {
		d->held = s->next;
		take(d, cx, dir, s->off, s->b, s->cap, s->len);
		seg_free(d, cx, s);
	}
}

/* Keep [off, off+n) of a segment (present bytes b[0..cap) from off),
 * linked in before *pp. */
static void keep_piece(struct tp_reasm_dir *d, struct tp_reasm_ctx *cx,
		       struct tp_reasm_seg **pp, uint64_t off, uint64_t n,
		       const uint8_t *b, uint64_t b_off, uint32_t cap)
{
	uint64_t pcap = 0;
	if (off < b_off + cap)
		pcap = b_off + cap - off < n ? b_off + cap - off : n;
	if (cx->mem_used + pcap > cx->mem_cap) {
		cx->memcap_hits++;
		return;
	}
	struct tp_reasm_seg *s = tp_malloc(sizeof(*s) + pcap);
	if (!s) {
		cx->memcap_hits++;
		return;
	}
	s->off = off;
	s->cap = (uint32_t)pcap;
	s->len = (uint32_t)n;
	memcpy(s->b, b + (off - b_off), pcap);
	s->next = *pp;
	*pp = s;
	d->held_bytes += s->cap;
	d->nheld++;
	cx->mem_used += s->cap;
	cx->held++;
}

/* Hold the bytes of [off, off+len) that no held segment has yet: the
 * first copy of a byte wins, so a new segment only fills the spaces
 * between those held (and may be cut into several pieces). */
static void hold(struct tp_reasm_dir *d, struct tp_reasm_ctx *cx,
		 uint64_t off, const uint8_t *b, uint32_t cap, uint32_t len)
{
	/* Past the depth nothing is handed on: no need to keep it. */
	if (cx->depth && off >= cx->depth)
		return;
	uint64_t end = off + len, cur = off;
	struct tp_reasm_seg **pp = &d->held;
	bool overlap = false;
	while (cur < end) {
		struct tp_reasm_seg *s = *pp;
		if (!s || s->off >= end) {
			keep_piece(d, cx, pp, cur, end - cur, b, off, cap);
			break;
		}
		uint64_t s_end = s->off + s->len;
		if (s->off > cur) {
			keep_piece(d, cx, pp, cur, s->off - cur, b, off, cap);
			pp = &(*pp)->next;   /* the piece just linked */
			if (*pp != s)        /* not kept (memory cap) */
				pp = &d->held;
			while (*pp != s)
				pp = &(*pp)->next;
		}
		if (s_end > cur && s->off < end)
			overlap = true;
		if (s_end > cur)
			cur = s_end;
		pp = &s->next;
	}
	if (overlap)
		cx->overlaps++;
}

void tp_reasm_segment(struct tp_reasm *r, struct tp_reasm_ctx *cx, int dir,
		      uint32_t seq, uint8_t tcp_flags, const uint8_t *b,
		      uint32_t cap, uint32_t len)
{
	struct tp_reasm_dir *d = &r->d[dir];
	if (cap > len)
		cap = len;
	if (tcp_flags & TH_SYN) {
		/* The SYN takes one sequence number; data may follow it
		 * (TCP Fast Open). */
		if (!d->started) {
			d->started = 1;
			d->base = seq + 1;
			d->next = 0;
		}
		seq++;
	} else if (!d->started) {
		if (!len)
			return;
		/* Picked up mid-stream: the first byte seen is offset 0. */
		d->started = 1;
		d->base = seq;
		d->next = 0;
	}
	uint64_t off = off_of(d, seq, d->next);
	if ((tcp_flags & TH_FIN) && !d->fin) {
		d->fin = 1;
		d->fin_off = off + len;
	}
	if (!len)
		return;
	if (off <= d->next) {
		take(d, cx, dir, off, b, cap, len);
		drain(d, cx, dir);
	} else {
		hold(d, cx, off, b, cap, len);
	}
}

void tp_reasm_ack(struct tp_reasm *r, struct tp_reasm_ctx *cx, int dir,
		  uint32_t ack)
{
	struct tp_reasm_dir *d = &r->d[dir];
	if (!d->started)
		return;
	uint64_t upto = off_of(d, ack, d->next);
	/* The FIN's own sequence number is no data. */
	if (d->fin && upto > d->fin_off)
		upto = d->fin_off;
	if (upto <= d->next || upto - d->next > MAX_ACK_JUMP)
		return;
	while (d->next < upto) {
		struct tp_reasm_seg *s = d->held;
		if (s && s->off <= d->next) {
			drain(d, cx, dir);
			continue;
		}
		uint64_t stop = s && s->off < upto ? s->off : upto;
		emit_gap(d, cx, dir, stop - d->next);
	}
	drain(d, cx, dir);
}

void tp_reasm_flush(struct tp_reasm *r, struct tp_reasm_ctx *cx)
{
	for (int dir = 0; dir < 2; dir++) {
		struct tp_reasm_dir *d = &r->d[dir];
		while (d->held) {
			if (d->held->off > d->next)
				emit_gap(d, cx, dir, d->held->off - d->next);
			drain(d, cx, dir);
		}
	}
}

void tp_reasm_free(struct tp_reasm *r, struct tp_reasm_ctx *cx)
{
	for (int dir = 0; dir < 2; dir++) {
		struct tp_reasm_dir *d = &r->d[dir];
		while (d->held) {
			struct tp_reasm_seg *s = d->held;
			d->held = s->next;
			seg_free(d, cx, s);
		}
	}
}
