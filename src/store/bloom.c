/* Bloom filters over a segment's keys: see bloom.h.  Probes by double
 * hashing (Kirsch-Mitzenmacher): h1 + i * h2 over the two halves of one
 * 64-bit XXH3 hash of the tagged key. */
#include "store/bloom.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "store/index.h"
#include "util/mem.h"

#define BITS_PER_KEY 10
#define PROBES 7

static uint64_t tagged(uint8_t tag, const void *p, size_t n)
{
	uint8_t b[80];
	b[0] = tag;
	if (n > sizeof(b) - 1)
		n = sizeof(b) - 1;
	memcpy(b + 1, p, n);
	return XXH3_64bits(b, n + 1);
}

uint64_t tp_bloom_key_addr(const struct tp_addr *a)
{
	return tagged('A', a->b, 16);
}

uint64_t tp_bloom_key_port(uint32_t port)
{
	uint8_t b[4] = {(uint8_t)port, (uint8_t)(port >> 8),
			(uint8_t)(port >> 16), 0};
	return tagged('P', b, 4);
}

uint64_t tp_bloom_key_vni(uint32_t vni)
{
	uint8_t b[4] = {(uint8_t)vni, (uint8_t)(vni >> 8),
			(uint8_t)(vni >> 16), (uint8_t)(vni >> 24)};
	return tagged('V', b, 4);
}

uint64_t tp_bloom_key_session(const char *name)
{
	return tagged('S', name, strnlen(name, 63));
}

uint64_t tp_bloom_key_cid(uint32_t cid)
{
	uint8_t b[4] = {(uint8_t)cid, (uint8_t)(cid >> 8),
			(uint8_t)(cid >> 16), (uint8_t)(cid >> 24)};
	return tagged('C', b, 4);
}

static void set(struct tp_bloom *bf, uint64_t key)
{
	uint32_t h1 = (uint32_t)key, h2 = (uint32_t)(key >> 32) | 1;
	for (unsigned i = 0; i < bf->k; i++) {
		uint32_t b = (uint32_t)(((uint64_t)h1 + (uint64_t)i * h2) %
					bf->nbits);
		bf->bits[b / 64] |= 1ull << (b % 64);
	}
}

bool tp_bloom_maybe(const struct tp_bloom *bf, uint64_t key)
{
	if (!bf->nbits)
		return false;
	uint32_t h1 = (uint32_t)key, h2 = (uint32_t)(key >> 32) | 1;
	for (unsigned i = 0; i < bf->k; i++) {
		uint32_t b = (uint32_t)(((uint64_t)h1 + (uint64_t)i * h2) %
					bf->nbits);
		if (!(bf->bits[b / 64] & (1ull << (b % 64))))
			return false;
	}
	return true;
}

int tp_bloom_of_index(struct tp_bloom *bf, const struct tp_index *ix)
{
	memset(bf, 0, sizeof(*bf));
	size_t cap = (size_t)ix->nstreams * 7 + ix->nsess + 1, n = 0;
	uint64_t *keys = tp_malloc(cap * sizeof(*keys));
	if (!keys)
		return -ENOMEM;
	for (uint32_t s = 0; s < ix->nstreams; s++) {
		const struct tp_idx_stream *st = &ix->streams[s];
		if (st->flags & TP_IDX_S_VNI)
			keys[n++] = tp_bloom_key_vni(st->vni);
		if (!(st->flags & TP_IDX_S_FLOW))
			continue;
		keys[n++] = tp_bloom_key_addr(&st->a[0]);
		keys[n++] = tp_bloom_key_addr(&st->a[1]);
		if (st->flags & TP_IDX_S_PORTS) {
			keys[n++] = tp_bloom_key_port(st->port[0]);
			keys[n++] = tp_bloom_key_port(st->port[1]);
		} else {
			keys[n++] = tp_bloom_key_port(TP_BLOOM_ANY_PORT);
		}
		keys[n++] = tp_bloom_key_cid(st->cid);
	}
	for (uint32_t i = 0; i < ix->nsess; i++)
		keys[n++] = tp_bloom_key_session(ix->sess[i].name);
	/* Sized by the distinct keys (a segment of 10^5 streams among 200
	 * hosts has far fewer addresses than streams), found with an open
	 * addressing set: no sort. */
	size_t nset = 64;
	while (nset < n * 2)
		nset *= 2;
	uint64_t *seen = tp_calloc(nset, sizeof(*seen));
	if (!seen) {
		tp_free(keys, cap * sizeof(*keys));
		return -ENOMEM;
	}
	size_t d = 0;
	bool zero = false;
	for (size_t i = 0; i < n; i++) {
		uint64_t k = keys[i];
		if (!k) {          /* 0 marks a free slot */
			if (!zero)
				keys[d++] = 0;
			zero = true;
			continue;
		}
		size_t j = (size_t)(k ^ k >> 29) & (nset - 1);
		while (seen[j] && seen[j] != k)
			j = (j + 1) & (nset - 1);
		if (!seen[j]) {
			seen[j] = k;
			keys[d++] = k;
		}
	}
	tp_free(seen, nset * sizeof(*seen));
	uint64_t nbits = ((uint64_t)d * BITS_PER_KEY + 63) / 64 * 64;
	if (nbits < 64)
		nbits = 64;
	if (nbits > (1ull << 31))
		nbits = 1ull << 31;
	bf->nbits = (uint32_t)nbits;
	bf->k = PROBES;
	bf->bits = tp_calloc(nbits / 64, sizeof(uint64_t));
	if (!bf->bits) {
		tp_free(keys, cap * sizeof(*keys));
		memset(bf, 0, sizeof(*bf));
		return -ENOMEM;
	}
	for (size_t i = 0; i < d; i++)
		set(bf, keys[i]);
	tp_free(keys, cap * sizeof(*keys));
	return 0;
}

void tp_bloom_free(struct tp_bloom *bf)
{
	tp_free(bf->bits, (size_t)bf->nbits / 64 * sizeof(uint64_t));
	memset(bf, 0, sizeof(*bf));
}
