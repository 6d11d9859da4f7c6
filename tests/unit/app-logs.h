/* What the flow code gives an application parser, for tests and fuzz
 * targets that drive a parser on its own: tp_app_rec over real logs
 * (output/writer.c) in a folder, a weird() that writes "name<TAB>addl"
 * lines to weird.txt there and counts them, and a flow for the context. */
#ifndef TP_TEST_APP_LOGS_H
#define TP_TEST_APP_LOGS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "output/writer.h"

#define APP_LOGS_MAX 8

struct tp_app_logs {
	char dir[512];
	enum tp_log_format fmt;
	unsigned n;
	struct {
		const struct tp_log_schema *schema;
		struct tp_log *log;
		struct tp_rec rec;
	} l[APP_LOGS_MAX];
	FILE *weird;
	unsigned weirds;
	unsigned open_failures;
};

struct tp_rec *tp_app_rec(struct tp_app_logs *logs,
			  const struct tp_log_schema *schema)
{
	for (unsigned i = 0; i < logs->n; i++)
		if (logs->l[i].schema == schema)
			return &logs->l[i].rec;
	if (logs->n == APP_LOGS_MAX)
		goto fail;
	struct tp_log *log = tp_log_open(logs->dir, schema, logs->fmt, 0);
	if (!log)
		goto fail;
	unsigned i = logs->n;
	if (tp_rec_init(&logs->l[i].rec, log, 64 * 1024) < 0) {
		tp_log_close(log, 0);
		goto fail;
	}
	logs->l[i].schema = schema;
	logs->l[i].log = log;
	logs->n++;
	return &logs->l[i].rec;
fail:
	logs->open_failures++;
	return NULL;
}

static inline void app_logs_weird(struct tp_app_ctx *ctx, const char *name,
				  const char *addl)
{
	struct tp_app_logs *logs = ctx->logs;
	logs->weirds++;
	if (logs->weird)
		fprintf(logs->weird, "%s\t%s\n", name, addl ? addl : "-");
}

/* Logs into dir (which must exist); 0 or -1. */
static inline int app_logs_open(struct tp_app_logs *logs, const char *dir,
				enum tp_log_format fmt)
{
	char path[600];
	memset(logs, 0, sizeof(*logs));
	snprintf(logs->dir, sizeof(logs->dir), "%s", dir);
	logs->fmt = fmt;
	snprintf(path, sizeof(path), "%s/weird.txt", dir);
	logs->weird = fopen(path, "w");
	return logs->weird ? 0 : -1;
}

/* Records written to the log of schema so far (flushed first). */
static inline uint64_t app_logs_count(struct tp_app_logs *logs,
				      const struct tp_log_schema *schema)
{
	for (unsigned i = 0; i < logs->n; i++)
		if (logs->l[i].schema == schema) {
			tp_rec_flush(&logs->l[i].rec);
			return tp_log_records(logs->l[i].log);
		}
	return 0;
}

static inline void app_logs_close(struct tp_app_logs *logs)
{
	for (unsigned i = 0; i < logs->n; i++) {
		tp_rec_fini(&logs->l[i].rec);
		tp_log_close(logs->l[i].log, 0);
	}
	logs->n = 0;
	if (logs->weird)
		fclose(logs->weird);
	logs->weird = NULL;
}

/* A TCP flow from orig (IPv4, host order) to resp, first seen at ts. */
static inline void app_flow_v4(struct tp_flow *f, uint32_t orig,
			       uint16_t oport, uint32_t resp, uint16_t rport,
			       uint64_t ts)
{
	memset(f, 0, sizeof(*f));
	for (int i = 0; i < 2; i++) {
		uint32_t a = i ? resp : orig;
		f->key.a[i].b[10] = f->key.a[i].b[11] = 0xff;
		f->key.a[i].b[12] = (uint8_t)(a >> 24);
		f->key.a[i].b[13] = (uint8_t)(a >> 16);
		f->key.a[i].b[14] = (uint8_t)(a >> 8);
		f->key.a[i].b[15] = (uint8_t)a;
	}
	f->key.port[0] = oport;
	f->key.port[1] = rport;
	f->key.proto = 6;
	f->key.ipver = 4;
	f->first_ns = f->last_ns = ts;
	f->conn.orig_side = 0;
}

#endif
