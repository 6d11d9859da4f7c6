/* Application parsers: one file per protocol under src/app/, each a
 * resumable parser over the reassembled bytes of a flow (TCP) or over its
 * datagrams (UDP).  The flow code owns one state block per flow and calls
 * the parser through its ops table; a parser never sees packets, only
 * bytes in order, the gaps between them, and the end of the flow. */
#ifndef TP_APP_APP_H
#define TP_APP_APP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow/flow-t.h"

struct tp_app_logs;              /* the worker's app log records */
struct tp_files;                 /* the worker's files (app/files.h) */
struct tp_log_schema;
struct tp_rec;

/* The record buffer of the worker's log of this schema (opened on first
 * use, e.g. ssl.log); records are built with tp_rec_begin/..._end
 * (output/writer.h).  NULL when the log cannot be opened (counted). */
struct tp_rec *tp_app_rec(struct tp_app_logs *logs,
			  const struct tp_log_schema *schema);

/* What a parser is told with its bytes. */
struct tp_app_ctx {
	uint64_t ts_ns;              /* time of the packet carrying the bytes */
	const struct tp_flow *flow;  /* key, first_ns (uid), originator side */
	struct tp_app_logs *logs;    /* where records are written */
	/* Report an anomaly (a weird.log line, Zeek's name where it has one;
	 * addl may be NULL) and count it. */
	void (*weird)(struct tp_app_ctx *ctx, const char *name,
		      const char *addl);
	void *priv;                  /* the flow code's */
	/* The passive inventory (app/inventory.h), NULL when it is off.
	 * software: a parser found software in the flow (software.log);
	 * kind is an enum tp_sw_type, server software is the responder's,
	 * the rest the originator's, unparsed the header value or banner as
	 * Zeek hands it to Software::found.  cert: the responder's TLS
	 * certificate (known_certs.log), its SHA-256 hex, subject, issuer and
	 * serial as x509.log has them. */
	void (*software)(struct tp_app_ctx *ctx, int kind,
			 const char *unparsed);
	void (*cert)(struct tp_app_ctx *ctx, const char *fp,
		     const char *subject, const char *issuer,
		     const char *serial);
	/* Where message bodies become files (files.log); NULL: they do
	 * not. */
	struct tp_files *files;
};

enum tp_app_dir {
	TP_APP_ORIG = 0,             /* originator to responder */
	TP_APP_RESP = 1,
};

struct tp_app_ops {
	const char *name;            /* Zeek's service name: "http", "dns" */
	uint8_t ipproto;             /* 6 (TCP) or 17 (UDP) */
	size_t state_size;           /* bytes of per-flow state */
	/* Could a flow whose first bytes of direction dir are b[0..n) be
	 * this protocol?  Cheap; called before init. */
	bool (*probe)(const uint8_t *b, size_t n, enum tp_app_dir dir);
	void (*init)(void *st);
	/* In-order bytes of direction dir (TCP), or one datagram (UDP). */
	void (*data)(void *st, struct tp_app_ctx *ctx, enum tp_app_dir dir,
		     const uint8_t *b, size_t n);
	/* n bytes of direction dir will never come (capture loss, depth). */
	void (*gap)(void *st, struct tp_app_ctx *ctx, enum tp_app_dir dir,
		    uint64_t n);
	/* The flow ended (or input did): write what is pending. */
	void (*end)(void *st, struct tp_app_ctx *ctx);
	/* Free what init and data allocated (state itself is the caller's). */
	void (*fini)(void *st);
};

#endif
