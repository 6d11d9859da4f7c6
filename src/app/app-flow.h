/* The application framework as the worker and the pipeline use it: per
 * flow, choose a parser (well-known port, then the parsers' probes on the
 * first bytes), reassemble TCP for it, hand it bytes, gaps and the end;
 * classify the flows no parser takes with nDPI; the app logs (opened on
 * first use, rotated with the others) and weird.log lines of the parsers.
 * See docs/internals/app.md. */
#ifndef TP_APP_APP_FLOW_H
#define TP_APP_APP_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/files.h"
#include "decode/packet-t.h"
#include "flow/flow-t.h"
#include "util/config.h"

struct tp_app;          /* one worker's */
struct tp_app_logs;
struct tp_app_ops;
struct tp_app_shared;   /* the pipeline's: log files */
struct tp_log_schema;
struct tp_rec;
struct tp_weird;

/* Counters, per worker, summed for stats.log. */
struct tp_app_stats {
	uint64_t flows;                  /* flows with application state */
	uint64_t parsed;                 /* flows a parser took */
	uint64_t given_up;               /* no parser wanted them */
	uint64_t ndpi_flows, ndpi_known; /* classified by nDPI, with a result */
	uint64_t weirds;                 /* weird.log lines of the parsers */
	uint64_t reasm_held, reasm_overlaps, reasm_gaps, reasm_gap_bytes;
	uint64_t reasm_depth_hits, reasm_memcap_hits;
	uint64_t reasm_memory;           /* bytes held now */
	/* the passive inventory (app/inventory.h) */
	uint64_t inv_records, inv_late, inv_memcap_hits;
	struct tp_files_stats files;     /* files.log */
};

/* The log files of the app logs, shared by the workers, in cfg->log_dir;
 * weird lines go to w.  NULL on ENOMEM. */
struct tp_app_shared *tp_app_shared_new(const struct tp_config *cfg,
					struct tp_weird *w, uint64_t open_ns);
/* Rotate every app log opened so far (see tp_log_rotate).  0 or -errno. */
int tp_app_shared_rotate(struct tp_app_shared *s, uint64_t now_ns,
			 bool reopen);
/* Close the files.  0 or -errno of the first failure. */
int tp_app_shared_free(struct tp_app_shared *s, uint64_t close_ns);

/* The app logs of s for a caller that is not a worker (tests, fuzz
 * targets, the inventory): what tp_app_rec takes.  NULL on ENOMEM.  Free
 * flushes. */
struct tp_app_logs *tp_app_logs_new(struct tp_app_shared *s);
void tp_app_logs_flush(struct tp_app_logs *logs);
void tp_app_logs_free(struct tp_app_logs *logs);

/* The parsers (one file each under src/app/). */
extern const struct tp_app_ops tp_app_http;
extern const struct tp_app_ops tp_app_dns;      /* over UDP */
extern const struct tp_app_ops tp_app_dns_tcp;  /* over TCP */

/* A worker's: nworkers share the reassembly memory cap.  NULL on ENOMEM
 * (or when app.enabled is off). */
struct tp_app *tp_app_new(const struct tp_config *cfg,
			  struct tp_app_shared *s, unsigned nworkers);
void tp_app_free(struct tp_app *a);

/* One packet of flow f from canonical side `side`, after the connection
 * was updated: p is the view the connection read; b[0..n) the first bytes
 * of its IP packet, its transport payload at l4_off (n = 0: none came). */
void tp_app_packet(struct tp_app *a, struct tp_flow *f, uint8_t side,
		   const struct tp_pkt *p, const uint8_t *b, uint32_t n,
		   uint32_t l4_off);

/* Flow f ends: held bytes are handed on, parsers write what is pending.
 * Its service and risks stay readable until tp_app_flow_free. */
void tp_app_flow_end(struct tp_app *a, struct tp_flow *f);
void tp_app_flow_free(struct tp_app *a, struct tp_flow *f);

/* conn.log's `service` of f (Zeek's names, comma-separated), or NULL. */
const char *tp_app_service(const struct tp_flow *f);
/* nDPI's flow risk names of f, at most max; returns how many. */
size_t tp_app_risks(const struct tp_flow *f, const char **names, size_t max);

/* Append the worker's buffered app records to their files. */
void tp_app_flush(struct tp_app *a);

/* The worker's packet clock reached now_ns (UINT64_MAX: its input
 * ended): the inventory logs what every worker has gone past. */
void tp_app_clock(struct tp_app *a, uint64_t now_ns);

void tp_app_stats(const struct tp_app *a, struct tp_app_stats *st);

#endif
