/* Log writers: one file per log (conn.log, weird.log, ...), in JSON lines
 * (Zeek's JSON: flattened "id.orig_h" keys, unset fields left out) or Zeek
 * TSV (the #separator/#fields/#types header that zeek-cut reads).  Records
 * are built in a per-thread buffer and appended to the file in blocks under
 * the log's lock, so any number of workers can write one log. */
#ifndef TP_OUTPUT_WRITER_H
#define TP_OUTPUT_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/packet-t.h"
#include "util/config.h"

/* Zeek type names, used for the #types header. */
enum tp_ftype {
	TP_FT_TIME,
	TP_FT_STRING,
	TP_FT_ADDR,
	TP_FT_PORT,
	TP_FT_ENUM,
	TP_FT_INTERVAL,
	TP_FT_COUNT,
	TP_FT_INT,
	TP_FT_BOOL,
	TP_FT_DOUBLE,
	TP_FT_SET_STRING,
	TP_FT_VEC_STRING,            /* written as sets are; typed apart */
	TP_FT_VEC_ADDR,
	TP_FT_VEC_INTERVAL,
};

struct tp_field {
	const char *name;
	enum tp_ftype type;
};

struct tp_log_schema {
	const char *path;            /* "conn" → conn.log */
	const struct tp_field *fields;
	size_t nfields;
};

struct tp_log;

/* Open DIR/<path>.log for writing (truncating).  NULL with errno set. */
struct tp_log *tp_log_open(const char *dir, const struct tp_log_schema *schema,
			   enum tp_log_format fmt, uint64_t open_ns);
/* Write the footer (#close for TSV) and close.  Returns 0 or -errno. */
int tp_log_close(struct tp_log *log, uint64_t close_ns);
/* Close the file as of now_ns, rename it DIR/<path>.<open>_<close>.log
 * (Zeek's date form, UTC) and, with reopen, start a new one (else the log
 * takes no more records).  Records flushed at the same time go to one file
 * or the other, whole.  0 or -errno. */
int tp_log_rotate(struct tp_log *log, uint64_t now_ns, bool reopen);
/* The name a file of log `name` open over [open_ns, close_ns] is rotated
 * to. */
void tp_log_rotated_name(char *buf, size_t n, const char *dir,
			 const char *name, uint64_t open_ns, uint64_t close_ns);
/* Records written so far. */
uint64_t tp_log_records(const struct tp_log *log);

/* A record under construction, in a caller-owned buffer.  Values must be
 * given in schema order; a field not given is unset. */
struct tp_rec {
	struct tp_log *log;
	char *buf;
	size_t len, cap;
	size_t line_start;
	unsigned next_field;         /* schema index of the next field */
	unsigned nrecs;              /* records in buf */
};

/* A per-thread record buffer for log (cap bytes, >= 4 KiB).  0 or -ENOMEM. */
int tp_rec_init(struct tp_rec *r, struct tp_log *log, size_t cap);
/* Flush and free the buffer. */
void tp_rec_fini(struct tp_rec *r);
/* Append buffered records to the file. */
void tp_rec_flush(struct tp_rec *r);

void tp_rec_begin(struct tp_rec *r);
void tp_rec_end(struct tp_rec *r);
void tp_rec_time(struct tp_rec *r, unsigned field, uint64_t ns);
void tp_rec_interval(struct tp_rec *r, unsigned field, uint64_t ns);
void tp_rec_str(struct tp_rec *r, unsigned field, const char *s);
void tp_rec_strn(struct tp_rec *r, unsigned field, const char *s, size_t n);
void tp_rec_uint(struct tp_rec *r, unsigned field, uint64_t v);
void tp_rec_int(struct tp_rec *r, unsigned field, int64_t v);
void tp_rec_bool(struct tp_rec *r, unsigned field, bool v);
void tp_rec_double(struct tp_rec *r, unsigned field, double v);
void tp_rec_addr(struct tp_rec *r, unsigned field, const struct tp_addr *a);
/* A set[string] (or vector[string], vector[addr] as text) field from n
 * strings. */
void tp_rec_strset(struct tp_rec *r, unsigned field, const char *const *v,
		   size_t n);
/* A vector[string] field from n strings (written as a set is). */
void tp_rec_strvec(struct tp_rec *r, unsigned field, const char *const *v,
		   size_t n);
/* A vector[interval] field from n durations in ns. */
void tp_rec_intervals(struct tp_rec *r, unsigned field, const uint64_t *ns,
		      size_t n);

#endif
