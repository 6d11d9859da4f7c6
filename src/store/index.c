/* The per-segment index file: encode, decode and check.  Layout (all
 * integers little-endian; docs/internals/store.md has the details):
 *
 *   header (72 bytes)   magic "TPSI", version, header length, time range,
 *                       segment bytes, link type, section counts
 *   packets             npkts  x 20  offset, time, flow
 *   flows               nflows x 56  hash, zone, 5-tuple, flags, packets
 *   flow packets        npkts  x 4   packet numbers grouped by flow
 *   IP postings         nip    x 20  address -> flow, sorted
 *   port, proto, VNI,   n      x 8   key -> flow (port, proto) or
 *   session postings                 packet (VNI, session), sorted
 *   sessions            nsess  x 68  number, name
 *   CRC-32              4            zlib crc32 of every byte before it
 */
#include "store/index.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/mem.h"

static void put16(uint8_t *q, uint16_t v)
{
	q[0] = (uint8_t)v;
	q[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *q, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		q[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *q, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		q[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get16(const uint8_t *q)
{
	return (uint16_t)(q[0] | q[1] << 8);
}

static uint32_t get32(const uint8_t *q)
{
	return (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
	       (uint32_t)q[3] << 24;
}

static uint64_t get64(const uint8_t *q)
{
	return (uint64_t)get32(q) | (uint64_t)get32(q + 4) << 32;
}

/* Bytes of the sections after the header, CRC excluded; 0 on overflow. */
static uint64_t body_len(const struct tp_index *ix)
{
	return (uint64_t)ix->npkts * (TP_IDX_PKT_LEN + 4) +
	       (uint64_t)ix->nflows * TP_IDX_FLOW_LEN +
	       (uint64_t)ix->nip * TP_IDX_IP_LEN +
	       ((uint64_t)ix->nport + ix->nproto + ix->nvni + ix->nsesspost) *
		       TP_IDX_POST_LEN +
	       (uint64_t)ix->nsess * TP_IDX_SESS_LEN;
}

static int cmp_ip(const void *a, const void *b)
{
	const struct tp_idx_ip *x = a, *y = b;
	int c = memcmp(&x->addr, &y->addr, sizeof(x->addr));
	if (c)
		return c;
	return x->flow < y->flow ? -1 : x->flow > y->flow;
}

static int cmp_post(const void *a, const void *b)
{
	const struct tp_idx_post *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

void tp_index_sort(struct tp_index *ix)
{
	if (ix->nip)
		qsort(ix->ip, ix->nip, sizeof(*ix->ip), cmp_ip);
	if (ix->nport)
		qsort(ix->port, ix->nport, sizeof(*ix->port), cmp_post);
	if (ix->nproto)
		qsort(ix->proto, ix->nproto, sizeof(*ix->proto), cmp_post);
	if (ix->nvni)
		qsort(ix->vni, ix->nvni, sizeof(*ix->vni), cmp_post);
	if (ix->nsesspost)
		qsort(ix->sesspost, ix->nsesspost, sizeof(*ix->sesspost),
		      cmp_post);
}

static uint8_t *put_posts(uint8_t *q, const struct tp_idx_post *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++, q += TP_IDX_POST_LEN) {
		put32(q, p[i].key);
		put32(q + 4, p[i].id);
	}
	return q;
}

int tp_index_encode(const struct tp_index *ix, uint8_t **out, size_t *len)
{
	uint64_t n = TP_IDX_HDR_LEN + body_len(ix) + 4;
	if (n > SIZE_MAX / 2)
		return -EOVERFLOW;
	uint8_t *buf = tp_malloc((size_t)n), *q = buf;
	if (!buf)
		return -ENOMEM;

	memcpy(q, TP_IDX_MAGIC, 4);
	put16(q + 4, TP_IDX_VERSION);
	put16(q + 6, TP_IDX_HDR_LEN);
	put64(q + 8, ix->first_ns);
	put64(q + 16, ix->last_ns);
	put64(q + 24, ix->seg_bytes);
	put32(q + 32, ix->linktype);
	put32(q + 36, ix->npkts);
	put32(q + 40, ix->nflows);
	put32(q + 44, ix->nip);
	put32(q + 48, ix->nport);
	put32(q + 52, ix->nproto);
	put32(q + 56, ix->nvni);
	put32(q + 60, ix->nsesspost);
	put32(q + 64, ix->nsess);
	put32(q + 68, 0);
	q += TP_IDX_HDR_LEN;

	for (uint32_t i = 0; i < ix->npkts; i++, q += TP_IDX_PKT_LEN) {
		put64(q, ix->pkts[i].off);
		put64(q + 8, ix->pkts[i].ts_ns);
		put32(q + 16, ix->pkts[i].flow);
	}
	for (uint32_t i = 0; i < ix->nflows; i++, q += TP_IDX_FLOW_LEN) {
		const struct tp_idx_flow *f = &ix->flows[i];
		put32(q, f->hash);
		put16(q + 4, f->zone);
		q[6] = f->proto;
		q[7] = f->ipver;
		memcpy(q + 8, f->a[0].b, 16);
		memcpy(q + 24, f->a[1].b, 16);
		put16(q + 40, f->port[0]);
		put16(q + 42, f->port[1]);
		put32(q + 44, f->flags);
		put32(q + 48, f->first);
		put32(q + 52, f->npkts);
	}
	for (uint32_t i = 0; i < ix->npkts; i++, q += 4)
		put32(q, ix->flow_pkts[i]);
	for (uint32_t i = 0; i < ix->nip; i++, q += TP_IDX_IP_LEN) {
		memcpy(q, ix->ip[i].addr.b, 16);
		put32(q + 16, ix->ip[i].flow);
	}
	q = put_posts(q, ix->port, ix->nport);
	q = put_posts(q, ix->proto, ix->nproto);
	q = put_posts(q, ix->vni, ix->nvni);
	q = put_posts(q, ix->sesspost, ix->nsesspost);
	for (uint32_t i = 0; i < ix->nsess; i++, q += TP_IDX_SESS_LEN) {
		put32(q, ix->sess[i].no);
		memset(q + 4, 0, 64);
		memcpy(q + 4, ix->sess[i].name, strnlen(ix->sess[i].name, 63));
	}
	put32(q, (uint32_t)crc32(0, buf, (uInt)(q - buf)));
	*out = buf;
	*len = (size_t)n;
	return 0;
}

void tp_index_free(struct tp_index *ix)
{
	tp_free(ix->pkts, (size_t)ix->npkts * sizeof(*ix->pkts));
	tp_free(ix->flows, (size_t)ix->nflows * sizeof(*ix->flows));
	tp_free(ix->flow_pkts, (size_t)ix->npkts * sizeof(*ix->flow_pkts));
	tp_free(ix->ip, (size_t)ix->nip * sizeof(*ix->ip));
	tp_free(ix->port, (size_t)ix->nport * sizeof(*ix->port));
	tp_free(ix->proto, (size_t)ix->nproto * sizeof(*ix->proto));
	tp_free(ix->vni, (size_t)ix->nvni * sizeof(*ix->vni));
	tp_free(ix->sesspost, (size_t)ix->nsesspost * sizeof(*ix->sesspost));
	tp_free(ix->sess, (size_t)ix->nsess * sizeof(*ix->sess));
	memset(ix, 0, sizeof(*ix));
}

/* Zeroed array of n elements; a valid pointer (or NULL) when n is 0. */
static void *arr(uint32_t n, size_t size, int *fail)
{
	if (!n)
		return NULL;
	void *p = tp_calloc(n, size);
	if (!p)
		*fail = 1;
	return p;
}

static const uint8_t *get_posts(const uint8_t *q, struct tp_idx_post *p,
				uint32_t n)
{
	for (uint32_t i = 0; i < n; i++, q += TP_IDX_POST_LEN) {
		p[i].key = get32(q);
		p[i].id = get32(q + 4);
	}
	return q;
}

static int check_posts(const struct tp_idx_post *p, uint32_t n, uint32_t lim)
{
	for (uint32_t i = 0; i < n; i++)
		if (p[i].id >= lim)
			return -1;
	return 0;
}

int tp_index_decode(struct tp_index *ix, const uint8_t *buf, size_t len,
		    char *err, size_t errlen)
{
	memset(ix, 0, sizeof(*ix));
	if (len < TP_IDX_HDR_LEN + 4 || memcmp(buf, TP_IDX_MAGIC, 4) != 0) {
		snprintf(err, errlen, "not a tapir segment index");
		return -EINVAL;
	}
	if (get16(buf + 4) != TP_IDX_VERSION) {
		snprintf(err, errlen, "index version %u, this tapir reads %u",
			 get16(buf + 4), TP_IDX_VERSION);
		return -EINVAL;
	}
	if (get16(buf + 6) != TP_IDX_HDR_LEN) {
		snprintf(err, errlen, "index header of %u bytes, expected %u",
			 get16(buf + 6), TP_IDX_HDR_LEN);
		return -EINVAL;
	}
	uint32_t crc = (uint32_t)crc32(0, buf, (uInt)(len - 4));
	if (crc != get32(buf + len - 4)) {
		snprintf(err, errlen, "index CRC mismatch (damaged file)");
		return -EINVAL;
	}
	struct tp_index h = {
		.first_ns = get64(buf + 8), .last_ns = get64(buf + 16),
		.seg_bytes = get64(buf + 24), .linktype = get32(buf + 32),
		.npkts = get32(buf + 36), .nflows = get32(buf + 40),
		.nip = get32(buf + 44), .nport = get32(buf + 48),
		.nproto = get32(buf + 52), .nvni = get32(buf + 56),
		.nsesspost = get32(buf + 60), .nsess = get32(buf + 64),
	};
	if (TP_IDX_HDR_LEN + body_len(&h) + 4 != len) {
		snprintf(err, errlen, "index sections do not add up to its "
			 "%zu bytes", len);
		return -EINVAL;
	}
	int fail = 0;
	*ix = h;
	ix->pkts = arr(h.npkts, sizeof(*ix->pkts), &fail);
	ix->flows = arr(h.nflows, sizeof(*ix->flows), &fail);
	ix->flow_pkts = arr(h.npkts, sizeof(*ix->flow_pkts), &fail);
	ix->ip = arr(h.nip, sizeof(*ix->ip), &fail);
	ix->port = arr(h.nport, sizeof(*ix->port), &fail);
	ix->proto = arr(h.nproto, sizeof(*ix->proto), &fail);
	ix->vni = arr(h.nvni, sizeof(*ix->vni), &fail);
	ix->sesspost = arr(h.nsesspost, sizeof(*ix->sesspost), &fail);
	ix->sess = arr(h.nsess, sizeof(*ix->sess), &fail);
	if (fail) {
		tp_index_free(ix);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}

	const uint8_t *q = buf + TP_IDX_HDR_LEN;
	for (uint32_t i = 0; i < h.npkts; i++, q += TP_IDX_PKT_LEN) {
		ix->pkts[i].off = get64(q);
		ix->pkts[i].ts_ns = get64(q + 8);
		ix->pkts[i].flow = get32(q + 16);
		if (ix->pkts[i].flow >= h.nflows &&
		    ix->pkts[i].flow != TP_IDX_NO_FLOW)
			goto bad_ref;
	}
	uint64_t total = 0;
	for (uint32_t i = 0; i < h.nflows; i++, q += TP_IDX_FLOW_LEN) {
		struct tp_idx_flow *f = &ix->flows[i];
		f->hash = get32(q);
		f->zone = get16(q + 4);
		f->proto = q[6];
		f->ipver = q[7];
		memcpy(f->a[0].b, q + 8, 16);
		memcpy(f->a[1].b, q + 24, 16);
		f->port[0] = get16(q + 40);
		f->port[1] = get16(q + 42);
		f->flags = get32(q + 44);
		f->first = get32(q + 48);
		f->npkts = get32(q + 52);
		total += f->npkts;
		if ((uint64_t)f->first + f->npkts > h.npkts)
			goto bad_ref;
	}
	if (total > h.npkts)
		goto bad_ref;
	for (uint32_t i = 0; i < h.npkts; i++, q += 4)
		if ((ix->flow_pkts[i] = get32(q)) >= h.npkts)
			goto bad_ref;
	for (uint32_t i = 0; i < h.nip; i++, q += TP_IDX_IP_LEN) {
		memcpy(ix->ip[i].addr.b, q, 16);
		if ((ix->ip[i].flow = get32(q + 16)) >= h.nflows)
			goto bad_ref;
	}
	q = get_posts(q, ix->port, h.nport);
	q = get_posts(q, ix->proto, h.nproto);
	q = get_posts(q, ix->vni, h.nvni);
	q = get_posts(q, ix->sesspost, h.nsesspost);
	if (check_posts(ix->port, h.nport, h.nflows) < 0 ||
	    check_posts(ix->proto, h.nproto, h.nflows) < 0 ||
	    check_posts(ix->vni, h.nvni, h.npkts) < 0 ||
	    check_posts(ix->sesspost, h.nsesspost, h.npkts) < 0)
		goto bad_ref;
	for (uint32_t i = 0; i < h.nsess; i++, q += TP_IDX_SESS_LEN) {
		ix->sess[i].no = get32(q);
		memcpy(ix->sess[i].name, q + 4, 63);
		ix->sess[i].name[63] = 0;
	}
	return 0;
bad_ref:
	tp_index_free(ix);
	snprintf(err, errlen, "index refers past its own tables");
	return -EINVAL;
}

int tp_index_load(struct tp_index *ix, const char *path, char *err,
		  size_t errlen)
{
	struct stat st;
	int rc, fd = open(path, O_RDONLY | O_CLOEXEC);
	uint8_t *buf = NULL;
	size_t n = 0;

	memset(ix, 0, sizeof(*ix));
	if (fd < 0 || fstat(fd, &st) < 0) {
		rc = -errno;
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	n = (size_t)st.st_size;
	buf = tp_malloc(n ? n : 1);
	if (!buf) {
		rc = -ENOMEM;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, buf + got, n - got);
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			snprintf(err, errlen, "%s: short read", path);
			goto out;
		}
		got += (size_t)r;
	}
	char why[200];
	rc = tp_index_decode(ix, buf, n, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, why);
out:
	if (fd >= 0)
		close(fd);
	tp_free(buf, n ? n : 1);
	return rc;
}
