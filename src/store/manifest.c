/* The store's manifest: see manifest.h.  Layout, little-endian:
 *
 *   header (16 bytes)   magic "TPSM", u16 version 1, u16 header length
 *                       16, u32 entries, u32 reserved 0
 *   per entry           u16 name length, name, u64 first ns, u64 last
 *                       ns, u64 segment bytes, u32 link type, u32
 *                       packets, u32 Bloom bits (a multiple of 64), u8
 *                       probes, Bloom bits / 8 bytes
 *   CRC-32              4, zlib crc32 of every byte before it
 */
#include "store/manifest.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "store/index.h"
#include "util/log.h"
#include "store/le.h"
#include "util/mem.h"

#define HDR_LEN 16
#define ENT_FIXED (2 + 8 + 8 + 8 + 4 + 4 + 4 + 1)
#define MAX_BITS (1u << 31)

void tp_manifest_free(struct tp_manifest *m)
{
	for (uint32_t i = 0; i < m->n; i++)
		tp_bloom_free(&m->e[i].bloom);
	tp_free(m->e, (size_t)m->n * sizeof(*m->e));
	memset(m, 0, sizeof(*m));
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct tp_manifest_entry *)a)->name,
		      ((const struct tp_manifest_entry *)b)->name);
}

int tp_manifest_decode(struct tp_manifest *m, const uint8_t *buf, size_t len,
		       char *err, size_t errlen)
{
	memset(m, 0, sizeof(*m));
	const char *why = NULL;
	if (len < HDR_LEN + 4 || memcmp(buf, TP_MANIFEST_MAGIC, 4)) {
		snprintf(err, errlen, "not a tapir store manifest");
		return -EINVAL;
	}
	if (tp_le_get16(buf + 4) != TP_MANIFEST_VERSION || tp_le_get16(buf + 6) != HDR_LEN) {
		snprintf(err, errlen, "manifest version %u, this tapir reads %u",
			 tp_le_get16(buf + 4), TP_MANIFEST_VERSION);
		return -EINVAL;
	}
	if ((uint32_t)crc32(0, buf, (uInt)(len - 4)) != tp_le_get32(buf + len - 4)) {
		snprintf(err, errlen, "manifest CRC mismatch (damaged file)");
		return -EINVAL;
	}
	uint32_t n = tp_le_get32(buf + 8);
	if ((uint64_t)n * (ENT_FIXED + 1 + 8) > len) {
		snprintf(err, errlen, "manifest counts more entries than fit");
		return -EINVAL;
	}
	m->e = n ? tp_calloc(n, sizeof(*m->e)) : NULL;
	if (n && !m->e) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	m->n = n;
	const uint8_t *q = buf + HDR_LEN, *end = buf + len - 4;
	for (uint32_t i = 0; i < n; i++) {
		struct tp_manifest_entry *e = &m->e[i];
		if ((size_t)(end - q) < ENT_FIXED) {
			why = "manifest entry cut short";
			goto bad;
		}
		uint16_t nl = tp_le_get16(q);
		if (nl == 0 || nl >= sizeof(e->name) ||
		    (size_t)(end - q) < ENT_FIXED + (size_t)nl) {
			why = "manifest entry name too long or cut short";
			goto bad;
		}
		memcpy(e->name, q + 2, nl);
		e->name[nl] = 0;
		if (memchr(e->name, 0, nl) || strchr(e->name, '/') ||
		    e->name[0] == '.') {
			why = "manifest entry names no segment file";
			goto bad;
		}
		q += 2 + nl;
		e->first_ns = tp_le_get64(q);
		e->last_ns = tp_le_get64(q + 8);
		e->seg_bytes = tp_le_get64(q + 16);
		e->linktype = tp_le_get32(q + 24);
		e->npkts = tp_le_get32(q + 28);
		uint32_t nbits = tp_le_get32(q + 32);
		uint8_t k = q[36];
		q += ENT_FIXED - 2;
		if (nbits % 64 || nbits > MAX_BITS || !nbits || !k || k > 32 ||
		    (size_t)(end - q) < nbits / 8) {
			why = "manifest Bloom filter of a bad size";
			goto bad;
		}
		e->bloom.bits = tp_malloc(nbits / 8);
		if (!e->bloom.bits) {
			tp_manifest_free(m);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		e->bloom.nbits = nbits;
		e->bloom.k = k;
		for (uint32_t w = 0; w < nbits / 64; w++)
			e->bloom.bits[w] = tp_le_get64(q + 8 * w);
		q += nbits / 8;
		if (i && strcmp(m->e[i - 1].name, e->name) >= 0) {
			why = "manifest entries out of order";
			goto bad;
		}
	}
	if (q != end) {
		why = "manifest has bytes after its entries";
		goto bad;
	}
	return 0;
bad:
	tp_manifest_free(m);
	snprintf(err, errlen, "%s", why);
	return -EINVAL;
}

int tp_manifest_encode(const struct tp_manifest *m, uint8_t **out,
		       size_t *len)
{
	size_t n = HDR_LEN + 4;
	for (uint32_t i = 0; i < m->n; i++)
		n += ENT_FIXED + strlen(m->e[i].name) + m->e[i].bloom.nbits / 8;
	uint8_t *buf = tp_malloc(n), *q = buf;
	if (!buf)
		return -ENOMEM;
	memcpy(q, TP_MANIFEST_MAGIC, 4);
	tp_le_put16(q + 4, TP_MANIFEST_VERSION);
	tp_le_put16(q + 6, HDR_LEN);
	tp_le_put32(q + 8, m->n);
	tp_le_put32(q + 12, 0);
	q += HDR_LEN;
	for (uint32_t i = 0; i < m->n; i++) {
		const struct tp_manifest_entry *e = &m->e[i];
		size_t nl = strlen(e->name);
		tp_le_put16(q, (uint16_t)nl);
		memcpy(q + 2, e->name, nl);
		q += 2 + nl;
		tp_le_put64(q, e->first_ns);
		tp_le_put64(q + 8, e->last_ns);
		tp_le_put64(q + 16, e->seg_bytes);
		tp_le_put32(q + 24, e->linktype);
		tp_le_put32(q + 28, e->npkts);
		tp_le_put32(q + 32, e->bloom.nbits);
		q[36] = e->bloom.k;
		q += ENT_FIXED - 2;
		for (uint32_t w = 0; w < e->bloom.nbits / 64; w++, q += 8)
			tp_le_put64(q, e->bloom.bits[w]);
	}
	tp_le_put32(q, (uint32_t)crc32(0, buf, (uInt)(q - buf)));
	*out = buf;
	*len = n;
	return 0;
}

int tp_manifest_load(const char *dir, struct tp_manifest *m, char *err,
		     size_t errlen)
{
	char path[4400];
	uint8_t *buf;
	size_t n;
	memset(m, 0, sizeof(*m));
	snprintf(path, sizeof(path), "%s/" TP_MANIFEST_NAME, dir);
	int rc = tp_index_slurp(path, &buf, &n);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(-rc));
		return rc;
	}
	char why[200];
	rc = tp_manifest_decode(m, buf, n, why, sizeof(why));
	if (rc < 0)
		snprintf(err, errlen, "%s: %s", path, why);
	tp_free(buf, n ? n : 1);
	return rc;
}

const struct tp_manifest_entry *tp_manifest_find(const struct tp_manifest *m,
						 const char *name)
{
	struct tp_manifest_entry key;
	snprintf(key.name, sizeof(key.name), "%s", name);
	if (!m->n)
		return NULL;
	return bsearch(&key, m->e, m->n, sizeof(*m->e), cmp_entry);
}

static int write_file(const char *dir, const uint8_t *buf, size_t n)
{
	char tmp[4400], fin[4400];
	snprintf(tmp, sizeof(tmp), "%s/." TP_MANIFEST_NAME ".tmp", dir);
	snprintf(fin, sizeof(fin), "%s/" TP_MANIFEST_NAME, dir);
	return tp_index_put_file(tmp, fin, buf, n);
}

int tp_manifest_add(const char *dir, const char *name,
		    const struct tp_index *ix)
{
	char lpath[4400], err[300];
	snprintf(lpath, sizeof(lpath), "%s/" TP_MANIFEST_NAME ".lock", dir);
	int lfd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (lfd < 0)
		return -errno;
	while (flock(lfd, LOCK_EX) < 0)
		if (errno != EINTR) {
			int e = errno;
			close(lfd);
			return -e;
		}

	struct tp_manifest old, nw = {0};
	int rc = tp_manifest_load(dir, &old, err, sizeof(err));
	if (rc == -EINVAL)
		tp_log_warn("store: %s; rewritten from this segment on "
			    "(queries read the index of a segment it lacks)",
			    err);
	else if (rc < 0 && rc != -ENOENT)
		goto out;
	nw.e = tp_calloc((size_t)old.n + 1, sizeof(*nw.e));
	if (!nw.e) {
		rc = -ENOMEM;
		goto out;
	}
	/* Keep the entries whose segment is still there (retention removes
	 * segments without touching the manifest), add this one, in name
	 * order.  The Bloom bits move from old to new. */
	struct tp_manifest_entry add = {0};
	snprintf(add.name, sizeof(add.name), "%s", name);
	add.first_ns = ix->first_ns;
	add.last_ns = ix->last_ns;
	add.seg_bytes = ix->seg_bytes;
	add.linktype = ix->linktype;
	add.npkts = ix->npkts;
	if ((rc = tp_bloom_of_index(&add.bloom, ix)) < 0)
		goto out;
	bool placed = false;
	for (uint32_t i = 0; i <= old.n; i++) {
		struct tp_manifest_entry *e = i < old.n ? &old.e[i] : NULL;
		if (!placed && (!e || strcmp(add.name, e->name) <= 0)) {
			nw.e[nw.n++] = add;
			placed = true;
			if (e && !strcmp(add.name, e->name))
				continue;   /* a rebuilt segment's entry */
		}
		if (!e)
			break;
		char p[4400];
		struct stat st;
		snprintf(p, sizeof(p), "%s/%s", dir, e->name);
		if (stat(p, &st) < 0)
			continue;
		nw.e[nw.n++] = *e;
		memset(&e->bloom, 0, sizeof(e->bloom));
	}
	uint8_t *buf;
	size_t n;
	if ((rc = tp_manifest_encode(&nw, &buf, &n)) == 0) {
		rc = write_file(dir, buf, n);
		tp_free(buf, n);
	}
out:
	if (nw.e) {
		for (uint32_t i = 0; i < nw.n; i++)
			tp_bloom_free(&nw.e[i].bloom);
		tp_free(nw.e, ((size_t)old.n + 1) * sizeof(*nw.e));
	}
	tp_manifest_free(&old);
	flock(lfd, LOCK_UN);
	close(lfd);
	return rc;
}
