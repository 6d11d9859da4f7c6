/* The index builder: see build.h. */
#include "store/build.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "flow/community-id.h"
#include "mirror/session.h"
#include "util/mem.h"

int tp_idx_builder_init(struct tp_idx_builder *b)
{
	memset(b, 0, sizeof(*b));
	b->nslots = 1u << 14;
	b->slots = tp_calloc(b->nslots, sizeof(*b->slots));
	return b->slots ? 0 : -ENOMEM;
}

void tp_idx_builder_fini(struct tp_idx_builder *b)
{
	tp_free(b->slots, (size_t)b->nslots * sizeof(*b->slots));
	tp_free(b->streams, (size_t)b->cap_streams * sizeof(*b->streams));
	tp_free(b->hash, (size_t)b->cap_streams * sizeof(*b->hash));
	tp_free(b->pkts, (size_t)b->cap_pkts * sizeof(*b->pkts));
	tp_free(b->out_streams,
		(size_t)b->cap_out_streams * sizeof(*b->out_streams));
	tp_free(b->out_offs, (size_t)b->cap_out_offs * sizeof(*b->out_offs));
	tp_free(b->out_sess, (size_t)b->cap_out_sess * sizeof(*b->out_sess));
	tp_free(b->used, b->cap_used);
	memset(b, 0, sizeof(*b));
}

void tp_idx_builder_reset(struct tp_idx_builder *b)
{
	/* Only the slots in use are cleared: a segment of few streams costs
	 * little to forget. */
	if ((uint64_t)b->nstreams * 8 < b->nslots) {
		for (uint32_t s = 0; s < b->nstreams; s++) {
			uint32_t i = b->hash[s] & (b->nslots - 1);
			while (b->slots[i]) {
				b->slots[i] = 0;
				i = (i + 1) & (b->nslots - 1);
			}
		}
	} else {
		memset(b->slots, 0, (size_t)b->nslots * sizeof(*b->slots));
	}
	b->nstreams = 0;
	b->npkts = 0;
	b->first_ns = b->last_ns = 0;
}

static int grow(void **p, uint32_t *cap, uint32_t have, size_t size)
{
	uint64_t n = *cap ? (uint64_t)*cap * 2 : 4096;
	if (n > UINT32_MAX - 1)
		return -ENOMEM;
	void *q = tp_realloc(*p, (size_t)*cap * size, (size_t)n * size);
	if (!q)
		return -ENOMEM;
	(void)have;
	*p = q;
	*cap = (uint32_t)n;
	return 0;
}

/* Double the slot table.  It is kept from segment to segment, so a warm
 * writer reaches its size once and never rehashes again. */
static int rehash(struct tp_idx_builder *b)
{
	uint32_t n = b->nslots * 2;
	uint32_t *s = tp_calloc(n, sizeof(*s));
	if (!s)
		return -ENOMEM;
	for (uint32_t f = 0; f < b->nstreams; f++) {
		uint32_t i = b->hash[f] & (n - 1);
		while (s[i])
			i = (i + 1) & (n - 1);
		s[i] = f + 1;
	}
	tp_free(b->slots, (size_t)b->nslots * sizeof(*b->slots));
	b->slots = s;
	b->nslots = n;
	return 0;
}

static bool same(const struct tp_idx_stream *s, const struct tp_idx_stream *k)
{
	return s->zone == k->zone && s->proto == k->proto &&
	       s->ipver == k->ipver && s->flags == k->flags &&
	       s->port[0] == k->port[0] && s->port[1] == k->port[1] &&
	       s->session == k->session && s->vni == k->vni &&
	       !memcmp(s->a, k->a, sizeof(s->a));
}

static uint32_t stream_of(struct tp_idx_builder *b,
			  const struct tp_idx_stream *k, uint32_t h)
{
	uint32_t i = h & (b->nslots - 1);
	for (; b->slots[i]; i = (i + 1) & (b->nslots - 1)) {
		uint32_t s = b->slots[i] - 1;
		if (b->hash[s] == h && same(&b->streams[s], k))
			return s;
	}
	if (b->nstreams == b->cap_streams) {
		uint32_t c = b->cap_streams;
		if (grow((void **)&b->streams, &c, 0, sizeof(*b->streams)) < 0)
			return UINT32_MAX;
		c = b->cap_streams;
		if (grow((void **)&b->hash, &c, 0, sizeof(*b->hash)) < 0) {
			/* Keep both arrays the same capacity. */
			void *t = tp_realloc(b->streams,
					     (size_t)c * 2 * sizeof(*b->streams),
					     (size_t)c * sizeof(*b->streams));
			if (t)
				b->streams = t;
			return UINT32_MAX;
		}
		b->cap_streams = c;
	}
	uint32_t s = b->nstreams++;
	b->streams[s] = *k;
	b->hash[s] = h;
	b->slots[i] = s + 1;
	if (k->flags & TP_IDX_S_FLOW) {
		char cid[64];
		tp_community_id(k->ipver, &k->a[0], &k->a[1], k->port[0],
				k->port[1], k->proto, 0, cid);
		b->streams[s].cid = tp_index_cid_key(cid);
	}
	if ((uint64_t)b->nstreams * 2 > b->nslots)
		rehash(b);       /* on failure the table only gets fuller */
	return s;
}

int tp_idx_builder_add(struct tp_idx_builder *b, uint64_t off,
		       const struct tp_pkt *p, const struct tp_store_meta *m)
{
	if (b->npkts == b->cap_pkts &&
	    grow((void **)&b->pkts, &b->cap_pkts, 0, sizeof(*b->pkts)) < 0)
		return -ENOMEM;
	struct tp_idx_stream k;
	memset(&k, 0, sizeof(k));
	uint32_t h = m->session * 0x9e3779b1u;
	if (m->has_flow) {
		k.flags = TP_IDX_S_FLOW;
		if (m->ports_known)
			k.flags |= TP_IDX_S_PORTS;
		k.zone = m->key->zone;
		k.proto = m->key->proto;
		k.ipver = m->key->ipver;
		memcpy(k.a, m->key->a, sizeof(k.a));
		k.port[0] = m->key->port[0];
		k.port[1] = m->key->port[1];
		h ^= m->hash;
	}
	k.session = m->session;
	for (int t = (int)p->ntun - 1; t >= 0; t--) {
		const struct tp_tunnel *tn = &p->tun[t];
		if (tn->has_id && (tn->encap == TP_ENCAP_VXLAN ||
				   tn->encap == TP_ENCAP_GENEVE)) {
			k.vni = tn->id;
			k.flags |= TP_IDX_S_VNI;
			h ^= tn->id * 0x85ebca6bu;
			break;
		}
	}
	uint32_t s = stream_of(b, &k, h);
	b->pkts[b->npkts++] = (struct tp_idx_bpkt){off, s};
	if (s != UINT32_MAX)
		b->streams[s].npkts++;
	if (!b->first_ns || p->ts_ns < b->first_ns)
		b->first_ns = p->ts_ns;
	if (p->ts_ns > b->last_ns)
		b->last_ns = p->ts_ns;
	return s == UINT32_MAX ? -ENOMEM : 0;
}

/* Room for n elements of size in *p (capacity *cap, kept). */
static int reserve(void **p, uint32_t *cap, uint32_t n, size_t size)
{
	if (n <= *cap)
		return 0;
	uint64_t c = *cap ? *cap : 1024;
	while (c < n)
		c *= 2;
	if (c > UINT32_MAX)
		c = n;
	void *q = tp_realloc(*p, (size_t)*cap * size, (size_t)c * size);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = (uint32_t)c;
	return 0;
}

int tp_idx_builder_finish(struct tp_idx_builder *b, struct tp_sessions *ss,
			  uint64_t seg_bytes, uint32_t linktype,
			  struct tp_index *ix)
{
	memset(ix, 0, sizeof(*ix));
	uint32_t n = 0;
	for (uint32_t s = 0; s < b->nstreams; s++)
		n += b->streams[s].npkts;
	/* Sessions in use, in order of their numbers. */
	uint32_t nsess = 0;
	for (uint32_t s = 0; s < b->nstreams; s++)
		if (b->streams[s].session + 1 > nsess)
			nsess = b->streams[s].session + 1;
	if (reserve((void **)&b->used, &b->cap_used, nsess, 1) < 0 ||
	    reserve((void **)&b->out_streams, &b->cap_out_streams, b->nstreams,
		    sizeof(*b->out_streams)) < 0 ||
	    reserve((void **)&b->out_offs, &b->cap_out_offs, n,
		    sizeof(*b->out_offs)) < 0)
		return -ENOMEM;
	memset(b->used, 0, nsess);
	ix->streams = b->out_streams;
	ix->offs = b->out_offs;
	ix->first_ns = b->first_ns;
	ix->last_ns = b->last_ns;
	ix->seg_bytes = seg_bytes;
	ix->linktype = linktype;
	ix->npkts = n;
	ix->nstreams = b->nstreams;
	/* Counting sort of the packets by stream; within a stream they stay
	 * in file order, which is ascending. */
	uint32_t at = 0;
	for (uint32_t s = 0; s < b->nstreams; s++) {
		ix->streams[s] = b->streams[s];
		ix->streams[s].first = at;
		at += b->streams[s].npkts;
		ix->streams[s].npkts = 0;
		b->used[b->streams[s].session] = 1;
	}
	for (uint32_t i = 0; i < b->npkts; i++) {
		uint32_t s = b->pkts[i].stream;
		if (s == UINT32_MAX)
			continue;
		struct tp_idx_stream *st = &ix->streams[s];
		ix->offs[st->first + st->npkts++] = b->pkts[i].off;
	}
	uint32_t k = 0;
	for (uint32_t i = 0; i < nsess; i++)
		k += b->used[i];
	if (reserve((void **)&b->out_sess, &b->cap_out_sess, k,
		    sizeof(*b->out_sess)) < 0)
		return -ENOMEM;
	ix->sess = b->out_sess;
	for (uint32_t i = 0; i < nsess; i++) {
		if (!b->used[i])
			continue;
		struct tp_session *se = ss ? tp_session_get(ss, i) : NULL;
		ix->sess[ix->nsess].no = i;
		snprintf(ix->sess[ix->nsess].name, sizeof(ix->sess[0].name),
			 "%s", se ? se->name : "-");
		ix->nsess++;
	}
	return 0;
}

int tp_index_write(const struct tp_index *ix, const char *path)
{
	uint8_t *enc = NULL;
	size_t enclen = 0;
	char tmp[4400];
	const char *slash = strrchr(path, '/');
	int dl = slash ? (int)(slash - path + 1) : 0;
	snprintf(tmp, sizeof(tmp), "%.*s.%s.tmp", dl, path,
		 slash ? slash + 1 : path);
	int rc = tp_index_encode(ix, &enc, &enclen);
	if (rc < 0)
		return rc;
	rc = tp_index_put_file(tmp, path, enc, enclen);
	tp_free(enc, enclen);
	return rc;
}
