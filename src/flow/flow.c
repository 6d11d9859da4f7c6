/* Flow table. */
#include "flow/flow.h"

#include <string.h>
#include <xxhash.h>

#include "util/log.h"
#include "util/mem.h"

/* Timeout classes.  The first four end a flow after its inactivity
 * timeout (lists ordered by last activity); the last two after a fixed
 * delay from entering them (lists ordered by entry, never reordered):
 * a TCP attempt that no one answered, and a TCP connection that closed or
 * was reset - as Zeek removes them after tcp_attempt_delay and
 * tcp_close_delay / tcp_reset_delay, so that a new connection on the same
 * 5-tuple, or a late packet, starts a new record. */
enum {
	CLASS_TCP, CLASS_UDP, CLASS_ICMP, CLASS_OTHER,
	CLASS_ATTEMPT, CLASS_CLOSED,
	CLASS__COUNT
};

/* Links are pool indices plus one; 0 is none (struct tp_flow). */
struct flist {
	uint32_t head, tail;
};

struct tp_flow_table {
	uint32_t *bucket;
	uint32_t mask;
	struct tp_flow *pool;        /* pool_mem aligned to a cache line */
	void *pool_mem;
	/* TCP analytics, one per TCP flow, outside struct tp_flow so that it
	 * stays within four cache lines; pages are touched only as slots are
	 * first used, and only TCP flows take one. */
	struct tp_tcpa *tcpa;        /* tcpa_mem aligned to a cache line */
	void *tcpa_mem;
	struct tp_tcpa **tcpa_free;  /* stack of freed slots */
	uint64_t tcpa_nfree, tcpa_next;
	uint64_t npool;
	uint32_t free;               /* free list through hnext */
	uint64_t next_unused;        /* pool slots never used yet */
	struct flist list[CLASS__COUNT];
	uint64_t timeout[CLASS__COUNT];
	tp_flow_end_fn *end;
	void *arg;
	struct tp_flow_stats st;
};

static unsigned class_of(uint8_t proto)
{
	switch (proto) {
	case 6:
		return CLASS_TCP;
	case 17:
		return CLASS_UDP;
	case 1:
	case 58:
		return CLASS_ICMP;
	default:
		return CLASS_OTHER;
	}
}

/* p rounded up to a cache line (NULL stays NULL). */
static void *line_up(void *p)
{
	return p ? (void *)(((uintptr_t)p + 63) & ~(uintptr_t)63) : NULL;
}

struct tp_flow_table *tp_flow_table_new(uint64_t max_flows,
					const struct tp_config *cfg,
					tp_flow_end_fn *end, void *arg)
{
	struct tp_flow_table *t = tp_calloc(1, sizeof(*t));
	uint64_t nb = 1024;
	if (!t)
		return NULL;
	if (max_flows < 16)
		max_flows = 16;
	if (max_flows > UINT32_MAX - 1)
		max_flows = UINT32_MAX - 1;  /* links are 32-bit */
	while (nb < max_flows && nb < (1ull << 31))
		nb <<= 1;
	t->mask = (uint32_t)(nb - 1);
	t->npool = max_flows;
	/* calloc'd pages are committed as flows first touch them, so a large
	 * cap costs memory only as the table fills.  calloc, not
	 * tp_calloc_aligned, which writes every page: one slot more gives
	 * room to align the pools to a cache line. */
	t->bucket = tp_calloc(nb, sizeof(*t->bucket));
	t->pool_mem = tp_calloc(max_flows + 1, sizeof(*t->pool));
	t->pool = line_up(t->pool_mem);
	t->tcpa_mem = tp_calloc(max_flows + 1, sizeof(*t->tcpa));
	t->tcpa = line_up(t->tcpa_mem);
	t->tcpa_free = tp_calloc(max_flows, sizeof(*t->tcpa_free));
	if (!t->bucket || !t->pool || !t->tcpa || !t->tcpa_free) {
		tp_flow_table_free(t);
		return NULL;
	}
	t->timeout[CLASS_TCP] = cfg->tcp_timeout_ns;
	t->timeout[CLASS_UDP] = cfg->udp_timeout_ns;
	t->timeout[CLASS_ICMP] = cfg->icmp_timeout_ns;
	t->timeout[CLASS_OTHER] = cfg->other_timeout_ns;
	t->timeout[CLASS_ATTEMPT] = cfg->tcp_attempt_timeout_ns;
	t->timeout[CLASS_CLOSED] = cfg->tcp_close_delay_ns;
	t->end = end;
	t->arg = arg;
	return t;
}

void tp_flow_table_free(struct tp_flow_table *t)
{
	if (!t)
		return;
	tp_free(t->bucket, ((size_t)t->mask + 1) * sizeof(*t->bucket));
	tp_free(t->pool_mem, (t->npool + 1) * sizeof(*t->pool));
	tp_free(t->tcpa_mem, (t->npool + 1) * sizeof(*t->tcpa));
	tp_free(t->tcpa_free, t->npool * sizeof(*t->tcpa_free));
	tp_free(t, sizeof(*t));
}

static int addr_port_cmp(const struct tp_addr *a, uint16_t ap,
			 const struct tp_addr *b, uint16_t bp)
{
	int c = memcmp(a->b, b->b, 16);
	if (c)
		return c;
	return (int)ap - (int)bp;
}

uint32_t tp_flow_key_make(struct tp_flow_key *k, uint8_t *side,
			  const struct tp_addr *src, uint16_t sport,
			  const struct tp_addr *dst, uint16_t dport,
			  uint8_t proto, uint8_t ipver, uint16_t zone)
{
	memset(k, 0, sizeof(*k));
	if (addr_port_cmp(src, sport, dst, dport) <= 0) {
		k->a[0] = *src;
		k->a[1] = *dst;
		k->port[0] = sport;
		k->port[1] = dport;
		*side = 0;
	} else {
		k->a[0] = *dst;
		k->a[1] = *src;
		k->port[0] = dport;
		k->port[1] = sport;
		*side = 1;
	}
	k->proto = proto;
	k->ipver = ipver;
	k->zone = zone;
	return (uint32_t)XXH3_64bits(k, sizeof(*k));
}

/* The flow a link names, or NULL. */
static inline struct tp_flow *at(const struct tp_flow_table *t, uint32_t i)
{
	return i ? &t->pool[i - 1] : NULL;
}

/* The link that names f. */
static inline uint32_t link_of(const struct tp_flow_table *t,
			       const struct tp_flow *f)
{
	return (uint32_t)(f - t->pool) + 1;
}

static void list_del(struct tp_flow_table *t, struct flist *l,
		     struct tp_flow *f)
{
	if (f->prev)
		at(t, f->prev)->next = f->next;
	else
		l->head = f->next;
	if (f->next)
		at(t, f->next)->prev = f->prev;
	else
		l->tail = f->prev;
	f->prev = f->next = 0;
}

static void list_add_tail(struct tp_flow_table *t, struct flist *l,
			  struct tp_flow *f)
{
	uint32_t i = link_of(t, f);
	f->next = 0;
	f->prev = l->tail;
	if (l->tail)
		at(t, l->tail)->next = i;
	else
		l->head = i;
	l->tail = i;
}

static void unlink_bucket(struct tp_flow_table *t, struct tp_flow *f)
{
	uint32_t i = link_of(t, f);
	uint32_t *pp = &t->bucket[f->hash & t->mask];
	while (*pp && *pp != i)
		pp = &at(t, *pp)->hnext;
	TP_BUG_ON(!*pp);
	*pp = f->hnext;
}

void tp_flow_end(struct tp_flow_table *t, struct tp_flow *f,
		 enum tp_flow_end why)
{
	if (t->end)
		t->end(t->arg, f, why);
	if (f->tcpa)
		t->tcpa_free[t->tcpa_nfree++] = f->tcpa;
	unlink_bucket(t, f);
	list_del(t, &t->list[f->tclass], f);
	f->hnext = t->free;
	t->free = link_of(t, f);
	t->st.active--;
	t->st.ended++;
	if (why == TP_FLOW_END_EVICTED)
		t->st.evicted++;
}

static struct tp_flow *oldest(struct tp_flow_table *t);

/* The flow to give up when the pool is full: a connection that has
 * already closed (the first to close: it is due to be logged within the
 * close delay anyway), else the least recently active flow.  Heads of
 * the fixed-delay lists are the first to enter them, not necessarily the
 * least active, so attempts compete on their last packet time. */
static struct tp_flow *victim(struct tp_flow_table *t)
{
	if (t->list[CLASS_CLOSED].head)
		return at(t, t->list[CLASS_CLOSED].head);
	return oldest(t);
}

static struct tp_flow *oldest(struct tp_flow_table *t)
{
	struct tp_flow *o = NULL;
	for (unsigned c = 0; c < CLASS__COUNT; c++) {
		struct tp_flow *h = at(t, t->list[c].head);
		if (h && (!o || h->last_ns < o->last_ns))
			o = h;
	}
	return o;
}

struct tp_flow *tp_flow_get(struct tp_flow_table *t,
			    const struct tp_flow_key *k, uint32_t hash,
			    uint64_t now_ns, bool *created)
{
	uint32_t *b = &t->bucket[hash & t->mask];
	struct tp_flow *f;

	for (f = at(t, *b); f; f = at(t, f->hnext))
		if (f->hash == hash && memcmp(&f->key, k, sizeof(*k)) == 0) {
			*created = false;
			return f;
		}

	if (t->free) {
		f = at(t, t->free);
		t->free = f->hnext;
	} else if (t->next_unused < t->npool) {
		f = &t->pool[t->next_unused++];
	} else {
		tp_flow_end(t, victim(t), TP_FLOW_END_EVICTED);
		f = at(t, t->free);
		t->free = f->hnext;
	}
	memset(f, 0, sizeof(*f));
	f->key = *k;
	f->hash = hash;
	f->first_ns = f->last_ns = now_ns;
	f->hnext = *b;
	*b = link_of(t, f);
	f->tclass = (uint8_t)class_of(k->proto);
	if (k->proto == 6) {
		/* never short: every TCP flow holds at most one */
		f->tcpa = t->tcpa_nfree ? t->tcpa_free[--t->tcpa_nfree]
					: &t->tcpa[t->tcpa_next++];
		tp_tcpa_init(f->tcpa);
	}
	list_add_tail(t, &t->list[f->tclass], f);
	t->st.active++;
	t->st.created++;
	if (t->st.active > t->st.peak)
		t->st.peak = t->st.active;
	*created = true;
	return f;
}

void tp_flow_prefetch_bucket(const struct tp_flow_table *t, uint32_t hash)
{
	__builtin_prefetch(&t->bucket[hash & t->mask]);
}

void tp_flow_prefetch_entry(const struct tp_flow_table *t, uint32_t hash)
{
	const struct tp_flow *f = at(t, t->bucket[hash & t->mask]);
	if (f)
		__builtin_prefetch(f);
}

void tp_flow_prefetch_tcpa(const struct tp_flow_table *t, uint32_t hash)
{
	const struct tp_flow *f = at(t, t->bucket[hash & t->mask]);
	if (f && f->tcpa)
		tp_tcpa_prefetch(f->tcpa);
}

void tp_flow_touch(struct tp_flow_table *t, struct tp_flow *f, uint64_t now_ns)
{
	struct flist *l = &t->list[f->tclass];
	if (now_ns > f->last_ns)
		f->last_ns = now_ns;
	/* Fixed-delay classes keep their entry order. */
	if (f->tclass < CLASS_ATTEMPT && l->tail != link_of(t, f)) {
		list_del(t, l, f);
		list_add_tail(t, l, f);
	}
}

void tp_flow_set_phase(struct tp_flow_table *t, struct tp_flow *f,
		       enum tp_flow_phase phase, uint64_t now_ns)
{
	unsigned c = phase == TP_FLOW_ATTEMPT ? CLASS_ATTEMPT
		   : phase == TP_FLOW_CLOSED  ? CLASS_CLOSED
					      : class_of(f->key.proto);
	if (c == f->tclass)
		return;
	list_del(t, &t->list[f->tclass], f);
	f->tclass = (uint8_t)c;
	/* The delay of a fixed class runs from now: last_ns is the
	 * connection's last activity and may be older. */
	uint64_t ms = now_ns > f->first_ns
			      ? (now_ns - f->first_ns + 999999) / 1000000 : 0;
	f->phase_ms = ms > UINT32_MAX ? UINT32_MAX : (uint32_t)ms;
	list_add_tail(t, &t->list[c], f);
}

void tp_flow_expire(struct tp_flow_table *t, uint64_t now_ns)
{
	for (unsigned c = 0; c < CLASS__COUNT; c++) {
		struct tp_flow *f;
		while ((f = at(t, t->list[c].head))) {
			uint64_t since = c < CLASS_ATTEMPT
				? f->last_ns
				: f->first_ns + (uint64_t)f->phase_ms * 1000000;
			if (since + t->timeout[c] >= now_ns)
				break;
			tp_flow_end(t, f, TP_FLOW_END_TIMEOUT);
		}
	}
}

void tp_flow_flush(struct tp_flow_table *t)
{
	struct tp_flow *f;
	while ((f = oldest(t)))
		tp_flow_end(t, f, TP_FLOW_END_FLUSH);
}

void tp_flow_stats(const struct tp_flow_table *t, struct tp_flow_stats *st)
{
	*st = t->st;
}
