/* Community ID v1 (https://github.com/corelight/community-id-spec).
 *
 * Hash input, network byte order, 32-bit aligned:
 *
 *   +--------+-----------------+-----------------+-------+---+-------+-------+
 *   | seed 2 | saddr 4 or 16   | daddr 4 or 16   |proto 1| 0 |sport 2|dport 2|
 *   +--------+-----------------+-----------------+-------+---+-------+-------+
 *
 * The smaller (address, port) endpoint goes first; ICMP type/code become
 * ports through Zeek's counterpart mapping, and one-way ICMP messages keep
 * their direction.  The ports are left out for protocols that have none.
 * SHA-1 (RFC 3174) is implemented here: one small digest per flow does not
 * justify a crypto library dependency. */
#include "flow/community-id.h"

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "flow/conn.h"

/* ---- SHA-1 ---------------------------------------------------------------- */

struct sha1 {
	uint32_t h[5];
	uint64_t len;           /* bytes hashed */
	uint8_t buf[64];
	size_t n;               /* bytes in buf */
};

static inline uint32_t rol32(uint32_t x, unsigned s)
{
	return x << s | x >> (32 - s);
}

static void sha1_block(struct sha1 *s, const uint8_t *p)
{
	uint32_t w[80], a, b, c, d, e;

	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);

	a = s->h[0];
	b = s->h[1];
	c = s->h[2];
	d = s->h[3];
	e = s->h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = b ^ c ^ d;
			k = 0xca62c1d6;
		}
		uint32_t t = rol32(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol32(b, 30);
		b = a;
		a = t;
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

static void sha1_init(struct sha1 *s)
{
	s->h[0] = 0x67452301;
	s->h[1] = 0xefcdab89;
	s->h[2] = 0x98badcfe;
	s->h[3] = 0x10325476;
	s->h[4] = 0xc3d2e1f0;
	s->len = 0;
	s->n = 0;
}

static void sha1_update(struct sha1 *s, const void *data, size_t len)
{
	const uint8_t *p = data;

	s->len += len;
	while (len > 0) {
		size_t k = 64 - s->n < len ? 64 - s->n : len;
		memcpy(s->buf + s->n, p, k);
		s->n += k;
		p += k;
		len -= k;
		if (s->n == 64) {
			sha1_block(s, s->buf);
			s->n = 0;
		}
	}
}

static void sha1_final(struct sha1 *s, uint8_t out[20])
{
	uint64_t bits = s->len * 8;
	uint8_t pad = 0x80, zero = 0, lenb[8];

	sha1_update(s, &pad, 1);
	while (s->n != 56)
		sha1_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		lenb[i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(s, lenb, 8);
	for (int i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

/* ---- Base64 (RFC 4648, padded) -------------------------------------------- */

static size_t base64(const uint8_t *in, size_t n, char *out)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t o = 0;

	for (size_t i = 0; i < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		if (i + 1 < n)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < n)
			v |= in[i + 2];
		out[o++] = tab[v >> 18 & 63];
		out[o++] = tab[v >> 12 & 63];
		out[o++] = i + 1 < n ? tab[v >> 6 & 63] : '=';
		out[o++] = i + 2 < n ? tab[v & 63] : '=';
	}
	out[o] = '\0';
	return o;
}

/* ---- Community ID ----------------------------------------------------------- */

static bool has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17 || proto == 132 || proto == 1 ||
	       proto == 58;
}

void tp_community_id(uint8_t ipver, const struct tp_addr *src,
		     const struct tp_addr *dst, uint16_t sport, uint16_t dport,
		     uint8_t proto, uint16_t seed, char out[64])
{
	size_t alen = ipver == 6 ? 16 : 4;
	const uint8_t *sa = src->b + 16 - alen, *da = dst->b + 16 - alen;
	bool one_way = false;

	if (proto == 1 || proto == 58) {
		uint16_t op, rp;
		tp_icmp_ports(proto == 58 ? 6 : 4, (uint8_t)sport,
			      (uint8_t)dport, &op, &rp, &one_way);
		sport = op;
		dport = rp;
	}

	/* The smaller endpoint first: address, then port. */
	if (!one_way) {
		int cmp = memcmp(sa, da, alen);
		bool ports = has_ports(proto);
		if (cmp > 0 || (cmp == 0 && ports && sport > dport)) {
			const uint8_t *t = sa;
			uint16_t tp = sport;
			sa = da;
			da = t;
			sport = dport;
			dport = tp;
		}
	}

	uint8_t buf[2 + 16 + 16 + 2 + 4], *q = buf;
	*q++ = (uint8_t)(seed >> 8);
	*q++ = (uint8_t)seed;
	memcpy(q, sa, alen);
	q += alen;
	memcpy(q, da, alen);
	q += alen;
	*q++ = proto;
	*q++ = 0;
	if (has_ports(proto)) {
		*q++ = (uint8_t)(sport >> 8);
		*q++ = (uint8_t)sport;
		*q++ = (uint8_t)(dport >> 8);
		*q++ = (uint8_t)dport;
	}

	struct sha1 s;
	uint8_t digest[20];
	sha1_init(&s);
	sha1_update(&s, buf, (size_t)(q - buf));
	sha1_final(&s, digest);

	out[0] = '1';
	out[1] = ':';
	base64(digest, sizeof(digest), out + 2);
}
