/* Segment writer: one per front.  Frames go, as received, into a
 * nanosecond pcap file written under a hidden name and renamed when the
 * segment closes (size store.segment_size or age store.segment_age
 * reached, a new link type, or the end); the index is built alongside in
 * arrays that grow geometrically and are kept from one segment to the
 * next, so a warm writer allocates nothing per packet.  Record header:
 *
 *  +---------------+---------------+---------------+---------------+
 *  |                 timestamp seconds                             |
 *  |                 timestamp nanoseconds                         |
 *  |                 captured length                               |
 *  |                 original length                               |
 *  +---------------+---------------+---------------+---------------+
 *
 * A UDP listener's frame has no outer headers (the socket took them): an
 * IPv4 or IPv6 + UDP header is made from the addresses and ports the
 * source gave, and the segment's link type is LINKTYPE_RAW. */
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mirror/session.h"
#include "store/index.h"
#include "util/log.h"
#include "util/mem.h"

#define BUF_SIZE (1u << 20)
#define LINKTYPE_RAW 101
#define SNAPLEN 262144u

struct tp_store_writer {
	const struct tp_config *cfg;
	struct tp_sessions *sessions;
	unsigned front;
	unsigned seq;
	int fd;                  /* -1: no segment open */
	uint32_t linktype;
	char tmp[4352], final[4352];
	uint8_t *buf;            /* BUF_SIZE, preallocated */
	size_t nbuf;
	uint64_t off;            /* segment bytes so far, buffered included */
	uint64_t first_ns, last_ns;
	/* index being built */
	struct tp_idx_pkt *pkts;
	uint32_t *pvni;          /* per packet: VNI, valid where pflag & 1 */
	uint32_t *psess;
	uint8_t *pflag;
	uint32_t npkts, cap_pkts;
	struct tp_idx_flow *flows;
	uint32_t nflows, cap_flows;
	uint32_t *slots;         /* open addressing: flow number + 1 */
	uint32_t nslots;         /* power of two */
	uint64_t packets, errors;
	int first_err;
};

static void put32(uint8_t *q, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		q[i] = (uint8_t)(v >> (8 * i));
}

static void put16(uint8_t *q, uint16_t v)
{
	q[0] = (uint8_t)v;
	q[1] = (uint8_t)(v >> 8);
}

static void fail(struct tp_store_writer *w, int e, const char *what)
{
	if (!w->errors++)
		tp_log_error("store: %s %s: %s (further errors are counted)",
			     what, w->tmp, strerror(e));
	if (!w->first_err)
		w->first_err = -e;
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = write(fd, p, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static void flush_buf(struct tp_store_writer *w)
{
	if (w->nbuf && w->fd >= 0) {
		int r = write_all(w->fd, w->buf, w->nbuf);
		if (r < 0)
			fail(w, -r, "writing");
	}
	w->nbuf = 0;
}

static void emit(struct tp_store_writer *w, const void *p, size_t n)
{
	if (w->nbuf + n > BUF_SIZE)
		flush_buf(w);
	if (n > BUF_SIZE) {
		int r = write_all(w->fd, p, n);
		if (r < 0)
			fail(w, -r, "writing");
	} else {
		memcpy(w->buf + w->nbuf, p, n);
		w->nbuf += n;
	}
	w->off += n;
}

static int grow(void **p, uint32_t *cap, uint32_t need, size_t size)
{
	if (need <= *cap)
		return 0;
	uint32_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	void *q = tp_realloc(*p, (size_t)*cap * size, (size_t)n * size);
	if (!q)
		return -ENOMEM;
	memset((uint8_t *)q + (size_t)*cap * size, 0,
	       (size_t)(n - *cap) * size);
	*p = q;
	*cap = n;
	return 0;
}

/* Double the per-packet arrays together (amortised: a warm writer keeps
 * them from one segment to the next). */
static int grow_pkts(struct tp_store_writer *w)
{
	size_t o = w->cap_pkts, n = o ? o * 2 : 4096;
	if (n > UINT32_MAX)
		return -ENOMEM;
	void *a = tp_realloc(w->pkts, o * sizeof(*w->pkts), n * sizeof(*w->pkts));
	if (a)
		w->pkts = a;
	void *b = a ? tp_realloc(w->pvni, o * 4, n * 4) : NULL;
	if (b)
		w->pvni = b;
	void *c = b ? tp_realloc(w->psess, o * 4, n * 4) : NULL;
	if (c)
		w->psess = c;
	void *d = c ? tp_realloc(w->pflag, o, n) : NULL;
	if (d)
		w->pflag = d;
	if (!d) {
		/* Shrink back what grew, so that every array has cap_pkts
		 * elements (a shrinking realloc keeps the block when it
		 * fails). */
		void *t;
		if (c && (t = tp_realloc(w->psess, n * 4, o * 4)))
			w->psess = t;
		if (b && (t = tp_realloc(w->pvni, n * 4, o * 4)))
			w->pvni = t;
		if (a && (t = tp_realloc(w->pkts, n * sizeof(*w->pkts),
					 o * sizeof(*w->pkts))))
			w->pkts = t;
		return -ENOMEM;
	}
	w->cap_pkts = (uint32_t)n;
	return 0;
}

struct tp_store_writer *tp_store_writer_new(const struct tp_config *cfg,
					    unsigned front,
					    struct tp_sessions *sessions)
{
	if (mkdir(cfg->store_dir, 0755) < 0 && errno != EEXIST) {
		int e = errno;
		tp_log_error("store: cannot create %s: %s", cfg->store_dir,
			     strerror(e));
		errno = e;
		return NULL;
	}
	struct tp_store_writer *w = tp_calloc(1, sizeof(*w));
	if (!w)
		goto nomem;
	w->cfg = cfg;
	w->sessions = sessions;
	w->front = front;
	w->fd = -1;
	w->buf = tp_malloc(BUF_SIZE);
	w->nslots = 1u << 14;
	w->slots = tp_calloc(w->nslots, sizeof(*w->slots));
	if (!w->buf || !w->slots)
		goto nomem;
	return w;
nomem:
	tp_log_error("store: out of memory");
	tp_store_writer_free(w);
	errno = ENOMEM;
	return NULL;
}

static void open_segment(struct tp_store_writer *w, uint64_t ts_ns,
			 uint32_t linktype)
{
	const char *dir = w->cfg->store_dir;
	char base[128];
	snprintf(base, sizeof(base), TP_STORE_SEG_PREFIX "%020" PRIu64
		 "-f%u-%ld-%u", ts_ns, w->front, (long)getpid(), w->seq++);
	snprintf(w->tmp, sizeof(w->tmp), "%s/.%s" TP_STORE_SEG_SUFFIX ".tmp",
		 dir, base);
	snprintf(w->final, sizeof(w->final), "%s/%s", dir, base);
	w->fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		fail(w, errno, "creating");
		return;
	}
	w->linktype = linktype;
	w->first_ns = w->last_ns = ts_ns;
	w->off = 0;
	w->npkts = w->nflows = 0;
	memset(w->slots, 0, (size_t)w->nslots * sizeof(*w->slots));

	uint8_t h[24];
	put32(h, 0xa1b23c4d);         /* nanosecond pcap */
	put16(h + 4, 2);
	put16(h + 6, 4);
	put32(h + 8, 0);
	put32(h + 12, 0);
	put32(h + 16, SNAPLEN);
	put32(h + 20, linktype);
	emit(w, h, sizeof(h));
}

/* Build the index's flow packet lists and postings, write it hidden and
 * rename it.  0 or -errno. */
static int write_index(struct tp_store_writer *w)
{
	struct tp_index ix = {
		.first_ns = w->first_ns, .last_ns = w->last_ns,
		.seg_bytes = w->off, .linktype = w->linktype,
		.npkts = w->npkts, .nflows = w->nflows,
		.pkts = w->pkts, .flows = w->flows,
	};
	uint32_t nvni = 0, nsp = 0;
	for (uint32_t i = 0; i < w->npkts; i++) {
		nvni += w->pflag[i] & 1;
		nsp++;
	}
	int rc = -ENOMEM;
	size_t nf = w->nflows ? w->nflows : 1, np = w->npkts ? w->npkts : 1;
	uint32_t *fill = tp_calloc(nf, sizeof(*fill));
	ix.flow_pkts = tp_calloc(np, sizeof(*ix.flow_pkts));
	ix.ip = tp_calloc(nf * 2, sizeof(*ix.ip));
	ix.port = tp_calloc(nf * 2, sizeof(*ix.port));
	ix.proto = tp_calloc(nf, sizeof(*ix.proto));
	ix.vni = tp_calloc(nvni ? nvni : 1, sizeof(*ix.vni));
	ix.sesspost = tp_calloc(np, sizeof(*ix.sesspost));
	ix.sess = tp_calloc(np, sizeof(*ix.sess));
	uint8_t *enc = NULL;
	size_t enclen = 0;
	char tmp[4400], fin[4400];
	if (!fill || !ix.flow_pkts || !ix.ip || !ix.port || !ix.proto ||
	    !ix.vni || !ix.sesspost || !ix.sess)
		goto out;

	uint32_t at = 0;
	for (uint32_t f = 0; f < w->nflows; f++) {
		struct tp_idx_flow *fl = &w->flows[f];
		fl->first = at;
		at += fl->npkts;
		ix.ip[ix.nip++] = (struct tp_idx_ip){fl->a[0], f};
		if (memcmp(&fl->a[0], &fl->a[1], sizeof(fl->a[0])))
			ix.ip[ix.nip++] = (struct tp_idx_ip){fl->a[1], f};
		if (!(fl->flags & TP_IDX_F_PORTS)) {
			ix.port[ix.nport++] = (struct tp_idx_post){
				TP_IDX_ANY_PORT, f};
		} else {
			ix.port[ix.nport++] = (struct tp_idx_post){
				fl->port[0], f};
			if (fl->port[1] != fl->port[0])
				ix.port[ix.nport++] = (struct tp_idx_post){
					fl->port[1], f};
		}
		ix.proto[ix.nproto++] = (struct tp_idx_post){fl->proto, f};
	}
	for (uint32_t i = 0; i < w->npkts; i++) {
		uint32_t f = w->pkts[i].flow;
		if (f != TP_IDX_NO_FLOW)
			ix.flow_pkts[w->flows[f].first + fill[f]++] = i;
		if (w->pflag[i] & 1)
			ix.vni[ix.nvni++] = (struct tp_idx_post){w->pvni[i], i};
		ix.sesspost[ix.nsesspost++] =
			(struct tp_idx_post){w->psess[i], i};
	}
	/* Packets without a flow close the list, in order. */
	for (uint32_t i = 0; i < w->npkts; i++)
		if (w->pkts[i].flow == TP_IDX_NO_FLOW)
			ix.flow_pkts[at++] = i;
	tp_index_sort(&ix);
	for (uint32_t i = 0; i < ix.nsesspost; i++) {
		uint32_t no = ix.sesspost[i].key;
		if (ix.nsess && ix.sess[ix.nsess - 1].no == no)
			continue;
		struct tp_session *s = tp_session_get(w->sessions, no);
		ix.sess[ix.nsess].no = no;
		snprintf(ix.sess[ix.nsess].name, sizeof(ix.sess[0].name), "%s",
			 s ? s->name : "-");
		ix.nsess++;
	}
	rc = tp_index_encode(&ix, &enc, &enclen);
	if (rc < 0)
		goto out;
	snprintf(tmp, sizeof(tmp), "%s" TP_STORE_IDX_SUFFIX ".tmp", w->tmp);
	snprintf(fin, sizeof(fin), "%s" TP_STORE_IDX_SUFFIX, w->final);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_all(fd, enc, enclen);
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, fin) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
out:
	tp_free(enc, enclen);
	tp_free(fill, nf * sizeof(*fill));
	tp_free(ix.flow_pkts, np * sizeof(*ix.flow_pkts));
	tp_free(ix.ip, nf * 2 * sizeof(*ix.ip));
	tp_free(ix.port, nf * 2 * sizeof(*ix.port));
	tp_free(ix.proto, nf * sizeof(*ix.proto));
	tp_free(ix.vni, (nvni ? nvni : 1) * sizeof(*ix.vni));
	tp_free(ix.sesspost, np * sizeof(*ix.sesspost));
	tp_free(ix.sess, np * sizeof(*ix.sess));
	return rc;
}

/* Close the open segment: flush, rename into view, then its index (a
 * query skips a segment whose index is not there yet). */
static void close_segment(struct tp_store_writer *w)
{
	if (w->fd < 0)
		return;
	flush_buf(w);
	if (close(w->fd) < 0)
		fail(w, errno, "closing");
	w->fd = -1;
	char fin[4400];
	snprintf(fin, sizeof(fin), "%s" TP_STORE_SEG_SUFFIX, w->final);
	if (rename(w->tmp, fin) < 0) {
		fail(w, errno, "renaming");
		return;
	}
	int r = write_index(w);
	if (r < 0)
		fail(w, -r, "writing the index of");
}

static uint32_t store_linktype(const struct tp_pkt *p)
{
	if (p->first)
		return LINKTYPE_RAW;
	/* libpcap's DLT_RAW values (12, 14 on some systems) are
	 * LINKTYPE_RAW in a file. */
	if (p->linktype == 12 || p->linktype == 14)
		return LINKTYPE_RAW;
	return p->linktype;
}

static uint16_t ip_csum(const uint8_t *h, size_t n)
{
	uint32_t s = 0;
	for (size_t i = 0; i < n; i += 2)
		s += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

/* The outer IP + UDP header a socket took away; returns its length. */
static uint32_t outer_header(const struct tp_pkt *p, uint32_t caplen,
			     uint8_t *h)
{
	uint32_t udp_len = caplen + 8;
	uint8_t *u;
	uint32_t n;
	memset(h, 0, 48);
	if (p->outer_ipver == 6) {
		h[0] = 0x60;
		h[4] = (uint8_t)(udp_len >> 8);
		h[5] = (uint8_t)udp_len;
		h[6] = 17;
		h[7] = 64;
		memcpy(h + 8, p->outer_src.b, 16);
		memcpy(h + 24, p->outer_dst.b, 16);
		u = h + 40;
		n = 48;
	} else {
		uint32_t tot = udp_len + 20;
		h[0] = 0x45;
		h[2] = (uint8_t)(tot >> 8);
		h[3] = (uint8_t)tot;
		h[8] = 64;
		h[9] = 17;
		memcpy(h + 12, p->outer_src.b + 12, 4);
		memcpy(h + 16, p->outer_dst.b + 12, 4);
		uint16_t c = ip_csum(h, 20);
		h[10] = (uint8_t)(c >> 8);
		h[11] = (uint8_t)c;
		u = h + 20;
		n = 28;
	}
	u[0] = (uint8_t)(p->outer_sport >> 8);
	u[1] = (uint8_t)p->outer_sport;
	u[2] = (uint8_t)(p->outer_dport >> 8);
	u[3] = (uint8_t)p->outer_dport;
	u[4] = (uint8_t)(udp_len >> 8);
	u[5] = (uint8_t)udp_len;
	return n;
}

static bool key_eq(const struct tp_idx_flow *f, const struct tp_flow_key *k)
{
	return f->zone == k->zone && f->proto == k->proto &&
	       f->ipver == k->ipver && f->port[0] == k->port[0] &&
	       f->port[1] == k->port[1] &&
	       !memcmp(f->a, k->a, sizeof(f->a));
}

static int rehash(struct tp_store_writer *w)
{
	uint32_t n = w->nslots * 2;
	uint32_t *s = tp_calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (uint32_t f = 0; f < w->nflows; f++) {
		uint32_t i = w->flows[f].hash & (n - 1);
		while (s[i])
			i = (i + 1) & (n - 1);
		s[i] = f + 1;
	}
	tp_free(w->slots, (size_t)w->nslots * sizeof(*w->slots));
	w->slots = s;
	w->nslots = n;
	return 0;
}

/* The segment's flow number for m, added when new; NO_FLOW when memory
 * runs out (the packet is still stored, only not by flow). */
static uint32_t flow_of(struct tp_store_writer *w,
			const struct tp_store_meta *m)
{
	uint32_t i = m->hash & (w->nslots - 1);
	for (; w->slots[i]; i = (i + 1) & (w->nslots - 1)) {
		struct tp_idx_flow *f = &w->flows[w->slots[i] - 1];
		if (f->hash == m->hash && key_eq(f, m->key))
			return w->slots[i] - 1;
	}
	if (grow((void **)&w->flows, &w->cap_flows, w->nflows + 1,
		 sizeof(*w->flows)) < 0)
		return TP_IDX_NO_FLOW;
	uint32_t n = w->nflows++;
	struct tp_idx_flow *f = &w->flows[n];
	memset(f, 0, sizeof(*f));
	f->hash = m->hash;
	f->zone = m->key->zone;
	f->proto = m->key->proto;
	f->ipver = m->key->ipver;
	memcpy(f->a, m->key->a, sizeof(f->a));
	f->port[0] = m->key->port[0];
	f->port[1] = m->key->port[1];
	f->flags = m->ports_known ? TP_IDX_F_PORTS : 0;
	w->slots[i] = n + 1;
	if ((uint64_t)w->nflows * 2 > w->nslots)
		rehash(w);     /* on failure the table only gets fuller */
	return n;
}

void tp_store_tick(struct tp_store_writer *w, uint64_t now_ns)
{
	if (w->fd >= 0 && now_ns > w->first_ns &&
	    now_ns - w->first_ns >= w->cfg->store_segment_age_ns)
		close_segment(w);
}

void tp_store_packet(struct tp_store_writer *w, const uint8_t *raw,
		     uint32_t caplen, const struct tp_pkt *p,
		     const struct tp_store_meta *m)
{
	uint8_t outer[48];
	uint32_t nouter = p->first ? outer_header(p, caplen, outer) : 0;
	uint32_t lt = store_linktype(p);
	uint64_t rec = 16 + (uint64_t)nouter + caplen;

	if (w->fd >= 0 &&
	    (lt != w->linktype || w->npkts == UINT32_MAX - 1 ||
	     w->off + rec > w->cfg->store_segment_size ||
	     (p->ts_ns > w->first_ns &&
	      p->ts_ns - w->first_ns >= w->cfg->store_segment_age_ns)))
		close_segment(w);
	if (w->fd < 0)
		open_segment(w, p->ts_ns, lt);
	if (w->fd < 0)
		return;
	if (w->npkts == w->cap_pkts && grow_pkts(w) < 0) {
		fail(w, ENOMEM, "indexing");
		return;
	}

	uint32_t n = w->npkts;
	struct tp_idx_pkt *ip = &w->pkts[n];
	ip->off = w->off;
	ip->ts_ns = p->ts_ns;
	ip->flow = m->has_flow ? flow_of(w, m) : TP_IDX_NO_FLOW;
	if (ip->flow != TP_IDX_NO_FLOW)
		w->flows[ip->flow].npkts++;
	w->pvni[n] = 0;
	w->pflag[n] = 0;
	for (int t = (int)p->ntun - 1; t >= 0; t--) {
		const struct tp_tunnel *tn = &p->tun[t];
		if (tn->has_id && (tn->encap == TP_ENCAP_VXLAN ||
				   tn->encap == TP_ENCAP_GENEVE)) {
			w->pvni[n] = tn->id;
			w->pflag[n] = 1;
			break;
		}
	}
	w->psess[n] = m->session;
	w->npkts++;

	uint8_t h[16];
	uint32_t wire = p->wirelen < caplen ? caplen : p->wirelen;
	put32(h, (uint32_t)(p->ts_ns / 1000000000ull));
	put32(h + 4, (uint32_t)(p->ts_ns % 1000000000ull));
	put32(h + 8, nouter + caplen);
	put32(h + 12, p->first ? wire + nouter : wire);
	emit(w, h, sizeof(h));
	if (nouter)
		emit(w, outer, nouter);
	emit(w, raw, caplen);
	if (p->ts_ns < w->first_ns)
		w->first_ns = p->ts_ns;
	if (p->ts_ns > w->last_ns)
		w->last_ns = p->ts_ns;
	w->packets++;
}

uint64_t tp_store_packets(const struct tp_store_writer *w)
{
	return w->packets;
}

uint64_t tp_store_errors(const struct tp_store_writer *w)
{
	return w->errors;
}

int tp_store_writer_free(struct tp_store_writer *w)
{
	if (!w)
		return 0;
	close_segment(w);
	int rc = w->first_err;
	tp_free(w->buf, BUF_SIZE);
	tp_free(w->slots, (size_t)w->nslots * sizeof(*w->slots));
	tp_free(w->pkts, (size_t)w->cap_pkts * sizeof(*w->pkts));
	tp_free(w->pvni, (size_t)w->cap_pkts * sizeof(*w->pvni));
	tp_free(w->psess, (size_t)w->cap_pkts * sizeof(*w->psess));
	tp_free(w->pflag, (size_t)w->cap_pkts);
	tp_free(w->flows, (size_t)w->cap_flows * sizeof(*w->flows));
	tp_free(w, sizeof(*w));
	return rc;
}
