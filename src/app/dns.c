/* DNS over UDP and TCP → dns.log (RFC 1035; TCP framing RFC 7766; the
 * log is Zeek's base/protocols/dns/main.zeek).
 *
 *  0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
 * +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 * |                      ID                       |
 * |QR|   Opcode  |AA|TC|RD|RA|   Z    |   RCODE   |
 * |                    QDCOUNT                    |
 * |                    ANCOUNT                    |
 * |                    NSCOUNT                    |
 * |                    ARCOUNT                    |
 * +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 * question: QNAME QTYPE QCLASS; resource records: NAME TYPE CLASS TTL
 * RDLENGTH RDATA.  Names are labels, or a 14-bit pointer (0b11) to an
 * earlier name (compression).  Over TCP each message has a 2-byte length
 * in front.
 *
 * A query waits for its response (matched by id); the record is written
 * when the response comes, or at the end of the flow without one, as
 * Zeek does.  A response without a query is logged on its own. */
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "decode/decode.h"
#include "output/logs.h"
#include "output/writer.h"
#include "util/cursor.h"
#include "util/mem.h"

#define MAX_PENDING 16
#define MAX_ANSWERS 32
#define MAX_NAME 256        /* text form, with escapes cut at this */
#define MAX_HOPS 64         /* compression pointers followed in one name */

enum {
	D_TS, D_UID, D_ORIG_H, D_ORIG_P, D_RESP_H, D_RESP_P, D_PROTO,
	D_TRANS_ID, D_RTT, D_QUERY, D_QCLASS, D_QCLASS_NAME, D_QTYPE,
	D_QTYPE_NAME, D_RCODE, D_RCODE_NAME, D_AA, D_TC, D_RD, D_RA, D_Z,
	D_ANSWERS, D_TTLS, D_REJECTED, D_COMMUNITY_ID,
};

static const struct tp_field dns_fields[] = {
	[D_TS] = {"ts", TP_FT_TIME},
	[D_UID] = {"uid", TP_FT_STRING},
	[D_ORIG_H] = {"id.orig_h", TP_FT_ADDR},
	[D_ORIG_P] = {"id.orig_p", TP_FT_PORT},
	[D_RESP_H] = {"id.resp_h", TP_FT_ADDR},
	[D_RESP_P] = {"id.resp_p", TP_FT_PORT},
	[D_PROTO] = {"proto", TP_FT_ENUM},
	[D_TRANS_ID] = {"trans_id", TP_FT_COUNT},
	[D_RTT] = {"rtt", TP_FT_INTERVAL},
	[D_QUERY] = {"query", TP_FT_STRING},
	[D_QCLASS] = {"qclass", TP_FT_COUNT},
	[D_QCLASS_NAME] = {"qclass_name", TP_FT_STRING},
	[D_QTYPE] = {"qtype", TP_FT_COUNT},
	[D_QTYPE_NAME] = {"qtype_name", TP_FT_STRING},
	[D_RCODE] = {"rcode", TP_FT_COUNT},
	[D_RCODE_NAME] = {"rcode_name", TP_FT_STRING},
	[D_AA] = {"AA", TP_FT_BOOL},
	[D_TC] = {"TC", TP_FT_BOOL},
	[D_RD] = {"RD", TP_FT_BOOL},
	[D_RA] = {"RA", TP_FT_BOOL},
	[D_Z] = {"Z", TP_FT_COUNT},
	[D_ANSWERS] = {"answers", TP_FT_VEC_STRING},
	[D_TTLS] = {"TTLs", TP_FT_VEC_INTERVAL},
	[D_REJECTED] = {"rejected", TP_FT_BOOL},
	[D_COMMUNITY_ID] = {"community_id", TP_FT_STRING},
};

const struct tp_log_schema tp_dns_schema = {
	.path = "dns",
	.fields = dns_fields,
	.nfields = sizeof(dns_fields) / sizeof(dns_fields[0]),
};

/* A query awaiting its response: allocated to the length of its name. */
struct dns_query {
	uint64_t ts_ns;
	uint16_t id, qtype, qclass;
	uint8_t has_q, rd;
	uint16_t size;           /* of the allocation */
	char name[];
};

/* One direction's TCP framing: the message being gathered. */
struct dns_tcp {
	uint8_t *buf;
	uint32_t have, need;     /* need: 0 while the length is read */
	uint8_t lenbuf[2];
	uint8_t nlen;
	uint8_t lost;            /* out of step after a gap */
};

struct dns_state {
	struct dns_query *q[MAX_PENDING];
	unsigned nq;
	struct dns_tcp t[2];
};

/* ---- names and tables -------------------------------------------------- */

static const char *qtype_name(uint16_t t, char *buf, size_t n)
{
	static const char *const names[] = {
		[1] = "A", [2] = "NS", [3] = "MD", [4] = "MF", [5] = "CNAME",
		[6] = "SOA", [7] = "MB", [8] = "MG", [9] = "MR", [10] = "NULL",
		[11] = "WKS", [12] = "PTR", [13] = "HINFO", [14] = "MINFO",
		[15] = "MX", [16] = "TXT", [17] = "RP", [18] = "AFSDB",
		[19] = "X25", [20] = "ISDN", [21] = "RT", [22] = "NSAP",
		[23] = "NSAP-PTR", [24] = "SIG", [25] = "KEY", [26] = "PX",
		[27] = "GPOS", [28] = "AAAA", [29] = "LOC", [30] = "EID",
		[31] = "NIMLOC", [32] = "NB", [33] = "SRV", [34] = "ATMA",
		[35] = "NAPTR", [36] = "KX", [37] = "CERT", [38] = "A6",
		[39] = "DNAME", [40] = "SINK", [41] = "OPT", [42] = "APL",
		[43] = "DS", [44] = "SSHFP", [45] = "IPSECKEY", [46] = "RRSIG",
		[47] = "NSEC", [48] = "DNSKEY", [49] = "DHCID", [50] = "NSEC3",
		[51] = "NSEC3PARAM", [52] = "TLSA", [53] = "SMIMEA",
		[55] = "HIP", [59] = "CDS", [60] = "CDNSKEY",
		[61] = "OPENPGPKEY", [62] = "CSYNC", [63] = "ZONEMD",
		[64] = "SVCB", [65] = "HTTPS", [99] = "SPF", [100] = "UINFO",
		[101] = "UID", [102] = "GID", [103] = "UNSPEC",
		[249] = "TKEY", [250] = "TSIG", [251] = "IXFR", [252] = "AXFR",
		[253] = "MAILB", [254] = "MAILA", [255] = "*",
	};
	if (t < sizeof(names) / sizeof(names[0]) && names[t])
		return names[t];
	if (t == 256)
		return "URI";
	if (t == 257)
		return "CAA";
	if (t == 32768)
		return "TA";
	if (t == 32769)
		return "DLV";
	snprintf(buf, n, "query-%u", t);
	return buf;
}

static const char *qclass_name(uint16_t c, char *buf, size_t n)
{
	switch (c) {
	case 1:
		return "C_INTERNET";
	case 2:
		return "C_CSNET";
	case 3:
		return "C_CHAOS";
	case 4:
		return "C_HESIOD";
	case 254:
		return "C_NONE";
	case 255:
		return "C_ANY";
	}
	snprintf(buf, n, "qclass-%u", c);
	return buf;
}

static const char *rcode_name(unsigned r, char *buf, size_t n)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
		"REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
		"NOTZONE",
	};
	if (r < sizeof(names) / sizeof(names[0]))
		return names[r];
	snprintf(buf, n, "unknown-%u", r);
	return buf;
}

/* Read the name at *off of msg[0..len) into out (text, as Zeek writes
 * it: labels joined by '.', bytes outside printable ASCII as \xNN) and
 * move *off past it.  Pointers must point backwards and are followed at
 * most MAX_HOPS times (a loop is malformed).  0 or -1. */
static int read_name(const uint8_t *msg, size_t len, size_t *off, char *out,
		     size_t outlen)
{
	size_t pos = *off, o = 0, end = 0;
	unsigned hops = 0;
	bool jumped = false;

	out[0] = 0;
	for (;;) {
		if (pos >= len)
			return -1;
		uint8_t l = msg[pos];
		if ((l & 0xc0) == 0xc0) {
			if (pos + 1 >= len || ++hops > MAX_HOPS)
				return -1;
			size_t to = ((size_t)(l & 0x3f) << 8) | msg[pos + 1];
			if (!jumped)
				end = pos + 2;
			jumped = true;
			if (to >= pos)   /* forward or self: a loop */
				return -1;
			pos = to;
			continue;
		}
		if (l & 0xc0)            /* 0b01, 0b10: extended labels */
			return -1;
		pos++;
		if (l == 0)
			break;
		if (pos + l > len)
			return -1;
		if (o && o + 1 < outlen)
			out[o++] = '.';
		for (unsigned i = 0; i < l; i++) {
			uint8_t c = msg[pos + i];
			if (c > 0x20 && c < 0x7f) {
				if (o + 1 < outlen)
					out[o++] = (char)c;
			} else if (o + 4 < outlen) {
				snprintf(out + o, 5, "\\x%02x", c);
				o += 4;
			}
		}
		out[o < outlen ? o : outlen - 1] = 0;
		pos += l;
	}
	*off = jumped ? end : pos;
	return 0;
}

/* ---- records ----------------------------------------------------------- */

struct dns_msg {
	uint16_t id, flags, qd, an, ns, ar;
	uint16_t qtype, qclass;
	bool has_q;
	char qname[MAX_NAME];
	unsigned nans;
	char ans[MAX_ANSWERS][MAX_NAME];
	uint64_t ttl_ns[MAX_ANSWERS];
};

static void write_rec(struct tp_app_ctx *ctx, const struct dns_query *q,
		      const struct dns_msg *m, uint64_t resp_ns)
{
	struct tp_rec *r = tp_app_rec(ctx->logs, &tp_dns_schema);
	if (!r)
		return;
	char b1[24], b2[24], b3[24];

	tp_rec_begin(r);
	tp_rec_time(r, D_TS, q ? q->ts_ns : resp_ns);
	tp_rec_flow_id(r, D_UID, ctx->flow);
	tp_rec_str(r, D_PROTO, ctx->flow->key.proto == 6 ? "tcp" : "udp");
	tp_rec_uint(r, D_TRANS_ID, m ? m->id : q->id);
	if (q && m)
		tp_rec_interval(r, D_RTT, resp_ns - q->ts_ns);
	/* The question as the response repeats it, else the query's. */
	const char *name = NULL;
	uint16_t qtype = 0, qclass = 0;
	if (m && m->has_q) {
		name = m->qname;
		qtype = m->qtype;
		qclass = m->qclass;
	} else if (q && q->has_q) {
		name = q->name;
		qtype = q->qtype;
		qclass = q->qclass;
	}
	if (name) {
		tp_rec_str(r, D_QUERY, name);
		tp_rec_uint(r, D_QCLASS, qclass);
		tp_rec_str(r, D_QCLASS_NAME, qclass_name(qclass, b1, sizeof(b1)));
		tp_rec_uint(r, D_QTYPE, qtype);
		tp_rec_str(r, D_QTYPE_NAME, qtype_name(qtype, b2, sizeof(b2)));
	}
	if (m) {
		unsigned rc = m->flags & 0xf;
		tp_rec_uint(r, D_RCODE, rc);
		tp_rec_str(r, D_RCODE_NAME, rcode_name(rc, b3, sizeof(b3)));
		tp_rec_bool(r, D_AA, m->flags & 0x0400);
		tp_rec_bool(r, D_TC, m->flags & 0x0200);
		tp_rec_bool(r, D_RD, m->flags & 0x0100);
		tp_rec_bool(r, D_RA, m->flags & 0x0080);
		tp_rec_uint(r, D_Z, (m->flags >> 4) & 0x7);
	} else {
		tp_rec_bool(r, D_AA, false);
		tp_rec_bool(r, D_TC, false);
		tp_rec_bool(r, D_RD, q->rd);
		tp_rec_bool(r, D_RA, false);
		tp_rec_uint(r, D_Z, 0);
	}
	if (m && m->nans) {
		const char *av[MAX_ANSWERS];
		for (unsigned i = 0; i < m->nans; i++)
			av[i] = m->ans[i];
		tp_rec_strvec(r, D_ANSWERS, av, m->nans);
		tp_rec_intervals(r, D_TTLS, m->ttl_ns, m->nans);
	}
	/* Zeek's dns_rejected: a response with no record at all. */
	tp_rec_bool(r, D_REJECTED, m && !m->an && !m->ns && !m->ar);
	tp_rec_end(r);
}

/* The text Zeek logs for an answer of type t, rdata at msg[off..off+n). */
static int answer_text(const uint8_t *msg, size_t off, size_t n, uint16_t t,
		       char *out, size_t outlen)
{
	size_t p = off;
	switch (t) {
	case 1: /* A */
		if (n != 4)
			return -1;
		snprintf(out, outlen, "%u.%u.%u.%u", msg[off], msg[off + 1],
			 msg[off + 2], msg[off + 3]);
		return 0;
	case 28: { /* AAAA, RFC 5952 text */
		if (n != 16)
			return -1;
		struct tp_addr a;
		char buf[64];
		memcpy(a.b, msg + off, 16);
		snprintf(out, outlen, "%s", tp_addr_str(&a, buf));
		return 0;
	}
	case 2: case 5: case 12: case 39: /* NS CNAME PTR DNAME */
		return read_name(msg, off + n, &p, out, outlen);
	case 6: /* SOA: the primary name server */
		return read_name(msg, off + n, &p, out, outlen);
	case 15: /* MX: the exchange */
		if (n < 3)
			return -1;
		p += 2;
		return read_name(msg, off + n, &p, out, outlen);
	case 33: /* SRV: the target */
		if (n < 7)
			return -1;
		p += 6;
		return read_name(msg, off + n, &p, out, outlen);
	case 16: { /* TXT: "TXT <len> <text>" for each string */
		size_t o = 0;
		out[0] = 0;
		while (p < off + n) {
			size_t l = msg[p++];
			if (p + l > off + n)
				return -1;
			int w = snprintf(out + o, outlen - o, "%sTXT %zu %.*s",
					 o ? " " : "", l, (int)l,
					 (const char *)msg + p);
			if (w < 0 || (size_t)w >= outlen - o)
				break;
			o += (size_t)w;
			p += l;
		}
		return 0;
	}
	default:
		snprintf(out, outlen, "<unknown type=%u>", t);
		return 0;
	}
}

/* Parse message msg[0..len) into m.  0, or -1 with *why set. */
static int parse(const uint8_t *msg, size_t len, struct dns_msg *m,
		 const char **why)
{
	struct tp_cur c;
	tp_cur_init(&c, msg, len);
	m->id = tp_cur_be16(&c);
	m->flags = tp_cur_be16(&c);
	m->qd = tp_cur_be16(&c);
	m->an = tp_cur_be16(&c);
	m->ns = tp_cur_be16(&c);
	m->ar = tp_cur_be16(&c);
	m->has_q = false;
	m->nans = 0;
	if (c.err) {
		*why = "DNS_truncated_len_lt_hdr_len";
		return -1;
	}
	size_t off = 12;
	for (unsigned i = 0; i < m->qd; i++) {
		char name[MAX_NAME];
		if (read_name(msg, len, &off, name, sizeof(name)) < 0 ||
		    off + 4 > len) {
			*why = "DNS_truncated_quest_too_short";
			return -1;
		}
		if (i == 0) {
			memcpy(m->qname, name, sizeof(name));
			m->qtype = tp_load_be16(msg + off);
			m->qclass = tp_load_be16(msg + off + 2);
			m->has_q = true;
		}
		off += 4;
	}
	/* The answer section only: Zeek logs those (the authority and
	 * additional records are not in dns.log). */
	for (unsigned i = 0; i < m->an; i++) {
		char name[MAX_NAME];
		if (read_name(msg, len, &off, name, sizeof(name)) < 0 ||
		    off + 10 > len) {
			*why = "DNS_truncated_ans_too_short";
			return -1;
		}
		uint16_t t = tp_load_be16(msg + off);
		uint32_t ttl = tp_load_be32(msg + off + 4);
		uint16_t rdlen = tp_load_be16(msg + off + 8);
		off += 10;
		if (off + rdlen > len) {
			*why = "DNS_RR_length_mismatch";
			return -1;
		}
		if (t != 41 && m->nans < MAX_ANSWERS &&
		    answer_text(msg, off, rdlen, t, m->ans[m->nans],
				MAX_NAME) == 0) {
			m->ttl_ns[m->nans] = (uint64_t)ttl * 1000000000ull;
			m->nans++;
		}
		off += rdlen;
	}
	return 0;
}

static void pop(struct dns_state *s, unsigned i)
{
	tp_free(s->q[i], s->q[i]->size);
	memmove(&s->q[i], &s->q[i + 1], (s->nq - i - 1) * sizeof(s->q[0]));
	s->nq--;
}

static void message(struct dns_state *s, struct tp_app_ctx *ctx,
		    const uint8_t *msg, size_t len)
{
	/* Parsed into the thread's scratch: no allocation per message. */
	static _Thread_local struct dns_msg scratch;
	struct dns_msg *m = &scratch;
	const char *why = NULL;
	if (parse(msg, len, m, &why) < 0) {
		ctx->weird(ctx, why, NULL);
		/* A query that got that far is still worth its record. */
		if (len < 12)
			return;
	}
	if (!(m->flags & 0x8000)) {
		if (s->nq == MAX_PENDING) {
			/* Unanswered for too long: logged without a reply. */
			write_rec(ctx, s->q[0], NULL, 0);
			pop(s, 0);
		}
		size_t nl = m->has_q ? strlen(m->qname) + 1 : 1;
		size_t size = sizeof(struct dns_query) + nl;
		struct dns_query *q = tp_malloc(size);
		if (!q)
			return;
		s->q[s->nq++] = q;
		q->size = (uint16_t)size;
		q->ts_ns = ctx->ts_ns;
		q->id = m->id;
		q->rd = (m->flags & 0x0100) != 0;
		q->has_q = m->has_q;
		q->qtype = m->qtype;
		q->qclass = m->qclass;
		memcpy(q->name, m->has_q ? m->qname : "", nl);
		return;
	}
	for (unsigned i = 0; i < s->nq; i++)
		if (s->q[i]->id == m->id) {
			write_rec(ctx, s->q[i], m, ctx->ts_ns);
			pop(s, i);
			return;
		}
	write_rec(ctx, NULL, m, ctx->ts_ns);
}

/* ---- ops --------------------------------------------------------------- */

static bool dns_probe(const uint8_t *b, size_t n, enum tp_app_dir dir)
{
	(void)dir;
	if (n < 12)
		return false;
	uint16_t flags = tp_load_be16(b + 2);
	unsigned opcode = (flags >> 11) & 0xf;
	uint16_t qd = tp_load_be16(b + 4);
	/* Queries carry one question; opcodes above 6 are unassigned. */
	return opcode <= 6 && qd <= 1 && tp_load_be16(b + 6) < 512;
}

static bool dns_tcp_probe(const uint8_t *b, size_t n, enum tp_app_dir dir)
{
	if (n < 14)
		return false;
	uint16_t mlen = tp_load_be16(b);
	return mlen >= 12 && dns_probe(b + 2, n - 2, dir);
}

static void dns_init(void *st)
{
	memset(st, 0, sizeof(struct dns_state));
}

static void dns_udp_data(void *st, struct tp_app_ctx *ctx,
			 enum tp_app_dir dir, const uint8_t *b, size_t n)
{
	(void)dir;
	message(st, ctx, b, n);
}

static void dns_tcp_data(void *st, struct tp_app_ctx *ctx,
			 enum tp_app_dir dir, const uint8_t *b, size_t n)
{
	struct dns_state *s = st;
	struct dns_tcp *t = &s->t[dir];
	while (n && !t->lost) {
		if (!t->need) {
			t->lenbuf[t->nlen++] = *b++;
			n--;
			if (t->nlen < 2)
				continue;
			t->nlen = 0;
			t->need = tp_load_be16(t->lenbuf);
			t->have = 0;
			if (t->need < 12) {
				ctx->weird(ctx, "DNS_truncated_len_lt_hdr_len",
					   NULL);
				t->lost = 1;
				return;
			}
			if (!t->buf && !(t->buf = tp_malloc(65535))) {
				t->lost = 1;
				return;
			}
			continue;
		}
		size_t k = t->need - t->have;
		if (k > n)
			k = n;
		memcpy(t->buf + t->have, b, k);
		t->have += (uint32_t)k;
		b += k;
		n -= k;
		if (t->have == t->need) {
			message(s, ctx, t->buf, t->need);
			t->need = 0;
		}
	}
}

static void dns_gap(void *st, struct tp_app_ctx *ctx, enum tp_app_dir dir,
		    uint64_t n)
{
	struct dns_state *s = st;
	(void)n;
	if (ctx->flow->key.proto == 6 && !s->t[dir].lost) {
		/* The framing is lost with the bytes. */
		s->t[dir].lost = 1;
		ctx->weird(ctx, "DNS_content_gap", NULL);
	}
}

static void dns_end(void *st, struct tp_app_ctx *ctx)
{
	struct dns_state *s = st;
	while (s->nq) {
		write_rec(ctx, s->q[0], NULL, 0);
		pop(s, 0);
	}
	for (int d = 0; d < 2; d++)
		if (s->t[d].need && s->t[d].have < s->t[d].need &&
		    !s->t[d].lost)
			ctx->weird(ctx, "DNS_truncated_msg", NULL);
}

static void dns_fini(void *st)
{
	struct dns_state *s = st;
	while (s->nq)
		pop(s, 0);
	for (int d = 0; d < 2; d++)
		if (s->t[d].buf)
			tp_free(s->t[d].buf, 65535);
}

const struct tp_app_ops tp_app_dns = {
	.name = "dns",
	.ipproto = 17,
	.state_size = sizeof(struct dns_state),
	.probe = dns_probe,
	.init = dns_init,
	.data = dns_udp_data,
	.gap = dns_gap,
	.end = dns_end,
	.fini = dns_fini,
};

const struct tp_app_ops tp_app_dns_tcp = {
	.name = "dns",
	.ipproto = 6,
	.state_size = sizeof(struct dns_state),
	.probe = dns_tcp_probe,
	.init = dns_init,
	.data = dns_tcp_data,
	.gap = dns_gap,
	.end = dns_end,
	.fini = dns_fini,
};
