/* Bloom filters of the store's manifest: per segment, the set of its
 * inner addresses, ports, VNIs, session names and Community ID keys, so
 * that a query skips a segment that cannot hold what it asks for.  About
 * 10 bits per distinct key and 7 probes: under 1 % false positives. */
#ifndef TP_STORE_BLOOM_H
#define TP_STORE_BLOOM_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/packet-t.h"

struct tp_index;

struct tp_bloom {
	uint32_t nbits;          /* a multiple of 64 */
	uint8_t k;               /* probes */
	uint64_t *bits;          /* nbits / 64 words */
};

/* The key hashes, one per kind of term (the manifest and a query make
 * them alike). */
uint64_t tp_bloom_key_addr(const struct tp_addr *a);
uint64_t tp_bloom_key_port(uint32_t port);     /* 65536: ports unknown */
uint64_t tp_bloom_key_vni(uint32_t vni);
uint64_t tp_bloom_key_session(const char *name);
uint64_t tp_bloom_key_cid(uint32_t cid_key);

#define TP_BLOOM_ANY_PORT 65536u

/* The filter of a segment's index.  0 or -ENOMEM; free with
 * tp_bloom_free. */
int tp_bloom_of_index(struct tp_bloom *bf, const struct tp_index *ix);

bool tp_bloom_maybe(const struct tp_bloom *bf, uint64_t key);
void tp_bloom_free(struct tp_bloom *bf);

#endif
