/* Duplicate detection: a set of 64-bit packet fingerprints with their
 * time, in buckets of one cache line.  Entries expire by time, so
 * no sweep is needed: an old entry is as good as an empty slot. */
#include "mirror/dedup.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util/mem.h"

/* A bucket is one cache line of four slots; a fingerprint lives only in
 * its bucket, so a check reads one line. */
#define PROBE 4
#define TP_DEDUP_MIN(a, b) ((a) < (b) ? (a) : (b))

struct dd_slot {
	uint64_t h;
	uint64_t ts;
};

struct tp_dedup {
	uint64_t window;
	uint32_t mask;
	uint64_t evictions;
	struct dd_slot *slot;
};

struct tp_dedup *tp_dedup_new(uint32_t slots, uint64_t window_ns)
{
	struct tp_dedup *dd = tp_calloc(1, sizeof(*dd));
	uint32_t n = 1024;
	if (!dd)
		return NULL;
	while (n < slots && n < (1u << 30))
		n <<= 1;
	dd->window = window_ns;
	dd->mask = n - 1;
	dd->slot = tp_calloc_aligned(64, (size_t)n * sizeof(*dd->slot));
	if (!dd->slot) {
		tp_free(dd, sizeof(*dd));
		return NULL;
	}
	return dd;
}

void tp_dedup_free(struct tp_dedup *dd)
{
	if (!dd)
		return;
	tp_free(dd->slot, ((size_t)dd->mask + 1) * sizeof(*dd->slot));
	tp_free(dd, sizeof(*dd));
}

uint64_t tp_dedup_hash(const struct tp_pkt *p, uint16_t zone)
{
	uint8_t hdr[64];
	uint32_t hl;

	if (!p->ip || p->ip_cap == 0)
		return 0;
	/* Header with TTL / hop limit and checksum zeroed: the two copies
	 * may cross a different number of hops.  IPv4 options count. */
	if (p->ipver == 4) {
		hl = TP_DEDUP_MIN(p->ip_hlen, p->ip_cap);
		hl = TP_DEDUP_MIN(hl, sizeof(hdr) - 4);
		memcpy(hdr, p->ip, hl);
		if (hl >= 12) {
			hdr[8] = 0;
			hdr[10] = hdr[11] = 0;
		}
	} else {
		hl = TP_DEDUP_MIN(40u, p->ip_cap);
		memcpy(hdr, p->ip, hl);
		if (hl >= 8)
			hdr[7] = 0;
	}
	hdr[hl] = (uint8_t)(zone >> 8);
	hdr[hl + 1] = (uint8_t)zone;
	uint64_t h = XXH3_64bits(hdr, hl + 2);
	/* The transport header and the start of the payload: the TCP, UDP
	 * or ICMP checksum in there already stands for the rest, and with
	 * the IP id and lengths two different packets almost never agree
	 * on these bytes; hashing all of a large packet would cost more
	 * than the rest of its processing. */
	if (p->ip_cap > hl) {
		uint32_t n = p->ip_cap - hl;
		h = XXH3_64bits_withSeed(p->ip + hl, TP_DEDUP_MIN(n, 128u), h);
	}
	return h ? h : 1;
}

bool tp_dedup_check(struct tp_dedup *dd, uint64_t h, uint64_t now)
{
	uint32_t i = (uint32_t)h & dd->mask & ~(uint32_t)(PROBE - 1);
	struct dd_slot *victim = NULL;
	bool victim_live = true;

	for (int n = 0; n < PROBE; n++, i++) {
		struct dd_slot *s = &dd->slot[i];
		/* Either order: a load balancer may reorder the copies. */
		uint64_t age = now >= s->ts ? now - s->ts : s->ts - now;
		bool live = s->h != 0 && age <= dd->window;
		if (live && s->h == h)
			return true;
		if (!live) {
			if (victim_live) {
				victim = s;
				victim_live = false;
			}
		} else if (victim_live && (!victim || s->ts < victim->ts)) {
			victim = s;
		}
	}
	/* Every slot of the run is live: the oldest makes room, counted. */
	if (victim_live)
		dd->evictions++;
	victim->h = h;
	victim->ts = now;
	return false;
}

void tp_dedup_prefetch(const struct tp_dedup *dd, uint64_t h)
{
	__builtin_prefetch(&dd->slot[(uint32_t)h & dd->mask & ~(uint32_t)(PROBE - 1)]);
}

uint64_t tp_dedup_evictions(const struct tp_dedup *dd)
{
	return dd->evictions;
}
