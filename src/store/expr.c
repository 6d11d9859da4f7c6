/* Query expressions: split tapir's own fields from the BPF part, and find
 * the terms that the index can answer.  The BPF itself is libpcap's to
 * check (query.c compiles it). */
#include "store/expr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_TOKENS 512

struct tok {
	unsigned off, len;
	int depth;               /* parentheses around it */
};

static bool is(const char *text, const struct tok *t, const char *w)
{
	return t->len == strlen(w) && strncasecmp(text + t->off, w, t->len) == 0;
}

/* err: "MSG\n  TEXT\n  ^^^" with the caret under [off, off+len). */
static int fail(char *err, size_t errlen, const char *text, unsigned off,
		unsigned len, const char *msg)
{
	size_t tl = strlen(text);
	if (tl > 200)
		tl = 200;
	if (off > tl)
		off = (unsigned)tl;
	if (len == 0)
		len = 1;
	if (off + len > tl + 1)
		len = (unsigned)(tl + 1 - off);
	char marks[260];
	unsigned k = 0;
	for (; k < off && k < 200; k++)
		marks[k] = text[k] == '\t' ? '\t' : ' ';
	for (unsigned j = 0; j < len && k < 255; j++)
		marks[k++] = '^';
	marks[k] = 0;
	snprintf(err, errlen, "%s (column %u)\n  %.*s\n  %s", msg, off + 1,
		 (int)tl, text, marks);
	return -EINVAL;
}

static int tokenize(const char *text, struct tok *tk, unsigned *n,
		    char *err, size_t errlen)
{
	int depth = 0;
	unsigned nt = 0;
	for (unsigned i = 0; text[i];) {
		unsigned char c = (unsigned char)text[i];
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			i++;
			continue;
		}
		if (nt == MAX_TOKENS)
			return fail(err, errlen, text, i, 1,
				    "expression has too many words");
		struct tok *t = &tk[nt++];
		t->off = i;
		if (c == '(' || c == ')') {
			if (c == ')' && --depth < 0)
				return fail(err, errlen, text, i, 1,
					    "')' without a matching '('");
			t->depth = c == '(' ? depth++ : depth;
			t->len = 1;
			i++;
			continue;
		}
		while (text[i] && !strchr(" \t\n\r()", text[i]))
			i++;
		t->len = i - t->off;
		t->depth = depth;
	}
	if (depth > 0) {
		unsigned at = 0;
		for (unsigned j = 0; j < nt; j++)
			if (tk[j].len == 1 && text[tk[j].off] == '(' &&
			    tk[j].depth == 0)
				at = tk[j].off;
		return fail(err, errlen, text, at, 1,
			    "'(' is never closed");
	}
	*n = nt;
	return 0;
}

static bool tapir_field(const char *text, const struct tok *t)
{
	return is(text, t, "vni") || is(text, t, "session") ||
	       is(text, t, "zone") || is(text, t, "uid") ||
	       is(text, t, "community-id");
}

static int parse_num(const char *text, const struct tok *t, uint32_t max,
		     uint32_t *out)
{
	char buf[16];
	if (t->len == 0 || t->len >= sizeof(buf))
		return -1;
	memcpy(buf, text + t->off, t->len);
	buf[t->len] = 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(buf, &end, 10);
	if (*end || errno || buf[0] < '0' || buf[0] > '9' || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int proto_of(const char *text, const struct tok *t)
{
	if (is(text, t, "tcp"))
		return 6;
	if (is(text, t, "udp"))
		return 17;
	if (is(text, t, "sctp"))
		return 132;
	if (is(text, t, "icmp"))
		return 1;
	if (is(text, t, "icmp6"))
		return 58;
	return -1;
}

static void add_term(struct tp_expr *e, const struct tp_expr_term *t)
{
	if (e->nterms < TP_EXPR_MAX_TERMS)
		e->terms[e->nterms++] = *t;
}

/* The index terms of one BPF term (tokens t[0..n)), if it has a form the
 * index knows; otherwise nothing (the term is still checked by BPF). */
static void index_terms(const char *text, const struct tok *t, unsigned n,
			struct tp_expr *e)
{
	struct tp_expr_term x = {0};
	unsigned i = 0;
	int proto = n ? proto_of(text, &t[0]) : -1;

	if (n == 1 && proto >= 0 && proto != 132) {
		x.kind = TP_EXPR_PROTO;
		x.val = (uint32_t)proto;
		add_term(e, &x);
		return;
	}
	if (proto == 6 || proto == 17 || proto == 132)
		i++;
	if (i < n && (is(text, &t[i], "src") || is(text, &t[i], "dst")))
		i++;
	if (i + 2 != n)
		return;
	char word[64];
	if (t[i + 1].len >= sizeof(word))
		return;
	memcpy(word, text + t[i + 1].off, t[i + 1].len);
	word[t[i + 1].len] = 0;
	if (is(text, &t[i], "host") && proto < 0) {
		uint8_t v4[4];
		x.kind = TP_EXPR_HOST;
		if (inet_pton(AF_INET, word, v4) == 1) {
			memset(x.addr.b, 0, 10);
			x.addr.b[10] = x.addr.b[11] = 0xff;
			memcpy(x.addr.b + 12, v4, 4);
		} else if (inet_pton(AF_INET6, word, x.addr.b) != 1) {
			return;  /* a host name: libpcap resolves it */
		}
		add_term(e, &x);
	} else if (is(text, &t[i], "port")) {
		uint32_t port;
		if (parse_num(text, &t[i + 1], 65535, &port) < 0)
			return;
		x.kind = TP_EXPR_PORT;
		x.val = port;
		add_term(e, &x);
		if (proto > 0) {
			struct tp_expr_term y = {.kind = TP_EXPR_PROTO,
						 .val = (uint32_t)proto};
			add_term(e, &y);
		}
	}
}

/* The word of a flow term (t[1]) is a uid ("C" and letters and digits) or
 * a Community ID v1 ("1:" and base64). */
static bool word_ok(const char *w, size_t n, bool uid)
{
	if (uid ? (n < 2 || w[0] != 'C') : (n < 3 || strncmp(w, "1:", 2)))
		return false;
	for (size_t i = uid ? 1 : 2; i < n; i++) {
		unsigned char c = (unsigned char)w[i];
		bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
			     (c >= 'A' && c <= 'Z');
		if (!alnum && (uid || !strchr("+/=", c)))
			return false;
	}
	return true;
}

/* "zone NAME", "uid UID", "community-id ID": tokens t[0..n). */
static int flow_term(const char *text, const struct tok *t, unsigned n,
		     struct tp_expr *e, char *err, size_t errlen)
{
	bool zone = is(text, &t[0], "zone"), uid = is(text, &t[0], "uid");
	const char *what = zone ? "'zone' takes one zone name, as in the "
				  "configuration (like default)"
			  : uid ? "'uid' takes one conn.log uid (like "
				  "CHhAvVGS1DHFjwGM9)"
				: "'community-id' takes one Community ID (like "
				  "1:wCb3OG7yAFWelaUydu0D+125CLM=)";
	bool *has = zone ? &e->has_zone : uid ? &e->has_uid : &e->has_cid;
	char *out = zone ? e->zone : uid ? e->uid : e->cid;
	size_t cap = zone ? sizeof(e->zone) : uid ? sizeof(e->uid)
						  : sizeof(e->cid);

	if (n != 2 || t[1].len >= cap ||
	    (!zone && !word_ok(text + t[1].off, t[1].len, uid)))
		return fail(err, errlen, text,
			    n >= 2 ? t[1].off : t[0].off + t[0].len,
			    n >= 2 ? t[1].len : 1, what);
	if (*has)
		return fail(err, errlen, text, t[0].off, t[0].len,
			    zone ? "'zone' given twice"
			    : uid ? "'uid' given twice"
				  : "'community-id' given twice");
	memcpy(out, text + t[1].off, t[1].len);
	out[t[1].len] = 0;
	*has = true;
	return 0;
}

int tp_expr_parse(const char *text, struct tp_expr *e, char *err,
		  size_t errlen)
{
	static _Thread_local struct tok tk[MAX_TOKENS];
	unsigned n = 0;

	memset(e, 0, sizeof(*e));
	if (strlen(text) > TP_EXPR_MAX_LEN)
		return fail(err, errlen, text, TP_EXPR_MAX_LEN, 1,
			    "expression longer than 4000 characters");
	int rc = tokenize(text, tk, &n, err, errlen);
	if (rc < 0)
		return rc;

	bool top_or = false;
	for (unsigned i = 0; i < n; i++)
		if (tk[i].depth == 0 &&
		    (is(text, &tk[i], "or") || is(text, &tk[i], "||")))
			top_or = true;
	e->conjunction = !top_or;
	if (n == 0)
		return 0;

	size_t blen = 0;
	for (unsigned s = 0; s <= n;) {
		/* One term: up to the next top-level "and". */
		unsigned end = s;
		while (end < n && !(tk[end].depth == 0 &&
				    (is(text, &tk[end], "and") ||
				     is(text, &tk[end], "&&"))))
			end++;
		if (end == s)
			return fail(err, errlen, text, tk[end].off,
				    tk[end].len,
				    "'and' needs a term on both sides");
		/* A tapir field anywhere but as a whole top-level term. */
		for (unsigned i = s; i < end; i++) {
			if (!tapir_field(text, &tk[i]))
				continue;
			bool whole = i == s && tk[i].depth == 0;
			if (!whole || top_or)
				return fail(err, errlen, text, tk[i].off,
					    tk[i].len,
					    "tapir's fields (vni, session, "
					    "zone, uid, community-id) combine "
					    "with the rest only by a top-level "
					    "'and': not inside parentheses, "
					    "after 'not' or next to 'or'");
		}
		const struct tok *t0 = &tk[s];
		if (is(text, t0, "zone") || is(text, t0, "uid") ||
		    is(text, t0, "community-id")) {
			rc = flow_term(text, &tk[s], end - s, e, err, errlen);
			if (rc < 0)
				return rc;
		} else if (is(text, t0, "vni")) {
			if (end - s != 2 ||
			    parse_num(text, &tk[s + 1], 0xffffff, &e->vni) < 0)
				return fail(err, errlen, text,
					    end - s >= 2 ? tk[s + 1].off
							 : t0->off + t0->len,
					    end - s >= 2 ? tk[s + 1].len : 1,
					    "'vni' takes one number, 0 to "
					    "16777215");
			if (e->has_vni)
				return fail(err, errlen, text, t0->off, t0->len,
					    "'vni' given twice");
			e->has_vni = true;
		} else if (is(text, t0, "session")) {
			if (end - s != 2 || tk[s + 1].len >= sizeof(e->session))
				return fail(err, errlen, text,
					    end - s >= 2 ? tk[s + 1].off
							 : t0->off + t0->len,
					    end - s >= 2 ? tk[s + 1].len : 1,
					    "'session' takes one name, as "
					    "stats.log shows it (like "
					    "10.0.1.10/1000)");
			if (e->has_session)
				return fail(err, errlen, text, t0->off, t0->len,
					    "'session' given twice");
			memcpy(e->session, text + tk[s + 1].off, tk[s + 1].len);
			e->session[tk[s + 1].len] = 0;
			e->has_session = true;
		} else {
			unsigned a = t0->off,
				 b = tk[end - 1].off + tk[end - 1].len;
			int w = snprintf(e->bpf + blen, sizeof(e->bpf) - blen,
					 "%s%.*s", blen ? " and " : "",
					 (int)(b - a), text + a);
			if (w < 0 || (size_t)w >= sizeof(e->bpf) - blen)
				return fail(err, errlen, text, t0->off, b - a,
					    "expression too long");
			blen += (size_t)w;
			if (!top_or)
				index_terms(text, &tk[s], end - s, e);
		}
		if (end == n)
			break;
		s = end + 1;
		if (s == n)
			return fail(err, errlen, text, tk[end].off, tk[end].len,
				    "'and' needs a term on both sides");
	}
	return 0;
}
