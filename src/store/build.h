/* Building a segment's index as its packets arrive: the stream table (an
 * open-addressing hash over flow key + session + VNI) and the packets'
 * (offset, stream) pairs.  Used by the segment writer and by crash
 * recovery, which rebuilds an index from a segment's records.  The arrays
 * are kept from one segment to the next: a warm builder allocates
 * nothing per packet. */
#ifndef TP_STORE_BUILD_H
#define TP_STORE_BUILD_H

#include <stdbool.h>
#include <stdint.h>

#include "store/index.h"
#include "store/store.h"

struct tp_sessions;

struct tp_idx_bpkt {
	uint64_t off;
	uint32_t stream;         /* UINT32_MAX: not indexed (out of memory) */
};

struct tp_idx_builder {
	struct tp_idx_stream *streams;
	uint32_t *hash;          /* per stream: its slot hash */
	uint32_t nstreams, cap_streams;
	uint32_t *slots;         /* stream number + 1; 0 free */
	uint32_t nslots;         /* power of two */
	struct tp_idx_bpkt *pkts;
	uint32_t npkts, cap_pkts;
	uint64_t first_ns, last_ns;
	/* What finish hands out, kept from one segment to the next. */
	struct tp_idx_stream *out_streams;
	uint64_t *out_offs;
	struct tp_idx_sess *out_sess;
	uint8_t *used;
	uint32_t cap_out_streams, cap_out_offs, cap_out_sess, cap_used;
};

/* 0 or -ENOMEM. */
int tp_idx_builder_init(struct tp_idx_builder *b);
void tp_idx_builder_fini(struct tp_idx_builder *b);

/* Forget the packets and streams (a new segment). */
void tp_idx_builder_reset(struct tp_idx_builder *b);

/* Index the record at off: m as the front made it, p the decoded view
 * (its innermost VXLAN/Geneve VNI is taken).  0 or -ENOMEM (the packet
 * is then not indexed and a query will not find it). */
int tp_idx_builder_add(struct tp_idx_builder *b, uint64_t off,
		       const struct tp_pkt *p, const struct tp_store_meta *m);

/* The index of the packets added: ix's arrays belong to b and stay
 * valid until its next reset (never tp_index_free them); session names
 * come from sessions.  0 or -ENOMEM. */
int tp_idx_builder_finish(struct tp_idx_builder *b, struct tp_sessions *s,
			  uint64_t seg_bytes, uint32_t linktype,
			  struct tp_index *ix);

/* Encode ix and write it to path through a hidden temporary name in the
 * same directory, renamed when complete.  0 or -errno. */
int tp_index_write(const struct tp_index *ix, const char *path);

#endif
