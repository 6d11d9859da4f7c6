/* The packet store: every frame a front receives, as received (outer
 * headers kept), appended to nanosecond pcap segment files with an index
 * per segment; `tapir query` reads them back.  One writer per front, owned
 * by its thread: no locks on the packet path.  See docs/internals/store.md. */
#ifndef TP_STORE_STORE_H
#define TP_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "decode/packet-t.h"
#include "flow/flow-t.h"
#include "util/config.h"

struct tp_store_writer;
struct tp_sessions;

/* What the front knows of a frame after decoding it. */
struct tp_store_meta {
	bool has_flow;           /* an inner IP packet: key and hash are set */
	bool ports_known;        /* the key's ports are the packet's */
	uint32_t hash;
	const struct tp_flow_key *key;
	uint32_t session;        /* index in the session table */
};

/* A writer for front number front into cfg->store_dir (created if
 * missing).  sessions names the sessions in the index.  NULL with errno
 * set on error (logged). */
struct tp_store_writer *tp_store_writer_new(const struct tp_config *cfg,
					    unsigned front,
					    struct tp_sessions *sessions);

/* Append one frame: raw/caplen are its bytes as the source gave them
 * (before decoding, which may point p->data elsewhere), p the decoded
 * view.  Rotates first when the segment is full or old.  Errors are
 * counted and logged once; the packet path never stops for them. */
void tp_store_packet(struct tp_store_writer *w, const uint8_t *raw,
		     uint32_t caplen, const struct tp_pkt *p,
		     const struct tp_store_meta *m);

/* Clock: close the open segment when it is older than store.segment_age
 * at now_ns (packet time, or the wall clock of an idle live source). */
void tp_store_tick(struct tp_store_writer *w, uint64_t now_ns);

/* What a writer has done so far.  tp_store_stats may be called from any
 * thread while the writer's own thread writes (relaxed reads). */
struct tp_store_stats {
	uint64_t packets;        /* records written */
	uint64_t bytes;          /* their bytes, record headers included */
	uint64_t segments;       /* closed and renamed into view */
	uint64_t errors;         /* failed writes, renames, indexes */
};
void tp_store_stats(const struct tp_store_writer *w, struct tp_store_stats *st);

/* Packets written, and write errors, so far. */
uint64_t tp_store_packets(const struct tp_store_writer *w);
uint64_t tp_store_errors(const struct tp_store_writer *w);

/* Close the open segment (renamed, index written) and free.  0 or the
 * -errno of the first failed write. */
int tp_store_writer_free(struct tp_store_writer *w);

/* Segment file names: "seg-<first ns, 20 digits>-f<front>-<pid>-<n>.pcap"
 * (or ".pcap.zst") and its index, the same with ".idx". */
#define TP_STORE_SEG_PREFIX "seg-"
#define TP_STORE_SEG_SUFFIX ".pcap"
/* A zstd-compressed segment (store.compress: zstd): zstd frames of whole
 * records that together decompress to the pcap (`zstdcat` reads it). */
#define TP_STORE_ZSEG_SUFFIX ".pcap.zst"
#define TP_STORE_IDX_SUFFIX ".idx"

/* The length of name without its segment suffix (".pcap" or
 * ".pcap.zst") when name is a segment file's ("seg-….pcap[.zst]"), else
 * 0. */
size_t tp_store_seg_base(const char *name);

#endif
