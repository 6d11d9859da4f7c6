/* Retention of the packet store: the oldest segments, with their index,
 * are removed when the store passes store.max_size, when its file system
 * has less free space than store.min_free, or when they are older than
 * store.max_age, whichever comes first.  The newest closed segment and the
 * open ones are never removed.  A segment is removed by renaming it to a
 * hidden ".del-<name>" first, then removing its index, then the ".del-"
 * file, so that no index is ever left without its segment in view (the
 * writer's recovery removes ".del-" leftovers).  See
 * docs/internals/store.md, "Retention". */
#ifndef TP_STORE_RETENTION_H
#define TP_STORE_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "util/config.h"

enum tp_retention_reason {
	TP_RET_SIZE = 0,         /* store.max_size passed */
	TP_RET_FREE,             /* free space below store.min_free */
	TP_RET_AGE,              /* older than store.max_age */
	TP_RET__COUNT,
};

struct tp_retention_stats {
	uint64_t segments[TP_RET__COUNT];  /* removed, by reason */
	uint64_t bytes[TP_RET__COUNT];     /* their bytes, index included */
	uint64_t orphans;        /* index files without a segment, removed */
	uint64_t errors;         /* a listing or a removal that failed */
	uint64_t passes;
	uint64_t store_bytes;    /* every file of the store, at the last pass */
	uint64_t store_segments; /* closed segments left after the last pass */
};

struct tp_retention;

/* The name of a reason as stats.log writes it: "size", "free", "age". */
const char *tp_retention_reason_name(enum tp_retention_reason r);

/* Does cfg ask for any retention (a budget, a floor or an age)? */
bool tp_retention_wanted(const struct tp_config *cfg);

/* Retention of cfg->store_dir by cfg's limits; cfg must outlive it.  NULL
 * on ENOMEM. */
struct tp_retention *tp_retention_new(const struct tp_config *cfg);

/* One pass at wall time now_ns: list the store and remove what the limits
 * say, oldest first.  Thread-safe against the writers (they only add
 * files).  0, or -errno when the store cannot be listed (counted). */
int tp_retention_pass(struct tp_retention *r, uint64_t now_ns);

/* Run a pass every interval_ns on a thread of its own (nice 10, every
 * signal blocked) until tp_retention_free.  0 or -errno. */
int tp_retention_start(struct tp_retention *r, uint64_t interval_ns);

/* The counters so far; from any thread. */
void tp_retention_stats(const struct tp_retention *r,
			struct tp_retention_stats *st);

/* Stop the thread, if any, and free r.  NULL is ignored. */
void tp_retention_free(struct tp_retention *r);

#endif
