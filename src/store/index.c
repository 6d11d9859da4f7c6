/* The per-segment index file: encode, decode and check.  Layout (all
 * integers little-endian; docs/internals/store.md has the details):
 *
 *   header (64 bytes)   magic "TPSI", version 2, header length, time
 *                       range, segment bytes, link type, counts, body
 *                       lengths (raw and compressed)
 *   body, one zstd frame:
 *     streams           nstreams x 60  key, session, VNI, community id
 *                                      key, packet count
 *     sessions          nsess    x 68  number, name
 *     packet offsets    npkts varints  per stream in stream order, each
 *                                      the distance from the previous
 *                                      packet of the stream (the first:
 *                                      from 0)
 *     blocks            nblocks x 2    of a zstd segment: varint pairs,
 *                       varints        the distances from the previous
 *                                      block's start (uncompressed and
 *                                      in the file)
 *   CRC-32              4              zlib crc32 of every byte before it
 *
 * A segment of 256 MiB holds some 10^6 packets and 10^4-10^5 streams:
 * about 2-3 bytes per packet, most of it the offset deltas. */
#include "store/index.h"

#include <errno.h>
#include <fcntl.h>
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

int tp_index_encode(const struct tp_index *ix, uint8_t **out, size_t *len)
{
	uint64_t fixed = (uint64_t)ix->nstreams * TP_IDX_STREAM_LEN +
			 (uint64_t)ix->nsess * TP_IDX_SESS_LEN;
	uint64_t rawcap = fixed + (uint64_t)ix->npkts * 10 +
			  (uint64_t)ix->nblocks * 20;
	if (rawcap > MAX_RAW)
		return -EOVERFLOW;
	uint8_t *raw = tp_malloc((size_t)rawcap ? (size_t)rawcap : 1);
	if (!raw)
		return -ENOMEM;
	uint8_t *q = raw;
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
	for (uint32_t i = 0; i < ix->nstreams; i++) {
		const struct tp_idx_stream *s = &ix->streams[i];
		uint64_t prev = 0;
		for (uint32_t k = 0; k < s->npkts; k++) {
			uint64_t o = ix->offs[s->first + k];
			q += put_varint(q, o - prev);
			prev = o;
		}
	}
	for (uint32_t i = 0; i < ix->nblocks; i++) {
		q += put_varint(q, ix->blocks[i].raw - (i ? ix->blocks[i - 1].raw
							: 0));
		q += put_varint(q, ix->blocks[i].zoff -
				       (i ? ix->blocks[i - 1].zoff : 0));
	}
	size_t rawlen = (size_t)(q - raw);
	size_t zcap = ZSTD_compressBound(rawlen);
	size_t n = TP_IDX_HDR_LEN + zcap + 4;
	uint8_t *buf = tp_malloc(n);
	if (!buf) {
		tp_free(raw, (size_t)rawcap ? (size_t)rawcap : 1);
		return -ENOMEM;
	}
	size_t zlen = ZSTD_compress(buf + TP_IDX_HDR_LEN, zcap, raw, rawlen, 1);
	tp_free(raw, (size_t)rawcap ? (size_t)rawcap : 1);
	if (ZSTD_isError(zlen)) {
		tp_free(buf, n);
		return -EIO;
	}
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
	tp_le_put32(buf + 48, (uint32_t)rawlen);
	tp_le_put32(buf + 52, (uint32_t)zlen);
	tp_le_put32(buf + 56, ix->nblocks);
	tp_le_put32(buf + 60, 0);
	uint8_t *c = buf + TP_IDX_HDR_LEN + zlen;
	tp_le_put32(c, (uint32_t)crc32(0, buf, (uInt)(c - buf)));
	/* The caller frees what it was told: give back the slack. */
	size_t used = TP_IDX_HDR_LEN + zlen + 4;
	uint8_t *fit = tp_realloc(buf, n, used);
	*out = fit ? fit : buf;
	*len = fit ? used : n;
	return 0;
}

void tp_index_free(struct tp_index *ix)
{
	tp_free(ix->streams, (size_t)ix->nstreams * sizeof(*ix->streams));
	tp_free(ix->offs, (size_t)ix->npkts * sizeof(*ix->offs));
	tp_free(ix->sess, (size_t)ix->nsess * sizeof(*ix->sess));
	tp_free(ix->blocks, (size_t)ix->nblocks * sizeof(*ix->blocks));
	tp_free(ix->raw, ix->nraw ? ix->nraw : 1);
	memset(ix, 0, sizeof(*ix));
}

static int bad(struct tp_index *ix, char *err, size_t errlen, const char *m)
{
	tp_index_free(ix);
	snprintf(err, errlen, "%s", m);
	return -EINVAL;
}

int tp_index_decode(struct tp_index *ix, const uint8_t *buf, size_t len,
		    char *err, size_t errlen)
{
	memset(ix, 0, sizeof(*ix));
	if (len < TP_IDX_HDR_LEN + 4 || memcmp(buf, TP_IDX_MAGIC, 4) != 0) {
		snprintf(err, errlen, "not a tapir segment index");
		return -EINVAL;
	}
	if (tp_le_get16(buf + 4) != TP_IDX_VERSION) {
		snprintf(err, errlen, "index version %u, this tapir reads %u",
			 tp_le_get16(buf + 4), TP_IDX_VERSION);
		return -EINVAL;
	}
	if (tp_le_get16(buf + 6) != TP_IDX_HDR_LEN) {
		snprintf(err, errlen, "index header of %u bytes, expected %u",
			 tp_le_get16(buf + 6), TP_IDX_HDR_LEN);
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
	};
	uint32_t rawlen = tp_le_get32(buf + 48), zlen = tp_le_get32(buf + 52);
	if ((uint64_t)TP_IDX_HDR_LEN + zlen + 4 != len) {
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
	size_t got = ZSTD_decompress(raw, rawlen, buf + TP_IDX_HDR_LEN, zlen);
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
		rc = bad(ix, err, errlen, "out of memory");
		rc = -ENOMEM;
		goto out;
	}
	const uint8_t *q = raw, *end = raw + rawlen;
	uint64_t total = 0;
	for (uint32_t i = 0; i < h.nstreams; i++, q += TP_IDX_STREAM_LEN) {
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
		if (total > h.npkts) {
			rc = bad(ix, err, errlen, "index streams hold more "
				 "packets than its header counts");
			goto out;
		}
	}
	if (total != h.npkts) {
		rc = bad(ix, err, errlen, "index streams hold fewer packets "
			 "than its header counts");
		goto out;
	}
	for (uint32_t i = 0; i < h.nsess; i++, q += TP_IDX_SESS_LEN) {
		ix->sess[i].no = tp_le_get32(q);
		memcpy(ix->sess[i].name, q + 4, 63);
		ix->sess[i].name[63] = 0;
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
	for (uint32_t i = 0; i < h.nblocks; i++) {
		uint64_t dr, dz;
		struct tp_idx_block *b = &ix->blocks[i];
		if (get_varint(&q, end, &dr) < 0 ||
		    get_varint(&q, end, &dz) < 0 || (i && (!dr || !dz)) ||
		    (!i && (dr || dz))) {
			rc = bad(ix, err, errlen, "index block table out of "
				 "order");
			goto out;
		}
		b->raw = (i ? b[-1].raw : 0) + dr;
		b->zoff = (i ? b[-1].zoff : 0) + dz;
		if (b->raw < dr || b->zoff < dz || b->raw > h.seg_bytes ||
		    (i == h.nblocks - 1 && b->raw != h.seg_bytes)) {
			rc = bad(ix, err, errlen, "index block table does not "
				 "cover the segment");
			goto out;
		}
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
	for (uint32_t k = 0; k < st->npkts; k++) {
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
