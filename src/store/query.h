/* Search of the packet store (`tapir query`): segments whose index time
 * range meets [since, until], candidate packets from the index postings
 * when the expression allows, each candidate decoded and matched, the
 * matches written in time order as one pcap.  See docs/internals/store.md. */
#ifndef TP_STORE_QUERY_H
#define TP_STORE_QUERY_H

#include <stdint.h>
#include <stdio.h>

#include "decode/decode.h"
#include "store/expr.h"

struct tp_flow_terms;

struct tp_query {
	const char *dir;
	const char *text;        /* the expression as typed, for messages */
	struct tp_expr expr;
	uint64_t since_ns, until_ns;  /* inclusive */
	uint64_t limit;          /* packets; 0 = no limit */
	uint64_t limit_bytes;    /* of the pcap written, its header included;
				  * 0 = no limit */
	/* zone, uid, community-id: checked on each frame after the BPF
	 * (store/flow-terms.h); NULL: none. */
	const struct tp_flow_terms *flow;
	/* How frames are decoded (the tunnel ports the writer used); NULL:
	 * the defaults. */
	const struct tp_decode_cfg *decode;
};

struct tp_query_result {
	uint64_t segments, segments_read;  /* in the store; opened */
	uint64_t skipped;        /* passed over by the manifest */
	uint64_t unindexed;      /* segments skipped for a missing index */
	uint64_t damaged;        /* segments whose index or records are bad */
	uint64_t candidates;     /* packets decoded and matched */
	uint64_t matched;        /* before --limit */
	uint64_t written;
};

/* Run q; with out, write the matches to it as a nanosecond pcap.  0,
 * -EINVAL for an expression libpcap refuses (message in err, exit 2), or
 * another -errno (exit 1). */
int tp_query_run(const struct tp_query *q, FILE *out,
		 struct tp_query_result *res, char *err, size_t errlen);

#endif
