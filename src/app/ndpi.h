/* nDPI (Debian's libndpi 4.2) behind a small interface, so that the rest
 * of tapir builds without it: every function is a no-op returning NULL or
 * false when tapir was built without nDPI or with another version. */
#ifndef TP_APP_NDPI_H
#define TP_APP_NDPI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tp_ndpi;
struct tp_ndpi_flow;

/* True when this build classifies with nDPI. */
bool tp_ndpi_available(void);

/* A detection module (one per worker: not thread-safe; create them one
 * at a time).  NULL when unavailable or on ENOMEM. */
struct tp_ndpi *tp_ndpi_new(void);
void tp_ndpi_free(struct tp_ndpi *nd);

/* State of one flow while it is classified (a few KiB).  NULL on ENOMEM. */
struct tp_ndpi_flow *tp_ndpi_flow_new(struct tp_ndpi *nd);
void tp_ndpi_flow_free(struct tp_ndpi_flow *fl);

/* One packet, b[0..n) from its IP header.  True when classification is
 * over (a protocol found and nothing more to learn). */
bool tp_ndpi_packet(struct tp_ndpi *nd, struct tp_ndpi_flow *fl,
		    const uint8_t *b, uint32_t n, uint64_t ts_ns);

/* The result: conn.log's service name (Zeek's names where Zeek has the
 * protocol, else nDPI's in lower case; "" when unknown) into svc, and
 * the risk bits.  With giveup, what nDPI found so far (no port guess). */
void tp_ndpi_result(struct tp_ndpi *nd, struct tp_ndpi_flow *fl, bool giveup,
		    char *svc, size_t n, uint64_t *risk);

/* nDPI's names of the risk bits, at most max; returns how many. */
size_t tp_ndpi_risk_names(uint64_t risk, const char **names, size_t max);

#endif
