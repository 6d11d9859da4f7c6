/* HTTP/1.x → http.log (RFC 9112 message syntax; the log is Zeek's
 * base/protocols/http/main.zeek).
 *
 *   request  = method SP request-target SP "HTTP/" d "." d CRLF
 *              *( field-name ":" OWS field-value OWS CRLF ) CRLF [ body ]
 *   response = "HTTP/" d "." d SP 3DIGIT SP [ reason ] CRLF
 *              *( field-line CRLF ) CRLF [ body ]
 *   body     = Content-Length octets | chunked | (response) until close
 *   chunked  = *( hex-size [ ext ] CRLF data CRLF ) "0" CRLF trailers CRLF
 *
 * Each direction is a resumable state machine over the reassembled bytes:
 * the header block is gathered (up to MAX_HEAD), then parsed at once; a
 * body is counted, never kept, and handed to a file (app/files.h: fuid,
 * Content-Encoding, MIME type, hashes, files.log) as it goes by.  Requests queue (pipelining) and responses
 * answer them in order; interim 1xx responses fill info_code/info_msg.
 * A transaction is logged when its response is complete, or at the end of
 * the flow. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "app/app.h"
#include "app/inventory.h"
#include "app/files.h"
#include "output/logs.h"
#include "output/writer.h"
#include "util/mem.h"

#define MAX_HEAD (64 * 1024)     /* a header block larger is refused */
#define MAX_PENDING 32           /* pipelined requests awaiting a reply */
#define MAX_STR 8192             /* longest string kept for the log */
#define MAX_PROXIED 8

enum {
	H_TS, H_UID, H_ORIG_H, H_ORIG_P, H_RESP_H, H_RESP_P, H_TRANS_DEPTH,
	H_METHOD, H_HOST, H_URI, H_REFERRER, H_VERSION, H_USER_AGENT,
	H_ORIGIN, H_REQUEST_BODY_LEN, H_RESPONSE_BODY_LEN, H_STATUS_CODE,
	H_STATUS_MSG, H_INFO_CODE, H_INFO_MSG, H_TAGS, H_USERNAME,
	H_PASSWORD, H_PROXIED, H_ORIG_FUIDS, H_ORIG_FILENAMES,
	H_ORIG_MIME_TYPES, H_RESP_FUIDS, H_RESP_FILENAMES, H_RESP_MIME_TYPES,
};

static const struct tp_field http_fields[] = {
	[H_TS] = {"ts", TP_FT_TIME},
	[H_UID] = {"uid", TP_FT_STRING},
	[H_ORIG_H] = {"id.orig_h", TP_FT_ADDR},
	[H_ORIG_P] = {"id.orig_p", TP_FT_PORT},
	[H_RESP_H] = {"id.resp_h", TP_FT_ADDR},
	[H_RESP_P] = {"id.resp_p", TP_FT_PORT},
	[H_TRANS_DEPTH] = {"trans_depth", TP_FT_COUNT},
	[H_METHOD] = {"method", TP_FT_STRING},
	[H_HOST] = {"host", TP_FT_STRING},
	[H_URI] = {"uri", TP_FT_STRING},
	[H_REFERRER] = {"referrer", TP_FT_STRING},
	[H_VERSION] = {"version", TP_FT_STRING},
	[H_USER_AGENT] = {"user_agent", TP_FT_STRING},
	[H_ORIGIN] = {"origin", TP_FT_STRING},
	[H_REQUEST_BODY_LEN] = {"request_body_len", TP_FT_COUNT},
	[H_RESPONSE_BODY_LEN] = {"response_body_len", TP_FT_COUNT},
	[H_STATUS_CODE] = {"status_code", TP_FT_COUNT},
	[H_STATUS_MSG] = {"status_msg", TP_FT_STRING},
	[H_INFO_CODE] = {"info_code", TP_FT_COUNT},
	[H_INFO_MSG] = {"info_msg", TP_FT_STRING},
	[H_TAGS] = {"tags", TP_FT_SET_STRING},
	[H_USERNAME] = {"username", TP_FT_STRING},
	[H_PASSWORD] = {"password", TP_FT_STRING},
	[H_PROXIED] = {"proxied", TP_FT_SET_STRING},
	/* base/protocols/http/entities.zeek: one file per message body. */
	[H_ORIG_FUIDS] = {"orig_fuids", TP_FT_VEC_STRING},
	[H_ORIG_FILENAMES] = {"orig_filenames", TP_FT_VEC_STRING},
	[H_ORIG_MIME_TYPES] = {"orig_mime_types", TP_FT_VEC_STRING},
	[H_RESP_FUIDS] = {"resp_fuids", TP_FT_VEC_STRING},
	[H_RESP_FILENAMES] = {"resp_filenames", TP_FT_VEC_STRING},
	[H_RESP_MIME_TYPES] = {"resp_mime_types", TP_FT_VEC_STRING},
};

const struct tp_log_schema tp_http_schema = {
	.path = "http",
	.fields = http_fields,
	.nfields = sizeof(http_fields) / sizeof(http_fields[0]),
};

/* One request and its response. */
struct http_txn {
	uint64_t ts_ns;
	uint32_t depth;
	char *method, *host, *uri, *referrer, *version, *user_agent, *origin;
	char *username, *status_msg, *info_msg;
	char *proxied[MAX_PROXIED];
	unsigned nproxied;
	uint64_t req_body, resp_body;
	uint16_t status_code, info_code;
	uint8_t has_status, has_info, head, answered;
	/* The file of each direction's body, by enum tp_app_dir. */
	char fuid[2][TP_FILE_FUID_MAX];
	char *filename[2];
	char mime[2][TP_FILE_MIME_MAX];
};

enum {
	S_HEAD = 0,       /* gathering a header block */
	S_BODY_LEN,       /* counting Content-Length bytes */
	S_CHUNK_SIZE,     /* a chunk-size line */
	S_CHUNK_DATA,
	S_CHUNK_END,      /* the CRLF after chunk data */
	S_TRAILER,        /* trailer fields up to an empty line */
	S_BODY_CLOSE,     /* a response body up to the end of the flow */
	S_OFF,            /* out of step: nothing more is parsed */
};

struct http_dir {
	uint8_t state;
	uint8_t encoding;         /* of the body: enum tp_file_encoding */
	bool has_total;           /* total: the body's Content-Length */
	char *buf;                /* header block or a chunk-size line */
	uint32_t len, cap;
	uint64_t remain;
	uint64_t body;            /* body bytes of the current message */
	uint64_t total;
	char *filename;           /* of the body, from its headers */
	struct http_txn *txn;     /* whose body this is */
	struct tp_file *file;     /* open from the body's first byte */
};

struct http_state {
	struct http_dir d[2];
	struct http_txn *q[MAX_PENDING];   /* q[0]: the one a reply answers */
	unsigned nq;
	uint32_t depth;
	uint64_t req_ts;          /* first byte of the request being read */
	uint32_t nfiles;          /* files opened: their fuids' sequence */
};

/* ---- helpers ----------------------------------------------------------- */

static char *dup_n(const char *s, size_t n)
{
	/* Up to a NUL in the bytes: tp_strfree frees strlen + 1. */
	n = strnlen(s, n);
	if (n > MAX_STR)
		n = MAX_STR;
	char *d = tp_malloc(n + 1);
	if (d) {
		memcpy(d, s, n);
		d[n] = 0;
	}
	return d;
}

static void set_str(char **dst, const char *s, size_t n)
{
	if (*dst)
		tp_strfree(*dst);
	*dst = dup_n(s, n);
}

static void txn_free(struct http_txn *t)
{
	char **strs[] = {&t->method, &t->host, &t->uri, &t->referrer,
			 &t->version, &t->user_agent, &t->origin,
			 &t->username, &t->status_msg, &t->info_msg};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (*strs[i])
			tp_strfree(*strs[i]);
	for (unsigned i = 0; i < t->nproxied; i++)
		tp_strfree(t->proxied[i]);
	for (int i = 0; i < 2; i++)
		if (t->filename[i])
			tp_strfree(t->filename[i]);
	tp_free(t, sizeof(*t));
}

/* Zeek's unescape_URI: %XX decoded where XX is hex, else kept. */
static size_t unescape(char *s, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char hex[3] = {s[i + 1], s[i + 2], 0};
			s[o++] = (char)strtoul(hex, NULL, 16);
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	return o;
}

static int b64val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* Base64 of s[0..n) into out (at most outlen - 1 bytes).  Length or -1. */
static int b64dec(const char *s, size_t n, char *out, size_t outlen)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '=')
			break;
		int v = b64val(s[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o + 1 >= outlen)
				return -1;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = 0;
	return (int)o;
}

static const char *trim(const char *s, const char *e, const char **end)
{
	while (s < e && (*s == ' ' || *s == '\t'))
		s++;
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*end = e;
	return s;
}

/* ---- records ----------------------------------------------------------- */

static void write_txn(struct tp_app_ctx *ctx, const struct http_txn *t)
{
	struct tp_rec *r = tp_app_rec(ctx->logs, &tp_http_schema);
	if (!r)
		return;
	/* The request's strings, in schema order from H_METHOD. */
	const char *const req[] = {t->method, t->host, t->uri, t->referrer,
				   t->version, t->user_agent, t->origin};

	tp_rec_begin(r);
	tp_rec_time(r, H_TS, t->ts_ns);
	tp_rec_flow_id(r, H_UID, ctx->flow);
	tp_rec_uint(r, H_TRANS_DEPTH, t->depth);
	for (unsigned i = 0; i < sizeof(req) / sizeof(req[0]); i++)
		if (req[i])
			tp_rec_str(r, H_METHOD + i, req[i]);
	tp_rec_uint(r, H_REQUEST_BODY_LEN, t->req_body);
	tp_rec_uint(r, H_RESPONSE_BODY_LEN, t->resp_body);
	if (t->has_status) {
		tp_rec_uint(r, H_STATUS_CODE, t->status_code);
		if (t->status_msg)
			tp_rec_str(r, H_STATUS_MSG, t->status_msg);
	}
	if (t->has_info) {
		tp_rec_uint(r, H_INFO_CODE, t->info_code);
		if (t->info_msg)
			tp_rec_str(r, H_INFO_MSG, t->info_msg);
	}
	tp_rec_strset(r, H_TAGS, NULL, 0);
	if (t->username)
		tp_rec_str(r, H_USERNAME, t->username);
	if (t->nproxied)
		tp_rec_strset(r, H_PROXIED, (const char *const *)t->proxied,
			      t->nproxied);
	for (int i = 0; i < 2; i++) {
		unsigned f0 = i == TP_APP_ORIG ? H_ORIG_FUIDS : H_RESP_FUIDS;
		const char *v[1];
		if (!t->fuid[i][0])
			continue;
		v[0] = t->fuid[i];
		tp_rec_strvec(r, f0, v, 1);
		if (t->filename[i]) {
			v[0] = t->filename[i];
			tp_rec_strvec(r, f0 + 1, v, 1);
		}
		if (t->mime[i][0]) {
			v[0] = t->mime[i];
			tp_rec_strvec(r, f0 + 2, v, 1);
		}
	}
	tp_rec_end(r);
}

static struct http_txn *txn_new(struct http_state *s, struct tp_app_ctx *ctx)
{
	struct http_txn *t = tp_calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->ts_ns = ctx->ts_ns;
	t->depth = ++s->depth;
	return t;
}

static void txn_done(struct http_state *s, struct tp_app_ctx *ctx)
{
	if (!s->nq)
		return;
	/* A body still going (a request's, answered early) no longer has a
	 * transaction to name its MIME type in. */
	for (int i = 0; i < 2; i++)
		if (s->d[i].txn == s->q[0])
			s->d[i].txn = NULL;
	write_txn(ctx, s->q[0]);
	txn_free(s->q[0]);
	memmove(&s->q[0], &s->q[1], (s->nq - 1) * sizeof(s->q[0]));
	s->nq--;
}

/* ---- header blocks ----------------------------------------------------- */

struct head_info {
	uint64_t content_length;
	bool has_length, chunked, bad_length;
	/* a reply's Server and X-Powered-By (software.log) */
	const char *server, *powered_by;
	size_t server_n, powered_by_n;
	uint8_t encoding;                /* enum tp_file_encoding */
	char filename[256];              /* "" when none */
};

static bool is_token_char(char c)
{
	return isalnum((unsigned char)c) || strchr("!#$%&+-^_`{}~", c);
}

/* Zeek's extract_filename_from_content_disposition (base/utils/
 * files.zeek) of a Content-Disposition or Content-Type value with a
 * `name=` or `filename*=` parameter: what follows its last `name` [*] `=`,
 * the text inside quotes when quoted (else the rest of the value), a
 * `charset'lang'` prefix dropped, %XX decoded.  Content-Disposition
 * (file) needs a `filename` parameter, as Zeek's http_header handler.
 * False when there is no such parameter. */
static bool header_filename(const char *v, size_t vn, bool file, char *out,
			    size_t on)
{
	const char *p = NULL;
	for (size_t i = vn >= 4 ? vn - 4 + 1 : 0; i-- > 0;) {
		if (strncasecmp(v + i, "name", 4) != 0 ||
		    (file && (i < 4 || strncasecmp(v + i - 4, "file", 4) != 0)))
			continue;
		size_t j = i + 4;
		while (j < vn && (v[j] == ' ' || v[j] == '\t'))
			j++;
		if (j < vn && v[j] == '*')
			j++;
		if (j < vn && v[j] == '=') {
			p = v + j + 1;
			break;
		}
	}
	if (!p)
		return false;
	const char *e = v + vn;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (p < e && *p == '"') {
		const char *q = memchr(p + 1, '"', (size_t)(e - p - 1));
		if (q)
			e = q;
		p++;
	}
	/* charset'language' */
	const char *c = p;
	while (c < e && is_token_char(*c) && *c != '\'')
		c++;
	if (c > p && c < e && *c == '\'') {
		const char *l = c + 1;
		while (l < e && is_token_char(*l) && *l != '\'')
			l++;
		if (l < e && *l == '\'')
			p = l + 1;
	}
	size_t n = (size_t)(e - p);
	if (n >= on)
		n = on - 1;
	memcpy(out, p, n);
	out[unescape(out, n)] = 0;
	return true;
}

/* A message of direction dir, with headers hi, of transaction t: what
 * the file of its body (if it has one) will be told. */
static void body_begin(struct http_dir *d, struct http_txn *t,
		       const struct head_info *hi)
{
	d->txn = t;
	d->encoding = hi->encoding;
	/* As Zeek: a size only for a body sent as it is. */
	d->has_total = hi->has_length && !hi->chunked &&
		       hi->encoding == TP_FILE_IDENTITY;
	d->total = hi->content_length;
	if (d->filename)
		tp_strfree(d->filename);
	d->filename = hi->filename[0] ? tp_strdup(hi->filename) : NULL;
}

/* Zeek's proxy headers: a request through a proxy carries one. */
static bool is_proxy_header(const char *name, size_t n)
{
	static const char *const names[] = {
		"forwarded", "x-forwarded-for", "x-forwarded-from",
		"client-ip", "via", "xroxy-connection", "proxy-connection",
	};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncasecmp(name, names[i], n) == 0)
			return true;
	return false;
}

/* The field lines of a header block, [p, e). */
static void fields(struct http_txn *t, bool request, const char *p,
		   const char *e, struct head_info *hi)
{
	memset(hi, 0, sizeof(*hi));
	while (p < e) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		const char *le = nl ? nl : e;
		const char *colon = memchr(p, ':', (size_t)(le - p));
		if (colon) {
			const char *name = p, *ve;
			size_t nn = (size_t)(colon - p);
			const char *v = trim(colon + 1, le, &ve);
			size_t vn = (size_t)(ve - v);
#define IS(h) (nn == sizeof(h) - 1 && strncasecmp(name, h, nn) == 0)
			if (IS("content-length")) {
				char *end;
				char num[24];
				size_t k = vn < sizeof(num) - 1 ? vn : sizeof(num) - 1;
				memcpy(num, v, k);
				num[k] = 0;
				unsigned long long cl = strtoull(num, &end, 10);
				if (k == 0 || *end) {
					hi->bad_length = true;
				} else {
					hi->content_length = cl;
					hi->has_length = true;
				}
			} else if (IS("content-encoding")) {
				if ((vn == 4 && strncasecmp(v, "gzip", 4) == 0) ||
				    (vn == 6 && strncasecmp(v, "x-gzip", 6) == 0))
					hi->encoding = TP_FILE_GZIP;
				else if (vn == 7 && strncasecmp(v, "deflate", 7) == 0)
					hi->encoding = TP_FILE_DEFLATE;
			} else if (IS("content-disposition")) {
				/* As Zeek: the later of the two headers wins. */
				header_filename(v, vn, true, hi->filename,
						sizeof(hi->filename));
			} else if (IS("content-type")) {
				header_filename(v, vn, false, hi->filename,
						sizeof(hi->filename));
			} else if (IS("transfer-encoding")) {
				/* chunked must be the last coding. */
				hi->chunked = vn >= 7 &&
					      strncasecmp(v + vn - 7, "chunked",
							  7) == 0;
			} else if (!request && IS("server")) {
				hi->server = v;
				hi->server_n = vn;
			} else if (!request && IS("x-powered-by")) {
				hi->powered_by = v;
				hi->powered_by_n = vn;
			} else if (request && t) {
				if (IS("host")) {
					/* Zeek drops a port. */
					const char *c = memchr(v, ':', vn);
					set_str(&t->host, v,
						c ? (size_t)(c - v) : vn);
				} else if (IS("referer")) {
					set_str(&t->referrer, v, vn);
				} else if (IS("user-agent")) {
					set_str(&t->user_agent, v, vn);
				} else if (IS("origin")) {
					set_str(&t->origin, v, vn);
				} else if (IS("authorization") && vn > 6 &&
					   strncasecmp(v, "basic ", 6) == 0) {
					/* The password is not logged (Zeek's
					 * default_capture_password). */
					char up[512];
					int k = b64dec(v + 6, vn - 6, up,
						       sizeof(up));
					char *c = k > 0 ? memchr(up, ':', (size_t)k)
							: NULL;
					if (c)
						set_str(&t->username, up,
							(size_t)(c - up));
				} else if (is_proxy_header(name, nn) &&
					   t->nproxied < MAX_PROXIED) {
					char buf[MAX_STR];
					size_t k = 0;
					for (; k < nn && k < 64; k++)
						buf[k] = (char)toupper(
							(unsigned char)name[k]);
					int w = snprintf(buf + k,
							 sizeof(buf) - k,
							 " -> %.*s", (int)vn, v);
					if (w > 0)
						t->proxied[t->nproxied++] =
							dup_n(buf, strlen(buf));
				}
			}
#undef IS
		}
		p = nl ? nl + 1 : e;
	}
}

/* A header value to the inventory (Zeek's policy/protocols/http/
 * software.zeek: User-Agent, Server, X-Powered-By). */
static void software(struct tp_app_ctx *ctx, int kind, const char *v,
		     size_t n)
{
	char buf[1024];
	if (!ctx->software || !v)
		return;
	if (n >= sizeof(buf))
		n = sizeof(buf) - 1;
	memcpy(buf, v, n);
	buf[n] = 0;
	ctx->software(ctx, kind, buf);
}

/* "HTTP/1.1" → "1.1"; NULL if not a version. */
static const char *version_of(const char *s, size_t n, size_t *vn)
{
	if (n < 8 || memcmp(s, "HTTP/", 5) != 0 || !isdigit((unsigned char)s[5]) ||
	    s[6] != '.' || !isdigit((unsigned char)s[7]))
		return NULL;
	*vn = n - 5;
	return s + 5;
}

/* The request's header block buf[0..len); its body follows.  -1 when
 * the request line is malformed. */
static int request_head(struct http_state *s, struct tp_app_ctx *ctx,
			struct http_dir *d, const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	const char *le, *line = trim(buf, nl ? nl : buf + len, &le);
	const char *sp1 = memchr(line, ' ', (size_t)(le - line));
	const char *sp2 = NULL;
	if (sp1)
		for (const char *q = le; q > sp1 + 1; q--)
			if (q[-1] == ' ') {
				sp2 = q - 1;
				break;
			}
	size_t vn = 0;
	const char *ver = sp2 ? version_of(sp2 + 1, (size_t)(le - sp2 - 1), &vn)
			      : NULL;
	if (!sp1 || !sp2 || sp2 <= sp1 || !ver) {
		char addl[80];
		snprintf(addl, sizeof(addl), "%.*s",
			 (int)((le - line) < 64 ? le - line : 64), line);
		ctx->weird(ctx, "bad_HTTP_request", addl);
		return -1;
	}
	for (const char *q = line; q < sp1; q++)
		if (!isupper((unsigned char)*q) && *q != '-' && *q != '_') {
			ctx->weird(ctx, "bad_HTTP_request", "method");
			return -1;
		}
	struct http_txn *t = txn_new(s, ctx);
	if (!t)
		return -1;
	set_str(&t->method, line, (size_t)(sp1 - line));
	char *raw = dup_n(sp1 + 1, (size_t)(sp2 - sp1 - 1));
	if (raw) {
		/* Decoded into a string of its own length (tp_strfree frees
		 * strlen + 1; a %00 ends it). */
		size_t rn = strlen(raw);
		t->uri = dup_n(raw, unescape(raw, rn));
		tp_free(raw, rn + 1);
	}
	set_str(&t->version, ver, vn);
	t->head = strcmp(t->method, "HEAD") == 0;
	struct head_info hi;
	fields(t, true, nl ? nl + 1 : buf + len, buf + len, &hi);
	if (t->user_agent)
		software(ctx, TP_SW_HTTP_BROWSER, t->user_agent,
			 strlen(t->user_agent));
	body_begin(d, t, &hi);
	if (s->nq == MAX_PENDING) {
		ctx->weird(ctx, "HTTP_too_many_pending_requests", NULL);
		txn_done(s, ctx);
	}
	s->q[s->nq++] = t;
	d->body = 0;
	if (hi.chunked) {
		d->state = S_CHUNK_SIZE;
	} else if (hi.has_length && hi.content_length) {
		d->state = S_BODY_LEN;
		d->remain = hi.content_length;
	} else {
		if (hi.bad_length)
			ctx->weird(ctx, "HTTP_bad_content_length", NULL);
		d->state = S_HEAD;
	}
	return 0;
}

/* The response's header block. */
static int reply_head(struct http_state *s, struct tp_app_ctx *ctx,
		      struct http_dir *d, const char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);
	const char *le, *line = trim(buf, nl ? nl : buf + len, &le);
	const char *sp1 = memchr(line, ' ', (size_t)(le - line));
	size_t vn = 0;
	const char *ver = sp1 ? version_of(line, (size_t)(sp1 - line), &vn)
			      : NULL;
	if (!ver || le - sp1 < 4 || !isdigit((unsigned char)sp1[1]) ||
	    !isdigit((unsigned char)sp1[2]) || !isdigit((unsigned char)sp1[3]) ||
	    (le - sp1 > 4 && sp1[4] != ' ')) {
		char addl[80];
		snprintf(addl, sizeof(addl), "%.*s",
			 (int)((le - line) < 64 ? le - line : 64), line);
		ctx->weird(ctx, "bad_HTTP_reply", addl);
		return -1;
	}
	unsigned code = (unsigned)((sp1[1] - '0') * 100 + (sp1[2] - '0') * 10 +
				   (sp1[3] - '0'));
	const char *msg = sp1 + 4, *me;
	msg = trim(msg < le ? msg : le, le, &me);
	if (!s->nq) {
		/* A reply to a request the capture did not have. */
		ctx->weird(ctx, "unmatched_HTTP_reply", NULL);
		struct http_txn *t = txn_new(s, ctx);
		if (!t)
			return -1;
		s->q[s->nq++] = t;
	}
	struct http_txn *t = s->q[0];
	struct head_info hi;
	fields(NULL, false, nl ? nl + 1 : buf + len, buf + len, &hi);
	software(ctx, TP_SW_HTTP_SERVER, hi.server, hi.server_n);
	software(ctx, TP_SW_HTTP_APPSERVER, hi.powered_by, hi.powered_by_n);
	body_begin(d, t, &hi);
	d->body = 0;
	if (code >= 100 && code < 200) {
		t->has_info = 1;
		t->info_code = (uint16_t)code;
		set_str(&t->info_msg, msg, (size_t)(me - msg));
		if (code == 101) {
			/* Switching protocols: no more HTTP here. */
			t->has_status = 1;
			t->status_code = (uint16_t)code;
			set_str(&t->status_msg, msg, (size_t)(me - msg));
			set_str(&t->version, ver, vn);
			txn_done(s, ctx);
			d->state = S_OFF;
			s->d[TP_APP_ORIG].state = S_OFF;
			return 0;
		}
		d->state = S_HEAD;
		return 0;
	}
	t->has_status = 1;
	t->status_code = (uint16_t)code;
	set_str(&t->status_msg, msg, (size_t)(me - msg));
	set_str(&t->version, ver, vn);
	if (t->head || code == 204 || code == 304) {
		txn_done(s, ctx);
		d->state = S_HEAD;
	} else if (hi.chunked) {
		d->state = S_CHUNK_SIZE;
	} else if (hi.has_length) {
		if (hi.content_length) {
			d->state = S_BODY_LEN;
			d->remain = hi.content_length;
		} else {
			txn_done(s, ctx);
			d->state = S_HEAD;
		}
	} else {
		if (hi.bad_length)
			ctx->weird(ctx, "HTTP_bad_content_length", NULL);
		d->state = S_BODY_CLOSE;
	}
	return 0;
}

/* Body bytes b[0..n) of direction dir, or (b NULL) n bytes missing: the
 * file is opened at the first of either. */
static void body_file(struct http_state *s, struct tp_app_ctx *ctx, int dir,
		      const uint8_t *b, uint64_t n)
{
	struct http_dir *d = &s->d[dir];
	if (!ctx->files || !n)
		return;
	if (!d->file) {
		struct tp_file_desc fd = {
			.source = "HTTP",
			.is_orig = dir == TP_APP_ORIG,
			.seq = ++s->nfiles,
			.filename = d->filename,
			.encoding = (enum tp_file_encoding)d->encoding,
			.total = d->total,
			.has_total = d->has_total,
		};
		d->file = tp_file_open(ctx->files, ctx, &fd);
		if (!d->file)
			return;
		if (d->txn) {
			memcpy(d->txn->fuid[dir], tp_file_fuid(d->file),
			       TP_FILE_FUID_MAX);
			if (d->filename && !d->txn->filename[dir])
				d->txn->filename[dir] = tp_strdup(d->filename);
		}
	}
	if (b)
		tp_file_data(ctx->files, d->file, ctx, b, (size_t)n);
	else
		tp_file_gap(ctx->files, d->file, ctx, n);
}

/* The body of direction dir ended (whole or not): files.log, and the MIME
 * type to its transaction. */
static void body_file_end(struct http_state *s, struct tp_app_ctx *ctx,
			  int dir)
{
	struct http_dir *d = &s->d[dir];
	if (!d->file)
		return;
	char mime[TP_FILE_MIME_MAX];
	tp_file_close(ctx->files, d->file, ctx, mime);
	d->file = NULL;
	if (d->txn)
		memcpy(d->txn->mime[dir], mime, sizeof(mime));
}

/* The current message of direction dir has its whole body. */
static void body_done(struct http_state *s, struct tp_app_ctx *ctx, int dir)
{
	struct http_dir *d = &s->d[dir];
	body_file_end(s, ctx, dir);
	if (dir == TP_APP_ORIG) {
		if (s->nq)
			s->q[s->nq - 1]->req_body = d->body;
	} else {
		if (s->nq)
			s->q[0]->resp_body = d->body;
		txn_done(s, ctx);
	}
	d->state = S_HEAD;
	d->body = 0;
}

/* Direction dir is out of step: nothing more of it is parsed. */
static void lose(struct http_state *s, struct tp_app_ctx *ctx, int dir)
{
	struct http_dir *d = &s->d[dir];
	body_file_end(s, ctx, dir);
	d->state = S_OFF;
	d->len = 0;
}

/* Append b[0..n) to the direction's buffer, up to cap.  -1 when full. */
static int gather(struct http_dir *d, const uint8_t *b, size_t n, size_t max)
{
	if (d->len + n > max)
		return -1;
	if (d->len + n > d->cap) {
		uint32_t nc = d->cap ? d->cap : 1024;
		while (nc < d->len + n)
			nc *= 2;
		if (nc > MAX_HEAD)
			nc = MAX_HEAD;
		char *nb = tp_realloc(d->buf, d->cap, nc);
		if (!nb)
			return -1;
		d->buf = nb;
		d->cap = nc;
	}
	memcpy(d->buf + d->len, b, n);
	d->len += (uint32_t)n;
	return 0;
}

/* Length of the header block ending in an empty line within buf[0..len)
 * (scanning from `from`), or 0 if it has not ended. */
static size_t head_end(const char *buf, size_t len, size_t from)
{
	for (size_t i = from; i < len; i++)
		if (buf[i] == '\n') {
			if (i >= 1 && buf[i - 1] == '\n')
				return i + 1;
			if (i >= 2 && buf[i - 1] == '\r' && buf[i - 2] == '\n')
				return i + 1;
		}
	return 0;
}

/* Count the body bytes of *b that the current length (Content-Length or
 * chunk) still covers; true when it is complete. */
static bool take_body(struct http_state *s, struct tp_app_ctx *ctx, int dir,
		      const uint8_t **b, size_t *n)
{
	struct http_dir *d = &s->d[dir];
	size_t k = *n < d->remain ? *n : (size_t)d->remain;
	body_file(s, ctx, dir, *b, k);
	d->remain -= k;
	d->body += k;
	*b += k;
	*n -= k;
	return d->remain == 0;
}

static void http_data(void *st, struct tp_app_ctx *ctx, enum tp_app_dir dir,
		      const uint8_t *b, size_t n)
{
	struct http_state *s = st;
	struct http_dir *d = &s->d[dir];

	while (n) {
		switch (d->state) {
		case S_OFF:
			return;
		case S_HEAD: {
			/* Blank lines between messages are tolerated. */
			if (d->len == 0) {
				while (n && (*b == '\r' || *b == '\n')) {
					b++;
					n--;
				}
				if (!n)
					return;
				if (dir == TP_APP_ORIG)
					s->req_ts = ctx->ts_ns;
			}
			size_t from = d->len > 3 ? d->len - 3 : 0;
			size_t take = n;
			if (gather(d, b, take, MAX_HEAD) < 0) {
				ctx->weird(ctx, dir == TP_APP_ORIG
							? "HTTP_request_header_too_long"
							: "HTTP_reply_header_too_long",
					   NULL);
				lose(s, ctx, dir);
				return;
			}
			size_t end = head_end(d->buf, d->len, from);
			if (!end) {
				b += n;
				n = 0;
				break;
			}
			/* Bytes past the block go back to the stream. */
			size_t extra = d->len - end;
			b += n - extra;
			n = extra;
			d->len = 0;
			int rc;
			if (dir == TP_APP_ORIG) {
				rc = request_head(s, ctx, d, d->buf, end);
				if (rc == 0)
					s->q[s->nq - 1]->ts_ns = s->req_ts;
			} else {
				rc = reply_head(s, ctx, d, d->buf, end);
			}
			if (rc < 0)
				lose(s, ctx, dir);
			break;
		}
		case S_BODY_LEN:
			if (take_body(s, ctx, dir, &b, &n))
				body_done(s, ctx, dir);
			break;
		case S_BODY_CLOSE:
			d->body += n;
			body_file(s, ctx, dir, b, n);
			return;
		case S_CHUNK_SIZE:
		case S_CHUNK_END:
		case S_TRAILER: {
			const uint8_t *nl = memchr(b, '\n', n);
			size_t k = nl ? (size_t)(nl - b) + 1 : n;
			if (gather(d, b, k, 1024) < 0) {
				ctx->weird(ctx, "HTTP_bad_chunk_size", NULL);
				lose(s, ctx, dir);
				return;
			}
			b += k;
			n -= k;
			if (!nl)
				break;
			const char *line = d->buf;
			size_t ll = d->len;
			d->len = 0;
			while (ll && (line[ll - 1] == '\n' || line[ll - 1] == '\r'))
				ll--;
			if (d->state == S_CHUNK_END) {
				if (ll) {
					ctx->weird(ctx, "HTTP_chunk_not_terminated",
						   NULL);
					lose(s, ctx, dir);
					return;
				}
				d->state = S_CHUNK_SIZE;
				break;
			}
			if (d->state == S_TRAILER) {
				if (!ll)
					body_done(s, ctx, dir);
				break;
			}
			uint64_t size = 0;
			size_t i = 0;
			for (; i < ll && isxdigit((unsigned char)line[i]); i++) {
				if (size >> 56) {
					i = 0;
					break;
				}
				char c = (char)tolower((unsigned char)line[i]);
				size = size * 16 + (uint64_t)(c <= '9' ? c - '0'
								     : c - 'a' + 10);
			}
			if (i == 0 || (i < ll && line[i] != ';' && line[i] != ' ' &&
				       line[i] != '\t')) {
				ctx->weird(ctx, "HTTP_bad_chunk_size", NULL);
				lose(s, ctx, dir);
				return;
			}
			if (size == 0) {
				d->state = S_TRAILER;
			} else {
				d->state = S_CHUNK_DATA;
				d->remain = size;
			}
			break;
		}
		case S_CHUNK_DATA:
			if (take_body(s, ctx, dir, &b, &n))
				d->state = S_CHUNK_END;
			break;
		}
	}
}

static void http_gap(void *st, struct tp_app_ctx *ctx, enum tp_app_dir dir,
		     uint64_t n)
{
	struct http_state *s = st;
	struct http_dir *d = &s->d[dir];
	switch (d->state) {
	case S_BODY_LEN:
	case S_CHUNK_DATA:
		/* A body of known length: skipped over, still counted. */
		if (n <= d->remain) {
			body_file(s, ctx, dir, NULL, n);
			d->remain -= n;
			d->body += n;
			if (!d->remain) {
				if (d->state == S_BODY_LEN)
					body_done(s, ctx, dir);
				else
					d->state = S_CHUNK_END;
			}
			return;
		}
		/* The rest of this body is missing too. */
		body_file(s, ctx, dir, NULL, d->remain);
		break;
	case S_BODY_CLOSE:
		d->body += n;
		body_file(s, ctx, dir, NULL, n);
		return;
	case S_OFF:
		return;
	default:
		break;
	}
	ctx->weird(ctx, "HTTP_content_gap", NULL);
	lose(s, ctx, dir);
}

static void http_end(void *st, struct tp_app_ctx *ctx)
{
	struct http_state *s = st;
	struct http_dir *r = &s->d[TP_APP_RESP];
	if (r->state == S_BODY_CLOSE) {
		body_done(s, ctx, TP_APP_RESP);
	} else if (r->state == S_BODY_LEN || r->state == S_CHUNK_DATA ||
		   r->state == S_CHUNK_SIZE) {
		ctx->weird(ctx, "HTTP_body_incomplete", NULL);
		if (s->nq)
			s->q[0]->resp_body = r->body;
	}
	/* Bodies cut short are files as far as they went. */
	body_file_end(s, ctx, TP_APP_ORIG);
	body_file_end(s, ctx, TP_APP_RESP);
	/* Requests without (complete) replies are logged as they are. */
	while (s->nq)
		txn_done(s, ctx);
}

static void http_init(void *st)
{
	memset(st, 0, sizeof(struct http_state));
}

static void http_fini(void *st)
{
	struct http_state *s = st;
	for (unsigned i = 0; i < s->nq; i++)
		txn_free(s->q[i]);
	s->nq = 0;
	for (int i = 0; i < 2; i++) {
		if (s->d[i].buf)
			tp_free(s->d[i].buf, s->d[i].cap);
		if (s->d[i].filename)
			tp_strfree(s->d[i].filename);
		tp_file_discard(NULL, s->d[i].file);
	}
}

/* A request line's start (a method token and a space), or a status
 * line's "HTTP/1.". */
static bool http_probe(const uint8_t *b, size_t n, enum tp_app_dir dir)
{
	if (dir == TP_APP_RESP)
		return n >= 7 && memcmp(b, "HTTP/1.", 7) == 0;
	size_t i = 0;
	while (i < n && i < 16 && isupper(b[i]))
		i++;
	if (i < 3 || i >= n || b[i] != ' ')
		return false;
	/* The line, where it is complete, ends in a version. */
	const uint8_t *nl = memchr(b, '\n', n);
	if (!nl)
		return n - i > 1 && (b[i + 1] == '/' || isalpha(b[i + 1]) ||
				     b[i + 1] == '*');
	size_t ll = (size_t)(nl - b);
	if (ll && b[ll - 1] == '\r')
		ll--;
	return ll >= i + 10 && memcmp(b + ll - 8, "HTTP/1.", 7) == 0;
}

const struct tp_app_ops tp_app_http = {
	.name = "http",
	.ipproto = 6,
	.state_size = sizeof(struct http_state),
	.probe = http_probe,
	.init = http_init,
	.data = http_data,
	.gap = http_gap,
	.end = http_end,
	.fini = http_fini,
};
