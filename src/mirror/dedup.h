/* Removal of double-mirrored packets.  When both ends of a conversation
 * are mirrored, every packet arrives twice, from two sessions, with the
 * same inner IP packet except TTL and header checksum (and, when the mirror
 * truncates, with the same truncation).  A packet whose inner IP packet was
 * already seen in the same zone within the window is a duplicate.
 *
 * The window (dedup.window, default 5 ms) must cover the second copy's
 * delay - under 1 ms in one availability zone, a few ms across zones or
 * through a load balancer - and stay below the soonest retransmission that
 * could repeat a packet byte for byte: a TCP retransmission timeout is at
 * least 200 ms and a tail-loss probe at least 10 ms, and both almost always
 * differ in IP id or TCP timestamp anyway.
 *
 * The table belongs to one worker: both copies of a packet carry the same
 * inner flow and so reach the same worker. */
#ifndef TP_MIRROR_DEDUP_H
#define TP_MIRROR_DEDUP_H

#include <stdbool.h>
#include <stdint.h>

#include "decode/packet-t.h"

struct tp_dedup;

/* slots is rounded up to a power of two.  NULL on ENOMEM. */
struct tp_dedup *tp_dedup_new(uint32_t slots, uint64_t window_ns);
void tp_dedup_free(struct tp_dedup *dd);

/* Fingerprint of p's inner IP packet in zone (never 0); 0 when p has no
 * IP packet to compare. */
uint64_t tp_dedup_hash(const struct tp_pkt *p, uint16_t zone);

/* True when fingerprint h was seen within the window before now_ns; the
 * packet is remembered otherwise. */
bool tp_dedup_check(struct tp_dedup *dd, uint64_t h, uint64_t now_ns);

/* Start loading the slots of fingerprint h (batch processing). */
void tp_dedup_prefetch(const struct tp_dedup *dd, uint64_t h);

/* Remembered packets pushed out before their window ended (table full). */
uint64_t tp_dedup_evictions(const struct tp_dedup *dd);

#endif
