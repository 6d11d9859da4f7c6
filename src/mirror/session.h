/* Mirror sessions and zones.  A session is where a mirrored packet came
 * from: (outer source IP, VNI) for VXLAN and Geneve, (outer source IP,
 * session id) for ERSPAN, (outer source IP, key) for GRE, or the GWLB
 * endpoint id where Geneve carries one.  Sessions map to zones through the
 * configuration; flows are keyed by zone, so two copies of a packet seen
 * through two sessions of one zone meet in one flow.
 *
 * The table is append-only: entries never move or change after creation,
 * so any thread may read a session's name and zone by index at any time.
 * Lookups take no lock; creating a session takes the table's mutex, so
 * several decoding threads may share one table.  Counters are not in the
 * table: each decoding thread and each worker keeps its own, by session
 * index, and the stats sum them. */
#ifndef TP_MIRROR_SESSION_H
#define TP_MIRROR_SESSION_H

#include <stdint.h>

#include "decode/packet-t.h"
#include "util/config.h"

#define TP_SESSION_DIRECT 0     /* packets that came through no tunnel */
#define TP_SESSION_OVERFLOW 1   /* sessions past the table's capacity */

struct tp_session {
	struct tp_addr outer_src;
	uint32_t id;
	uint8_t encap;           /* enum tp_encap */
	uint8_t has_id;
	uint16_t zone;
	uint64_t gwlb_endpoint;
	char name[64];           /* "10.0.1.10/1000", "gwlb:00112233..." */
};

/* A decoding thread's counters of one session. */
struct tp_session_count {
	uint64_t packets, bytes, truncated, anomalies;
	uint64_t queue_drops;    /* not queued: the worker was behind */
};

struct tp_sessions;

/* Table for up to max sessions (two are reserved).  NULL on ENOMEM. */
struct tp_sessions *tp_sessions_new(const struct tp_config *cfg, uint32_t max);
void tp_sessions_free(struct tp_sessions *s);

/* The session of a decoded packet, created on first sight. */
uint32_t tp_session_of(struct tp_sessions *s, const struct tp_pkt *p);

struct tp_session *tp_session_get(struct tp_sessions *s, uint32_t idx);
uint32_t tp_sessions_count(const struct tp_sessions *s);
/* Zone name by index. */
const char *tp_zone_name(const struct tp_sessions *s, uint16_t zone);

#endif
