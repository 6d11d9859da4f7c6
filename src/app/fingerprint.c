/* JA3, JA3S, JA4 and HASSH, and the digests under them (fingerprint.h).
 *
 * The canonical strings of JA3 and the sorted lists of JA4 are fed to the
 * digest as they are formed, so a ClientHello with thousands of suites
 * needs no buffer for its string; JA4's sorting needs one array, taken for
 * the length of the hello at hand. */
#include "app/fingerprint.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "util/cursor.h"
#include "util/mem.h"


static const char hexdig[] = "0123456789abcdef";

static void hex(const uint8_t *d, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hexdig[d[i] >> 4];
		out[2 * i + 1] = hexdig[d[i] & 15];
	}
	out[2 * n] = '\0';
}

/* A digest fed piece by piece.  EVP_MD_CTX_new fails only without
 * memory; the digest is then empty, which callers log as unset. */
struct sink {
	EVP_MD_CTX *md;
	size_t len;                  /* bytes fed */
};

/* MD5 and SHA-256 fetched once: EVP_md5() and EVP_sha256() are fetched
 * again at every EVP_DigestInit_ex, under the provider store's lock that
 * every worker takes. */
static EVP_MD *md5_md, *sha256_md;
static pthread_once_t md_once = PTHREAD_ONCE_INIT;

static void fetch_mds(void)
{
	md5_md = EVP_MD_fetch(NULL, "MD5", NULL);
	sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *md5(void)
{
	pthread_once(&md_once, fetch_mds);
	return md5_md ? md5_md : EVP_md5();
}

static const EVP_MD *sha256(void)
{
	pthread_once(&md_once, fetch_mds);
	return sha256_md ? sha256_md : EVP_sha256();
}

static void sink_begin(struct sink *s, const EVP_MD *type)
{
	s->len = 0;
	s->md = EVP_MD_CTX_new();
	if (s->md && !EVP_DigestInit_ex(s->md, type, NULL)) {
		EVP_MD_CTX_free(s->md);
		s->md = NULL;
	}
}

static void sink_put(struct sink *s, const void *p, size_t n)
{
	if (s->md)
		EVP_DigestUpdate(s->md, p, n);
	s->len += n;
}

static void sink_dec(struct sink *s, unsigned v)
{
	char b[12];
	int n = snprintf(b, sizeof(b), "%u", v);
	sink_put(s, b, (size_t)n);
}

static void sink_hex4(struct sink *s, uint16_t v)
{
	char b[4] = {hexdig[v >> 12], hexdig[(v >> 8) & 15],
		     hexdig[(v >> 4) & 15], hexdig[v & 15]};
	sink_put(s, b, 4);
}

/* Hex of the digest, truncated to `digits` (0: whole). */
static void sink_end(struct sink *s, char *out, size_t digits)
{
	uint8_t d[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	out[0] = '\0';
	if (!s->md)
		return;
	if (EVP_DigestFinal_ex(s->md, d, &n)) {
		char full[2 * EVP_MAX_MD_SIZE + 1];
		hex(d, n, full);
		if (digits == 0 || digits > 2 * n)
			digits = 2 * n;
		memcpy(out, full, digits);
		out[digits] = '\0';
	}
	EVP_MD_CTX_free(s->md);
	s->md = NULL;
}

void tp_fp_md5_hex(const void *p, size_t n, char out[TP_FP_MD5_HEX])
{
	struct sink s;
	sink_begin(&s, md5());
	sink_put(&s, p, n);
	sink_end(&s, out, 0);
}

void tp_fp_sha256_hex(const void *p, size_t n, char out[TP_FP_SHA256_HEX])
{
	struct sink s;
	sink_begin(&s, sha256());
	sink_put(&s, p, n);
	sink_end(&s, out, 0);
}

void tp_fp_md5_colons(const void *p, size_t n, char out[TP_FP_MD5_COLONS])
{
	char h[TP_FP_MD5_HEX];
	size_t o = 0;

	tp_fp_md5_hex(p, n, h);
	if (!h[0]) {
		out[0] = '\0';
		return;
	}
	for (size_t i = 0; i < 32; i += 2) {
		if (i)
			out[o++] = ':';
		out[o++] = h[i];
		out[o++] = h[i + 1];
	}
	out[o] = '\0';
}

void tp_fp_ext_begin(struct tp_fp_ext_iter *it, const uint8_t *p, size_t n)
{
	it->p = p;
	it->len = p ? n : 0;
	it->off = 0;
	it->bad = false;
}

bool tp_fp_ext_next(struct tp_fp_ext_iter *it, uint16_t *type,
		    const uint8_t **data, size_t *dlen)
{
	if (it->bad || it->off >= it->len)
		return false;
	if (it->len - it->off < 4) {
		it->bad = true;
		return false;
	}
	const uint8_t *q = it->p + it->off;
	size_t n = tp_load_be16(q + 2);
	if (it->len - it->off - 4 < n) {
		it->bad = true;
		return false;
	}
	*type = tp_load_be16(q);
	*data = q + 4;
	*dlen = n;
	it->off += 4 + n;
	return true;
}

const uint8_t *tp_fp_ext_find(const uint8_t *p, size_t n, uint16_t type,
			      size_t *dlen)
{
	struct tp_fp_ext_iter it;
	uint16_t t;
	const uint8_t *d;

	tp_fp_ext_begin(&it, p, n);
	while (tp_fp_ext_next(&it, &t, &d, dlen))
		if (t == type)
			return d;
	return NULL;
}

/* A list of 16-bit values inside an extension, after its own length
 * field of `lenbytes` bytes (1 or 2); empty when malformed. */
static void ext_list16(const uint8_t *d, size_t dn, size_t lenbytes,
		       const uint8_t **out, size_t *count)
{
	struct tp_cur c;
	size_t n;

	*out = NULL;
	*count = 0;
	if (!d)
		return;
	tp_cur_init(&c, d, dn);
	n = lenbytes == 1 ? tp_cur_u8(&c) : tp_cur_be16(&c);
	const uint8_t *q = tp_cur_take(&c, n);
	if (!q)
		return;
	*out = q;
	*count = n / 2;
}

/* Values of a 2-byte list, decimal, '-'-joined, GREASE left out. */
static void ja3_list16(struct sink *s, const uint8_t *p, size_t count,
		       bool drop_grease)
{
	bool first = true;
	for (size_t i = 0; i < count; i++) {
		uint16_t v = tp_load_be16(p + 2 * i);
		if (drop_grease && tp_fp_grease(v))
			continue;
		if (!first)
			sink_put(s, "-", 1);
		sink_dec(s, v);
		first = false;
	}
}

void tp_fp_ja3(const struct tp_fp_hello *h, char out[TP_FP_MD5_HEX])
{
	struct sink s;
	struct tp_fp_ext_iter it;
	uint16_t t;
	const uint8_t *d, *groups = NULL, *pf = NULL;
	size_t dn, ngroups = 0, npf = 0;
	bool first = true;

	sink_begin(&s, md5());
	sink_dec(&s, h->version);
	sink_put(&s, ",", 1);
	ja3_list16(&s, h->ciphers, h->ciphers_len / 2, true);
	sink_put(&s, ",", 1);
	tp_fp_ext_begin(&it, h->exts, h->exts_len);
	while (tp_fp_ext_next(&it, &t, &d, &dn)) {
		if (t == TP_TLS_EXT_GROUPS)
			ext_list16(d, dn, 2, &groups, &ngroups);
		if (t == TP_TLS_EXT_POINT_FORMATS && dn >= 1 && d[0] <= dn - 1) {
			pf = d + 1;
			npf = d[0];
		}
		if (tp_fp_grease(t))
			continue;
		if (!first)
			sink_put(&s, "-", 1);
		sink_dec(&s, t);
		first = false;
	}
	sink_put(&s, ",", 1);
	ja3_list16(&s, groups, ngroups, true);
	sink_put(&s, ",", 1);
	for (size_t i = 0; i < npf; i++) {
		if (i)
			sink_put(&s, "-", 1);
		sink_dec(&s, pf[i]);
	}
	sink_end(&s, out, 0);
}

void tp_fp_ja3s(const struct tp_fp_hello *h, char out[TP_FP_MD5_HEX])
{
	struct sink s;
	struct tp_fp_ext_iter it;
	uint16_t t;
	const uint8_t *d;
	size_t dn;
	bool first = true;

	sink_begin(&s, md5());
	sink_dec(&s, h->version);
	sink_put(&s, ",", 1);
	ja3_list16(&s, h->ciphers, h->ciphers_len / 2, false);
	sink_put(&s, ",", 1);
	tp_fp_ext_begin(&it, h->exts, h->exts_len);
	while (tp_fp_ext_next(&it, &t, &d, &dn)) {
		if (!first)
			sink_put(&s, "-", 1);
		sink_dec(&s, t);
		first = false;
	}
	sink_end(&s, out, 0);
}

static int cmp_u16(const void *a, const void *b)
{
	uint16_t x = *(const uint16_t *)a, y = *(const uint16_t *)b;
	return (x > y) - (x < y);
}

static const char *ja4_version(uint16_t v)
{
	switch (v) {
	case 0x0304: return "13";
	case 0x0303: return "12";
	case 0x0302: return "11";
	case 0x0301: return "10";
	case 0x0300: return "s3";
	case 0x0002: return "s2";
	case 0xfeff: return "d1";
	case 0xfefd: return "d2";
	case 0xfefc: return "d3";
	default: return "00";
	}
}

static bool alnum(uint8_t ch)
{
	return (ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= 'a' && ch <= 'z');
}

/* The two ALPN characters: first and last of the first protocol, or of
 * its hex form when either is not alphanumeric; "00" without one. */
static void ja4_alpn(const uint8_t *d, size_t dn, char out[2])
{
	struct tp_cur c;

	out[0] = out[1] = '0';
	if (!d)
		return;
	tp_cur_init(&c, d, dn);
	(void)tp_cur_be16(&c);
	size_t n = tp_cur_u8(&c);
	const uint8_t *p = tp_cur_take(&c, n);
	if (!p || n == 0)
		return;
	if (alnum(p[0]) && alnum(p[n - 1])) {
		out[0] = (char)p[0];
		out[1] = (char)p[n - 1];
	} else {
		out[0] = hexdig[p[0] >> 4];
		out[1] = hexdig[p[n - 1] & 15];
	}
}

/* The values sorted, as 4-digit hex, ','-joined, into s. */
static void ja4_sorted(struct sink *s, uint16_t *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_u16);
	for (size_t i = 0; i < n; i++) {
		if (i)
			sink_put(s, ",", 1);
		sink_hex4(s, v[i]);
	}
}

int tp_fp_ja4(const struct tp_fp_hello *h, char proto,
	      char out[TP_FP_JA4_LEN])
{
	struct tp_fp_ext_iter it;
	uint16_t t, version = h->version;
	const uint8_t *d, *sni = NULL, *alpn = NULL, *sigs = NULL;
	size_t dn, alpn_n = 0, nsigs = 0;
	size_t ncipher_max = h->ciphers_len / 2, next_max = h->exts_len / 4;
	size_t nciphers = 0, nexts = 0, nsorted = 0;
	char alpn_c[2], b[13], c[13];
	struct sink s;

	out[0] = '\0';
	size_t room = (ncipher_max + next_max) * sizeof(uint16_t);
	uint16_t *buf = tp_malloc(room);
	if (!buf)
		return -ENOMEM;
	uint16_t *ciphers = buf, *exts = buf + ncipher_max;

	for (size_t i = 0; i < ncipher_max; i++) {
		uint16_t v = tp_load_be16(h->ciphers + 2 * i);
		if (!tp_fp_grease(v))
			ciphers[nciphers++] = v;
	}
	tp_fp_ext_begin(&it, h->exts, h->exts_len);
	while (tp_fp_ext_next(&it, &t, &d, &dn)) {
		if (tp_fp_grease(t))
			continue;
		nexts++;
		if (t == TP_TLS_EXT_SNI)
			sni = d;
		else if (t == TP_TLS_EXT_ALPN) {
			alpn = d;
			alpn_n = dn;
		} else if (t == TP_TLS_EXT_SIG_ALGS) {
			ext_list16(d, dn, 2, &sigs, &nsigs);
		} else if (t == TP_TLS_EXT_SUPPORTED_VERSIONS) {
			/* The highest version offered, GREASE aside. */
			struct tp_cur cv;
			tp_cur_init(&cv, d, dn);
			size_t vn = tp_cur_u8(&cv);
			const uint8_t *vp = tp_cur_take(&cv, vn);
			uint16_t best = 0;
			for (size_t i = 0; vp && i + 1 < vn; i += 2) {
				uint16_t v = tp_load_be16(vp + i);
				if (!tp_fp_grease(v) && v > best)
					best = v;
			}
			if (best)
				version = best;
		}
		if (t != TP_TLS_EXT_SNI && t != TP_TLS_EXT_ALPN)
			exts[nsorted++] = t;
	}
	ja4_alpn(alpn, alpn_n, alpn_c);

	if (nciphers == 0) {
		memcpy(b, "000000000000", 13);
	} else {
		sink_begin(&s, sha256());
		ja4_sorted(&s, ciphers, nciphers);
		sink_end(&s, b, 12);
	}
	sink_begin(&s, sha256());
	ja4_sorted(&s, exts, nsorted);
	bool any_sig = false;
	for (size_t i = 0; i < nsigs; i++) {
		uint16_t v = tp_load_be16(sigs + 2 * i);
		if (tp_fp_grease(v))
			continue;
		sink_put(&s, any_sig ? "," : "_", 1);
		sink_hex4(&s, v);
		any_sig = true;
	}
	if (s.len == 0) {
		EVP_MD_CTX_free(s.md);
		memcpy(c, "000000000000", 13);
	} else {
		sink_end(&s, c, 12);
	}
	tp_free(buf, room);
	if (!b[0] || !c[0])
		return -ENOMEM;
	snprintf(out, TP_FP_JA4_LEN, "%c%s%c%02zu%02zu%c%c_%s_%s", proto,
		 ja4_version(version), sni ? 'd' : 'i',
		 nciphers > 99 ? (size_t)99 : nciphers,
		 nexts > 99 ? (size_t)99 : nexts, alpn_c[0], alpn_c[1], b, c);
	return 0;
}

char *tp_fp_hassh(const struct tp_fp_namelist *kex,
		  const struct tp_fp_namelist *enc,
		  const struct tp_fp_namelist *mac,
		  const struct tp_fp_namelist *cmp, char md5[TP_FP_MD5_HEX])
{
	const struct tp_fp_namelist *l[4] = {kex, enc, mac, cmp};
	size_t n = 0;

	md5[0] = '\0';
	for (int i = 0; i < 4; i++)
		n += l[i]->n + 1;
	char *s = tp_malloc(n);
	if (!s)
		return NULL;
	size_t o = 0;
	for (int i = 0; i < 4; i++) {
		if (i)
			s[o++] = ';';
		memcpy(s + o, l[i]->s, l[i]->n);
		o += l[i]->n;
	}
	s[o] = '\0';
	tp_fp_md5_hex(s, o, md5);
	return s;
}
