/* The store's search: see query.h.  Candidates come from the postings of
 * the expression's index terms (intersected: the expression is a
 * conjunction, so each term's postings hold every packet that can match),
 * or are every packet of the segment; each is then read, decoded with a
 * decoder that does not reassemble (a stored frame is matched as it is,
 * as tcpdump would), and matched: BPF on the inner IP packet, compiled
 * for DLT_RAW (libpcap's raw IP, LINKTYPE_RAW in files; the version
 * nibble picks IPv4 or IPv6), then the VNI and session. */
#include "store/query.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "decode/decode.h"
#include "decode/defrag.h"
#include "store/index.h"
#include "store/store.h"
#include "util/log.h"
#include "util/mem.h"

struct match {
	uint64_t ts_ns;
	uint32_t seg;
	uint32_t len;            /* record header + bytes */
	uint64_t off;
};

struct run {
	const struct tp_query *q;
	struct tp_query_result *res;
	struct bpf_program prog;
	bool has_prog;
	struct tp_dec dec;
	struct tp_decode_cfg dcfg;
	struct tp_pkt *pkt;
	uint8_t *buf;
	size_t nbuf;
	struct match *m;
	size_t nm, capm;
	char **names;            /* segment paths, by number */
	uint32_t *linktypes;
	size_t nnames;
};

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_match(const void *a, const void *b)
{
	const struct match *x = a, *y = b;
	if (x->ts_ns != y->ts_ns)
		return x->ts_ns < y->ts_ns ? -1 : 1;
	if (x->seg != y->seg)
		return x->seg < y->seg ? -1 : 1;
	return x->off < y->off ? -1 : x->off > y->off;
}

static uint32_t rd32(const uint8_t *q)
{
	return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
	       (uint32_t)q[3] << 24;
}

/* Segment files of the store, sorted by name (first packet time). */
static int list_segments(struct run *r, char *err, size_t errlen)
{
	DIR *d = opendir(r->q->dir);
	if (!d) {
		snprintf(err, errlen, "cannot open the store %s: %s",
			 r->q->dir, strerror(errno));
		return -errno;
	}
	size_t cap = 0;
	struct dirent *de;
	size_t pl = strlen(TP_STORE_SEG_PREFIX), sl = strlen(TP_STORE_SEG_SUFFIX);
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n <= pl + sl || strncmp(de->d_name, TP_STORE_SEG_PREFIX, pl) ||
		    strcmp(de->d_name + n - sl, TP_STORE_SEG_SUFFIX))
			continue;
		if (r->nnames == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **v = realloc(r->names, nc * sizeof(*v));
			if (!v)
				break;
			r->names = v;
			cap = nc;
		}
		size_t plen = strlen(r->q->dir) + n + 2;
		char *p = malloc(plen);
		if (!p)
			break;
		snprintf(p, plen, "%s/%s", r->q->dir, de->d_name);
		r->names[r->nnames++] = p;
	}
	closedir(d);
	if (r->nnames)
		qsort(r->names, r->nnames, sizeof(*r->names), cmp_name);
	r->linktypes = calloc(r->nnames ? r->nnames : 1, sizeof(uint32_t));
	return r->linktypes ? 0 : -ENOMEM;
}

/* Bitmaps of candidates.  flows: NULL when no flow term narrows. */
static void mark_flows(uint8_t *fl, const uint8_t *prev, uint32_t f)
{
	if (!prev || prev[f])
		fl[f] = 1;
}

static int post_lo(const struct tp_idx_post *p, uint32_t n, uint32_t key)
{
	uint32_t lo = 0, hi = n;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (p[mid].key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (int)lo;
}

/* Flows the term allows, intersected with prev (NULL: all).  New bitmap
 * of nflows bytes, or NULL on ENOMEM. */
static uint8_t *term_flows(const struct tp_index *ix,
			   const struct tp_expr_term *t, const uint8_t *prev)
{
	uint8_t *fl = calloc(ix->nflows ? ix->nflows : 1, 1);
	if (!fl)
		return NULL;
	if (t->kind == TP_EXPR_HOST) {
		uint32_t lo = 0, hi = ix->nip;
		while (lo < hi) {
			uint32_t mid = lo + (hi - lo) / 2;
			if (memcmp(&ix->ip[mid].addr, &t->addr, 16) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		for (; lo < ix->nip && !memcmp(&ix->ip[lo].addr, &t->addr, 16);
		     lo++)
			mark_flows(fl, prev, ix->ip[lo].flow);
	} else {
		const struct tp_idx_post *p =
			t->kind == TP_EXPR_PORT ? ix->port : ix->proto;
		uint32_t n = t->kind == TP_EXPR_PORT ? ix->nport : ix->nproto;
		for (uint32_t i = (uint32_t)post_lo(p, n, t->val);
		     i < n && p[i].key == t->val; i++)
			mark_flows(fl, prev, p[i].id);
		if (t->kind == TP_EXPR_PORT)
			for (uint32_t i = (uint32_t)post_lo(p, n, TP_IDX_ANY_PORT);
			     i < n && p[i].key == TP_IDX_ANY_PORT; i++)
				mark_flows(fl, prev, p[i].id);
	}
	return fl;
}

/* Per packet: may it match?  Fills pk (npkts bytes). */
static int candidates(const struct tp_query *q, const struct tp_index *ix,
		      uint8_t *pk, int32_t *sess_of)
{
	const struct tp_expr *e = &q->expr;
	uint8_t *fl = NULL;

	for (uint32_t i = 0; i < ix->npkts; i++)
		sess_of[i] = -1;
	for (uint32_t i = 0; i < ix->nsesspost; i++)
		sess_of[ix->sesspost[i].id] = (int32_t)ix->sesspost[i].key;

	if (e->conjunction)
		for (unsigned t = 0; t < e->nterms; t++) {
			uint8_t *n = term_flows(ix, &e->terms[t], fl);
			free(fl);
			if (!(fl = n))
				return -ENOMEM;
		}
	if (fl) {
		memset(pk, 0, ix->npkts);
		for (uint32_t f = 0; f < ix->nflows; f++)
			if (fl[f])
				for (uint32_t k = 0; k < ix->flows[f].npkts; k++)
					pk[ix->flow_pkts[ix->flows[f].first + k]] = 1;
		free(fl);
	} else {
		memset(pk, 1, ix->npkts);
	}
	if (e->has_vni) {
		uint8_t *v = calloc(ix->npkts ? ix->npkts : 1, 1);
		if (!v)
			return -ENOMEM;
		for (uint32_t i = (uint32_t)post_lo(ix->vni, ix->nvni, e->vni);
		     i < ix->nvni && ix->vni[i].key == e->vni; i++)
			v[ix->vni[i].id] = 1;
		for (uint32_t i = 0; i < ix->npkts; i++)
			pk[i] &= v[i];
		free(v);
	}
	if (e->has_session) {
		int32_t no = -2;
		for (uint32_t s = 0; s < ix->nsess; s++)
			if (!strcmp(ix->sess[s].name, e->session))
				no = (int32_t)ix->sess[s].no;
		for (uint32_t i = 0; i < ix->npkts; i++)
			if (sess_of[i] != no)
				pk[i] = 0;
	}
	return 0;
}

static bool vni_matches(const struct tp_pkt *p, uint32_t vni)
{
	for (int t = (int)p->ntun - 1; t >= 0; t--) {
		const struct tp_tunnel *tn = &p->tun[t];
		if (tn->has_id && (tn->encap == TP_ENCAP_VXLAN ||
				   tn->encap == TP_ENCAP_GENEVE))
			return tn->id == vni;
	}
	return false;
}

static int read_rec(struct run *r, int fd, uint64_t off, uint8_t *h,
		    uint32_t *caplen)
{
	if (pread(fd, h, 16, (off_t)off) != 16)
		return -EIO;
	uint32_t n = rd32(h + 8);
	if (n > (64u << 20))
		return -EIO;
	if (n > r->nbuf) {
		uint8_t *b = realloc(r->buf, n);
		if (!b)
			return -ENOMEM;
		r->buf = b;
		r->nbuf = n;
	}
	if (n && pread(fd, r->buf, n, (off_t)(off + 16)) != (ssize_t)n)
		return -EIO;
	*caplen = n;
	return 0;
}

static int add_match(struct run *r, uint64_t ts, uint32_t seg, uint64_t off,
		     uint32_t len)
{
	if (r->nm == r->capm) {
		size_t nc = r->capm ? r->capm * 2 : 1024;
		struct match *m = realloc(r->m, nc * sizeof(*m));
		if (!m)
			return -ENOMEM;
		r->m = m;
		r->capm = nc;
	}
	r->m[r->nm++] = (struct match){ts, seg, len, off};
	return 0;
}

static int search_segment(struct run *r, uint32_t seg)
{
	const struct tp_query *q = r->q;
	char ipath[4400], err[512];
	struct tp_index ix;
	const char *path = r->names[seg];
	size_t n = strlen(path) - strlen(TP_STORE_SEG_SUFFIX);

	snprintf(ipath, sizeof(ipath), "%.*s" TP_STORE_IDX_SUFFIX, (int)n, path);
	int rc = tp_index_load(&ix, ipath, err, sizeof(err));
	if (rc == -ENOENT) {
		r->res->unindexed++;
		tp_log_warn("%s has no index yet; skipped", path);
		return 0;
	}
	if (rc < 0) {
		r->res->damaged++;
		tp_log_warn("%s; segment skipped", err);
		return 0;
	}
	r->linktypes[seg] = ix.linktype;
	if (ix.npkts == 0 || ix.last_ns < q->since_ns ||
	    ix.first_ns > q->until_ns) {
		tp_index_free(&ix);
		return 0;
	}
	r->res->segments_read++;
	uint8_t *pk = malloc(ix.npkts);
	int32_t *sess_of = malloc((size_t)ix.npkts * sizeof(*sess_of));
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	rc = 0;
	if (!pk || !sess_of) {
		rc = -ENOMEM;
		goto out;
	}
	if (fd < 0) {
		r->res->damaged++;
		tp_log_warn("%s: %s; segment skipped", path, strerror(errno));
		goto out;
	}
	if ((rc = candidates(q, &ix, pk, sess_of)) < 0)
		goto out;
	for (uint32_t i = 0; i < ix.npkts; i++) {
		const struct tp_idx_pkt *ip = &ix.pkts[i];
		if (!pk[i] || ip->ts_ns < q->since_ns || ip->ts_ns > q->until_ns)
			continue;
		uint8_t h[16];
		uint32_t caplen;
		r->res->candidates++;
		if (read_rec(r, fd, ip->off, h, &caplen) < 0) {
			r->res->damaged++;
			tp_log_warn("%s: record at offset %llu unreadable; "
				    "rest of the segment skipped", path,
				    (unsigned long long)ip->off);
			break;
		}
		struct tp_pkt *p = r->pkt;
		memset(p, 0, sizeof(*p));
		p->data = r->buf;
		p->caplen = caplen;
		p->wirelen = rd32(h + 12);
		p->ts_ns = ip->ts_ns;
		p->linktype = ix.linktype;
		tp_decode(&r->dec, p);
		if (q->expr.has_vni && !vni_matches(p, q->expr.vni))
			continue;
		if (r->has_prog) {
			if (!p->ipver || !p->ip || !p->ip_cap)
				continue;
			struct pcap_pkthdr ph = {
				.caplen = p->ip_cap,
				.len = p->ip_len > p->ip_cap ? p->ip_len
							      : p->ip_cap,
			};
			if (!pcap_offline_filter(&r->prog, &ph, p->ip))
				continue;
		}
		r->res->matched++;
		if ((rc = add_match(r, ip->ts_ns, seg, ip->off, caplen + 16)) < 0)
			goto out;
	}
out:
	if (fd >= 0)
		close(fd);
	free(pk);
	free(sess_of);
	tp_index_free(&ix);
	return rc;
}

static void put32(uint8_t *q, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		q[i] = (uint8_t)(v >> (8 * i));
}

static int write_out(struct run *r, FILE *out, char *err, size_t errlen)
{
	size_t n = r->nm;
	if (r->q->limit && n > r->q->limit)
		n = (size_t)r->q->limit;
	uint32_t lt = n ? r->linktypes[r->m[0].seg] : 1;
	for (size_t i = 0; i < n; i++)
		if (r->linktypes[r->m[i].seg] != lt) {
			snprintf(err, errlen, "the matches come from segments "
				 "of different link types (%u and %u), which "
				 "one pcap cannot hold; narrow the time range",
				 lt, r->linktypes[r->m[i].seg]);
			return -EXDEV;
		}
	uint8_t h[24];
	put32(h, 0xa1b23c4d);
	h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0;
	put32(h + 8, 0);
	put32(h + 12, 0);
	put32(h + 16, 262144);
	put32(h + 20, lt);
	if (fwrite(h, 1, sizeof(h), out) != sizeof(h))
		goto werr;
	int fd = -1;
	uint32_t cur = UINT32_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct match *m = &r->m[i];
		if (m->seg != cur) {
			if (fd >= 0)
				close(fd);
			cur = m->seg;
			fd = open(r->names[cur], O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				snprintf(err, errlen, "%s: %s", r->names[cur],
					 strerror(errno));
				return -EIO;
			}
		}
		uint8_t rh[16];
		uint32_t caplen;
		if (read_rec(r, fd, m->off, rh, &caplen) < 0) {
			close(fd);
			snprintf(err, errlen, "%s: record at %llu unreadable",
				 r->names[cur], (unsigned long long)m->off);
			return -EIO;
		}
		if (fwrite(rh, 1, 16, out) != 16 ||
		    fwrite(r->buf, 1, caplen, out) != caplen) {
			close(fd);
			goto werr;
		}
		r->res->written++;
	}
	if (fd >= 0)
		close(fd);
	if (fflush(out) != 0)
		goto werr;
	return 0;
werr:
	snprintf(err, errlen, "writing the output: %s", strerror(errno));
	return -EIO;
}

int tp_query_run(const struct tp_query *q, FILE *out,
		 struct tp_query_result *res, char *err, size_t errlen)
{
	struct run r = {.q = q, .res = res};
	int rc;

	memset(res, 0, sizeof(*res));
	if (q->expr.bpf[0]) {
		pcap_t *pd = pcap_open_dead(DLT_RAW, 262144);
		if (!pd) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		if (pcap_compile(pd, &r.prog, q->expr.bpf, 1,
				 PCAP_NETMASK_UNKNOWN) < 0) {
			snprintf(err, errlen, "the BPF part of the expression "
				 "is not valid: %s\n  BPF: %s", pcap_geterr(pd),
				 q->expr.bpf);
			pcap_close(pd);
			return -EINVAL;
		}
		pcap_close(pd);
		r.has_prog = true;
	}
	tp_decode_cfg_default(&r.dcfg);
	r.pkt = tp_calloc_aligned(64, sizeof(*r.pkt));
	if (!r.pkt || tp_dec_init(&r.dec, &r.dcfg) < 0) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	/* A stored frame is matched as it is: no reassembly across frames. */
	tp_defrag_free(r.dec.defrag);
	r.dec.defrag = NULL;

	if ((rc = list_segments(&r, err, errlen)) < 0)
		goto out;
	res->segments = r.nnames;
	for (uint32_t s = 0; s < r.nnames; s++)
		if ((rc = search_segment(&r, s)) < 0) {
			snprintf(err, errlen, "out of memory");
			goto out;
		}
	if (r.nm)
		qsort(r.m, r.nm, sizeof(*r.m), cmp_match);
	if (out)
		rc = write_out(&r, out, err, errlen);
	else
		res->written = q->limit && r.nm > q->limit ? q->limit : r.nm;
out:
	if (r.has_prog)
		pcap_freecode(&r.prog);
	tp_dec_fini(&r.dec);
	tp_free(r.pkt, sizeof(*r.pkt));
	for (size_t i = 0; i < r.nnames; i++)
		free(r.names[i]);
	free(r.names);
	free(r.linktypes);
	free(r.buf);
	free(r.m);
	return rc;
}
