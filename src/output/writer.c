/* Log writers: JSON lines and Zeek TSV over one schema per log. */
#include "output/writer.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "decode/decode.h"
#include "util/log.h"
#include "util/mem.h"

struct tp_log {
	int fd;
	pthread_mutex_t mu;
	const struct tp_log_schema *schema;
	enum tp_log_format fmt;
	uint64_t records;
	uint64_t open_ns;
	int err;
	char dir[4096];
};

static const char *const ftype_names[] = {
	[TP_FT_TIME] = "time",         [TP_FT_STRING] = "string",
	[TP_FT_ADDR] = "addr",         [TP_FT_PORT] = "port",
	[TP_FT_ENUM] = "enum",         [TP_FT_INTERVAL] = "interval",
	[TP_FT_COUNT] = "count",       [TP_FT_INT] = "int",
	[TP_FT_BOOL] = "bool",         [TP_FT_DOUBLE] = "double",
	[TP_FT_SET_STRING] = "set[string]",
	[TP_FT_VEC_STRING] = "vector[string]",
	[TP_FT_VEC_ADDR] = "vector[addr]",
	[TP_FT_VEC_INTERVAL] = "vector[interval]",
};

static void write_all(struct tp_log *log, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(log->fd, p, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (!log->err)
				tp_log_error("writing %s.log: %s",
					     log->schema->path, strerror(errno));
			log->err = errno;
			return;
		}
		p += w;
		n -= (size_t)w;
	}
}

static void zeek_date(char *buf, size_t n, uint64_t ns)
{
	time_t t = (time_t)(ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%d-%H-%M-%S", &tm);
}

static int open_file(struct tp_log *log, uint64_t open_ns)
{
	char path[4352];

	snprintf(path, sizeof(path), "%s/%s.log", log->dir, log->schema->path);
	log->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log->fd < 0)
		return -errno;
	log->open_ns = open_ns;
	if (log->fmt == TP_FMT_ZEEK) {
		const struct tp_log_schema *schema = log->schema;
		char hdr[8192], date[32];
		size_t n = 0;
		zeek_date(date, sizeof(date), open_ns);
		n += (size_t)snprintf(hdr + n, sizeof(hdr) - n,
				      "#separator \\x09\n#set_separator\t,\n"
				      "#empty_field\t(empty)\n#unset_field\t-\n"
				      "#path\t%s\n#open\t%s\n#fields",
				      schema->path, date);
		for (size_t i = 0; i < schema->nfields && n < sizeof(hdr); i++)
			n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "\t%s",
					      schema->fields[i].name);
		n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "\n#types");
		for (size_t i = 0; i < schema->nfields && n < sizeof(hdr); i++)
			n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "\t%s",
					      ftype_names[schema->fields[i].type]);
		n += (size_t)snprintf(hdr + n, sizeof(hdr) - n, "\n");
		write_all(log, hdr, TP_MIN(n, sizeof(hdr) - 1));
	}
	return 0;
}

static int close_file(struct tp_log *log, uint64_t close_ns)
{
	int rc;
	if (log->fd < 0)
		return 0;
	if (log->fmt == TP_FMT_ZEEK) {
		char line[64], date[32];
		zeek_date(date, sizeof(date), close_ns);
		int n = snprintf(line, sizeof(line), "#close\t%s\n", date);
		write_all(log, line, (size_t)n);
	}
	rc = log->err ? -log->err : 0;
	if (close(log->fd) < 0 && rc == 0)
		rc = -errno;
	log->fd = -1;
	log->err = 0;
	return rc;
}

struct tp_log *tp_log_open(const char *dir, const struct tp_log_schema *schema,
			   enum tp_log_format fmt, uint64_t open_ns)
{
	struct tp_log *log = tp_calloc(1, sizeof(*log));
	if (!log)
		return NULL;
	log->schema = schema;
	log->fmt = fmt;
	snprintf(log->dir, sizeof(log->dir), "%s", dir);
	int rc = open_file(log, open_ns);
	if (rc < 0) {
		tp_free(log, sizeof(*log));
		errno = -rc;
		return NULL;
	}
	pthread_mutex_init(&log->mu, NULL);
	return log;
}

int tp_log_close(struct tp_log *log, uint64_t close_ns)
{
	if (!log)
		return 0;
	int rc = close_file(log, close_ns);
	pthread_mutex_destroy(&log->mu);
	tp_free(log, sizeof(*log));
	return rc;
}

void tp_log_rotated_name(char *buf, size_t n, const char *dir,
			 const char *name, uint64_t open_ns, uint64_t close_ns)
{
	char a[32], b[32];
	zeek_date(a, sizeof(a), open_ns);
	zeek_date(b, sizeof(b), close_ns);
	snprintf(buf, n, "%s/%s.%s_%s.log", dir, name, a, b);
}

int tp_log_rotate(struct tp_log *log, uint64_t now_ns, bool reopen)
{
	char from[4352], to[4352];
	struct stat st_fd, st_path;
	int rc;

	pthread_mutex_lock(&log->mu);
	snprintf(from, sizeof(from), "%s/%s.log", log->dir, log->schema->path);
	tp_log_rotated_name(to, sizeof(to), log->dir, log->schema->path,
			    log->open_ns, now_ns);
	/* Rename only the file this log wrote: another tool may have moved
	 * it away already (logrotate, then SIGHUP). */
	bool ours = fstat(log->fd, &st_fd) == 0 &&
		    stat(from, &st_path) == 0 && st_fd.st_ino == st_path.st_ino &&
		    st_fd.st_dev == st_path.st_dev;
	rc = close_file(log, now_ns);
	if (ours && rename(from, to) < 0 && rc == 0)
		rc = -errno;
	int rc2 = reopen ? open_file(log, now_ns) : 0;
	pthread_mutex_unlock(&log->mu);
	if (rc2 < 0) {
		tp_log_error("cannot reopen %s: %s", from, strerror(-rc2));
		return rc2;
	}
	return rc;
}

uint64_t tp_log_records(const struct tp_log *log)
{
	return log ? log->records : 0;
}

int tp_rec_init(struct tp_rec *r, struct tp_log *log, size_t cap)
{
	memset(r, 0, sizeof(*r));
	r->log = log;
	r->cap = cap < 4096 ? 4096 : cap;
	r->buf = tp_malloc(r->cap);
	return r->buf ? 0 : -ENOMEM;
}

void tp_rec_flush(struct tp_rec *r)
{
	if (!r->log || r->len == 0)
		return;
	pthread_mutex_lock(&r->log->mu);
	write_all(r->log, r->buf, r->len);
	r->log->records += r->nrecs;
	pthread_mutex_unlock(&r->log->mu);
	r->len = 0;
	r->nrecs = 0;
}

void tp_rec_fini(struct tp_rec *r)
{
	if (!r->buf)
		return;
	tp_rec_flush(r);
	tp_free(r->buf, r->cap);
	r->buf = NULL;
}

/* Room for at least n more bytes; a record never spans a flush, so when
 * the buffer is short the finished records go out first, and a single
 * record larger than the buffer grows it. */
static void reserve(struct tp_rec *r, size_t n)
{
	if (r->len + n <= r->cap)
		return;
	if (r->line_start > 0) {
		size_t partial = r->len - r->line_start;
		size_t done = r->line_start;
		pthread_mutex_lock(&r->log->mu);
		write_all(r->log, r->buf, done);
		r->log->records += r->nrecs;
		pthread_mutex_unlock(&r->log->mu);
		r->nrecs = 0;
		memmove(r->buf, r->buf + done, partial);
		r->len = partial;
		r->line_start = 0;
	}
	if (r->len + n > r->cap) {
		size_t ncap = r->cap;
		while (r->len + n > ncap)
			ncap *= 2;
		char *nb = tp_realloc(r->buf, r->cap, ncap);
		TP_BUG_ON(!nb);
		r->buf = nb;
		r->cap = ncap;
	}
}

static inline void put(struct tp_rec *r, const char *s, size_t n)
{
	if (TP_UNLIKELY(r->len + n > r->cap))
		reserve(r, n);
	memcpy(r->buf + r->len, s, n);
	r->len += n;
}

static inline void putc_(struct tp_rec *r, char ch)
{
	if (TP_UNLIKELY(r->len + 1 > r->cap))
		reserve(r, 1);
	r->buf[r->len++] = ch;
}

void tp_rec_begin(struct tp_rec *r)
{
	r->line_start = r->len;
	r->next_field = 0;
	if (r->log->fmt == TP_FMT_JSON)
		putc_(r, '{');
}

/* Move to field f: TSV fills skipped fields as unset; JSON writes the
 * key.  Returns false for an out-of-order or unknown field (a bug). */
static void field(struct tp_rec *r, unsigned f)
{
	const struct tp_log_schema *s = r->log->schema;
	TP_BUG_ON(f >= s->nfields || f < r->next_field);
	if (r->log->fmt == TP_FMT_ZEEK) {
		for (; r->next_field < f; r->next_field++) {
			if (r->next_field > 0)
				putc_(r, '\t');
			putc_(r, '-');
		}
		if (f > 0)
			putc_(r, '\t');
	} else {
		if (r->buf[r->len - 1] != '{')
			putc_(r, ',');
		putc_(r, '"');
		put(r, s->fields[f].name, strlen(s->fields[f].name));
		put(r, "\":", 2);
	}
	r->next_field = f + 1;
}

void tp_rec_end(struct tp_rec *r)
{
	const struct tp_log_schema *s = r->log->schema;
	if (r->log->fmt == TP_FMT_ZEEK) {
		for (; r->next_field < s->nfields; r->next_field++) {
			if (r->next_field > 0)
				putc_(r, '\t');
			putc_(r, '-');
		}
	} else {
		putc_(r, '}');
	}
	putc_(r, '\n');
	r->nrecs++;
	r->line_start = r->len;
}

static void put_fmt(struct tp_rec *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put_fmt(struct tp_rec *r, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(r, tmp, (size_t)TP_MIN(n, (int)sizeof(tmp) - 1));
}

/* Decimal digits without printf: a conn.log record carries some twenty
 * numbers, and vsnprintf (with inet_ntop, which formats IPv4 through
 * sprintf) took some 7% of the pipeline's time. */
static void put_u64(struct tp_rec *r, uint64_t v)
{
	char tmp[20];
	size_t i = sizeof(tmp);
	do {
		tmp[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	put(r, tmp + i, sizeof(tmp) - i);
}

static void put_secs(struct tp_rec *r, uint64_t ns)
{
	uint64_t us = (ns % UINT64_C(1000000000)) / 1000;
	char frac[7];
	put_u64(r, ns / UINT64_C(1000000000));
	frac[0] = '.';
	for (int i = 6; i >= 1; i--) {
		frac[i] = (char)('0' + us % 10);
		us /= 10;
	}
	put(r, frac, sizeof(frac));
}

void tp_rec_time(struct tp_rec *r, unsigned f, uint64_t ns)
{
	field(r, f);
	put_secs(r, ns);
}

void tp_rec_interval(struct tp_rec *r, unsigned f, uint64_t ns)
{
	field(r, f);
	put_secs(r, ns);
}

void tp_rec_uint(struct tp_rec *r, unsigned f, uint64_t v)
{
	field(r, f);
	put_u64(r, v);
}

void tp_rec_int(struct tp_rec *r, unsigned f, int64_t v)
{
	field(r, f);
	if (v < 0)
		putc_(r, '-');
	put_u64(r, v < 0 ? -(uint64_t)v : (uint64_t)v);
}

void tp_rec_double(struct tp_rec *r, unsigned f, double v)
{
	field(r, f);
	put_fmt(r, "%.6f", v);
}

void tp_rec_bool(struct tp_rec *r, unsigned f, bool v)
{
	field(r, f);
	if (r->log->fmt == TP_FMT_ZEEK)
		putc_(r, v ? 'T' : 'F');
	else
		put(r, v ? "true" : "false", v ? 4 : 5);
}

/* String body with the format's escaping: JSON escapes quotes, backslash
 * and control bytes; Zeek TSV escapes tab, newline, the set separator in
 * sets, and backslash.  Bytes outside printable ASCII become \xHH in both,
 * as Zeek writes them. */
static inline bool plain_char(unsigned char ch, bool json, bool in_set)
{
	if (ch < 0x20 || ch >= 0x7f || ch == '\\')
		return false;
	return json ? ch != '"' : !(in_set && ch == ',');
}

static void put_escaped(struct tp_rec *r, const char *s, size_t n, bool in_set)
{
	bool json = r->log->fmt == TP_FMT_JSON;
	for (size_t i = 0; i < n; i++) {
		/* Runs of plain characters go out in one copy. */
		size_t run = i;
		while (run < n && plain_char((unsigned char)s[run], json, in_set))
			run++;
		if (run > i) {
			put(r, s + i, run - i);
			i = run;
			if (i == n)
				break;
		}
		unsigned char ch = (unsigned char)s[i];
		if (json && (ch == '"' || ch == '\\')) {
			putc_(r, '\\');
			putc_(r, (char)ch);
		} else if (ch < 0x20 || ch >= 0x7f ||
			   (!json && (ch == '\\' || (in_set && ch == ',')))) {
			put_fmt(r, json ? "\\\\x%02x" : "\\x%02x", ch);
		} else {
			putc_(r, (char)ch);
		}
	}
}

void tp_rec_strn(struct tp_rec *r, unsigned f, const char *s, size_t n)
{
	field(r, f);
	if (r->log->fmt == TP_FMT_JSON) {
		putc_(r, '"');
		put_escaped(r, s, n, false);
		putc_(r, '"');
	} else if (n == 0) {
		put(r, "(empty)", 7);
	} else if (n == 1 && s[0] == '-') {
		put(r, "\\x2d", 4);
	} else {
		put_escaped(r, s, n, false);
	}
}

void tp_rec_str(struct tp_rec *r, unsigned f, const char *s)
{
	tp_rec_strn(r, f, s, strlen(s));
}

void tp_rec_addr(struct tp_rec *r, unsigned f, const struct tp_addr *a)
{
	char buf[64];
	bool json = r->log->fmt == TP_FMT_JSON;
	field(r, f);
	if (json)
		putc_(r, '"');
	if (tp_addr_is_v4(a)) {
		/* glibc's inet_ntop formats IPv4 with sprintf. */
		for (int i = 12; i < 16; i++) {
			if (i > 12)
				putc_(r, '.');
			put_u64(r, a->b[i]);
		}
	} else {
		tp_addr_str(a, buf);
		put(r, buf, strlen(buf));
	}
	if (json)
		putc_(r, '"');
}

/* A set or vector field of n items, item(r, i) writing each. */
static void put_list(struct tp_rec *r, unsigned f, size_t n,
		     void (*item)(struct tp_rec *r, const void *v, size_t i),
		     const void *v)
{
	bool json = r->log->fmt == TP_FMT_JSON;
	field(r, f);
	if (json)
		putc_(r, '[');
	else if (n == 0)
		put(r, "(empty)", 7);
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			putc_(r, ',');
		item(r, v, i);
	}
	if (json)
		putc_(r, ']');
}

static void str_item(struct tp_rec *r, const void *v, size_t i)
{
	const char *s = ((const char *const *)v)[i];
	bool json = r->log->fmt == TP_FMT_JSON;
	if (json)
		putc_(r, '"');
	put_escaped(r, s, strlen(s), true);
	if (json)
		putc_(r, '"');
}

static void secs_item(struct tp_rec *r, const void *v, size_t i)
{
	put_secs(r, ((const uint64_t *)v)[i]);
}

void tp_rec_strset(struct tp_rec *r, unsigned f, const char *const *v,
		   size_t n)
{
	put_list(r, f, n, str_item, v);
}

void tp_rec_strvec(struct tp_rec *r, unsigned f, const char *const *v,
		   size_t n)
{
	tp_rec_strset(r, f, v, n);
}

void tp_rec_intervals(struct tp_rec *r, unsigned f, const uint64_t *ns,
		      size_t n)
{
	put_list(r, f, n, secs_item, ns);
}
