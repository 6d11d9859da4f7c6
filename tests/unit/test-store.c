/* The store's index format (write, read back, damage detected) and the
 * query expression parser's answers and errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/expr.h"
#include <zlib.h>

#include "store/bloom.h"
#include "store/index.h"
#include "store/manifest.h"
#include "util/mem.h"

/* A small index and the arrays it points into: a TCP stream of two
 * packets through session 7 and VNI 1004, and an ARP frame. */
struct sample {
	struct tp_index ix;
	struct tp_idx_stream st[2];
	uint64_t offs[3];
	struct tp_idx_sess ss[1];
};

static void sample(struct sample *sm)
{
	struct tp_index *ix = &sm->ix;
	struct tp_idx_stream *st = sm->st;

	memset(sm, 0, sizeof(*sm));
	st[0].flags = TP_IDX_S_FLOW | TP_IDX_S_PORTS | TP_IDX_S_VNI;
	st[0].zone = 3;
	st[0].proto = 6;
	st[0].ipver = 4;
	st[0].a[0].b[15] = 1;
	st[0].a[1].b[15] = 2;
	st[0].port[0] = 443;
	st[0].port[1] = 50000;
	st[0].session = 7;
	st[0].vni = 1004;
	st[0].cid = 0xdeadbeef;
	st[0].npkts = 2;
	st[0].first = 0;
	st[1].session = 7;
	st[1].npkts = 1;
	st[1].first = 2;
	sm->offs[0] = 24;
	sm->offs[1] = 24 + 16 + 60 + 16 + 42;
	sm->offs[2] = 24 + 16 + 60;
	sm->ss[0].no = 7;
	strcpy(sm->ss[0].name, "10.0.1.10/1004");
	ix->first_ns = 1700000000123456789ull;
	ix->last_ns = 1700000001000000000ull;
	ix->seg_bytes = 12345;
	ix->linktype = 1;
	ix->npkts = 3;
	ix->nstreams = 2;
	ix->nsess = 1;
	ix->streams = st;
	ix->offs = sm->offs;
	ix->sess = sm->ss;
}

static void index_round_trip(void **state)
{
	(void)state;
	struct sample sm;
	struct tp_index back;
	uint8_t *buf;
	size_t len;
	char err[256];

	sample(&sm);
	assert_int_equal(tp_index_encode(&sm.ix, &buf, &len), 0);
	assert_memory_equal(buf, "TPSI\x03\x00\x50\x00", 8);
	/* Table: 2 streams, 1 session, 2 x (list length, first offset) of a
	 * byte each, but the first offset 100 - 24 = 76 zigzagged to two,
	 * one page CRC.  Lists: one distance, of two bytes (134). */
	assert_int_equal(buf[48] | buf[49] << 8, 2 * 60 + 68 + 2 + 3 + 4);
	assert_int_equal(buf[60], 2);
	assert_int_equal(len, 80 + (buf[52] | buf[53] << 8) + 2);
	assert_int_equal(tp_index_decode(&back, buf, len, err, sizeof(err)), 0);
	assert_int_equal(back.first_ns, 1700000000123456789ull);
	assert_int_equal(back.last_ns, 1700000001000000000ull);
	assert_int_equal(back.seg_bytes, 12345);
	assert_int_equal(back.npkts, 3);
	assert_int_equal(back.nstreams, 2);
	assert_int_equal(back.streams[0].zone, 3);
	assert_int_equal(back.streams[0].port[1], 50000);
	assert_int_equal(back.streams[0].vni, 1004);
	assert_int_equal(back.streams[0].cid, 0xdeadbeef);
	assert_int_equal(back.streams[1].flags, 0);
	assert_int_equal(back.streams[1].first, 2);
	uint64_t o[3];
	tp_index_stream_offs(&back, 0, o);
	tp_index_stream_offs(&back, 1, o + 2);
	assert_int_equal(o[0], 24);
	assert_int_equal(o[1], 158);
	assert_int_equal(o[2], 100);
	assert_string_equal(back.sess[0].name, "10.0.1.10/1004");
	tp_index_free(&back);

	/* One flipped bit anywhere: refused, by a CRC past the sizes the
	 * header gives. */
	for (size_t at = 8; at < len; at++) {
		if (at >= 76 && at < 80)
			continue;  /* reserved */
		buf[at] ^= 0x10;
		err[0] = 0;
		assert_int_equal(tp_index_decode(&back, buf, len, err,
						 sizeof(err)), -EINVAL);
		if (at < 36 || at >= 72)
			assert_non_null(strstr(err, "CRC"));
		assert_true(err[0] != 0);
		buf[at] ^= 0x10;
	}
	/* Cut short. */
	assert_int_equal(tp_index_decode(&back, buf, len - 8, err, sizeof(err)),
			 -EINVAL);
	/* Another version. */
	buf[4] = 1;
	assert_int_equal(tp_index_decode(&back, buf, len, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "version 1"));
	tp_free(buf, len);
}

static void index_bad_reference(void **state)
{
	(void)state;
	struct sample sm;
	struct tp_index back;
	uint8_t *buf;
	size_t len;
	char err[256];

	/* A packet past the segment's end, under a valid CRC. */
	sample(&sm);
	sm.offs[1] = 20000;
	assert_int_equal(tp_index_encode(&sm.ix, &buf, &len), 0);
	assert_int_equal(tp_index_decode(&back, buf, len, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "past the segment"));
	tp_free(buf, len);
	/* Streams that hold more packets than the header counts. */
	sample(&sm);
	sm.st[1].npkts = 0;
	sm.ix.npkts = 2;
	sm.st[0].npkts = 2;
	assert_int_equal(tp_index_encode(&sm.ix, &buf, &len), 0);
	buf[36] = 1;   /* npkts 1 */
	uint32_t zl = buf[52] | buf[53] << 8;
	uint32_t c = (uint32_t)crc32(crc32(0, buf, 72), buf + 80, zl);
	for (int i = 0; i < 4; i++)
		buf[72 + i] = (uint8_t)(c >> (8 * i));
	assert_int_equal(tp_index_decode(&back, buf, len, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "counts"));
	tp_free(buf, len);
}

/* The sample index as version 2 wrote it (64-byte header, one zstd body
 * with every list, CRC-32 trailer): still read. */
static const uint8_t v2_sample[145] = {
	0x54, 0x50, 0x53, 0x49, 0x02, 0x00, 0x40, 0x00, 0x15, 0xcd, 0x85, 0x3d,
	0xfe, 0x9c, 0x97, 0x17, 0x00, 0xca, 0xc4, 0x71, 0xfe, 0x9c, 0x97, 0x17,
	0x39, 0x30, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
	0xc0, 0x00, 0x00, 0x00, 0x4d, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x28, 0xb5, 0x2f, 0xfd, 0x20, 0xc0, 0x25, 0x02,
	0x00, 0x04, 0x03, 0x03, 0x00, 0x06, 0x04, 0x07, 0x00, 0x01, 0x00, 0x02,
	0xbb, 0x01, 0x50, 0xc3, 0x07, 0x00, 0x00, 0x00, 0xec, 0x03, 0x00, 0x00,
	0xef, 0xbe, 0xad, 0xde, 0x02, 0x00, 0x07, 0x00, 0x01, 0x31, 0x30, 0x2e,
	0x30, 0x2e, 0x31, 0x2e, 0x31, 0x30, 0x2f, 0x31, 0x30, 0x30, 0x34, 0x18,
	0x86, 0x01, 0x64, 0x07, 0x00, 0x73, 0x05, 0x18, 0x0a, 0xea, 0x4c, 0x77,
	0x01, 0x8c, 0x0f, 0xcc, 0x00, 0xe4, 0x36, 0x03, 0x38, 0xac, 0xd9, 0xb7,
	0x1f,
};

/* The sample's offsets of streams 0 and 1 and its session, as read. */
static void check_sample(const struct tp_index *ix)
{
	uint64_t o[3];
	assert_int_equal(ix->npkts, 3);
	assert_int_equal(ix->nstreams, 2);
	assert_int_equal(ix->streams[0].port[0], 443);
	assert_int_equal(ix->streams[0].cid, 0xdeadbeef);
	tp_index_stream_offs(ix, 0, o);
	tp_index_stream_offs(ix, 1, o + 2);
	assert_int_equal(o[0], 24);
	assert_int_equal(o[1], 158);
	assert_int_equal(o[2], 100);
	assert_string_equal(ix->sess[0].name, "10.0.1.10/1004");
}

/* Write n bytes of buf to a new temporary file; its path in path. */
static void temp_file(char *path, size_t n, const uint8_t *buf, size_t len)
{
	snprintf(path, n, "/tmp/tapir-test-idx-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
}

/* A version 2 index: decoded, and opened by a query (read whole). */
static void index_version2(void **state)
{
	(void)state;
	struct tp_index ix;
	char err[256], path[64];
	assert_int_equal(tp_index_decode(&ix, v2_sample, sizeof(v2_sample),
					 err, sizeof(err)), 0);
	assert_int_equal(ix.version, 2);
	check_sample(&ix);
	tp_index_free(&ix);
	temp_file(path, sizeof(path), v2_sample, sizeof(v2_sample));
	assert_int_equal(tp_index_open(&ix, path, err, sizeof(err)), 0);
	uint32_t all[2] = {0, 1};
	assert_int_equal(tp_index_fetch(&ix, all, 2, err, sizeof(err)), 0);
	check_sample(&ix);
	tp_index_free(&ix);
	unlink(path);
}

/* What a query does with a version 3 index: the table read, then the
 * pages of the lists it asks for; a damaged page or table is told. */
static void index_open_fetch(void **state)
{
	(void)state;
	struct sample sm;
	struct tp_index ix;
	uint8_t *buf;
	size_t len;
	char err[256], path[64];

	sample(&sm);
	assert_int_equal(tp_index_encode(&sm.ix, &buf, &len), 0);
	temp_file(path, sizeof(path), buf, len);
	assert_int_equal(tp_index_open(&ix, path, err, sizeof(err)), 0);
	assert_int_equal(ix.version, 3);
	assert_int_equal(ix.npages, 1);
	assert_int_equal(ix.page_ok[0], 0);
	uint32_t one = 1, zero = 0;
	/* Stream 1 has one packet: no list, no page read. */
	assert_int_equal(tp_index_fetch(&ix, &one, 1, err, sizeof(err)), 0);
	assert_int_equal(ix.page_ok[0], 0);
	assert_int_equal(tp_index_fetch(&ix, &zero, 1, err, sizeof(err)), 0);
	assert_int_equal(ix.page_ok[0], 1);
	check_sample(&ix);
	tp_index_free(&ix);
	unlink(path);

	/* A flipped bit in the lists: the open is fine, the fetch is not. */
	buf[len - 1] ^= 0x01;
	temp_file(path, sizeof(path), buf, len);
	assert_int_equal(tp_index_open(&ix, path, err, sizeof(err)), 0);
	assert_int_equal(tp_index_fetch(&ix, &zero, 1, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "page 0 CRC"));
	tp_index_free(&ix);
	unlink(path);
	buf[len - 1] ^= 0x01;
	/* In the table: the open is refused. */
	buf[85] ^= 0x01;
	temp_file(path, sizeof(path), buf, len);
	assert_int_equal(tp_index_open(&ix, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "CRC"));
	unlink(path);
	/* Cut short. */
	buf[85] ^= 0x01;
	temp_file(path, sizeof(path), buf, len - 1);
	assert_int_equal(tp_index_open(&ix, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "do not add up"));
	unlink(path);
	tp_free(buf, len);
}

/* A zstd segment's block table: read back, and refused when it does not
 * end at the segment's end. */
static void index_blocks(void **state)
{
	(void)state;
	struct sample sm;
	struct tp_index back;
	struct tp_idx_block bl[3] = {{0, 0}, {70000, 20000}, {12345, 0}};
	uint8_t *buf;
	size_t len;
	char err[256];

	sample(&sm);
	sm.ix.seg_bytes = 100000;
	bl[2] = (struct tp_idx_block){100000, 31000};
	sm.ix.nblocks = 3;
	sm.ix.blocks = bl;
	assert_int_equal(tp_index_encode(&sm.ix, &buf, &len), 0);
	assert_int_equal(tp_index_decode(&back, buf, len, err, sizeof(err)), 0);
	assert_int_equal(back.nblocks, 3);
	assert_int_equal(back.blocks[1].raw, 70000);
	assert_int_equal(back.blocks[1].zoff, 20000);
	assert_int_equal(back.blocks[2].zoff, 31000);
	tp_index_free(&back);
	tp_free(buf, len);

	bl[2].raw = 90000;
	assert_int_equal(tp_index_encode(&sm.ix, &buf, &len), 0);
	assert_int_equal(tp_index_decode(&back, buf, len, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "cover the segment"));
	tp_free(buf, len);
}

/* The manifest: write, read back, a flipped bit, and a Bloom filter that
 * holds its segment's keys. */
static void manifest_round_trip(void **state)
{
	(void)state;
	struct sample sm;
	struct tp_manifest m = {0}, back;
	struct tp_manifest_entry e[2];
	uint8_t *buf;
	size_t len;
	char err[256];

	sample(&sm);
	memset(e, 0, sizeof(e));
	strcpy(e[0].name, "seg-01-f0-1-0.pcap");
	strcpy(e[1].name, "seg-02-f0-1-1.pcap");
	for (int i = 0; i < 2; i++) {
		e[i].first_ns = 100 + (uint64_t)i;
		e[i].last_ns = 200 + (uint64_t)i;
		e[i].npkts = 3;
		e[i].linktype = 1;
		assert_int_equal(tp_bloom_of_index(&e[i].bloom, &sm.ix), 0);
	}
	m.n = 2;
	m.e = e;
	assert_int_equal(tp_manifest_encode(&m, &buf, &len), 0);
	assert_int_equal(tp_manifest_decode(&back, buf, len, err, sizeof(err)),
			 0);
	assert_int_equal(back.n, 2);
	const struct tp_manifest_entry *f =
		tp_manifest_find(&back, "seg-02-f0-1-1.pcap");
	assert_non_null(f);
	assert_int_equal(f->last_ns, 201);
	assert_null(tp_manifest_find(&back, "seg-03-f0-1-1.pcap"));
	struct tp_addr a = {0};
	a.b[15] = 2;
	assert_true(tp_bloom_maybe(&f->bloom, tp_bloom_key_addr(&a)));
	assert_true(tp_bloom_maybe(&f->bloom, tp_bloom_key_port(443)));
	assert_true(tp_bloom_maybe(&f->bloom, tp_bloom_key_vni(1004)));
	assert_true(tp_bloom_maybe(&f->bloom,
				   tp_bloom_key_session("10.0.1.10/1004")));
	assert_true(tp_bloom_maybe(&f->bloom, tp_bloom_key_cid(0xdeadbeef)));
	/* Keys it does not hold: with 10 bits per key, all 200 absent
	 * addresses coming back "maybe" would be a broken filter. */
	unsigned maybe = 0;
	for (int i = 0; i < 200; i++) {
		a.b[14] = (uint8_t)i;
		a.b[15] = 99;
		maybe += tp_bloom_maybe(&f->bloom, tp_bloom_key_addr(&a));
	}
	assert_true(maybe < 20);
	tp_manifest_free(&back);
	buf[20] ^= 1;
	assert_int_equal(tp_manifest_decode(&back, buf, len, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "CRC"));
	tp_free(buf, len);
	for (int i = 0; i < 2; i++)
		tp_bloom_free(&e[i].bloom);
}

static void expr_split(void **state)
{
	(void)state;
	static struct tp_expr e;
	char err[1024];

	assert_int_equal(tp_expr_parse("host 10.0.1.5 and vni 1004 and tcp "
				       "port 443 and session 10.0.1.10/1004",
				       &e, err, sizeof(err)), 0);
	assert_string_equal(e.bpf, "host 10.0.1.5 and tcp port 443");
	assert_true(e.has_vni);
	assert_int_equal(e.vni, 1004);
	assert_string_equal(e.session, "10.0.1.10/1004");
	assert_true(e.conjunction);
	assert_int_equal(e.nterms, 3);
	assert_int_equal(e.terms[0].kind, TP_EXPR_HOST);
	assert_int_equal(e.terms[0].addr.b[15], 5);
	assert_int_equal(e.terms[1].kind, TP_EXPR_PORT);
	assert_int_equal(e.terms[1].val, 443);
	assert_int_equal(e.terms[2].kind, TP_EXPR_PROTO);
	assert_int_equal(e.terms[2].val, 6);

	assert_int_equal(tp_expr_parse("port 53 or port 80", &e, err,
				       sizeof(err)), 0);
	assert_false(e.conjunction);
	assert_int_equal(e.nterms, 0);
	assert_string_equal(e.bpf, "port 53 or port 80");

	assert_int_equal(tp_expr_parse("  ", &e, err, sizeof(err)), 0);
	assert_string_equal(e.bpf, "");
}

static void expect_err(const char *text, const char *msg, const char *caret)
{
	static struct tp_expr e;
	char err[1024];
	assert_int_equal(tp_expr_parse(text, &e, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, msg));
	assert_non_null(strstr(err, caret));
}

static void expr_errors(void **state)
{
	(void)state;
	expect_err("vni", "'vni' takes one number", "(column 4)");
	expect_err("vni 16777216", "'vni' takes one number",
		   "\n      ^^^^^^^^");
	expect_err("tcp or vni 5", "top-level 'and'", "\n         ^^^");
	expect_err("(vni 5)", "top-level 'and'", "(column 2)");
	expect_err("not vni 5", "top-level 'and'", "(column 5)");
	expect_err("tcp and and udp", "'and' needs a term", "(column 9)");
	expect_err("tcp and", "'and' needs a term", "(column 5)");
	expect_err("(tcp", "'(' is never closed", "(column 1)");
	expect_err("tcp)", "')' without", "(column 4)");
	expect_err("vni 1 and vni 2", "given twice", "(column 11)");
	expect_err("session", "'session' takes one name", "(column 8)");
	expect_err("uid 1Abc", "'uid' takes one conn.log uid", "(column 5)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(index_round_trip),
		cmocka_unit_test(index_bad_reference),
		cmocka_unit_test(index_blocks),
		cmocka_unit_test(index_version2),
		cmocka_unit_test(index_open_fetch),
		cmocka_unit_test(manifest_round_trip),
		cmocka_unit_test(expr_split),
		cmocka_unit_test(expr_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
