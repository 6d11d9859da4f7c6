/* IP fragment reassembly (src/decode/defrag.c): order, overlaps,
 * duplicates, timeouts, the memory cap, captured-short fragments, tunnel
 * context, IPv6, and one frame through the whole decoder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <pcap/dlt.h>

#include "decode/decode.h"
#include "decode/defrag.h"

#define SEC 1000000000ull

struct fx {
	struct tp_decode_cfg cfg;
	struct tp_dec d;
	struct tp_pkt p;
	uint8_t buf[4][2048];   /* fragments in flight */
	const uint8_t *out;
	uint32_t out_len;
};

static struct fx *fx_new(uint64_t cap)
{
	struct fx *f = test_calloc(1, sizeof(*f));
	tp_decode_cfg_default(&f->cfg);
	if (cap)
		f->cfg.defrag_mem_cap = cap;
	assert_int_equal(tp_dec_init(&f->d, &f->cfg), 0);
	f->p.ts_ns = 1000 * SEC;
	return f;
}

static void fx_free(struct fx *f)
{
	tp_dec_fini(&f->d);
	test_free(f);
}

/* Byte n of the test datagrams' payload. */
static uint8_t pat(uint32_t n)
{
	return (uint8_t)(n * 7 + 3);
}

/* An IPv4 fragment carrying payload bytes [off, off + len) of the pattern;
 * returns the IP length. */
static uint32_t v4_frag(uint8_t *b, uint16_t id, uint8_t proto, uint32_t off,
			uint32_t len, bool mf, bool df)
{
	static const uint8_t src[4] = {10, 0, 0, 1}, dst[4] = {10, 0, 0, 2};
	uint32_t tot = 20 + len;
	uint16_t fw = (uint16_t)((off / 8) | (mf ? 0x2000 : 0) | (df ? 0x4000 : 0));

	memset(b, 0, 20);
	b[0] = 0x45;
	b[2] = (uint8_t)(tot >> 8);
	b[3] = (uint8_t)tot;
	b[4] = (uint8_t)(id >> 8);
	b[5] = (uint8_t)id;
	b[6] = (uint8_t)(fw >> 8);
	b[7] = (uint8_t)fw;
	b[8] = 64;
	b[9] = proto;
	memcpy(b + 12, src, 4);
	memcpy(b + 16, dst, 4);
	for (uint32_t i = 0; i < len; i++)
		b[20 + i] = pat(off + i);
	return tot;
}

static int offer4(struct fx *f, uint8_t *b, uint32_t cap)
{
	f->out = NULL;
	f->out_len = 0;
	return tp_defrag_v4(&f->d, &f->p, b, cap, &f->out, &f->out_len);
}

static void assert_payload(const uint8_t *q, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (q[i] != pat(i))
			fail_msg("payload byte %u is %u, want %u", i, q[i], pat(i));
}

static uint16_t sum16(const uint8_t *h, uint32_t n)
{
	uint32_t s = 0;
	for (uint32_t i = 0; i < n; i += 2)
		s += (uint32_t)h[i] << 8 | h[i + 1];
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)s;
}

static void in_order(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;

	l = v4_frag(f->buf[0], 0x1234, 17, 0, 1480, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	assert_int_equal(tp_defrag_mem(f->d.defrag) > 0, 1);
	l = v4_frag(f->buf[1], 0x1234, 17, 1480, 1480, true, false);
	assert_int_equal(offer4(f, f->buf[1], l), 0);
	l = v4_frag(f->buf[2], 0x1234, 17, 2960, 40, false, false);
	assert_int_equal(offer4(f, f->buf[2], l), 1);

	assert_int_equal(f->out_len, 20 + 3000);
	assert_int_equal(f->out[0], 0x45);
	assert_int_equal(f->out[2] << 8 | f->out[3], 3020);  /* total length */
	assert_int_equal(f->out[6] << 8 | f->out[7], 0);     /* MF, offset */
	assert_int_equal(f->out[9], 17);
	assert_int_equal(f->out[10] << 8 | f->out[11], 0x48eb);
	assert_int_equal(sum16(f->out, 20), 0xffff);         /* checksum valid */
	assert_payload(f->out + 20, 3000);
	assert_int_equal(tp_defrag_mem(f->d.defrag), 0);
	assert_int_equal(f->p.nevents, 0);
	fx_free(f);
}

static void out_of_order(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;

	l = v4_frag(f->buf[2], 7, 6, 2000, 100, false, false);
	assert_int_equal(offer4(f, f->buf[2], l), 0);
	l = v4_frag(f->buf[0], 7, 6, 0, 1000, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	l = v4_frag(f->buf[1], 7, 6, 1000, 1000, true, false);
	assert_int_equal(offer4(f, f->buf[1], l), 1);
	assert_int_equal(f->out_len, 2120);
	assert_payload(f->out + 20, 2100);
	assert_int_equal(f->p.nevents, 0);
	fx_free(f);
}

static void duplicate(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;

	l = v4_frag(f->buf[0], 9, 17, 0, 800, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	uint64_t mem = tp_defrag_mem(f->d.defrag);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	assert_int_equal(tp_defrag_mem(f->d.defrag), mem);
	assert_int_equal(f->d.events[TP_EV_FRAG_OVERLAP], 1);
	assert_int_equal(f->d.events[TP_EV_FRAG_INCONSISTENT], 0);
	l = v4_frag(f->buf[1], 9, 17, 800, 8, false, false);
	assert_int_equal(offer4(f, f->buf[1], l), 1);
	assert_int_equal(f->out_len, 828);
	assert_payload(f->out + 20, 808);
	fx_free(f);
}

/* Overlapping bytes that agree: reassembled, fragment_overlap. */
static void overlap_same(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;

	l = v4_frag(f->buf[0], 5, 17, 0, 1000, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	l = v4_frag(f->buf[1], 5, 17, 504, 1000, false, false); /* 504..1503 */
	assert_int_equal(offer4(f, f->buf[1], l), 1);
	assert_int_equal(f->out_len, 1524);
	assert_payload(f->out + 20, 1504);
	assert_int_equal(f->d.events[TP_EV_FRAG_OVERLAP], 1);
	assert_int_equal(f->d.events[TP_EV_FRAG_INCONSISTENT], 0);
	assert_int_equal(f->p.nevents, 1);
	assert_int_equal(f->p.events[0], TP_EV_FRAG_OVERLAP);
	fx_free(f);
}

/* Overlapping bytes that differ: the first ones win,
 * fragment_inconsistency. */
static void overlap_differs(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;

	l = v4_frag(f->buf[1], 5, 17, 800, 200, false, false);
	assert_int_equal(offer4(f, f->buf[1], l), 0);
	l = v4_frag(f->buf[0], 5, 17, 0, 1000, true, false);
	memset(f->buf[0] + 20 + 800, 0xee, 200); /* rewrites 800..999 */
	assert_int_equal(offer4(f, f->buf[0], l), 1);
	assert_int_equal(f->out_len, 1020);
	assert_payload(f->out + 20, 1000);
	assert_int_equal(f->d.events[TP_EV_FRAG_INCONSISTENT], 1);
	assert_int_equal(f->d.events[TP_EV_FRAG_OVERLAP], 0);
	fx_free(f);
}

static void size_inconsistent(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;

	l = v4_frag(f->buf[0], 3, 17, 1000, 200, false, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	/* A second "last" fragment with a later end: the first end wins,
	 * the bytes before it are used (here, a plain overlap). */
	l = v4_frag(f->buf[1], 3, 17, 1000, 400, false, false);
	assert_int_equal(offer4(f, f->buf[1], l), 0);
	assert_int_equal(f->d.events[TP_EV_FRAG_SIZE_INCONSISTENT], 1);
	assert_int_equal(f->d.events[TP_EV_FRAG_OVERLAP], 1);
	/* A middle fragment reaching past the end is cut at it. */
	l = v4_frag(f->buf[1], 3, 17, 1192, 16, true, false);
	assert_int_equal(offer4(f, f->buf[1], l), 0);
	assert_int_equal(f->d.events[TP_EV_FRAG_SIZE_INCONSISTENT], 2);
	/* One wholly past the end brings nothing. */
	l = v4_frag(f->buf[1], 3, 17, 1200, 16, true, false);
	assert_int_equal(offer4(f, f->buf[1], l), -1);
	assert_int_equal(f->d.events[TP_EV_FRAG_SIZE_INCONSISTENT], 3);
	/* A last fragment ending before bytes already held. */
	l = v4_frag(f->buf[1], 5, 17, 0, 1000, true, false);
	assert_int_equal(offer4(f, f->buf[1], l), 0);
	l = v4_frag(f->buf[1], 5, 17, 8, 8, false, false);
	assert_int_equal(offer4(f, f->buf[1], l), -1);
	assert_int_equal(f->d.events[TP_EV_FRAG_SIZE_INCONSISTENT], 4);
	/* The first chain is intact and still completes. */
	l = v4_frag(f->buf[1], 3, 17, 0, 1000, true, false);
	assert_int_equal(offer4(f, f->buf[1], l), 1);
	assert_int_equal(f->out_len, 1220);
	assert_int_equal(f->out[2] << 8 | f->out[3], 1220);
	assert_payload(f->out + 20, 1200);

	/* A non-last fragment whose length is not a multiple of 8 is cut
	 * down to one: its odd last byte never reaches the datagram. */
	f->d.events[TP_EV_FRAG_OVERLAP] = 0;
	l = v4_frag(f->buf[1], 4, 17, 0, 1001, true, false);
	f->buf[1][20 + 1000] = 0xee;
	assert_int_equal(offer4(f, f->buf[1], l), 0);
	assert_int_equal(f->d.events[TP_EV_FRAG_SIZE_INCONSISTENT], 5);
	l = v4_frag(f->buf[2], 4, 17, 1000, 10, false, false);
	assert_int_equal(offer4(f, f->buf[2], l), 1);
	assert_int_equal(f->out_len, 1030);
	assert_payload(f->out + 20, 1010);
	assert_int_equal(f->d.events[TP_EV_FRAG_INCONSISTENT], 0);
	assert_int_equal(f->d.events[TP_EV_FRAG_OVERLAP], 0);
	fx_free(f);
}

static void timeout(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;

	l = v4_frag(f->buf[0], 11, 17, 0, 1000, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	assert_int_not_equal(tp_defrag_mem(f->d.defrag), 0);

	tp_defrag_expire(&f->d, f->p.ts_ns + 30 * SEC - 1);
	assert_int_equal(f->d.events[TP_EV_FRAG_TIMEOUT], 0);
	assert_int_not_equal(tp_defrag_mem(f->d.defrag), 0);
	tp_defrag_expire(&f->d, f->p.ts_ns + 30 * SEC);
	assert_int_equal(f->d.events[TP_EV_FRAG_TIMEOUT], 1);
	assert_int_equal(tp_defrag_mem(f->d.defrag), 0);

	/* The missing tail now starts a new chain instead of completing. */
	f->p.ts_ns += 31 * SEC;
	l = v4_frag(f->buf[1], 11, 17, 1000, 8, false, false);
	assert_int_equal(offer4(f, f->buf[1], l), 0);

	/* Expiry also runs on packet time as fragments arrive. */
	f->p.ts_ns += 30 * SEC;
	l = v4_frag(f->buf[2], 12, 17, 0, 8, true, false);
	assert_int_equal(offer4(f, f->buf[2], l), 0);
	assert_int_equal(f->d.events[TP_EV_FRAG_TIMEOUT], 2);
	fx_free(f);
}

static void memory_cap(void **state)
{
	(void)state;
	/* Probe how much one held 1000-byte fragment costs. */
	struct fx *f = fx_new(0);
	uint32_t l = v4_frag(f->buf[0], 1, 17, 0, 1000, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	uint64_t one = tp_defrag_mem(f->d.defrag);
	fx_free(f);

	/* Room for two such chains, not three. */
	f = fx_new(2 * one + one / 2);
	for (uint16_t id = 1; id <= 2; id++) {
		l = v4_frag(f->buf[0], id, 17, 0, 1000, true, false);
		assert_int_equal(offer4(f, f->buf[0], l), 0);
	}
	assert_int_equal(tp_defrag_mem(f->d.defrag), 2 * one);
	l = v4_frag(f->buf[0], 3, 17, 0, 1000, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), -1);
	assert_int_equal(f->d.events[TP_EV_FRAG_DROPPED_CAP], 1);
	assert_true(tp_defrag_mem(f->d.defrag) <= f->cfg.defrag_mem_cap);

	/* Completing one frees its room for the next. */
	l = v4_frag(f->buf[1], 1, 17, 1000, 8, false, false);
	assert_int_equal(offer4(f, f->buf[1], l), 1);
	assert_int_equal(offer4(f, f->buf[0], v4_frag(f->buf[0], 3, 17, 0,
							 1000, true, false)),
			 0);
	assert_int_equal(f->d.events[TP_EV_FRAG_DROPPED_CAP], 1);
	fx_free(f);

	/* A cap below one chain refuses everything, counted. */
	f = fx_new(1);
	l = v4_frag(f->buf[0], 1, 17, 0, 1000, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), -1);
	assert_int_equal(f->d.events[TP_EV_FRAG_DROPPED_CAP], 1);
	fx_free(f);
}

/* A mirror session cut the fragment short: not stored, passed on. */
static void captured_short(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l = v4_frag(f->buf[0], 21, 17, 0, 1400, true, false);
	assert_int_equal(offer4(f, f->buf[0], l - 100), -1);
	assert_int_equal(f->d.events[TP_EV_FRAG_INCOMPLETE], 1);
	assert_int_equal(f->p.events[0], TP_EV_FRAG_INCOMPLETE);
	assert_int_equal(tp_defrag_mem(f->d.defrag), 0);
	fx_free(f);
}

static void oddities(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;

	/* Too large: offset 65512 + 100 bytes. */
	l = v4_frag(f->buf[0], 31, 17, 65512, 100, false, false);
	assert_int_equal(offer4(f, f->buf[0], l), -1);
	assert_int_equal(f->d.events[TP_EV_FRAG_TOO_LARGE], 1);

	/* Tiny first fragment (RFC 1858): raised, still used. */
	l = v4_frag(f->buf[0], 32, 6, 0, 16, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	assert_int_equal(f->d.events[TP_EV_FRAG_TOO_SMALL], 1);
	l = v4_frag(f->buf[1], 32, 6, 16, 100, false, false);
	assert_int_equal(offer4(f, f->buf[1], l), 1);
	assert_int_equal(f->out_len, 136);

	/* DF on a fragment. */
	l = v4_frag(f->buf[0], 33, 17, 0, 512, true, true);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	assert_int_equal(f->d.events[TP_EV_FRAG_WITH_DF], 1);

	/* Not a fragment at all: refused without an event. */
	memset(&f->p.events, 0, sizeof(f->p.events));
	f->p.nevents = 0;
	l = v4_frag(f->buf[0], 34, 17, 0, 512, false, false);
	assert_int_equal(offer4(f, f->buf[0], l), -1);
	assert_int_equal(f->p.nevents, 0);
	fx_free(f);
}

/* The largest datagram, 65535 bytes, from 1480-byte fragments. */
static void largest_with(uint64_t cap)
{
	struct fx *f = fx_new(cap);
	static uint8_t b[1500];
	uint32_t total = 65535 - 20, off = 0;
	int r = 0;

	while (off < total) {
		uint32_t n = total - off < 1480 ? total - off : 1480;
		uint32_t l = v4_frag(b, 0xbeef, 17, off, n, off + n < total,
				     false);
		r = offer4(f, b, l);
		off += n;
		assert_int_equal(r, off < total ? 0 : 1);
	}
	assert_int_equal(f->out_len, 65535);
	assert_int_equal(f->out[2] << 8 | f->out[3], 65535);
	assert_payload(f->out + 20, total);
	assert_int_equal(tp_defrag_mem(f->d.defrag), 0);
	assert_int_equal(f->d.events[TP_EV_FRAG_DROPPED_CAP], 0);
	fx_free(f);
}

static void largest(void **state)
{
	(void)state;
	largest_with(0);          /* the default cap */
	largest_with(128 << 10);  /* a small cap still holds one */
}

static void too_many_holes(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;
	int i;

	for (i = 0; i < 32; i++) {
		l = v4_frag(f->buf[0], 40, 17, (uint32_t)i * 16, 8, true, false);
		assert_int_equal(offer4(f, f->buf[0], l), 0);
	}
	l = v4_frag(f->buf[0], 40, 17, (uint32_t)i * 16, 8, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), -1);
	assert_int_equal(f->d.events[TP_EV_FRAG_DROPPED_CAP], 1);
	/* Filling a hole merges extents and is accepted. */
	l = v4_frag(f->buf[0], 40, 17, 8, 8, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	fx_free(f);
}

/* The same datagram id through two mirror sessions never mixes. */
static void tunnel_context(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;

	f->p.ntun = 1;
	f->p.tun[0].encap = TP_ENCAP_VXLAN;
	f->p.tun[0].has_id = 1;
	f->p.tun[0].id = 100;
	f->p.tun[0].src.b[15] = 1;
	l = v4_frag(f->buf[0], 50, 17, 0, 800, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);

	f->p.tun[0].src.b[15] = 2;   /* another ENI */
	l = v4_frag(f->buf[1], 50, 17, 800, 8, false, false);
	assert_int_equal(offer4(f, f->buf[1], l), 0);

	f->p.tun[0].src.b[15] = 1;
	f->p.tun[0].id = 101;        /* another VNI */
	assert_int_equal(offer4(f, f->buf[1], l), 0);

	f->p.ntun = 0;               /* not tunnelled */
	assert_int_equal(offer4(f, f->buf[1], l), 0);

	f->p.ntun = 1;
	f->p.tun[0].id = 100;
	assert_int_equal(offer4(f, f->buf[1], l), 1);
	assert_int_equal(f->out_len, 828);

	/* The protocol is part of the IPv4 key. */
	l = v4_frag(f->buf[0], 51, 17, 0, 800, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	l = v4_frag(f->buf[1], 51, 6, 800, 8, false, false);
	assert_int_equal(offer4(f, f->buf[1], l), 0);
	fx_free(f);
}

/* Each output stays valid through the next call, so that a reassembled
 * datagram may carry fragments of an inner one. */
static void outputs_alternate(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;

	l = v4_frag(f->buf[0], 60, 17, 0, 8, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	l = v4_frag(f->buf[1], 60, 17, 8, 8, false, false);
	assert_int_equal(offer4(f, f->buf[1], l), 1);
	const uint8_t *first = f->out;

	l = v4_frag(f->buf[0], 61, 17, 0, 8, true, false);
	assert_int_equal(offer4(f, f->buf[0], l), 0);
	l = v4_frag(f->buf[1], 61, 17, 8, 16, false, false);
	assert_int_equal(offer4(f, f->buf[1], l), 1);
	assert_ptr_not_equal(first, f->out);
	assert_int_equal(first[4] << 8 | first[5], 60);
	assert_payload(first + 20, 16);
	fx_free(f);
}

/* Fragments of random sizes in random order, with duplicates and
 * overlapping copies of the same bytes, always give back the datagram. */
static uint32_t lcg(uint32_t *s)
{
	*s = *s * 1103515245u + 12345u;
	return *s >> 8;
}

static void shuffled(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	static uint8_t b[1500];
	struct { uint32_t off, len; bool mf; } fr[96];
	uint32_t seed = 12345;

	for (int iter = 0; iter < 300; iter++) {
		uint32_t total = 9 + lcg(&seed) % 20000, n = 0, off = 0;
		while (off < total) {
			uint32_t len = (64 + lcg(&seed) % 122) * 8;
			if (off == 0 && len >= total)
				len = 8; /* at least two fragments */
			else if (off + len >= total)
				len = total - off;
			fr[n].off = off, fr[n].len = len;
			fr[n++].mf = off + len < total;
			off += len;
		}
		uint32_t cut = n;
		for (uint32_t extra = lcg(&seed) % 8; extra > 0; extra--) {
			uint32_t i = lcg(&seed) % cut;
			fr[n] = fr[i];
			if (fr[n].mf && lcg(&seed) % 2) { /* shifted overlap */
				uint32_t sh = 8 * (lcg(&seed) % (fr[n].len / 8));
				fr[n].off += sh;
				fr[n].len -= sh;
			}
			n++;
		}
		for (uint32_t i = n - 1; i > 0; i--) {
			uint32_t j = lcg(&seed) % (i + 1), o = fr[i].off, l = fr[i].len;
			bool m = fr[i].mf;
			fr[i] = fr[j];
			fr[j].off = o, fr[j].len = l, fr[j].mf = m;
		}
		int done = 0;
		for (uint32_t i = 0; i < n && !done; i++) {
			uint32_t l = v4_frag(b, (uint16_t)iter, 17, fr[i].off,
					     fr[i].len, fr[i].mf, false);
			int r = offer4(f, b, l);
			assert_true(r == 0 || r == 1);
			done = r == 1;
		}
		assert_true(done);
		assert_int_equal(f->out_len, 20 + total);
		assert_payload(f->out + 20, total);
		assert_int_equal(tp_defrag_mem(f->d.defrag), 0);
	}
	assert_int_equal(f->d.events[TP_EV_FRAG_INCONSISTENT], 0);
	assert_int_equal(f->d.events[TP_EV_FRAG_DROPPED_CAP], 0);
	fx_free(f);
}

/* --- IPv6 -------------------------------------------------------------- */

/* An IPv6 packet with a fragment header carrying payload [off, off + len);
 * returns its length.  *data is set to the fragment's payload. */
static uint32_t v6_frag(uint8_t *b, uint32_t ident, uint32_t off,
			uint32_t len, bool more, const uint8_t **data)
{
	memset(b, 0, 48);
	b[0] = 0x60;
	b[4] = (uint8_t)((8 + len) >> 8);
	b[5] = (uint8_t)(8 + len);
	b[6] = 44;
	b[7] = 64;
	b[8] = 0x20, b[9] = 0x01, b[10] = 0x0d, b[11] = 0xb8, b[23] = 1;
	b[24] = 0x20, b[25] = 0x01, b[26] = 0x0d, b[27] = 0xb8, b[39] = 2;
	b[40] = 17;
	b[42] = (uint8_t)(off >> 8);
	b[43] = (uint8_t)((off & 0xf8) | (more ? 1 : 0));
	b[44] = (uint8_t)(ident >> 24);
	b[45] = (uint8_t)(ident >> 16);
	b[46] = (uint8_t)(ident >> 8);
	b[47] = (uint8_t)ident;
	for (uint32_t i = 0; i < len; i++)
		b[48 + i] = pat(off + i);
	*data = b + 48;
	return 48 + len;
}

static int offer6(struct fx *f, uint8_t *b, uint32_t ident, uint32_t off,
		  bool more, const uint8_t *data, uint32_t data_len)
{
	f->out = NULL;
	f->out_len = 0;
	return tp_defrag_v6(&f->d, &f->p, b, 17, off, more, ident, data,
			    data_len, &f->out, &f->out_len);
}

static void v6_reassembly(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	const uint8_t *d0, *d1;
	uint32_t l1 = v6_frag(f->buf[1], 0xdeadbeef, 1232, 300, false, &d1);
	uint32_t l0 = v6_frag(f->buf[0], 0xdeadbeef, 0, 1232, true, &d0);

	assert_int_equal(offer6(f, f->buf[1], 0xdeadbeef, 1232, false, d1,
				l1 - 48), 0);
	/* Another ident does not join. */
	assert_int_equal(offer6(f, f->buf[0], 0xdeadbeee, 0, true, d0, l0 - 48),
			 0);
	assert_int_equal(offer6(f, f->buf[0], 0xdeadbeef, 0, true, d0, l0 - 48),
			 1);
	assert_int_equal(f->out_len, 40 + 1532);
	assert_int_equal(f->out[0], 0x60);
	assert_int_equal(f->out[4] << 8 | f->out[5], 1532);
	assert_int_equal(f->out[6], 17);
	assert_int_equal(f->out[7], 64);
	assert_memory_equal(f->out + 8, f->buf[0] + 8, 32);
	assert_payload(f->out + 40, 1532);
	assert_int_equal(f->p.nevents, 0);
	fx_free(f);
}

static void v6_atomic(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	const uint8_t *d0;
	uint32_t l = v6_frag(f->buf[0], 77, 0, 20, false, &d0);

	assert_int_equal(offer6(f, f->buf[0], 77, 0, false, d0, l - 48), 1);
	assert_int_equal(f->out_len, 60);
	assert_int_equal(f->out[4] << 8 | f->out[5], 20);
	assert_int_equal(f->out[6], 17);
	assert_payload(f->out + 40, 20);
	assert_int_equal(tp_defrag_mem(f->d.defrag), 0);
	fx_free(f);
}

static void v6_short_and_bad(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	const uint8_t *d0;
	uint32_t l = v6_frag(f->buf[0], 78, 0, 1000, true, &d0);

	/* Captured short. */
	assert_int_equal(offer6(f, f->buf[0], 78, 0, true, d0, l - 48 - 1), -1);
	assert_int_equal(f->d.events[TP_EV_FRAG_INCOMPLETE], 1);
	/* Padding after the payload is ignored. */
	assert_int_equal(offer6(f, f->buf[0], 78, 0, true, d0, l - 48 + 6), 0);
	/* Non-last fragment not a multiple of 8 (RFC 8200 §4.5). */
	l = v6_frag(f->buf[1], 79, 0, 1001, true, &d0);
	assert_int_equal(offer6(f, f->buf[1], 79, 0, true, d0, l - 48), -1);
	assert_int_equal(f->d.events[TP_EV_FRAG_SIZE_INCONSISTENT], 1);
	/* Payload length 0 (a jumbogram) cannot be a fragment. */
	l = v6_frag(f->buf[1], 80, 0, 64, true, &d0);
	f->buf[1][4] = f->buf[1][5] = 0;
	assert_int_equal(offer6(f, f->buf[1], 80, 0, true, d0, 64), -1);
	assert_int_equal(f->d.events[TP_EV_BOGUS_IP_TOTAL_LEN], 1);
	/* Beyond 65535 bytes. */
	l = v6_frag(f->buf[1], 81, 65528, 16, false, &d0);
	assert_int_equal(offer6(f, f->buf[1], 81, 65528, false, d0, 16), -1);
	assert_int_equal(f->d.events[TP_EV_FRAG_TOO_LARGE], 1);
	fx_free(f);
}

/* --- through the decoder ---------------------------------------------- */

/* Ethernet + IPv4 fragments of one UDP datagram (ports 5353 → 53). */
static uint32_t eth_frag(uint8_t *b, uint32_t off, uint32_t len, bool mf)
{
	memset(b, 0, 14);
	b[12] = 0x08;
	b[13] = 0x00;
	uint32_t l = v4_frag(b + 14, 0x4242, 17, off, len, mf, false);
	if (off == 0) {
		uint8_t *u = b + 14 + 20;
		u[0] = 5353 >> 8, u[1] = 5353 & 0xff;
		u[2] = 0, u[3] = 53;
		u[4] = 0, u[5] = 200; /* UDP length: 8 + 192 */
		u[6] = u[7] = 0;
	}
	return 14 + l;
}

static void through_decoder(void **state)
{
	(void)state;
	struct fx *f = fx_new(0);
	uint32_t l;

	f->p.linktype = DLT_EN10MB;
	l = eth_frag(f->buf[0], 0, 104, true);
	f->p.data = f->buf[0];
	f->p.caplen = f->p.wirelen = l;
	tp_pkt_reset(&f->p);
	assert_int_equal(tp_decode(&f->d, &f->p), TP_DEC_OK);
	assert_true(f->p.held);
	assert_false(f->p.reassembled);

	l = eth_frag(f->buf[1], 104, 96, false);
	f->p.data = f->buf[1];
	f->p.caplen = f->p.wirelen = l;
	tp_pkt_reset(&f->p);
	assert_int_equal(tp_decode(&f->d, &f->p), TP_DEC_OK);
	assert_false(f->p.held);
	assert_true(f->p.reassembled);
	assert_int_equal(f->p.ipver, 4);
	assert_int_equal(f->p.proto, 17);
	assert_int_equal(f->p.ip_len, 220);
	assert_int_equal(f->p.sport, 5353);
	assert_int_equal(f->p.dport, 53);
	assert_int_equal(f->p.payload_len, 192);
	assert_int_equal(f->p.payload_cap, 192);
	assert_int_equal(f->p.payload[0], pat(8));
	assert_int_equal(f->p.nevents, 0);
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(in_order),
		cmocka_unit_test(out_of_order),
		cmocka_unit_test(duplicate),
		cmocka_unit_test(overlap_same),
		cmocka_unit_test(overlap_differs),
		cmocka_unit_test(size_inconsistent),
		cmocka_unit_test(timeout),
		cmocka_unit_test(memory_cap),
		cmocka_unit_test(captured_short),
		cmocka_unit_test(oddities),
		cmocka_unit_test(largest),
		cmocka_unit_test(too_many_holes),
		cmocka_unit_test(tunnel_context),
		cmocka_unit_test(outputs_alternate),
		cmocka_unit_test(shuffled),
		cmocka_unit_test(v6_reassembly),
		cmocka_unit_test(v6_atomic),
		cmocka_unit_test(v6_short_and_bad),
		cmocka_unit_test(through_decoder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
