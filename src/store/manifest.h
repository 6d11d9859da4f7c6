/* The store's manifest: one file, DIR/manifest, listing every closed
 * segment with its time range, link type, packet count and a Bloom
 * filter of its keys, so that a query opens only the segments that can
 * match.  Rewritten whole (hidden name, then rename) under an flock of
 * DIR/manifest.lock each time a segment closes; entries whose segment
 * file is gone (retention) are dropped then.  Format in
 * docs/internals/store.md. */
#ifndef TP_STORE_MANIFEST_H
#define TP_STORE_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#include "store/bloom.h"

#define TP_MANIFEST_NAME "manifest"
#define TP_MANIFEST_MAGIC "TPSM"
#define TP_MANIFEST_VERSION 1

struct tp_index;

struct tp_manifest_entry {
	char name[128];          /* "seg-….pcap", in DIR */
	uint64_t first_ns, last_ns;
	uint64_t seg_bytes;
	uint32_t linktype, npkts;
	struct tp_bloom bloom;
};

struct tp_manifest {
	uint32_t n;
	struct tp_manifest_entry *e;   /* sorted by name */
};

/* Parse buf (len bytes) into m.  0, or -EINVAL with the reason in err
 * and m empty, or -ENOMEM. */
int tp_manifest_decode(struct tp_manifest *m, const uint8_t *buf, size_t len,
		       char *err, size_t errlen);

/* Serialise m into a new tp_malloc'd buffer of *len bytes. */
int tp_manifest_encode(const struct tp_manifest *m, uint8_t **out,
		       size_t *len);

/* Read DIR/manifest.  0; -ENOENT when there is none; -EINVAL (err says
 * why) when it is damaged. */
int tp_manifest_load(const char *dir, struct tp_manifest *m, char *err,
		     size_t errlen);

void tp_manifest_free(struct tp_manifest *m);

/* The entry of segment file name, or NULL. */
const struct tp_manifest_entry *tp_manifest_find(const struct tp_manifest *m,
						 const char *name);

/* Enter the segment name (just closed, its index ix) in DIR/manifest.
 * 0 or -errno. */
int tp_manifest_add(const char *dir, const char *name,
		    const struct tp_index *ix);

#endif
