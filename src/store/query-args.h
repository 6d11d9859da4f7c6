/* A store query as a user gives it, in words: the expression, --since,
 * --until, --limit and the log directory for `uid`.  `tapir query` and
 * `GET /api/pcap` both go through here, so that they take the same
 * arguments and refuse the same mistakes with the same messages. */
#ifndef TP_STORE_QUERY_ARGS_H
#define TP_STORE_QUERY_ARGS_H

#include <stddef.h>
#include <stdint.h>

#include "store/flow-terms.h"
#include "store/query.h"
#include "util/config.h"

struct tp_query_args {
	const char *expr;        /* "" for every frame */
	const char *since, *until;  /* NULL: not given */
	const char *limit;       /* packets ("1000") or bytes ("10MB") */
	const char *logs;        /* conn.log directory for uid; NULL: log.dir */
	const char *opt;         /* before an argument's name in messages:
				  * "--" for the command line, "" for URLs */
};

/* A query ready for tp_query_run: q, with the flow terms it points to. */
struct tp_query_req {
	struct tp_query q;
	struct tp_flow_terms flow;
	struct tp_decode_cfg decode; /* cfg's, with its UDP sources' ports */
};

/* Parse a into r against cfg's store (cfg->store_dir) at wall time now_ns
 * (durations count back from it); the BPF part is compiled once here so
 * that a mistake in it is found before any output.  cfg and a's strings
 * must outlive r.  0; -EINVAL with a message in err that names the
 * argument and, for the expression, points at the mistake; -ENOENT when a
 * uid is in no conn.log; another -errno.  tp_query_req_fini afterwards in
 * every case. */
int tp_query_req_init(struct tp_query_req *r, const struct tp_config *cfg,
		      const struct tp_query_args *a, uint64_t now_ns,
		      char *err, size_t errlen);

void tp_query_req_fini(struct tp_query_req *r);

/* A time as --since and --until take it: seconds since the epoch
 * (fractions exact to the ns), YYYY-MM-DDTHH:MM:SS[.frac][Z] in UTC, or a
 * duration before now_ns (90s, 30m, 2h, 1d).  0 and *ns, or -1. */
int tp_query_parse_time(const char *s, uint64_t now_ns, uint64_t *ns);

struct bpf_program;

/* Compile the BPF part of an expression for DLT_RAW (the inner IP packet)
 * into prog (pcap_freecode it).  0; -EINVAL with libpcap's message and
 * the BPF in err; -ENOMEM. */
int tp_query_compile(const char *bpf, struct bpf_program *prog, char *err,
		     size_t errlen);

/* --limit: a number of packets ("1000"), or bytes with a unit ("10MB",
 * "512k"; binary, as the configuration's sizes).  0, or -1 for anything
 * else or 0. */
int tp_query_parse_limit(const char *s, uint64_t *packets, uint64_t *bytes);

#endif
