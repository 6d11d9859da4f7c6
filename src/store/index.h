/* The per-segment index: what `tapir query` reads to skip a segment or to
 * pick its candidate packets without reading them.  One file per segment,
 * written when the segment closes; the format (version 3, little-endian:
 * a header, a zstd-compressed stream table, then the streams' offset
 * lists in 4 KiB pages, each with its CRC-32 in the table) is in
 * docs/internals/store.md.  Version 2 indexes (one compressed body) are
 * still read, whole.
 *
 * The index is a table of streams: a stream is the packets of one flow
 * (zone + inner 5-tuple) seen through one mirror session and one VNI.  A
 * stream holds its key and the offsets of its packets in the segment;
 * packet times come from the pcap record headers. */
#ifndef TP_STORE_INDEX_H
#define TP_STORE_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "decode/packet-t.h"

#define TP_IDX_MAGIC "TPSI"
#define TP_IDX_VERSION 3
#define TP_IDX_HDR_LEN 80
#define TP_IDX_PAGE 4096         /* offset lists: a CRC per page */
#define TP_IDX_V2_HDR_LEN 64
#define TP_IDX_STREAM_LEN 60
#define TP_IDX_SESS_LEN 68
/* A segment's first record follows the 24-byte pcap file header. */
#define TP_IDX_FIRST_OFF 24

#define TP_IDX_S_FLOW 1u         /* an inner IP packet: the key is set */
#define TP_IDX_S_PORTS 2u        /* the key's ports are the packets' */
#define TP_IDX_S_VNI 4u          /* vni is set */

struct tp_idx_stream {
	uint16_t zone;
	uint8_t proto, ipver;
	uint8_t flags;           /* TP_IDX_S_* */
	struct tp_addr a[2];     /* canonical order, IPv4 v4-mapped */
	uint16_t port[2];
	uint32_t session;        /* the key of sess[] */
	uint32_t vni;            /* innermost VXLAN/Geneve VNI */
	uint32_t cid;            /* tp_index_cid_key of its Community ID */
	uint32_t npkts;
	uint32_t first;          /* its packets: offs[first .. +npkts) */
	uint32_t voff;           /* decoded: its offsets' varints in raw */
	uint32_t vlen;           /* version 3: their length in bytes */
	uint64_t off0;           /* version 3: its first packet's offset */
};

struct tp_idx_sess {
	uint32_t no;
	char name[64];           /* as stats.log shows it */
};

/* A zstd-compressed segment is a series of zstd frames, each one block of
 * whole records (about 64 KiB of them); the frames together decompress
 * to the pcap file.  A record's address is its offset in that pcap: the
 * block holding it starts at raw, its frame at zoff in the file. */
struct tp_idx_block {
	uint64_t raw, zoff;
};

struct tp_index {
	uint64_t first_ns, last_ns;
	uint64_t seg_bytes;      /* the segment's size when it was closed
				  * (uncompressed) */
	uint32_t linktype;       /* LINKTYPE_* of the segment */
	uint32_t npkts, nstreams, nsess;
	struct tp_idx_stream *streams;
	uint64_t *offs;          /* writer: record offsets grouped by
				  * stream, each group ascending; NULL
				  * when decoded (tp_index_stream_offs) */
	struct tp_idx_sess *sess;
	/* 0 for a plain pcap segment; else the blocks, then an end entry
	 * (raw = seg_bytes, zoff = the file's size). */
	uint32_t nblocks;
	struct tp_idx_block *blocks;
	uint8_t *raw;            /* decoded: where the offset lists are
				  * (version 2: the body; 3: the lists'
				  * pages, read whole or as fetched) */
	uint32_t nraw;
	uint16_t version;        /* decoded: 2 or 3 */
	uint32_t npages;         /* version 3: pages of raw, their CRC-32s */
	uint32_t *page_crc;
	uint8_t *page_ok;        /* opened: 1 when read and checked */
	int fd;                  /* opened: the index file; else -1 */
	uint64_t lists_at;       /* opened: file offset of the lists */
};

/* Serialise ix (streams with their first set, offs grouped) into a new
 * buffer of *len bytes (tp_malloc'd; the caller tp_free's it with *len).
 * 0 or -ENOMEM / -EOVERFLOW / -EIO (compression failed). */
int tp_index_encode(const struct tp_index *ix, uint8_t **out, size_t *len);

/* Parse and check buf (len bytes, stays the caller's) into ix, whose
 * arrays are allocated here; tp_index_free releases them.  0, or -EINVAL
 * with what is wrong in err (bad magic, version, sizes, CRC, a packet
 * offset out of the segment or out of order) and ix empty. */
int tp_index_decode(struct tp_index *ix, const uint8_t *buf, size_t len,
		    char *err, size_t errlen);

/* The record offsets of stream s into out (its npkts of them, ascending):
 * from offs, or from the decoded body's varints (checked by
 * tp_index_decode or tp_index_fetch, which do not expand them: a query
 * needs the offsets of a few streams). */
void tp_index_stream_offs(const struct tp_index *ix, uint32_t s,
			  uint64_t *out);

/* Read and decode the index file at path; as tp_index_decode, or -errno. */
int tp_index_load(struct tp_index *ix, const char *path, char *err,
		  size_t errlen);

/* What a query reads: the header and the stream table of the index at
 * path, with its lists left on disk (the file stays open in ix) until
 * tp_index_fetch reads those of the streams it needs.  A version 2 index
 * is read and decoded whole.  As tp_index_load. */
int tp_index_open(struct tp_index *ix, const char *path, char *err,
		  size_t errlen);

/* Make the offset lists of the nsel streams sel[] readable by
 * tp_index_stream_offs: read their pages (adjacent ones together, all
 * asked of the disk before the first is waited for), check the pages'
 * CRCs and the lists.  Nothing to do for an index decoded whole.  0,
 * -EINVAL with what is wrong in err, -ENOMEM or -errno. */
int tp_index_fetch(struct tp_index *ix, const uint32_t *sel, uint32_t nsel,
		   char *err, size_t errlen);

/* Free what tp_index_decode allocated; ix is left empty. */
void tp_index_free(struct tp_index *ix);

/* The 32-bit key of a Community ID string ("1:..."): what the index and
 * the manifest keep of it.  A match on it is a candidate; the query
 * verifies the packets. */
uint32_t tp_index_cid_key(const char *cid);

/* Read a whole file into a new tp_malloc'd buffer (*len bytes).  0 or
 * -errno. */
int tp_index_slurp(const char *path, uint8_t **buf, size_t *len);

/* Write n bytes of buf to tmp, then rename it to path (readers see the
 * whole file or none).  tmp is removed on failure.  0 or -errno. */
int tp_index_put_file(const char *tmp, const char *path, const uint8_t *buf,
		      size_t n);

#endif
