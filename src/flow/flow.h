/* The bidirectional flow table of one worker: chained hash buckets over a
 * fixed pool of flows (no allocation per packet), one activity list per
 * timeout class ordered by last packet time, timeouts on packet time, and
 * eviction when the pool is full (a closed connection first, else the
 * least recently active flow). */
#ifndef TP_FLOW_FLOW_H
#define TP_FLOW_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "flow/flow-t.h"
#include "flow/tcp-analysis.h"
#include "util/config.h"

enum tp_flow_end {
	TP_FLOW_END_TIMEOUT = 0,
	TP_FLOW_END_EVICTED,   /* pool full */
	TP_FLOW_END_REUSED,    /* a new connection on the same 5-tuple */
	TP_FLOW_END_FLUSH,     /* end of input */
};

/* Called for every flow that ends, before its slot is reused. */
typedef void tp_flow_end_fn(void *arg, struct tp_flow *f,
			    enum tp_flow_end why);

struct tp_flow_table;

/* A table of at most max_flows flows.  NULL on ENOMEM. */
struct tp_flow_table *tp_flow_table_new(uint64_t max_flows,
					const struct tp_config *cfg,
					tp_flow_end_fn *end, void *arg);
void tp_flow_table_free(struct tp_flow_table *t);

/* Canonical key for a packet from (src, sport) to (dst, dport); *side is
 * the key side that sent it.  Returns the symmetric 32-bit flow hash. */
uint32_t tp_flow_key_make(struct tp_flow_key *k, uint8_t *side,
			  const struct tp_addr *src, uint16_t sport,
			  const struct tp_addr *dst, uint16_t dport,
			  uint8_t proto, uint8_t ipver, uint16_t zone);

/* The flow for key k, created (zeroed, key and times set) when absent;
 * *created tells which.  Never NULL: a full pool ends its oldest flow. */
struct tp_flow *tp_flow_get(struct tp_flow_table *t,
			    const struct tp_flow_key *k, uint32_t hash,
			    uint64_t now_ns, bool *created);

/* Batch helpers: start loading the bucket of hash, then (once the bucket
 * is in cache) the first flow it chains, so that a batch of lookups
 * overlaps its cache misses. */
void tp_flow_prefetch_bucket(const struct tp_flow_table *t, uint32_t hash);
void tp_flow_prefetch_entry(const struct tp_flow_table *t, uint32_t hash);
/* Then (once the entry is in cache) its TCP analytics. */
void tp_flow_prefetch_tcpa(const struct tp_flow_table *t, uint32_t hash);

/* Where a TCP connection stands, for its timeout: an unanswered attempt
 * ends tcp_attempt_timeout after it began, a closed or reset connection
 * tcp_close_delay after it closed, an open one after inactivity. */
enum tp_flow_phase {
	TP_FLOW_OPEN = 0,
	TP_FLOW_ATTEMPT,
	TP_FLOW_CLOSED,
};
void tp_flow_set_phase(struct tp_flow_table *t, struct tp_flow *f,
		       enum tp_flow_phase phase, uint64_t now_ns);

/* Record activity at now_ns (moves f to the tail of its list). */
void tp_flow_touch(struct tp_flow_table *t, struct tp_flow *f, uint64_t now_ns);

/* End f now (the callback runs) and free its slot. */
void tp_flow_end(struct tp_flow_table *t, struct tp_flow *f,
		 enum tp_flow_end why);

/* End every flow idle past its timeout at packet time now_ns. */
void tp_flow_expire(struct tp_flow_table *t, uint64_t now_ns);

/* End every flow (end of input). */
void tp_flow_flush(struct tp_flow_table *t);

struct tp_flow_stats {
	uint64_t active, created, ended, evicted, peak;
};
void tp_flow_stats(const struct tp_flow_table *t, struct tp_flow_stats *st);

#endif
