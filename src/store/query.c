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
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#include "decode/decode.h"
#include "decode/defrag.h"
#include "store/flow-terms.h"
#include "store/index.h"
#include "store/manifest.h"
#include "store/query-args.h"
#include "store/seg-read.h"
#include "store/store.h"
#include "util/log.h"
#include "store/le.h"
#include "util/mem.h"

/* Reads of the segments (store/seg-read.h): a candidate's record is
 * taken to fit in EST bytes until its header is read; candidates closer
 * than GAP are one range asked of the disk (fewer, larger requests), and
 * those closer than READ_GAP one pread (less copied from the page
 * cache), of at most READ_MAX bytes. */
#define EST 2048u
#define GAP (32u << 10)
#define READ_GAP 4096u
#define READ_MAX (256u << 10)
/* What the first read of an index takes (store/index.c). */
#define IDX_AHEAD (1u << 20)
/* The matches' bytes kept from the search for the output, at most. */
#define KEEP_MAX (128u << 20)

struct match {
	uint64_t ts_ns;
	uint32_t seg;
	uint32_t len;            /* record header + bytes */
	uint64_t off;
	uint64_t kept;           /* its bytes in run.kept, or NOT_KEPT */
};

#define NOT_KEPT UINT64_MAX

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
	size_t wlen;             /* the window: buf holds wlen bytes of */
	uint64_t wstart;         /* segment wseg from offset wstart */
	uint32_t wseg;
	ZSTD_DCtx *dc;           /* zstd segments: their blocks, by number */
	uint8_t *zin;
	size_t nzin;
	struct tp_idx_block **blocks;
	uint32_t *nblocks;
	struct tp_seg_ahead ahead;
	bool keep;               /* keep the matches' bytes (output wanted) */
	uint8_t *kept;           /* up to KEEP_MAX of them, in match order */
	size_t nkept;
	struct tp_manifest man;
	bool have_manifest;
	char **names;            /* segment paths, by number */
	uint32_t *linktypes;
	size_t nnames;
};

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

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
	while ((de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (!tp_store_seg_base(de->d_name))
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
	r->blocks = calloc(r->nnames ? r->nnames : 1, sizeof(*r->blocks));
	r->nblocks = calloc(r->nnames ? r->nnames : 1, sizeof(*r->nblocks));
	return r->linktypes && r->blocks && r->nblocks ? 0 : -ENOMEM;
}

static bool host_in(const struct tp_idx_stream *s, const struct tp_addr *a)
{
	return !memcmp(&s->a[0], a, sizeof(*a)) ||
	       !memcmp(&s->a[1], a, sizeof(*a));
}

/* May a packet of stream s match the term?  (Direction is ignored: a
 * superset; BPF decides.) */
static bool term_allows(const struct tp_idx_stream *s,
			const struct tp_expr_term *t)
{
	if (!(s->flags & TP_IDX_S_FLOW))
		return false;
	switch (t->kind) {
	case TP_EXPR_HOST:
		return host_in(s, &t->addr);
	case TP_EXPR_PORT:
		return !(s->flags & TP_IDX_S_PORTS) || s->port[0] == t->val ||
		       s->port[1] == t->val;
	case TP_EXPR_PROTO:
		return s->proto == t->val;
	}
	return true;
}

/* The session number of the query's session name in this index, or -1
 * when the segment has no such session. */
static int64_t session_no(const struct tp_index *ix, const char *name)
{
	for (uint32_t s = 0; s < ix->nsess; s++)
		if (!strcmp(ix->sess[s].name, name))
			return ix->sess[s].no;
	return -1;
}

/* Candidate record offsets of the segment, ascending, into *out (*n):
 * the streams that may match, their offset lists read (tp_index_fetch),
 * merged.  0, -ENOMEM, or -EINVAL for a damaged list (err says why). */
static int candidates(const struct tp_query *q, struct tp_index *ix,
		      uint64_t **out, size_t *n, char *err, size_t errlen)
{
	const struct tp_expr *e = &q->expr;
	int64_t sess = e->has_session ? session_no(ix, e->session) : 0;
	size_t k = 0;
	uint32_t nsel = 0;
	*out = NULL;
	*n = 0;
	if (e->has_session && sess < 0)
		return 0;
	uint32_t *sel = malloc((size_t)(ix->nstreams ? ix->nstreams : 1) *
			       sizeof(*sel));
	if (!sel)
		return -ENOMEM;
	for (uint32_t i = 0; i < ix->nstreams; i++) {
		const struct tp_idx_stream *s = &ix->streams[i];
		bool ok = true;
		if (e->conjunction)
			for (unsigned t = 0; ok && t < e->nterms; t++)
				ok = term_allows(s, &e->terms[t]);
		if (ok && e->has_vni)
			ok = (s->flags & TP_IDX_S_VNI) && s->vni == e->vni;
		if (ok && e->has_session)
			ok = s->session == (uint64_t)sess;
		/* Flow terms (store/flow-terms.c) narrow by the stream. */
		if (ok && q->flow)
			ok = tp_flow_terms_stream(q->flow, s);
		if (!ok)
			continue;
		sel[nsel++] = i;
		k += s->npkts;
	}
	int rc = tp_index_fetch(ix, sel, nsel, err, errlen);
	uint64_t *v = rc < 0 ? NULL : malloc((k ? k : 1) * sizeof(*v));
	if (rc < 0 || !v) {
		free(sel);
		return rc < 0 ? rc : -ENOMEM;
	}
	k = 0;
	for (uint32_t i = 0; i < nsel; i++) {
		tp_index_stream_offs(ix, sel[i], v + k);
		k += ix->streams[sel[i]].npkts;
	}
	free(sel);
	if (k)
		qsort(v, k, sizeof(*v), cmp_u64);
	*out = v;
	*n = k;
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

static int grow_buf(uint8_t **b, size_t *cap, size_t n)
{
	if (n <= *cap)
		return 0;
	uint8_t *q = realloc(*b, n);
	if (!q)
		return -ENOMEM;
	*b = q;
	*cap = n;
	return 0;
}

/* The block of a zstd segment holding off: its number. */
static uint32_t block_of(const struct tp_idx_block *b, uint32_t nb,
			 uint64_t off)
{
	uint32_t lo = 0, hi = nb - 1;
	while (lo + 1 < hi) {    /* b[lo].raw <= off < b[hi].raw */
		uint32_t mid = lo + (hi - lo) / 2;
		if (b[mid].raw <= off)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The window of a zstd segment: the block holding off, decompressed. */
static int zwindow(struct run *r, int fd, uint32_t seg, uint64_t off,
		   size_t need)
{
	const struct tp_idx_block *b = r->blocks[seg];
	if (off >= b[r->nblocks[seg] - 1].raw)
		return -EIO;
	uint32_t lo = block_of(b, r->nblocks[seg], off);
	size_t zl = (size_t)(b[lo + 1].zoff - b[lo].zoff);
	size_t rl = (size_t)(b[lo + 1].raw - b[lo].raw);
	if (zl > (64u << 20) || rl > (64u << 20))
		return -EIO;
	if (!r->dc && !(r->dc = ZSTD_createDCtx()))
		return -ENOMEM;
	if (grow_buf(&r->zin, &r->nzin, zl) < 0 ||
	    grow_buf(&r->buf, &r->nbuf, rl) < 0)
		return -ENOMEM;
	r->wseg = UINT32_MAX;
	if (pread(fd, r->zin, zl, (off_t)b[lo].zoff) != (ssize_t)zl)
		return -EIO;
	size_t got = ZSTD_decompressDCtx(r->dc, r->buf, rl, r->zin, zl);
	if (ZSTD_isError(got) || got != rl)
		return -EIO;
	r->wseg = seg;
	r->wstart = b[lo].raw;
	r->wlen = rl;
	return off + need <= r->wstart + r->wlen ? 0 : -EIO;
}

/* Make bytes [off, off + need) of segment seg readable in the window,
 * reading on to `upto` (where a later candidate's EST bytes end). */
static int window(struct run *r, int fd, uint32_t seg, uint64_t off,
		  size_t need, uint64_t upto)
{
	if (r->wseg == seg && off >= r->wstart &&
	    off + need <= r->wstart + r->wlen)
		return 0;
	if (r->nblocks[seg])
		return zwindow(r, fd, seg, off, need);
	size_t len = upto > off ? (size_t)(upto - off) : EST;
	if (len < need)
		len = need;
	if (grow_buf(&r->buf, &r->nbuf, len) < 0)
		return -ENOMEM;
	ssize_t n = pread(fd, r->buf, len, (off_t)off);
	if (n < 0 || (size_t)n < need) {
		r->wseg = UINT32_MAX;
		return -EIO;
	}
	r->wseg = seg;
	r->wstart = off;
	r->wlen = (size_t)n;
	return 0;
}

/* The record at off (its 16-byte header, then caplen bytes) in *rec,
 * valid until the next call; upto as for window. */
static int read_rec(struct run *r, int fd, uint32_t seg, uint64_t off,
		    uint64_t upto, const uint8_t **rec, uint32_t *caplen)
{
	int rc = window(r, fd, seg, off, 16, upto);
	if (rc < 0)
		return rc;
	uint32_t n = tp_le_get32(r->buf + (off - r->wstart) + 8);
	if (n > (64u << 20))
		return -EIO;
	if ((rc = window(r, fd, seg, off, 16 + (size_t)n, upto)) < 0)
		return rc;
	*rec = r->buf + (off - r->wstart);
	*caplen = n;
	return 0;
}

/* Plan the reads of a segment's candidates (store/seg-read.h): the
 * ranges of a pcap segment's records, or the frames of a zstd segment's
 * blocks that hold them, asked ahead of the reads; the kernel's own
 * read-ahead, which guesses, is turned off.  *pos gets, per candidate
 * of a zstd segment, the file offset of its frame.  0 or -ENOMEM. */
static int plan_reads(struct run *r, int fd, uint32_t seg,
		      const uint64_t *offs, size_t n, uint64_t **pos)
{
	struct stat st;
	*pos = NULL;
	r->ahead.n = r->ahead.cur = r->ahead.next = 0;
	if (fstat(fd, &st) < 0 || st.st_size <= 0)
		return 0;
	posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	if (!r->nblocks[seg]) {
		/* Without a plan (ENOMEM) the reads still work, unhelped. */
		tp_seg_ahead_plan(&r->ahead, fd, offs, NULL, n, EST, GAP,
				  (uint64_t)st.st_size);
		return 0;
	}
	const struct tp_idx_block *b = r->blocks[seg];
	uint32_t nb = r->nblocks[seg];
	uint64_t *p = malloc((n ? n : 1) * sizeof(*p));
	uint64_t *at = malloc((n ? n : 1) * sizeof(*at));
	uint64_t *len = malloc((n ? n : 1) * sizeof(*len));
	size_t k = 0;
	if (!p || !at || !len) {
		free(p);
		free(at);
		free(len);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		uint32_t bl = offs[i] < b[nb - 1].raw ? block_of(b, nb, offs[i])
						       : nb - 2;
		p[i] = b[bl].zoff;
		if (k && at[k - 1] == b[bl].zoff)
			continue;
		at[k] = b[bl].zoff;
		len[k++] = b[bl + 1].zoff - b[bl].zoff;
	}
	tp_seg_ahead_plan(&r->ahead, fd, at, len, k, 0, GAP,
			  (uint64_t)st.st_size);
	free(at);
	free(len);
	*pos = p;
	return 0;
}

/* A match, its bytes rec kept for the output while KEEP_MAX allows (the
 * rest are read again then). */
static int add_match(struct run *r, uint64_t ts, uint32_t seg, uint64_t off,
		     const uint8_t *rec, uint32_t len)
{
	if (r->nm == r->capm) {
		size_t nc = r->capm ? r->capm * 2 : 1024;
		struct match *m = realloc(r->m, nc * sizeof(*m));
		if (!m)
			return -ENOMEM;
		r->m = m;
		r->capm = nc;
	}
	uint64_t kept = NOT_KEPT;
	if (r->keep && !r->kept) {
		/* Reserved once, filled in 2 MiB pages: a page fault per
		 * 4 KiB costs more than the copy (much more in a VM). */
		void *k = mmap(NULL, KEEP_MAX, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			       -1, 0);
		r->keep = k != MAP_FAILED;
		if (r->keep) {
			madvise(k, KEEP_MAX, MADV_HUGEPAGE);
			r->kept = k;
		}
	}
	if (r->keep && r->nkept + len <= KEEP_MAX) {
		memcpy(r->kept + r->nkept, rec, len);
		kept = r->nkept;
		r->nkept += len;
	}
	r->m[r->nm++] = (struct match){ts, seg, len, off, kept};
	return 0;
}

/* May the segment hold a match, by its manifest entry?  Each index term
 * of a conjunction, the VNI and the session must be in its filter. */
static bool entry_allows(const struct tp_query *q,
			 const struct tp_manifest_entry *me)
{
	const struct tp_expr *e = &q->expr;
	const struct tp_bloom *bf = &me->bloom;
	if (me->npkts == 0 || me->last_ns < q->since_ns ||
	    me->first_ns > q->until_ns)
		return false;
	if (e->has_vni && !tp_bloom_maybe(bf, tp_bloom_key_vni(e->vni)))
		return false;
	if (e->has_session &&
	    !tp_bloom_maybe(bf, tp_bloom_key_session(e->session)))
		return false;
	if (!e->conjunction)
		return true;
	for (unsigned t = 0; t < e->nterms; t++) {
		const struct tp_expr_term *tm = &e->terms[t];
		if (tm->kind == TP_EXPR_HOST &&
		    !tp_bloom_maybe(bf, tp_bloom_key_addr(&tm->addr)))
			return false;
		if (tm->kind == TP_EXPR_PORT &&
		    !tp_bloom_maybe(bf, tp_bloom_key_port(tm->val)) &&
		    !tp_bloom_maybe(bf, tp_bloom_key_port(TP_BLOOM_ANY_PORT)))
			return false;
	}
	return true;
}

/* The index path of segment seg into ipath. */
static void index_path(const struct run *r, uint32_t seg, char *ipath,
		       size_t n)
{
	const char *path = r->names[seg];
	const char *base = strrchr(path, '/');
	size_t len = (size_t)(base + 1 - path) + tp_store_seg_base(base + 1);
	snprintf(ipath, n, "%.*s" TP_STORE_IDX_SUFFIX, (int)len, path);
}

/* Ask the disk for the first part of every index the query will open
 * (header and table), all at once rather than one after the other. */
static void prefetch_indexes(const struct run *r)
{
	char ipath[4400];
	for (uint32_t seg = 0; seg < r->nnames; seg++) {
		const char *base = strrchr(r->names[seg], '/') + 1;
		const struct tp_manifest_entry *me =
			r->have_manifest ? tp_manifest_find(&r->man, base)
					 : NULL;
		if (me && !entry_allows(r->q, me))
			continue;
		index_path(r, seg, ipath, sizeof(ipath));
		int fd = open(ipath, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		posix_fadvise(fd, 0, IDX_AHEAD, POSIX_FADV_WILLNEED);
		close(fd);
	}
}

static int search_segment(struct run *r, uint32_t seg)
{
	const struct tp_query *q = r->q;
	char ipath[4400], err[512];
	struct tp_index ix;
	const char *path = r->names[seg];
	const char *base = strrchr(path, '/');

	const struct tp_manifest_entry *me =
		r->have_manifest ? tp_manifest_find(&r->man, base + 1) : NULL;
	if (me) {
		r->linktypes[seg] = me->linktype;
		if (!entry_allows(q, me)) {
			r->res->skipped++;
			return 0;
		}
	}
	index_path(r, seg, ipath, sizeof(ipath));
	int rc = tp_index_open(&ix, ipath, err, sizeof(err));
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
	if (ix.nblocks) {
		/* Kept for reading the matches out. */
		r->blocks[seg] = ix.blocks;
		r->nblocks[seg] = ix.nblocks;
		ix.blocks = NULL;
		ix.nblocks = 0;
	}
	if (ix.npkts == 0 || ix.last_ns < q->since_ns ||
	    ix.first_ns > q->until_ns) {
		tp_index_free(&ix);
		return 0;
	}
	r->res->segments_read++;
	uint64_t *offs = NULL, *pos = NULL;
	size_t noffs = 0;
	int fd = -1;
	if ((rc = candidates(q, &ix, &offs, &noffs, err, sizeof(err))) < 0) {
		if (rc == -ENOMEM)
			goto out;
		r->res->damaged++;
		tp_log_warn("%s: %s; segment skipped", ipath, err);
		rc = 0;
		goto out;
	}
	if (!noffs)
		goto out;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		r->res->damaged++;
		tp_log_warn("%s: %s; segment skipped", path, strerror(errno));
		goto out;
	}
	if ((rc = plan_reads(r, fd, seg, offs, noffs, &pos)) < 0)
		goto out;
	for (size_t i = 0, j = 0; i < noffs; i++) {
		uint64_t off = offs[i];
		const uint8_t *h;
		uint32_t caplen;
		/* The candidates that one read takes with this one. */
		if (j < i)
			j = i;
		while (j + 1 < noffs && offs[j + 1] - offs[j] < READ_GAP &&
		       offs[j + 1] + EST - off <= READ_MAX)
			j++;
		r->res->candidates++;
		tp_seg_ahead_to(&r->ahead, pos ? pos[i] : off);
		if (read_rec(r, fd, seg, off, offs[j] + EST, &h, &caplen) < 0) {
			r->res->damaged++;
			tp_log_warn("%s: record at offset %llu unreadable; "
				    "rest of the segment skipped", path,
				    (unsigned long long)off);
			break;
		}
		uint64_t ts = (uint64_t)tp_le_get32(h) * 1000000000ull + tp_le_get32(h + 4);
		if (ts < q->since_ns || ts > q->until_ns)
			continue;
		struct tp_pkt *p = r->pkt;
		memset(p, 0, sizeof(*p));
		p->data = h + 16;
		p->caplen = caplen;
		p->wirelen = tp_le_get32(h + 12);
		p->ts_ns = ts;
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
		if (q->flow && !tp_flow_terms_match(q->flow, p))
			continue;
		r->res->matched++;
		if ((rc = add_match(r, ts, seg, off, h, caplen + 16)) < 0)
			goto out;
	}
out:
	r->ahead.n = r->ahead.cur = r->ahead.next = 0;
	if (fd >= 0)
		close(fd);
	free(offs);
	free(pos);
	tp_index_free(&ix);
	return rc;
}

/* Matches within --limit: packets, and bytes of the pcap (24 header). */
static size_t within_limits(const struct run *r)
{
	size_t n = r->nm;
	if (r->q->limit && n > r->q->limit)
		n = (size_t)r->q->limit;
	if (r->q->limit_bytes) {
		uint64_t b = 24;
		for (size_t i = 0; i < n; i++) {
			if (b + r->m[i].len > r->q->limit_bytes)
				return i;
			b += r->m[i].len;
		}
	}
	return n;
}

static int write_out(struct run *r, FILE *out, char *err, size_t errlen)
{
	size_t n = within_limits(r);
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
	tp_le_put32(h, 0xa1b23c4d);
	h[4] = 2, h[5] = 0, h[6] = 4, h[7] = 0;
	tp_le_put32(h + 8, 0);
	tp_le_put32(h + 12, 0);
	tp_le_put32(h + 16, 262144);
	tp_le_put32(h + 20, lt);
	if (fwrite(h, 1, sizeof(h), out) != sizeof(h))
		goto werr;
	int fd = -1;
	uint32_t cur = UINT32_MAX;
	for (size_t i = 0; i < n; i++) {
		const struct match *m = &r->m[i];
		if (m->kept != NOT_KEPT) {
			if (fwrite(r->kept + m->kept, 1, m->len, out) != m->len) {
				if (fd >= 0)
					close(fd);
				goto werr;
			}
			r->res->written++;
			continue;
		}
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
		const uint8_t *rh;
		uint32_t caplen;
		if (read_rec(r, fd, m->seg, m->off, m->off + m->len, &rh,
			     &caplen) < 0) {
			if (fd >= 0)
				close(fd);
			snprintf(err, errlen, "%s: record at %llu unreadable",
				 r->names[m->seg], (unsigned long long)m->off);
			return -EIO;
		}
		if (fwrite(rh, 1, 16 + (size_t)caplen, out) != 16 + (size_t)caplen) {
			if (fd >= 0)
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
		if ((rc = tp_query_compile(q->expr.bpf, &r.prog, err,
					   errlen)) < 0)
			return rc;
		r.has_prog = true;
	}
	if (q->decode)
		r.dcfg = *q->decode;
	else
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
	char merr[512];
	r.wseg = UINT32_MAX;
	int mrc = tp_manifest_load(q->dir, &r.man, merr, sizeof(merr));
	r.have_manifest = mrc == 0;
	if (mrc < 0 && mrc != -ENOENT)
		tp_log_warn("%s; every segment's index is read", merr);
	res->segments = r.nnames;
	r.keep = out != NULL;
	prefetch_indexes(&r);
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
		res->written = within_limits(&r);
out:
	if (r.has_prog)
		pcap_freecode(&r.prog);
	tp_dec_fini(&r.dec);
	tp_free(r.pkt, sizeof(*r.pkt));
	for (size_t i = 0; i < r.nnames; i++)
		free(r.names[i]);
	free(r.names);
	free(r.linktypes);
	tp_manifest_free(&r.man);
	for (size_t i = 0; r.blocks && i < r.nnames; i++)
		tp_free(r.blocks[i], (size_t)r.nblocks[i] * sizeof(**r.blocks));
	tp_seg_ahead_free(&r.ahead);
	if (r.kept)
		munmap(r.kept, KEEP_MAX);
	free(r.blocks);
	free(r.nblocks);
	free(r.zin);
	ZSTD_freeDCtx(r.dc);
	free(r.buf);
	free(r.m);
	return rc;
}
