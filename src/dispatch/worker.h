/* A worker: owns a share of the flows (chosen by the inner-flow hash), its
 * dedup table, and its conn.log buffer.  It is fed either directly on the
 * decoding thread (one worker) or through a single-producer ring. */
#ifndef TP_DISPATCH_WORKER_H
#define TP_DISPATCH_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "decode/packet-t.h"
#include "flow/flow.h"
#include "mirror/dedup.h"
#include "mirror/session.h"
#include "output/writer.h"

struct tp_app;

#define TP_WORKER_BATCH 32

enum tp_witem_kind {
	TP_WI_PACKET = 0,
	TP_WI_TICK,     /* packet time advanced: expire idle flows */
	TP_WI_END,      /* end of input: flush and stop */
};

/* What a worker needs of a packet: its flow key and the transport
 * summary.  Two cache lines, copied through the ring: every byte more is
 * a line more that the decoding thread writes and the worker's core
 * reads.  IP version and protocol are the key's. */
struct tp_witem {
	_Alignas(64) uint64_t ts_ns;
	uint64_t dedup;                /* fingerprint, 0 = no dedup */
	struct tp_flow_key key;
	uint32_t hash;
	uint32_t session;
	uint32_t vni;
	uint32_t ip_len, ip_cap, payload_len, payload_cap, seq, ack;
	uint16_t sport, dport, tcp_win, ip_hlen;
	uint8_t kind : 2;              /* enum tp_witem_kind */
	uint8_t has_vni : 1, truncated : 1;
	uint8_t side, encap, tcp_flags, tcp_hlen, ttl;
	/* A SYN's window scale option (its shift), or -2 without one: the
	 * one TCP option a worker reads. */
	int8_t syn_wscale;
	/* For the application parsers (app.enabled): the first nbytes of
	 * the IP packet from its header, transport payload at l4_off.  On
	 * the front the bytes are the packet's; queued, they are a copy in
	 * the ring's byte buffer (bend: where that copy ends in it). */
	uint16_t nbytes, l4_off;
	const uint8_t *bytes;
	uint64_t bend;
};
_Static_assert(sizeof(struct tp_witem) == 128, "a work item is two lines");

/* Most bytes of an IP packet carried to a worker: a jumbo frame; the
 * rest of a larger (reassembled) datagram is a gap for the parsers. */
#define TP_WITEM_MAX_BYTES 16384

/* Single-producer single-consumer ring of work items: one for each
 * decoding thread feeding a worker. */
struct tp_ring {
	_Alignas(64) _Atomic uint64_t head;   /* published by the producer */
	_Alignas(64) _Atomic uint64_t tail;   /* published by the consumer */
	_Alignas(64) uint64_t phead;          /* producer: next slot */
	uint64_t ptail;                       /* producer: last tail seen */
	uint64_t mask;
	uint64_t drops;                       /* producer: full, not queued */
	/* A producer that waits for room (reading a file) sleeps on this
	 * futex word, which the consumer bumps when it sees the flag. */
	_Alignas(64) _Atomic uint32_t producer_asleep;
	_Atomic uint32_t producer_wake;
	struct tp_witem *items;
	/* The items' packet bytes (app.enabled), a byte ring: the producer
	 * appends at bhead, the consumer frees up to btail. */
	uint8_t *bytes;
	uint64_t bsize;
	uint64_t bhead, btail_seen;           /* producer */
	_Alignas(64) _Atomic uint64_t btail;  /* published by the consumer */
};

struct tp_worker {
	unsigned id;
	const struct tp_config *cfg;
	struct tp_sessions *sessions;
	struct tp_flow_table *flows;
	struct tp_dedup *dedup;
	struct tp_rec conn;
	struct tp_rec tcp;             /* tcp.log */
	struct tp_app *app;            /* application parsers, NULL: off */
	uint64_t now_ns;
	uint64_t next_expire_ns;
	/* counters */
	uint64_t packets, duplicates, acks, gaps;
	uint64_t *session_dups;        /* duplicates by session index */
	uint32_t nsession_dups;
	/* threaded mode */
	struct tp_ring *rings;         /* one per producer */
	unsigned nrings;
	/* A worker with nothing to do sets `asleep` and waits on the futex
	 * word `wake`, which a producer bumps when it sees the flag. */
	_Alignas(64) _Atomic uint32_t asleep;
	_Atomic uint32_t wake;
	/* Advances while the thread runs; a line of its own, away from the
	 * flag the producers read. */
	_Alignas(64) _Atomic uint64_t beat;
	pthread_t thread;
	int running;
};

/* Set up worker id with flow capacity max_flows, writing to conn_log and
 * tcp_log.  0 or -ENOMEM. */
int tp_worker_init(struct tp_worker *w, unsigned id,
		   const struct tp_config *cfg, struct tp_sessions *sessions,
		   struct tp_log *conn_log, struct tp_log *tcp_log,
		   uint64_t max_flows);
void tp_worker_fini(struct tp_worker *w);

/* Handle one item (the connection code reads a view rebuilt from it). */
void tp_worker_handle(struct tp_worker *w, const struct tp_witem *it);

/* Handle n items in order, overlapping their table lookups. */
void tp_worker_handle_batch(struct tp_worker *w, const struct tp_witem *it,
			    unsigned n);

/* Threaded mode: nrings rings of 2^order items, one per producer, and a
 * thread that drains them.  The thread ends when every ring has delivered
 * a TP_WI_END. */
int tp_worker_start(struct tp_worker *w, unsigned order, unsigned nrings);
/* Producer of ring r: queue it, waiting while the ring is full. */
void tp_worker_push(struct tp_worker *w, unsigned r, const struct tp_witem *it);
/* Producer of ring r: queue it unless the ring is full; false (and the
 * ring's drops counted) if it is.  A live source never waits. */
bool tp_worker_try_push(struct tp_worker *w, unsigned r,
			const struct tp_witem *it);
/* Make ring r's queued items visible to the worker and wake it. */
void tp_worker_publish(struct tp_worker *w, unsigned r);
/* Queue TP_WI_END on ring r (its producer is done). */
void tp_worker_end(struct tp_worker *w, unsigned r);
/* Wait for the thread to finish (after every ring's end). */
void tp_worker_join(struct tp_worker *w);

#endif
