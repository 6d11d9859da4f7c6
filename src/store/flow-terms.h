/* The flow terms of a store query: `zone NAME`, `uid UID` and
 * `community-id ID`.  Each is checked on the decoded frame, after the BPF:
 *
 *   zone          the zone of the frame's mirror session, by the
 *                 configuration's zone rules;
 *   community-id  the Community ID v1 (seed 0) of the frame's inner flow,
 *                 as conn.log writes it;
 *   uid           the flow of that uid in conn.log: its zone, its inner
 *                 5-tuple (either direction) and its time: from ts (to
 *                 the microsecond conn.log gives) up to the next record
 *                 of the same flow key, or up to ts + duration + the
 *                 protocol's inactivity timeout when there is none (a
 *                 packet after a close extends no flow's duration, yet
 *                 belongs to it).
 *
 * A uid is a hash (of the flow key and the first packet's time), so it is
 * looked up in conn.log: the log directory's conn.log and its rotated
 * files, JSON or Zeek TSV.  The flow's addresses, ports and protocol then
 * narrow the candidates through the index like `host`, `port` and `tcp`
 * terms, and its time narrows [since, until].  See docs/internals/store.md,
 * "Flow terms". */
#ifndef TP_STORE_FLOW_TERMS_H
#define TP_STORE_FLOW_TERMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/packet-t.h"
#include "flow/flow-t.h"
#include "store/expr.h"
#include "util/config.h"

struct tp_sessions;

struct tp_flow_terms {
	const struct tp_config *cfg;
	struct tp_sessions *sessions;    /* the zone of a frame */
	bool has_zone;
	uint16_t zone;
	bool has_key;                    /* uid: the flow's key and time */
	struct tp_flow_key key;
	uint64_t first_ns, last_ns;
	bool has_cid;
	char cid[64];
};

/* Fill ft from the flow terms of e (parsed by tp_expr_parse): a zone name
 * checked against cfg's zones; a uid looked up in conn.log under logs_dir,
 * its flow's host, port and protocol added to e's index terms (when e is a
 * conjunction) and its time range intersected with [*since, *until].  cfg
 * must outlive ft.  0; -EINVAL with a message in err (an unknown zone);
 * -ENOENT (the uid is in no conn.log under logs_dir) or another -errno. */
int tp_flow_terms_init(struct tp_flow_terms *ft, const struct tp_config *cfg,
		       struct tp_expr *e, const char *logs_dir,
		       uint64_t *since, uint64_t *until, char *err,
		       size_t errlen);

/* Is there any term to check? */
bool tp_flow_terms_any(const struct tp_flow_terms *ft);

/* Does the decoded frame p satisfy every flow term?  Thread-safe. */
bool tp_flow_terms_match(const struct tp_flow_terms *ft,
			 const struct tp_pkt *p);

struct tp_idx_stream;

/* May stream s of a segment's index hold frames of these flow terms
 * (query.c's narrowing)?  A superset: tp_flow_terms_match still checks
 * every frame. */
bool tp_flow_terms_stream(const struct tp_flow_terms *ft,
			  const struct tp_idx_stream *s);

/* Free what init allocated. */
void tp_flow_terms_fini(struct tp_flow_terms *ft);

/* One conn.log record's flow, as the uid lookup reads it. */
struct tp_conn_ref {
	char uid[32];
	uint64_t ts_ns, duration_ns;
	struct tp_addr orig_h, resp_h;   /* v4-mapped for IPv4 */
	uint16_t orig_p, resp_p;
	uint8_t proto, ipver;
	char zone[64];
};

/* Parse one conn.log line (JSON, or Zeek TSV with the column names of the
 * "#fields" header in fields, tab-separated) into r.  0, or -EINVAL when
 * the line is not a record or lacks a field.
 * Apart so that a fuzz target can run it. */
int tp_conn_ref_parse(const char *line, size_t len, const char *fields,
		      struct tp_conn_ref *r);

#endif
