/* Mirror session table: open addressing over (encap, outer source, id,
 * GWLB endpoint), entries in a fixed array that never moves. */
#include "mirror/session.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <xxhash.h>

#include "decode/decode.h"
#include "util/mem.h"

struct tp_sessions {
	const struct tp_config *cfg;
	_Atomic uint32_t n;
	uint32_t max;
	uint32_t mask;
	_Atomic uint32_t *slots;     /* index + 1; 0 = empty */
	struct tp_session *v;
	pthread_mutex_t mu;          /* held to create a session */
};

struct skey {
	struct tp_addr src;
	uint64_t gwlb;
	uint32_t id;
	uint8_t encap, has_id, pad[2];
};

/* A cheap mix of the key: it runs once per packet, and the keys are few
 * and well spread in their low address bytes and ids. */
static uint32_t skey_hash(const struct skey *k)
{
	uint64_t a, b, c;
	memcpy(&a, k->src.b, 8);
	memcpy(&b, k->src.b + 8, 8);
	c = ((uint64_t)k->id << 8 | k->encap) ^ k->gwlb;
	uint64_t h = (a * 0x9e3779b97f4a7c15ull) ^ (b * 0xc2b2ae3d27d4eb4full) ^
		     (c * 0x165667b19e3779f9ull);
	h ^= h >> 29;
	h *= 0xbf58476d1ce4e5b9ull;
	return (uint32_t)(h ^ (h >> 32));
}

struct tp_sessions *tp_sessions_new(const struct tp_config *cfg, uint32_t max)
{
	struct tp_sessions *s = tp_calloc(1, sizeof(*s));
	uint32_t nslots = 16;
	if (!s)
		return NULL;
	if (max < 4)
		max = 4;
	while (nslots < max * 2)
		nslots <<= 1;
	s->cfg = cfg;
	s->max = max;
	s->mask = nslots - 1;
	s->slots = tp_calloc(nslots, sizeof(*s->slots));
	s->v = tp_calloc_aligned(64, (size_t)max * sizeof(*s->v));
	if (!s->slots || !s->v) {
		tp_sessions_free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	snprintf(s->v[TP_SESSION_DIRECT].name, sizeof(s->v[0].name), "-");
	snprintf(s->v[TP_SESSION_OVERFLOW].name, sizeof(s->v[0].name),
		 "overflow");
	atomic_store(&s->n, 2);
	return s;
}

void tp_sessions_free(struct tp_sessions *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->mu);
	tp_free(s->slots, (size_t)(s->mask + 1) * sizeof(*s->slots));
	tp_free(s->v, (size_t)s->max * sizeof(*s->v));
	tp_free(s, sizeof(*s));
}

static bool prefix_match(const struct tp_addr *a, const struct tp_addr *p,
			 uint8_t plen)
{
	unsigned full = plen / 8, rest = plen % 8;
	if (memcmp(a->b, p->b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t m = (uint8_t)(0xff << (8 - rest));
	return (a->b[full] & m) == (p->b[full] & m);
}

static uint16_t zone_of(const struct tp_config *cfg, const struct tp_session *ss)
{
	for (uint32_t i = 0; i < cfg->nrules; i++) {
		const struct tp_zone_rule *r = &cfg->rules[i];
		if (r->has_vni && (!ss->has_id || r->vni != ss->id))
			continue;
		if (r->has_src && !prefix_match(&ss->outer_src, &r->src,
						r->src_plen))
			continue;
		if (r->has_gwlb_endpoint && r->gwlb_endpoint != ss->gwlb_endpoint)
			continue;
		return r->zone;
	}
	return 0;
}

static bool same(const struct tp_session *ss, const struct skey *k)
{
	return ss->id == k->id && ss->encap == k->encap &&
	       ss->has_id == k->has_id && ss->gwlb_endpoint == k->gwlb &&
	       memcmp(&ss->outer_src, &k->src, sizeof(k->src)) == 0;
}

uint32_t tp_session_of(struct tp_sessions *s, const struct tp_pkt *p)
{
	struct skey k;
	const struct tp_tunnel *t = NULL;

	if (p->ntun == 0)
		return TP_SESSION_DIRECT;
	/* The innermost tunnel that names a session, else the innermost. */
	for (int i = p->ntun - 1; i >= 0 && !t; i--)
		if (p->tun[i].has_id)
			t = &p->tun[i];
	if (!t)
		t = &p->tun[p->ntun - 1];

	memset(&k, 0, sizeof(k));
	k.src = t->src;
	k.id = t->id;
	k.encap = t->encap;
	k.has_id = t->has_id;
	if (p->gwlb.present & 1)
		k.gwlb = p->gwlb.endpoint_id;

	uint32_t h = skey_hash(&k);
	uint32_t i = h & s->mask;
	for (;; i = (i + 1) & s->mask) {
		uint32_t idx = atomic_load_explicit(&s->slots[i],
						    memory_order_acquire);
		if (idx == 0)
			break;
		if (same(&s->v[idx - 1], &k))
			return idx - 1;
	}
	/* Not there: create it under the lock, probing on from the empty
	 * slot, which another thread may have filled meanwhile. */
	pthread_mutex_lock(&s->mu);
	for (;; i = (i + 1) & s->mask) {
		uint32_t idx = atomic_load_explicit(&s->slots[i],
						    memory_order_relaxed);
		if (idx == 0)
			break;
		if (same(&s->v[idx - 1], &k)) {
			pthread_mutex_unlock(&s->mu);
			return idx - 1;
		}
	}
	uint32_t n = atomic_load_explicit(&s->n, memory_order_relaxed);
	if (n >= s->max) {
		pthread_mutex_unlock(&s->mu);
		return TP_SESSION_OVERFLOW;
	}
	struct tp_session *ss = &s->v[n];
	char a[48];
	ss->outer_src = k.src;
	ss->id = k.id;
	ss->encap = k.encap;
	ss->has_id = k.has_id;
	ss->gwlb_endpoint = k.gwlb;
	tp_addr_str(&k.src, a);
	if (k.gwlb)
		snprintf(ss->name, sizeof(ss->name), "gwlb:%016llx",
			 (unsigned long long)k.gwlb);
	else if (k.has_id)
		snprintf(ss->name, sizeof(ss->name), "%.46s/%u", a, k.id);
	else
		snprintf(ss->name, sizeof(ss->name), "%s", a);
	ss->zone = zone_of(s->cfg, ss);
	/* The entry is complete before its index is published. */
	atomic_store_explicit(&s->n, n + 1, memory_order_release);
	atomic_store_explicit(&s->slots[i], n + 1, memory_order_release);
	pthread_mutex_unlock(&s->mu);
	return n;
}

struct tp_session *tp_session_get(struct tp_sessions *s, uint32_t idx)
{
	uint32_t n = atomic_load_explicit(&s->n, memory_order_acquire);
	return idx < n ? &s->v[idx] : &s->v[TP_SESSION_OVERFLOW];
}

uint32_t tp_sessions_count(const struct tp_sessions *s)
{
	return atomic_load_explicit((_Atomic uint32_t *)&s->n,
				    memory_order_acquire);
}

const char *tp_zone_name(const struct tp_sessions *s, uint16_t zone)
{
	if (zone < s->cfg->nzones)
		return s->cfg->zones[zone];
	return "default";
}
