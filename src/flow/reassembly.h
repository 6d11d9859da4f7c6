/* Per-direction TCP stream reassembly for the application parsers: bytes
 * are handed on in sequence order, once; out-of-order segments are held
 * until the hole before them fills; overlapping bytes keep the first copy
 * seen (as Zeek's reassembler does); a hole that the peer acknowledged,
 * or the part of a segment that a truncated mirror copy lacks, is a gap.
 * Bounded by a per-flow depth (bytes delivered per direction; after it,
 * bytes are reported as gaps) and by a memory cap on held segments (per
 * worker: its share of app.reassembly_memory).  See
 * docs/internals/reassembly.md. */
#ifndef TP_FLOW_REASSEMBLY_H
#define TP_FLOW_REASSEMBLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_reasm_seg;

/* One direction of a stream.  Offsets are relative to the first byte
 * (the one after the SYN, or the first byte seen when the SYN was not),
 * in 64 bits: sequence numbers wrap, offsets do not. */
struct tp_reasm_dir {
	uint32_t base;               /* sequence number of offset 0 */
	uint8_t started;
	uint8_t fin;                 /* fin_off is known */
	uint8_t depth_hit;           /* counted once */
	uint64_t next;               /* offset of the next byte to hand on */
	uint64_t fin_off;            /* offset the FIN occupies */
	struct tp_reasm_seg *held;   /* out-of-order segments, by offset */
	uint32_t held_bytes;
	uint32_t nheld;
};

struct tp_reasm {
	struct tp_reasm_dir d[2];    /* by sender: index is the caller's */
};

/* Where the bytes go, and the limits and counters (one per worker). */
struct tp_reasm_ctx {
	/* In-order bytes b[0..n) of direction dir. */
	void (*data)(void *arg, int dir, const uint8_t *b, size_t n);
	/* n bytes of direction dir will never be handed on. */
	void (*gap)(void *arg, int dir, uint64_t n);
	void *arg;                   /* set by the caller before each call */
	uint64_t depth;              /* bytes handed on per direction, 0: no limit */
	uint64_t mem_cap;            /* bytes held out of order, all flows */
	uint64_t mem_used;
	/* counters */
	uint64_t depth_hits;         /* directions that reached the depth */
	uint64_t memcap_hits;        /* segments not held: memory cap */
	uint64_t held;               /* segments held out of order */
	uint64_t overlaps;           /* segments with bytes already seen */
	uint64_t gaps, gap_bytes;    /* holes declared */
};

/* A segment of direction dir: sequence number seq, TCP flags, cap bytes
 * present at b of the len the packet carried (cap < len: a truncated
 * copy, whose missing bytes are a gap).  Hands on what is now in order. */
void tp_reasm_segment(struct tp_reasm *r, struct tp_reasm_ctx *cx, int dir,
		      uint32_t seq, uint8_t tcp_flags, const uint8_t *b,
		      uint32_t cap, uint32_t len);

/* The peer acknowledged direction dir up to sequence number ack: bytes
 * before it that were never seen are a gap (capture loss), and what is
 * held after them is handed on. */
void tp_reasm_ack(struct tp_reasm *r, struct tp_reasm_ctx *cx, int dir,
		  uint32_t ack);

/* End of the flow: every hole before a held segment becomes a gap and
 * the held bytes are handed on; then nothing is held. */
void tp_reasm_flush(struct tp_reasm *r, struct tp_reasm_ctx *cx);

/* Drop what is held without handing it on. */
void tp_reasm_free(struct tp_reasm *r, struct tp_reasm_ctx *cx);

#endif
