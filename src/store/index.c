/* The per-segment index file: encode, decode and check.  Layout of
 * version 3 (all integers little-endian; docs/internals/store.md has the
 * details):
 *
 *   header (80 bytes)   magic "TPSI", version 3, header length, time
 *                       range, segment bytes, link type, counts, the
 *                       lengths of the table (raw and compressed) and of
 *                       the lists, the page size, the table's CRC-32
 *   table, one zstd frame:
 *     streams           nstreams x 60  key, session, VNI, community id
 *                                      key, packet count
 *     sessions          nsess    x 68  number, name
 *     list places       nstreams x 2   per stream: its list's length in
 *                       varints        bytes, and its first packet's
 *                                      offset as the (zigzag) distance
 *                                      from the previous stream's
 *     blocks            nblocks x 2    of a zstd segment: varint pairs,
 *                       varints        the distances from the previous
 *                                      block's start (uncompressed and
 *                                      in the file)
 *     page CRCs         npages x 4     zlib crc32 of each 4 KiB page of
 *                                      the lists
 *   lists, not compressed: per stream in stream order, the distances
 *                       between its packets' offsets (npkts - 1 varints)
 *
 * A query reads the header and the table, then only the pages holding
 * the lists of the streams it wants (tp_index_open, tp_index_fetch).
 * Version 2 (a 64-byte header, one zstd body with every list, a CRC-32
 * trailer) is still read, whole.
 *
 * A segment of 256 MiB holds some 10^6 packets and 10^4-10^5 streams:
 * about 3 bytes per packet, most of it the offset distances. */
#include "store/index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zlib.h>
#include <zstd.h>

#include "store/le.h"
#include "util/mem.h"

/* Bounds on what a header may claim, so that a damaged one cannot make
 * the reader allocate without limit. */
#define MAX_RAW (1u << 30)
#define MAX_RATIO 4096u

uint32_t tp_index_cid_key(const char *cid)
{
	return (uint32_t)XXH64(cid, strlen(cid), 0x7461706972ull);
}

static size_t put_varint(uint8_t *q, uint64_t v)
{
	size_t n = 0;
	while (v >= 0x80) {
		q[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	q[n++] = (uint8_t)v;
	return n;
}

/* 0, or -1 past end or over 64 bits. */
static int get_varint(const uint8_t **q, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;
	for (unsigned s = 0; s < 64; s += 7) {
		if (*q >= end)
			return -1;
		uint8_t b = *(*q)++;
		x |= (uint64_t)(b & 0x7f) << s;
		if (!(b & 0x80)) {
			*v = x;
			return 0;
		}
	}
	return -1;
}

static uint64_t zigzag(uint64_t cur, uint64_t prev)
{
	int64_t d = (int64_t)(cur - prev);
	return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63);
}

static uint64_t unzigzag(uint64_t v)
{
	return (v >> 1) ^ (0 - (v & 1));
}

static uint32_t pages_of(uint64_t n)
{
	return (uint32_t)((n + TP_IDX_PAGE - 1) / TP_IDX_PAGE);
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

int tp_index_encode(const struct tp_index *ix, uint8_t **out, size_t *len)
{
	/* The lists' lengths first, so that the table can be written and
	 * compressed before the lists are written behind it, in place. */
	uint64_t llen = 0;
	for (uint32_t i = 0; i < ix->nstreams; i++) {
		const struct tp_idx_stream *s = &ix->streams[i];
		const uint64_t *o = ix->offs + s->first;
		for (uint32_t k = 1; k < s->npkts; k++)
			llen += varint_len(o[k] - o[k - 1]);
	}
	uint64_t tcap = (uint64_t)ix->nstreams * (TP_IDX_STREAM_LEN + 20) +
			(uint64_t)ix->nsess * TP_IDX_SESS_LEN +
			(uint64_t)ix->nblocks * 20 + 4ull * (pages_of(llen) + 1);
	if (llen > MAX_RAW || tcap > MAX_RAW)
		return -EOVERFLOW;
	size_t nt = (size_t)tcap;
	uint8_t *tab = tp_malloc(nt);
	uint8_t *buf = NULL;
	size_t n = 0;
	int rc = -ENOMEM;
	if (!tab)
		goto out;
	uint8_t *q = tab;
	for (uint32_t i = 0; i < ix->nstreams; i++, q += TP_IDX_STREAM_LEN) {
		const struct tp_idx_stream *s = &ix->streams[i];
		tp_le_put16(q, s->zone);
		q[2] = s->proto;
		q[3] = s->ipver;
		q[4] = s->flags;
		q[5] = q[6] = q[7] = 0;
		memcpy(q + 8, s->a[0].b, 16);
		memcpy(q + 24, s->a[1].b, 16);
		tp_le_put16(q + 40, s->port[0]);
		tp_le_put16(q + 42, s->port[1]);
		tp_le_put32(q + 44, s->session);
		tp_le_put32(q + 48, s->vni);
		tp_le_put32(q + 52, s->cid);
		tp_le_put32(q + 56, s->npkts);
	}
	for (uint32_t i = 0; i < ix->nsess; i++, q += TP_IDX_SESS_LEN) {
		tp_le_put32(q, ix->sess[i].no);
		memset(q + 4, 0, 64);
		memcpy(q + 4, ix->sess[i].name, strnlen(ix->sess[i].name, 63));
	}
	/* Where each list is: its length and its first offset. */
	uint64_t prev0 = 0;
	for (uint32_t i = 0; i < ix->nstreams; i++) {
		const struct tp_idx_stream *s = &ix->streams[i];
		const uint64_t *o = ix->offs + s->first;
		uint64_t o0 = s->npkts ? o[0] : prev0, vl = 0;
		for (uint32_t k = 1; k < s->npkts; k++)
			vl += varint_len(o[k] - o[k - 1]);
		q += put_varint(q, vl);
		q += put_varint(q, zigzag(o0, prev0));
		prev0 = o0;
	}
	for (uint32_t i = 0; i < ix->nblocks; i++) {
		q += put_varint(q, ix->blocks[i].raw - (i ? ix->blocks[i - 1].raw
							: 0));
		q += put_varint(q, ix->blocks[i].zoff -
				       (i ? ix->blocks[i - 1].zoff : 0));
	}
	/* The page CRCs are filled in once the lists are written. */
	uint8_t *crcs = q;
	q += 4ull * pages_of(llen);
	size_t tlen = (size_t)(q - tab);
	size_t zcap = ZSTD_compressBound(tlen);
	n = TP_IDX_HDR_LEN + zcap + (size_t)llen;
	if (!(buf = tp_malloc(n)))
		goto out;
	/* The lists go at the end of the buffer while the table's
	 * compressed size is not known, and are moved behind it after. */
	uint8_t *lists = buf + TP_IDX_HDR_LEN + zcap, *l = lists;
	for (uint32_t i = 0; i < ix->nstreams; i++) {
		const struct tp_idx_stream *s = &ix->streams[i];
		const uint64_t *o = ix->offs + s->first;
		for (uint32_t k = 1; k < s->npkts; k++)
			l += put_varint(l, o[k] - o[k - 1]);
	}
	for (uint32_t p = 0; p < pages_of(llen); p++) {
		size_t at = (size_t)p * TP_IDX_PAGE;
		size_t pl = llen - at < TP_IDX_PAGE ? llen - at : TP_IDX_PAGE;
		tp_le_put32(crcs + 4 * p, (uint32_t)crc32(0, lists + at,
							  (uInt)pl));
	}
	size_t zlen = ZSTD_compress(buf + TP_IDX_HDR_LEN, zcap, tab, tlen, 1);
	if (ZSTD_isError(zlen)) {
		rc = -EIO;
		goto out;
	}
	memmove(buf + TP_IDX_HDR_LEN + zlen, lists, (size_t)llen);
	memcpy(buf, TP_IDX_MAGIC, 4);
	tp_le_put16(buf + 4, TP_IDX_VERSION);
	tp_le_put16(buf + 6, TP_IDX_HDR_LEN);
	tp_le_put64(buf + 8, ix->first_ns);
	tp_le_put64(buf + 16, ix->last_ns);
	tp_le_put64(buf + 24, ix->seg_bytes);
	tp_le_put32(buf + 32, ix->linktype);
	tp_le_put32(buf + 36, ix->npkts);
	tp_le_put32(buf + 40, ix->nstreams);
	tp_le_put32(buf + 44, ix->nsess);
	tp_le_put32(buf + 48, (uint32_t)tlen);
	tp_le_put32(buf + 52, (uint32_t)zlen);
	tp_le_put32(buf + 56, ix->nblocks);
	tp_le_put32(buf + 60, (uint32_t)llen);
	tp_le_put32(buf + 64, TP_IDX_PAGE);
	tp_le_put32(buf + 68, 0);
	uLong crc = crc32(0, buf, 72);
	tp_le_put32(buf + 72, (uint32_t)crc32(crc, buf + TP_IDX_HDR_LEN,
					      (uInt)zlen));
	tp_le_put32(buf + 76, 0);
	/* The caller frees what it was told: give back the slack. */
	size_t used = TP_IDX_HDR_LEN + zlen + (size_t)llen;
	uint8_t *fit = tp_realloc(buf, n, used);
	*out = fit ? fit : buf;
	*len = fit ? used : n;
	buf = NULL;
	rc = 0;
out:
	tp_free(buf, n);
	tp_free(tab, nt);
	return rc;
}

void tp_index_free(struct tp_index *ix)
{
	tp_free(ix->streams, (size_t)ix->nstreams * sizeof(*ix->streams));
	tp_free(ix->offs, (size_t)ix->npkts * sizeof(*ix->offs));
	tp_free(ix->sess, (size_t)ix->nsess * sizeof(*ix->sess));
	tp_free(ix->blocks, (size_t)ix->nblocks * sizeof(*ix->blocks));
	tp_free(ix->raw, ix->nraw ? ix->nraw : 1);
	tp_free(ix->page_crc, (size_t)ix->npages * sizeof(*ix->page_crc));
	if (ix->page_ok) {
		tp_free(ix->page_ok, ix->npages ? ix->npages : 1);
		close(ix->fd);
	}
	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
}

static int bad(struct tp_index *ix, char *err, size_t errlen, const char *m)
{
	tp_index_free(ix);
	snprintf(err, errlen, "%s", m);
	return -EINVAL;
}

/* The magic and the header length of the version in buf (len >= 8).  The
 * version, or 0 with err set. */
static unsigned check_magic(const uint8_t *buf, size_t len, char *err,
			    size_t errlen)
{
	if (len < 8 || memcmp(buf, TP_IDX_MAGIC, 4) != 0) {
		snprintf(err, errlen, "not a tapir segment index");
		return 0;
	}
	unsigned v = tp_le_get16(buf + 4);
	unsigned hl = v == 2 ? TP_IDX_V2_HDR_LEN : TP_IDX_HDR_LEN;
	if (v != 2 && v != TP_IDX_VERSION) {
		snprintf(err, errlen, "index version %u, this tapir reads 2 "
			 "and %u", v, TP_IDX_VERSION);
		return 0;
	}
	if (tp_le_get16(buf + 6) != hl) {
		snprintf(err, errlen, "index header of %u bytes, expected %u",
			 tp_le_get16(buf + 6), hl);
		return 0;
	}
	if (len < hl) {
		snprintf(err, errlen, "index shorter than its header");
		return 0;
	}
	return v;
}

/* The stream table and the sessions at *q into ix (its counts set, its
 * arrays allocated), *q moved past them.  NULL, or what is wrong. */
static const char *get_streams(struct tp_index *ix, const uint8_t **qp)
{
	const uint8_t *q = *qp;
	uint64_t total = 0;
	for (uint32_t i = 0; i < ix->nstreams; i++, q += TP_IDX_STREAM_LEN) {
		struct tp_idx_stream *s = &ix->streams[i];
		s->zone = tp_le_get16(q);
		s->proto = q[2];
		s->ipver = q[3];
		s->flags = q[4];
		memcpy(s->a[0].b, q + 8, 16);
		memcpy(s->a[1].b, q + 24, 16);
		s->port[0] = tp_le_get16(q + 40);
		s->port[1] = tp_le_get16(q + 42);
		s->session = tp_le_get32(q + 44);
		s->vni = tp_le_get32(q + 48);
		s->cid = tp_le_get32(q + 52);
		s->npkts = tp_le_get32(q + 56);
		s->first = (uint32_t)total;
		total += s->npkts;
		if (total > ix->npkts)
			return "index streams hold more packets than its "
			       "header counts";
	}
	if (total != ix->npkts)
		return "index streams hold fewer packets than its header "
		       "counts";
	for (uint32_t i = 0; i < ix->nsess; i++, q += TP_IDX_SESS_LEN) {
		ix->sess[i].no = tp_le_get32(q);
		memcpy(ix->sess[i].name, q + 4, 63);
		ix->sess[i].name[63] = 0;
	}
	*qp = q;
	return NULL;
}

/* A zstd segment's block table at *q (before end) into ix->blocks.  NULL,
 * or what is wrong. */
static const char *get_blocks(struct tp_index *ix, const uint8_t **q,
			      const uint8_t *end)
{
	for (uint32_t i = 0; i < ix->nblocks; i++) {
		uint64_t dr, dz;
		struct tp_idx_block *b = &ix->blocks[i];
		if (get_varint(q, end, &dr) < 0 || get_varint(q, end, &dz) < 0 ||
		    (i && (!dr || !dz)) || (!i && (dr || dz)))
			return "index block table out of order";
		b->raw = (i ? b[-1].raw : 0) + dr;
		b->zoff = (i ? b[-1].zoff : 0) + dz;
		if (b->raw < dr || b->zoff < dz || b->raw > ix->seg_bytes ||
		    (i == ix->nblocks - 1 && b->raw != ix->seg_bytes))
			return "index block table does not cover the segment";
	}
	return NULL;
}

/* Version 2: one compressed body with every list, a CRC-32 trailer. */
static int decode_v2(struct tp_index *ix, const uint8_t *buf, size_t len,
		     char *err, size_t errlen)
{
	if (len < TP_IDX_V2_HDR_LEN + 4) {
		snprintf(err, errlen, "not a tapir segment index");
		return -EINVAL;
	}
	uint32_t crc = (uint32_t)crc32(0, buf, (uInt)(len - 4));
	if (crc != tp_le_get32(buf + len - 4)) {
		snprintf(err, errlen, "index CRC mismatch (damaged file)");
		return -EINVAL;
	}
	struct tp_index h = {
		.first_ns = tp_le_get64(buf + 8), .last_ns = tp_le_get64(buf + 16),
		.seg_bytes = tp_le_get64(buf + 24), .linktype = tp_le_get32(buf + 32),
		.npkts = tp_le_get32(buf + 36), .nstreams = tp_le_get32(buf + 40),
		.nsess = tp_le_get32(buf + 44), .nblocks = tp_le_get32(buf + 56),
		.version = 2, .fd = -1,
	};
	uint32_t rawlen = tp_le_get32(buf + 48), zlen = tp_le_get32(buf + 52);
	if ((uint64_t)TP_IDX_V2_HDR_LEN + zlen + 4 != len) {
		snprintf(err, errlen, "index sections do not add up to its "
			 "%zu bytes", len);
		return -EINVAL;
	}
	uint64_t fixed = (uint64_t)h.nstreams * TP_IDX_STREAM_LEN +
			 (uint64_t)h.nsess * TP_IDX_SESS_LEN;
	if (rawlen > MAX_RAW || rawlen > (uint64_t)zlen * MAX_RATIO + 4096 ||
	    fixed + h.npkts + 2ull * h.nblocks > rawlen || h.nblocks == 1) {
		snprintf(err, errlen, "index counts do not fit its body");
		return -EINVAL;
	}
	uint8_t *raw = tp_malloc(rawlen ? rawlen : 1);
	if (!raw) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	size_t got = ZSTD_decompress(raw, rawlen, buf + TP_IDX_V2_HDR_LEN, zlen);
	if (ZSTD_isError(got) || got != rawlen) {
		tp_free(raw, rawlen ? rawlen : 1);
		snprintf(err, errlen, "index body does not decompress");
		return -EINVAL;
	}
	*ix = h;
	ix->streams = h.nstreams ? tp_calloc(h.nstreams, sizeof(*ix->streams))
				 : NULL;
	ix->sess = h.nsess ? tp_calloc(h.nsess, sizeof(*ix->sess)) : NULL;
	ix->blocks = h.nblocks ? tp_calloc(h.nblocks, sizeof(*ix->blocks))
			       : NULL;
	int rc = 0;
	if ((h.nstreams && !ix->streams) || (h.nsess && !ix->sess) ||
	    (h.nblocks && !ix->blocks)) {
		bad(ix, err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	const uint8_t *q = raw, *end = raw + rawlen;
	const char *why = get_streams(ix, &q);
	if (why) {
		rc = bad(ix, err, errlen, why);
		goto out;
	}
	for (uint32_t i = 0; i < h.nstreams; i++) {
		struct tp_idx_stream *s = &ix->streams[i];
		uint64_t prev = 0;
		s->voff = (uint32_t)(q - raw);
		for (uint32_t k = 0; k < s->npkts; k++) {
			uint64_t d;
			if (get_varint(&q, end, &d) < 0 || (k && !d) ||
			    d > h.seg_bytes - prev) {
				rc = bad(ix, err, errlen, "index packet offsets "
					 "out of order or past the segment");
				goto out;
			}
			prev += d;
			if (prev < TP_IDX_FIRST_OFF || h.seg_bytes < 16 ||
			    prev > h.seg_bytes - 16) {
				rc = bad(ix, err, errlen, "index packet offset "
					 "outside the segment's records");
				goto out;
			}
		}
	}
	if ((why = get_blocks(ix, &q, end))) {
		rc = bad(ix, err, errlen, why);
		goto out;
	}
	if (q != end) {
		rc = bad(ix, err, errlen, "index body has bytes after its "
			 "packet offsets");
		goto out;
	}
	ix->raw = raw;
	ix->nraw = rawlen;
	return 0;
out:
	tp_free(raw, rawlen ? rawlen : 1);
	return rc;
}

/* Version 3, its header (80 bytes at b) into *h and the table's and the
 * lists' lengths.  0 or -EINVAL with err set. */
static int v3_header(struct tp_index *h, uint32_t *tlen, uint32_t *zlen,
		     uint32_t *llen, const uint8_t *b, char *err, size_t errlen)
{
	*h = (struct tp_index){
		.first_ns = tp_le_get64(b + 8), .last_ns = tp_le_get64(b + 16),
		.seg_bytes = tp_le_get64(b + 24), .linktype = tp_le_get32(b + 32),
		.npkts = tp_le_get32(b + 36), .nstreams = tp_le_get32(b + 40),
		.nsess = tp_le_get32(b + 44), .nblocks = tp_le_get32(b + 56),
		.version = 3, .fd = -1,
	};
	*tlen = tp_le_get32(b + 48);
	*zlen = tp_le_get32(b + 52);
	*llen = tp_le_get32(b + 60);
	h->npages = pages_of(*llen);
	uint64_t fixed = (uint64_t)h->nstreams * (TP_IDX_STREAM_LEN + 2) +
			 (uint64_t)h->nsess * TP_IDX_SESS_LEN +
			 2ull * h->nblocks + 4ull * h->npages;
	if (tp_le_get32(b + 64) != TP_IDX_PAGE) {
		snprintf(err, errlen, "index pages of %u bytes, expected %u",
			 tp_le_get32(b + 64), TP_IDX_PAGE);
		return -EINVAL;
	}
	if (*tlen > MAX_RAW || *llen > MAX_RAW ||
	    *tlen > (uint64_t)*zlen * MAX_RATIO + 4096 || fixed > *tlen ||
	    h->nblocks == 1) {
		snprintf(err, errlen, "index counts do not fit its table");
		return -EINVAL;
	}
	return 0;
}

/* Version 3: the table (tlen bytes decompressed from z) into ix, whose
 * header is h.  0 or an error with ix empty. */
static int v3_table(struct tp_index *ix, const struct tp_index *h,
		    const uint8_t *hdr, const uint8_t *z, uint32_t zlen,
		    uint32_t tlen, uint32_t llen, char *err, size_t errlen)
{
	uint32_t crc = (uint32_t)crc32(crc32(0, hdr, 72), z, zlen);
	if (crc != tp_le_get32(hdr + 72)) {
		snprintf(err, errlen, "index CRC mismatch (damaged file)");
		return -EINVAL;
	}
	uint8_t *tab = tp_malloc(tlen ? tlen : 1);
	if (!tab) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	size_t got = ZSTD_decompress(tab, tlen, z, zlen);
	if (ZSTD_isError(got) || got != tlen) {
		tp_free(tab, tlen ? tlen : 1);
		snprintf(err, errlen, "index table does not decompress");
		return -EINVAL;
	}
	*ix = *h;
	ix->streams = h->nstreams ? tp_calloc(h->nstreams, sizeof(*ix->streams))
				  : NULL;
	ix->sess = h->nsess ? tp_calloc(h->nsess, sizeof(*ix->sess)) : NULL;
	ix->blocks = h->nblocks ? tp_calloc(h->nblocks, sizeof(*ix->blocks))
				: NULL;
	ix->page_crc = h->npages ? tp_calloc(h->npages, sizeof(uint32_t)) : NULL;
	int rc = 0;
	if ((h->nstreams && !ix->streams) || (h->nsess && !ix->sess) ||
	    (h->nblocks && !ix->blocks) || (h->npages && !ix->page_crc)) {
		bad(ix, err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	const uint8_t *q = tab, *end = tab + tlen;
	const char *why = get_streams(ix, &q);
	if (why) {
		rc = bad(ix, err, errlen, why);
		goto out;
	}
	uint64_t at = 0, prev0 = 0;
	for (uint32_t i = 0; i < h->nstreams; i++) {
		struct tp_idx_stream *s = &ix->streams[i];
		uint64_t vlen, d;
		if (get_varint(&q, end, &vlen) < 0 ||
		    get_varint(&q, end, &d) < 0) {
			rc = bad(ix, err, errlen, "index table cut short");
			goto out;
		}
		s->off0 = prev0 + unzigzag(d);
		prev0 = s->off0;
		/* npkts - 1 distances of 1 to 10 bytes each. */
		uint64_t nd = s->npkts ? s->npkts - 1 : 0;
		if (vlen < nd || vlen > nd * 10 || vlen > llen - at) {
			rc = bad(ix, err, errlen, "index list lengths do not "
				 "fit its packets");
			goto out;
		}
		if (s->npkts && (s->off0 < TP_IDX_FIRST_OFF ||
				 h->seg_bytes < TP_IDX_FIRST_OFF + 16 ||
				 s->off0 > h->seg_bytes - 16)) {
			rc = bad(ix, err, errlen, "index packet offset "
				 "outside the segment's records");
			goto out;
		}
		s->voff = (uint32_t)at;
		s->vlen = (uint32_t)vlen;
		at += vlen;
	}
	if (at != llen) {
		rc = bad(ix, err, errlen, "index lists do not add up to their "
			 "length");
		goto out;
	}
	if ((why = get_blocks(ix, &q, end))) {
		rc = bad(ix, err, errlen, why);
		goto out;
	}
	if ((size_t)(end - q) != 4ull * h->npages) {
		rc = bad(ix, err, errlen, "index table does not end with its "
			 "page CRCs");
		goto out;
	}
	for (uint32_t p = 0; p < h->npages; p++, q += 4)
		ix->page_crc[p] = tp_le_get32(q);
out:
	tp_free(tab, tlen ? tlen : 1);
	return rc;
}

/* Check page p of the lists (in ix->raw). */
static bool page_good(const struct tp_index *ix, uint32_t p)
{
	size_t at = (size_t)p * TP_IDX_PAGE;
	size_t pl = ix->nraw - at < TP_IDX_PAGE ? ix->nraw - at : TP_IDX_PAGE;
	return (uint32_t)crc32(0, ix->raw + at, (uInt)pl) == ix->page_crc[p];
}

/* Check stream s's list (version 3): npkts - 1 distances, none 0, that
 * fill its bytes and stay inside the segment's records. */
static bool list_good(const struct tp_index *ix, uint32_t s)
{
	const struct tp_idx_stream *st = &ix->streams[s];
	const uint8_t *q = ix->raw + st->voff, *end = q + st->vlen;
	uint64_t prev = st->off0, d;
	for (uint32_t k = 1; k < st->npkts; k++) {
		if (get_varint(&q, end, &d) < 0 || !d ||
		    d > ix->seg_bytes - 16 - prev)
			return false;
		prev += d;
	}
	return q == end;
}

static int decode_v3(struct tp_index *ix, const uint8_t *buf, size_t len,
		     char *err, size_t errlen)
{
	struct tp_index h;
	uint32_t tlen, zlen, llen;
	int rc = v3_header(&h, &tlen, &zlen, &llen, buf, err, errlen);
	if (rc < 0)
		return rc;
	if ((uint64_t)TP_IDX_HDR_LEN + zlen + llen != len) {
		snprintf(err, errlen, "index sections do not add up to its "
			 "%zu bytes", len);
		return -EINVAL;
	}
	if ((rc = v3_table(ix, &h, buf, buf + TP_IDX_HDR_LEN, zlen, tlen, llen,
			   err, errlen)) < 0)
		return rc;
	if (!(ix->raw = tp_malloc(llen ? llen : 1))) {
		bad(ix, err, errlen, "out of memory");
		return -ENOMEM;
	}
	ix->nraw = llen;
	memcpy(ix->raw, buf + TP_IDX_HDR_LEN + zlen, llen);
	for (uint32_t p = 0; p < ix->npages; p++)
		if (!page_good(ix, p))
			return bad(ix, err, errlen, "index list page CRC "
				   "mismatch (damaged file)");
	for (uint32_t s = 0; s < ix->nstreams; s++)
		if (!list_good(ix, s))
			return bad(ix, err, errlen, "index packet offsets out "
				   "of order or past the segment");
	return 0;
}

int tp_index_decode(struct tp_index *ix, const uint8_t *buf, size_t len,
		    char *err, size_t errlen)
{
	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
	switch (check_magic(buf, len, err, errlen)) {
	case 2:
		return decode_v2(ix, buf, len, err, errlen);
	case TP_IDX_VERSION:
		return decode_v3(ix, buf, len, err, errlen);
	}
	return -EINVAL;
}

void tp_index_stream_offs(const struct tp_index *ix, uint32_t s,
			  uint64_t *out)
{
	const struct tp_idx_stream *st = &ix->streams[s];
	if (ix->offs) {
		memcpy(out, ix->offs + st->first, (size_t)st->npkts * sizeof(*out));
		return;
	}
	const uint8_t *q = ix->raw + st->voff, *end = ix->raw + ix->nraw;
	uint64_t prev = 0, d = 0;
	uint32_t k = 0;
	if (ix->version != 2 && st->npkts)
		out[k++] = prev = st->off0;
	for (; k < st->npkts; k++) {
		get_varint(&q, end, &d);   /* checked when decoded */
		prev += d;
		out[k] = prev;
	}
}

int tp_index_put_file(const char *tmp, const char *path, const uint8_t *buf,
		      size_t n)
{
	int rc = 0, fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
			      0644);
	if (fd < 0)
		return -errno;
	for (size_t at = 0; at < n;) {
		ssize_t r = write(fd, buf + at, n - at);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			break;
		}
		at += (size_t)r;
	}
	if (close(fd) < 0 && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path) < 0)
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

int tp_index_slurp(const char *path, uint8_t **out, size_t *len)
{
	struct stat st;
	int rc = 0, fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;
	size_t n = 0;

	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	n = (size_t)st.st_size;
	buf = tp_malloc(n ? n : 1);
	if (!buf) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)r;
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0) {
		tp_free(buf, n ? n : 1);
		return rc;
	}
	*out = buf;
	*len = n;
	return 0;
}

int tp_index_load(struct tp_index *ix, const char *path, char *err,
		  size_t errlen)
{
	uint8_t *buf;
	size_t n;
	memset(ix, 0, sizeof(*ix));
	int rc = tp_index_slurp(path, &buf, &n);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	char why[200];
	rc = tp_index_decode(ix, buf, n, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	tp_free(buf, n ? n : 1);
	return rc;
}

/* pread all of n bytes at off: 0, -errno, or -EIO when the file ends. */
static int pread_all(int fd, uint8_t *buf, size_t n, uint64_t off)
{
	while (n) {
		ssize_t r = pread(fd, buf, n, (off_t)off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		buf += r;
		n -= (size_t)r;
		off += (uint64_t)r;
	}
	return 0;
}

/* What the first read of an index takes: its header and, in most
 * segments, its whole table. */
#define FIRST_READ (1u << 20)

int tp_index_open(struct tp_index *ix, const char *path, char *err,
		  size_t errlen)
{
	memset(ix, 0, sizeof(*ix));
	ix->fd = -1;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	size_t n = st.st_size < FIRST_READ ? (size_t)st.st_size : FIRST_READ;
	uint8_t *buf = tp_malloc(n ? n : 1), *z = NULL;
	char why[200];
	int rc = -ENOMEM;
	if (!buf) {
		snprintf(why, sizeof(why), "out of memory");
		goto out;
	}
	/* The kernel may read the whole first part at once. */
	posix_fadvise(fd, 0, (off_t)n, POSIX_FADV_WILLNEED);
	if ((rc = pread_all(fd, buf, n, 0)) < 0) {
		snprintf(why, sizeof(why), "%s", strerror(-rc));
		goto out;
	}
	unsigned v = check_magic(buf, n, why, sizeof(why));
	if (v == 2) {
		/* Read whole: its lists are in its one compressed body. */
		tp_free(buf, n ? n : 1);
		close(fd);
		return tp_index_load(ix, path, err, errlen);
	}
	rc = -EINVAL;
	if (!v)
		goto out;
	struct tp_index h;
	uint32_t tlen, zlen, llen;
	if ((rc = v3_header(&h, &tlen, &zlen, &llen, buf, why, sizeof(why))) < 0)
		goto out;
	rc = -EINVAL;
	if ((uint64_t)TP_IDX_HDR_LEN + zlen + llen != (uint64_t)st.st_size) {
		snprintf(why, sizeof(why), "index sections do not add up to "
			 "its %lld bytes", (long long)st.st_size);
		goto out;
	}
	z = buf + TP_IDX_HDR_LEN;
	if (TP_IDX_HDR_LEN + (size_t)zlen > n) {
		if (!(z = tp_malloc(zlen))) {
			rc = -ENOMEM;
			snprintf(why, sizeof(why), "out of memory");
			goto out;
		}
		memcpy(z, buf + TP_IDX_HDR_LEN, n - TP_IDX_HDR_LEN);
		if ((rc = pread_all(fd, z + n - TP_IDX_HDR_LEN,
				    zlen - (n - TP_IDX_HDR_LEN), n)) < 0) {
			snprintf(why, sizeof(why), "%s", strerror(-rc));
			goto out;
		}
	}
	if ((rc = v3_table(ix, &h, buf, z, zlen, tlen, llen, why,
			   sizeof(why))) < 0)
		goto out;
	ix->raw = tp_malloc(llen ? llen : 1);
	ix->page_ok = tp_calloc(ix->npages ? ix->npages : 1, 1);
	if (!ix->raw || !ix->page_ok) {
		tp_free(ix->page_ok, ix->npages ? ix->npages : 1);
		ix->page_ok = NULL;
		tp_index_free(ix);
		rc = -ENOMEM;
		snprintf(why, sizeof(why), "out of memory");
		goto out;
	}
	ix->nraw = llen;
	/* The lists are read a few pages here and there (tp_index_fetch,
	 * which asks for them itself): no read-ahead around them. */
	posix_fadvise(fd, 0, 0, POSIX_FADV_RANDOM);
	ix->fd = fd;
	ix->lists_at = TP_IDX_HDR_LEN + (uint64_t)zlen;
	fd = -1;
	rc = 0;
out:
	if (z && z != buf + TP_IDX_HDR_LEN)
		tp_free(z, zlen);
	tp_free(buf, n ? n : 1);
	if (fd >= 0)
		close(fd);
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	return rc;
}

/* Pages that are wanted and not read yet, at most this many apart, are
 * read together: a few KiB more is cheaper than another request. */
#define PAGE_GAP 8u
#define WANTED 2

int tp_index_fetch(struct tp_index *ix, const uint32_t *sel, uint32_t nsel,
		   char *err, size_t errlen)
{
	if (!ix->page_ok)
		return 0;
	uint32_t lo = UINT32_MAX, hi = 0;
	for (uint32_t i = 0; i < nsel; i++) {
		const struct tp_idx_stream *s = &ix->streams[sel[i]];
		if (!s->vlen)
			continue;
		uint32_t a = s->voff / TP_IDX_PAGE;
		uint32_t b = (s->voff + s->vlen - 1) / TP_IDX_PAGE;
		for (uint32_t p = a; p <= b; p++)
			if (!ix->page_ok[p])
				ix->page_ok[p] = WANTED;
		lo = a < lo ? a : lo;
		hi = b + 1 > hi ? b + 1 : hi;
	}
	/* Runs of wanted pages: all asked of the disk first, then read. */
	for (int pass = 0; pass < 2 && lo < hi; pass++) {
		for (uint32_t p = lo; p < hi;) {
			if (ix->page_ok[p] != WANTED) {
				p++;
				continue;
			}
			uint32_t e = p + 1;
			for (uint32_t q = e; q < hi && q < e + PAGE_GAP; q++)
				if (ix->page_ok[q] == WANTED)
					e = q + 1;
			size_t at = (size_t)p * TP_IDX_PAGE;
			size_t len = ((size_t)e * TP_IDX_PAGE < ix->nraw ?
				      (size_t)e * TP_IDX_PAGE : ix->nraw) - at;
			if (pass == 0) {
				posix_fadvise(ix->fd, (off_t)(ix->lists_at + at),
					      (off_t)len, POSIX_FADV_WILLNEED);
				p = e;
				continue;
			}
			int rc = pread_all(ix->fd, ix->raw + at, len,
					   ix->lists_at + at);
			if (rc < 0) {
				snprintf(err, errlen, "index lists unreadable: "
					 "%s", strerror(-rc));
				return rc;
			}
			for (uint32_t q = p; q < e; q++) {
				if (ix->page_ok[q] == 1)
					continue;
				if (!page_good(ix, q)) {
					snprintf(err, errlen, "index list page "
						 "%u CRC mismatch (damaged "
						 "file)", q);
					return -EINVAL;
				}
				ix->page_ok[q] = 1;
			}
			p = e;
		}
	}
	for (uint32_t i = 0; i < nsel; i++)
		if (!list_good(ix, sel[i])) {
			snprintf(err, errlen, "index packet offsets out of "
				 "order or past the segment");
			return -EINVAL;
		}
	return 0;
}
