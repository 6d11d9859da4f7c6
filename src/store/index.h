/* The per-segment index: what `tapir query` reads to skip a segment or to
 * pick its candidate packets without reading them.  One file per segment,
 * written when the segment closes; the format (version 1, little-endian,
 * CRC-32 trailer) is in docs/internals/store.md. */
#ifndef TP_STORE_INDEX_H
#define TP_STORE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "decode/packet-t.h"

#define TP_IDX_MAGIC "TPSI"
#define TP_IDX_VERSION 1
#define TP_IDX_HDR_LEN 72
#define TP_IDX_NO_FLOW 0xffffffffu
/* Port posting of a flow whose ports are unknown (an IP fragment): it is a
 * candidate for every port. */
#define TP_IDX_ANY_PORT 0x10000u

#define TP_IDX_PKT_LEN 20
#define TP_IDX_FLOW_LEN 56
#define TP_IDX_IP_LEN 20
#define TP_IDX_POST_LEN 8
#define TP_IDX_SESS_LEN 68

struct tp_idx_pkt {
	uint64_t off;            /* of the pcap record header in the segment */
	uint64_t ts_ns;
	uint32_t flow;           /* TP_IDX_NO_FLOW: no inner IP packet */
};

#define TP_IDX_F_PORTS 1u        /* ports are known */

struct tp_idx_flow {
	uint32_t hash;           /* tp_flow_key_make's, as the front made it */
	uint16_t zone;
	uint8_t proto, ipver;
	struct tp_addr a[2];
	uint16_t port[2];
	uint32_t flags;
	uint32_t first, npkts;   /* its packets: flow_pkts[first .. +npkts) */
};

struct tp_idx_ip {
	struct tp_addr addr;
	uint32_t flow;
};

/* Port, protocol (-> flow), VNI and session (-> packet) postings. */
struct tp_idx_post {
	uint32_t key, id;
};

struct tp_idx_sess {
	uint32_t no;             /* the key of the session postings */
	char name[64];
};

struct tp_index {
	uint64_t first_ns, last_ns;
	uint64_t seg_bytes;      /* the segment's size when it was closed */
	uint32_t linktype;       /* LINKTYPE_* of the segment */
	uint32_t npkts, nflows, nip, nport, nproto, nvni, nsesspost, nsess;
	struct tp_idx_pkt *pkts;
	struct tp_idx_flow *flows;
	uint32_t *flow_pkts;     /* packet numbers grouped by flow */
	struct tp_idx_ip *ip;    /* sorted by (addr, flow) */
	struct tp_idx_post *port, *proto, *vni, *sesspost; /* by (key, id) */
	struct tp_idx_sess *sess;
};

/* Serialise ix into a new buffer of *len bytes (tp_malloc'd; the caller
 * tp_free's it with *len).  0 or -ENOMEM / -EOVERFLOW. */
int tp_index_encode(const struct tp_index *ix, uint8_t **out, size_t *len);

/* Parse and check buf (len bytes, stays the caller's) into ix, whose
 * arrays are allocated here; tp_index_free releases them.  0, or -EINVAL
 * with what is wrong in err (bad magic, version, sizes, CRC, a reference
 * out of range) and ix empty. */
int tp_index_decode(struct tp_index *ix, const uint8_t *buf, size_t len,
		    char *err, size_t errlen);

/* Read and decode the index file at path; as tp_index_decode, or -errno. */
int tp_index_load(struct tp_index *ix, const char *path, char *err,
		  size_t errlen);

/* Free what tp_index_decode allocated; ix is left empty. */
void tp_index_free(struct tp_index *ix);

/* Sort postings in place (writer side). */
void tp_index_sort(struct tp_index *ix);

#endif
