/* Flow terms of a store query: see flow-terms.h.  A frame's flow is made
 * as the pipeline makes it (tp_front_packet): the inner 5-tuple, ICMP
 * type and code through Zeek's counterpart mapping, no ports for other
 * protocols, and the zone of the mirror session, in canonical order. */
#include "store/flow-terms.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flow/community-id.h"
#include "flow/conn.h"
#include "flow/flow.h"
#include "mirror/session.h"
#include "service/json-scan.h"
#include "store/index.h"

/* Sessions the query side tells apart to find a frame's zone. */
#define QUERY_SESSIONS 65536

static bool is_transport(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 1 || proto == 58 ||
	       proto == 132;
}

/* "1700000000.123456" as ns; -1 when it is not seconds. */
static int parse_secs(const char *s, uint64_t *ns)
{
	uint64_t sec = 0, frac = 0, scale = 100000000;
	const char *p = s;
	if (*p < '0' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9'; p++)
		if (__builtin_mul_overflow(sec, 10, &sec) ||
		    __builtin_add_overflow(sec, (uint64_t)(*p - '0'), &sec))
			return -1;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (uint64_t)(*p - '0') * scale;
	if (*p || sec > UINT64_MAX / 1000000000ull - 1)
		return -1;
	*ns = sec * 1000000000ull + frac;
	return 0;
}

static int parse_addr(const char *s, struct tp_addr *a, uint8_t *ipver)
{
	uint8_t v4[4];
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, v4) == 1) {
		a->b[10] = a->b[11] = 0xff;
		memcpy(a->b + 12, v4, 4);
		*ipver = 4;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->b) == 1) {
		*ipver = 6;
		return 0;
	}
	return -1;
}

static int parse_u16(const char *s, uint32_t max, uint32_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || v > max)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

enum { K_TS, K_UID, K_OH, K_OP, K_RH, K_RP, K_IPP, K_DUR, K_ZONE, K__N };
static const char *const conn_keys[K__N] = {
	"ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p",
	"ip_proto", "duration", "zone",
};

/* The record from its fields' texts (NULL: absent). */
static int conn_ref_fill(char v[K__N][64], const bool *have,
			 struct tp_conn_ref *r)
{
	uint32_t op, rp, ipp;
	uint8_t v1, v2;

	memset(r, 0, sizeof(*r));
	for (int k = 0; k < K__N; k++)
		if (!have[k] && k != K_DUR && k != K_ZONE)
			return -EINVAL;
	if (strlen(v[K_UID]) >= sizeof(r->uid) ||
	    parse_secs(v[K_TS], &r->ts_ns) < 0 ||
	    parse_addr(v[K_OH], &r->orig_h, &v1) < 0 ||
	    parse_addr(v[K_RH], &r->resp_h, &v2) < 0 || v1 != v2 ||
	    parse_u16(v[K_OP], 65535, &op) < 0 ||
	    parse_u16(v[K_RP], 65535, &rp) < 0 ||
	    parse_u16(v[K_IPP], 255, &ipp) < 0)
		return -EINVAL;
	if (have[K_DUR] && parse_secs(v[K_DUR], &r->duration_ns) < 0)
		return -EINVAL;
	memcpy(r->uid, v[K_UID], strlen(v[K_UID]) + 1);
	r->orig_p = (uint16_t)op;
	r->resp_p = (uint16_t)rp;
	r->proto = (uint8_t)ipp;
	r->ipver = v1;
	snprintf(r->zone, sizeof(r->zone), "%s",
		 have[K_ZONE] ? v[K_ZONE] : "default");
	return 0;
}

static int key_no(const char *name)
{
	for (int k = 0; k < K__N; k++)
		if (!strcmp(name, conn_keys[k]))
			return k;
	return -1;
}

static int parse_json(const char *line, size_t len, struct tp_conn_ref *r)
{
	char v[K__N][64], key[64];
	bool have[K__N] = {0};
	struct tp_json_cur c;

	tp_json_init(&c, line, len);
	if (!tp_json_eat(&c, '{'))
		return -EINVAL;
	while (!c.bad && !tp_json_peek(&c, '}')) {
		if (!tp_json_str(&c, key, sizeof(key)) || !tp_json_eat(&c, ':'))
			return -EINVAL;
		int k = key_no(key);
		if (k < 0) {
			tp_json_skip(&c);
		} else if (tp_json_is_num(&c)) {
			tp_json_num(&c, v[k], sizeof(v[k]));
			have[k] = true;
		} else if (tp_json_peek(&c, '"')) {
			tp_json_str(&c, v[k], sizeof(v[k]));
			have[k] = true;
		} else {
			tp_json_skip(&c);
		}
		if (!tp_json_peek(&c, '}') && !tp_json_eat(&c, ','))
			return -EINVAL;
	}
	if (c.bad)
		return -EINVAL;
	return conn_ref_fill(v, have, r);
}

static int parse_tsv(const char *line, size_t len, const char *fields,
		     struct tp_conn_ref *r)
{
	char v[K__N][64];
	bool have[K__N] = {0};
	const char *f = fields, *p = line, *end = line + len;

	while (*f && p <= end) {
		const char *fe = strchr(f, '\t');
		size_t fl = fe ? (size_t)(fe - f) : strlen(f);
		const char *pe = memchr(p, '\t', (size_t)(end - p));
		size_t pl = pe ? (size_t)(pe - p) : (size_t)(end - p);
		char name[64];
		if (fl < sizeof(name)) {
			memcpy(name, f, fl);
			name[fl] = 0;
			int k = key_no(name);
			if (k >= 0 && pl < sizeof(v[k]) &&
			    !(pl == 1 && p[0] == '-')) {
				memcpy(v[k], p, pl);
				v[k][pl] = 0;
				have[k] = true;
			}
		}
		if (!fe || !pe)
			break;
		f = fe + 1;
		p = pe + 1;
	}
	return conn_ref_fill(v, have, r);
}

int tp_conn_ref_parse(const char *line, size_t len, const char *fields,
		      struct tp_conn_ref *r)
{
	while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
		len--;
	if (len && line[0] == '{')
		return parse_json(line, len, r);
	if (!fields || (len && line[0] == '#'))
		return -EINVAL;
	return parse_tsv(line, len, fields, r);
}

/* What a pass over the logs looks for: the record of uid, then the
 * records of its flow's 5-tuple that began after it. */
struct lookup {
	const char *uid;
	bool found;
	struct tp_conn_ref rec;
	char needle[2][INET6_ADDRSTRLEN];  /* second pass: both addresses */
	uint64_t next_ns;        /* the next record of the 5-tuple; 0 none */
};

static bool same_tuple(const struct tp_conn_ref *a, const struct tp_conn_ref *b)
{
	bool fwd = !memcmp(&a->orig_h, &b->orig_h, sizeof(a->orig_h)) &&
		   !memcmp(&a->resp_h, &b->resp_h, sizeof(a->resp_h)) &&
		   a->orig_p == b->orig_p && a->resp_p == b->resp_p;
	bool rev = !memcmp(&a->orig_h, &b->resp_h, sizeof(a->orig_h)) &&
		   !memcmp(&a->resp_h, &b->orig_h, sizeof(a->resp_h)) &&
		   a->orig_p == b->resp_p && a->resp_p == b->orig_p;
	return (fwd || rev) && a->proto == b->proto &&
	       !strcmp(a->zone, b->zone);
}

/* One log file, for the first pass (uid) or the second (its 5-tuple). */
static void scan_file(const char *path, struct lookup *lk, bool second)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return;   /* one unreadable file; the others may do */
	char *line = NULL, *fields = NULL;
	size_t cap = 0;
	ssize_t n;
	struct tp_conn_ref r;
	while ((n = getline(&line, &cap, f)) > 0) {
		if (!strncmp(line, "#fields\t", 8)) {
			free(fields);
			fields = strdup(line + 8);
			if (fields)
				fields[strcspn(fields, "\r\n")] = 0;
			continue;
		}
		if (!second) {
			if (!memmem(line, (size_t)n, lk->uid, strlen(lk->uid)) ||
			    tp_conn_ref_parse(line, (size_t)n, fields, &r) < 0 ||
			    strcmp(r.uid, lk->uid))
				continue;
			lk->rec = r;
			lk->found = true;
			break;
		}
		if (!memmem(line, (size_t)n, lk->needle[0],
			    strlen(lk->needle[0])) ||
		    !memmem(line, (size_t)n, lk->needle[1],
			    strlen(lk->needle[1])) ||
		    tp_conn_ref_parse(line, (size_t)n, fields, &r) < 0 ||
		    !same_tuple(&r, &lk->rec) || r.ts_ns <= lk->rec.ts_ns)
			continue;
		if (!lk->next_ns || r.ts_ns < lk->next_ns)
			lk->next_ns = r.ts_ns;
	}
	free(line);
	free(fields);
	fclose(f);
}

/* Both passes over conn.log and its rotated files (conn.<from>_<to>.log)
 * under dir.  0, or -errno with a message. */
static int find_uid(const char *dir, struct lookup *lk, char *err,
		    size_t errlen)
{
	for (int pass = 0; pass < 2; pass++) {
		DIR *d = opendir(dir);
		if (!d) {
			int e = errno;
			snprintf(err, errlen, "uid %s: cannot read the logs in "
				 "%s: %s (give the log directory with --logs)",
				 lk->uid, dir, strerror(e));
			return -e;
		}
		struct dirent *de;
		unsigned files = 0;
		while (!(pass == 0 && lk->found) && (de = readdir(d))) {
			size_t n = strlen(de->d_name);
			if (strncmp(de->d_name, "conn.", 5) || n < 8 ||
			    strcmp(de->d_name + n - 4, ".log"))
				continue;
			char path[4400];
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			files++;
			scan_file(path, lk, pass == 1);
		}
		closedir(d);
		if (pass == 0 && !lk->found) {
			snprintf(err, errlen, "uid %s is in no conn.log under "
				 "%s (%u file%s searched; give the log "
				 "directory of the run with --logs)", lk->uid,
				 dir, files, files == 1 ? "" : "s");
			return -ENOENT;
		}
		if (pass == 0) {
			/* The addresses as conn.log writes them. */
			const struct tp_conn_ref *r = &lk->rec;
			for (int k = 0; k < 2; k++) {
				const struct tp_addr *a = k ? &r->resp_h
							    : &r->orig_h;
				if (r->ipver == 4)
					inet_ntop(AF_INET, a->b + 12,
						  lk->needle[k],
						  sizeof(lk->needle[k]));
				else
					inet_ntop(AF_INET6, a->b, lk->needle[k],
						  sizeof(lk->needle[k]));
			}
		}
	}
	return 0;
}

static uint64_t timeout_of(const struct tp_config *cfg, uint8_t proto)
{
	switch (proto) {
	case 6: return cfg->tcp_timeout_ns;
	case 17: return cfg->udp_timeout_ns;
	case 1:
	case 58: return cfg->icmp_timeout_ns;
	default: return cfg->other_timeout_ns;
	}
}

static int zone_no(const struct tp_config *cfg, const char *name)
{
	for (uint32_t z = 0; z < cfg->nzones; z++)
		if (!strcmp(cfg->zones[z], name))
			return (int)z;
	return -1;
}

static int unknown_zone(const struct tp_config *cfg, const char *name,
			const char *where, char *err, size_t errlen)
{
	size_t o = (size_t)snprintf(err, errlen, "%s '%s' is not a zone of "
				    "the configuration; its zones:", where,
				    name);
	for (uint32_t z = 0; z < cfg->nzones && o < errlen; z++)
		o += (size_t)snprintf(err + o, errlen - o, " %s",
				      cfg->zones[z]);
	return -EINVAL;
}

static void add_term(struct tp_expr *e, const struct tp_expr_term *t)
{
	if (e->conjunction && e->nterms < TP_EXPR_MAX_TERMS)
		e->terms[e->nterms++] = *t;
}

int tp_flow_terms_init(struct tp_flow_terms *ft, const struct tp_config *cfg,
		       struct tp_expr *e, const char *logs_dir,
		       uint64_t *since, uint64_t *until, char *err,
		       size_t errlen)
{
	memset(ft, 0, sizeof(*ft));
	ft->cfg = cfg;
	if (e->has_zone) {
		int z = zone_no(cfg, e->zone);
		if (z < 0)
			return unknown_zone(cfg, e->zone, "zone", err, errlen);
		ft->has_zone = true;
		ft->zone = (uint16_t)z;
	}
	if (e->has_cid) {
		ft->has_cid = true;
		snprintf(ft->cid, sizeof(ft->cid), "%s", e->cid);
	}
	if (e->has_uid) {
		static _Thread_local struct lookup lk;
		uint8_t side;
		memset(&lk, 0, sizeof(lk));
		lk.uid = e->uid;
		int rc = find_uid(logs_dir, &lk, err, errlen);
		if (rc < 0)
			return rc;
		const struct tp_conn_ref r = lk.rec;
		int z = zone_no(cfg, r.zone);
		if (z < 0)
			return unknown_zone(cfg, r.zone, "conn.log's zone", err,
					    errlen);
		tp_flow_key_make(&ft->key, &side, &r.orig_h, r.orig_p,
				 &r.resp_h, r.resp_p, r.proto, r.ipver,
				 (uint16_t)z);
		ft->has_key = true;
		/* conn.log cuts ts to the microsecond: the first packet is
		 * up to 999 ns after it.  The flow holds every packet of its
		 * key up to the next flow of the key; without one, up to
		 * its inactivity timeout after its last extending packet
		 * (which ts + duration is, to 1998 ns). */
		ft->first_ns = r.ts_ns / 1000 * 1000;
		ft->last_ns = ft->first_ns + r.duration_ns / 1000 * 1000 +
			      1998 + timeout_of(cfg, r.proto);
		if (lk.next_ns && lk.next_ns / 1000 * 1000 <= ft->last_ns)
			ft->last_ns = lk.next_ns / 1000 * 1000 - 1;
		if (*since < ft->first_ns)
			*since = ft->first_ns;
		if (*until > ft->last_ns)
			*until = ft->last_ns;
		/* Index terms: the flow's hosts, ports and protocol. */
		struct tp_expr_term t = {.kind = TP_EXPR_HOST};
		t.addr = r.orig_h;
		add_term(e, &t);
		t.addr = r.resp_h;
		add_term(e, &t);
		if (r.proto == 6 || r.proto == 17 || r.proto == 132) {
			t = (struct tp_expr_term){.kind = TP_EXPR_PORT,
						  .val = r.orig_p};
			add_term(e, &t);
			t.val = r.resp_p;
			add_term(e, &t);
		}
		t = (struct tp_expr_term){.kind = TP_EXPR_PROTO, .val = r.proto};
		add_term(e, &t);
	}
	if (ft->has_zone || ft->has_key) {
		ft->sessions = tp_sessions_new(cfg, QUERY_SESSIONS);
		if (!ft->sessions) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

bool tp_flow_terms_any(const struct tp_flow_terms *ft)
{
	return ft->has_zone || ft->has_key || ft->has_cid;
}

/* The frame's ports as its flow key has them; false when it has none that
 * a flow can be made of (no IP packet; a transport header missing). */
static bool frame_ports(const struct tp_pkt *p, uint16_t *sport,
			uint16_t *dport)
{
	if (!p->ipver || (is_transport(p->proto) && !p->l4))
		return false;
	*sport = p->sport;
	*dport = p->dport;
	if (p->proto == 1 || p->proto == 58) {
		bool one_way;
		tp_icmp_ports(p->ipver, (uint8_t)p->sport, (uint8_t)p->dport,
			      sport, dport, &one_way);
	} else if (!is_transport(p->proto)) {
		*sport = *dport = 0;
	}
	return true;
}

bool tp_flow_terms_match(const struct tp_flow_terms *ft,
			 const struct tp_pkt *p)
{
	uint16_t sport, dport;

	if (!frame_ports(p, &sport, &dport))
		return false;
	uint16_t zone = 0;
	if (ft->sessions) {
		uint32_t sid = tp_session_of(ft->sessions, p);
		zone = tp_session_get(ft->sessions, sid)->zone;
		if (ft->has_zone && zone != ft->zone)
			return false;
	}
	if (ft->has_key) {
		struct tp_flow_key k;
		uint8_t side;
		if (p->ts_ns < ft->first_ns || p->ts_ns > ft->last_ns)
			return false;
		tp_flow_key_make(&k, &side, &p->src, sport, &p->dst, dport,
				 p->proto, p->ipver, zone);
		if (memcmp(&k, &ft->key, sizeof(k)))
			return false;
	}
	if (ft->has_cid) {
		/* Both directions: a one-way ICMP message keeps its
		 * direction in the ID, and conn.log's is its originator's. */
		char cid[64];
		tp_community_id(p->ipver, &p->src, &p->dst, sport, dport,
				p->proto, 0, cid);
		if (strcmp(cid, ft->cid)) {
			tp_community_id(p->ipver, &p->dst, &p->src, dport,
					sport, p->proto, 0, cid);
			if (strcmp(cid, ft->cid))
				return false;
		}
	}
	return true;
}

/* Has stream s the ends of k, k's end o first?  Ports only where the
 * index knows them. */
static bool same_ends(const struct tp_idx_stream *s,
		      const struct tp_flow_key *k, int o)
{
	if (memcmp(&s->a[0], &k->a[o], sizeof(s->a[0])) ||
	    memcmp(&s->a[1], &k->a[!o], sizeof(s->a[1])))
		return false;
	return !(s->flags & TP_IDX_S_PORTS) ||
	       (s->port[0] == k->port[o] && s->port[1] == k->port[!o]);
}

bool tp_flow_terms_stream(const struct tp_flow_terms *ft,
			  const struct tp_idx_stream *s)
{
	if (!ft->has_zone && !ft->has_key && !ft->has_cid)
		return true;
	/* A frame without an inner IP packet matches no flow term. */
	if (!(s->flags & TP_IDX_S_FLOW))
		return false;
	/* The stream's zone is the writer's; the frame check uses the
	 * query's zone rules, so the zone is not narrowed here. */
	if (ft->has_key) {
		const struct tp_flow_key *k = &ft->key;
		if (s->proto != k->proto || s->ipver != k->ipver)
			return false;
		if (!same_ends(s, k, 0) && !same_ends(s, k, 1))
			return false;
	}
	/* The index keeps a hash of the stream's Community ID in its
	 * canonical order; a one-way ICMP message's ID depends on its
	 * direction, so ICMP streams stay candidates. */
	if (ft->has_cid && (s->flags & TP_IDX_S_PORTS) && s->proto != 1 &&
	    s->proto != 58 && s->cid != tp_index_cid_key(ft->cid))
		return false;
	return true;
}

void tp_flow_terms_fini(struct tp_flow_terms *ft)
{
	tp_sessions_free(ft->sessions);
	ft->sessions = NULL;
}
