/* TCP reassembly (src/flow/reassembly.c): in-order bytes handed on once,
 * out-of-order segments held until the hole fills, overlaps keep the first
 * copy, acknowledged holes and truncated copies become gaps, the depth and
 * the memory cap hold and are counted, sequence numbers wrap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "flow/reassembly.h"
#include "util/mem.h"

#define SYN 0x02
#define FIN 0x01

/* What the reassembler handed on: bytes, with '_' for every gap byte. */
struct sink {
	char out[2][4096];
	size_t n[2];
	uint64_t gaps[2];
};

static void on_data(void *arg, int dir, const uint8_t *b, size_t n)
{
	struct sink *s = arg;
	memcpy(s->out[dir] + s->n[dir], b, n);
	s->n[dir] += n;
}

static void on_gap(void *arg, int dir, uint64_t n)
{
	struct sink *s = arg;
	s->gaps[dir] += n;
	for (uint64_t i = 0; i < n && s->n[dir] < sizeof(s->out[0]) - 1; i++)
		s->out[dir][s->n[dir]++] = '_';
}

static void setup_ctx(struct tp_reasm_ctx *cx, struct sink *s, uint64_t depth,
		      uint64_t cap)
{
	memset(cx, 0, sizeof(*cx));
	memset(s, 0, sizeof(*s));
	cx->data = on_data;
	cx->gap = on_gap;
	cx->arg = s;
	cx->depth = depth;
	cx->mem_cap = cap;
}

static void seg(struct tp_reasm *r, struct tp_reasm_ctx *cx, int dir,
		uint32_t seq, const char *text)
{
	uint32_t n = (uint32_t)strlen(text);
	tp_reasm_segment(r, cx, dir, seq, 0, (const uint8_t *)text, n, n);
}

static void test_in_order(void **state)
{
	(void)state;
	struct tp_reasm r = {0};
	struct tp_reasm_ctx cx;
	struct sink s;
	setup_ctx(&cx, &s, 0, 1 << 20);
	tp_reasm_segment(&r, &cx, 0, 1000, SYN, NULL, 0, 0);
	seg(&r, &cx, 0, 1001, "GET / ");
	seg(&r, &cx, 0, 1007, "HTTP/1.1\r\n");
	assert_int_equal(s.n[0], 16);
	assert_memory_equal(s.out[0], "GET / HTTP/1.1\r\n", 16);
	assert_int_equal(cx.gaps, 0);
}

static void test_out_of_order_held(void **state)
{
	(void)state;
	struct tp_reasm r = {0};
	struct tp_reasm_ctx cx;
	struct sink s;
	setup_ctx(&cx, &s, 0, 1 << 20);
	tp_reasm_segment(&r, &cx, 1, 5000, SYN, NULL, 0, 0);
	seg(&r, &cx, 1, 5011, "world");
	seg(&r, &cx, 1, 5007, "lo, ");
	assert_int_equal(s.n[1], 0);
	assert_int_equal(cx.held, 2);
	assert_true(cx.mem_used == 9);
	seg(&r, &cx, 1, 5001, "hel");
	/* Still a hole at 5004..5007. */
	assert_int_equal(s.n[1], 3);
	seg(&r, &cx, 1, 5004, "lo ");
	assert_int_equal(s.n[1], 15);
	assert_memory_equal(s.out[1], "hello lo, world", 15);
	assert_int_equal(cx.mem_used, 0);
}

static void test_overlap_first_copy_wins(void **state)
{
	(void)state;
	struct tp_reasm r = {0};
	struct tp_reasm_ctx cx;
	struct sink s;
	setup_ctx(&cx, &s, 0, 1 << 20);
	tp_reasm_segment(&r, &cx, 0, 0, SYN, NULL, 0, 0);
	seg(&r, &cx, 0, 1, "abcdef");
	/* A retransmission that overlaps with other bytes, then new ones. */
	seg(&r, &cx, 0, 4, "XYZghi");
	/* Held segments overlapping each other: the first held wins. */
	seg(&r, &cx, 0, 14, "nop");
	seg(&r, &cx, 0, 13, "MNOPQ");
	seg(&r, &cx, 0, 10, "jkl");
	assert_int_equal(s.n[0], 17);
	assert_memory_equal(s.out[0], "abcdefghijklMnopQ", 17);
	assert_true(cx.overlaps >= 2);
}

static void test_acked_hole_is_gap(void **state)
{
	(void)state;
	struct tp_reasm r = {0};
	struct tp_reasm_ctx cx;
	struct sink s;
	setup_ctx(&cx, &s, 0, 1 << 20);
	tp_reasm_segment(&r, &cx, 0, 100, SYN, NULL, 0, 0);
	seg(&r, &cx, 0, 101, "aaaa");
	seg(&r, &cx, 0, 109, "cccc");
	/* The peer acknowledges up to 111: 105..109 was lost by the
	 * capture, and the held bytes up to the ack follow at once. */
	tp_reasm_ack(&r, &cx, 0, 111);
	assert_int_equal(s.gaps[0], 4);
	assert_int_equal(cx.gaps, 1);
	assert_int_equal(s.n[0], 12);
	assert_memory_equal(s.out[0], "aaaa____cccc", 12);
	/* An ack of the FIN adds no gap. */
	tp_reasm_segment(&r, &cx, 0, 113, FIN, NULL, 0, 0);
	tp_reasm_ack(&r, &cx, 0, 114);
	assert_int_equal(s.gaps[0], 4);
	/* A FIN one byte further on: that byte was lost. */
	struct tp_reasm r2 = {0};
	tp_reasm_segment(&r2, &cx, 0, 100, SYN, NULL, 0, 0);
	seg(&r2, &cx, 0, 101, "aaaa");
	tp_reasm_segment(&r2, &cx, 0, 106, FIN, NULL, 0, 0);
	tp_reasm_ack(&r2, &cx, 0, 107);
	assert_int_equal(s.gaps[0], 5);
	tp_reasm_ack(&r, &cx, 0, 0x80000000u); /* not believed */
	assert_int_equal(s.gaps[0], 5);
}

static void test_truncated_copy_gap(void **state)
{
	(void)state;
	struct tp_reasm r = {0};
	struct tp_reasm_ctx cx;
	struct sink s;
	setup_ctx(&cx, &s, 0, 1 << 20);
	tp_reasm_segment(&r, &cx, 0, 0, SYN, NULL, 0, 0);
	/* 10 bytes on the wire, 4 in the copy. */
	tp_reasm_segment(&r, &cx, 0, 1, 0, (const uint8_t *)"abcd", 4, 10);
	seg(&r, &cx, 0, 11, "k");
	assert_int_equal(s.n[0], 11);
	assert_memory_equal(s.out[0], "abcd______k", 11);
	assert_int_equal(cx.gap_bytes, 6);
}

static void test_flush_declares_holes(void **state)
{
	(void)state;
	struct tp_reasm r = {0};
	struct tp_reasm_ctx cx;
	struct sink s;
	setup_ctx(&cx, &s, 0, 1 << 20);
	seg(&r, &cx, 1, 7000, "ab");   /* picked up mid-stream */
	seg(&r, &cx, 1, 7005, "fg");
	tp_reasm_flush(&r, &cx);
	assert_int_equal(s.n[1], 7);
	assert_memory_equal(s.out[1], "ab___fg", 7);
	assert_int_equal(cx.mem_used, 0);
}

static void test_depth(void **state)
{
	(void)state;
	struct tp_reasm r = {0};
	struct tp_reasm_ctx cx;
	struct sink s;
	setup_ctx(&cx, &s, 8, 1 << 20);
	tp_reasm_segment(&r, &cx, 0, 0, SYN, NULL, 0, 0);
	seg(&r, &cx, 0, 1, "12345");
	seg(&r, &cx, 0, 6, "6789A");
	assert_int_equal(cx.depth_hits, 1);
	/* 8 bytes handed on, the rest reported as a gap of its length. */
	assert_memory_equal(s.out[0], "12345678__", 10);
	assert_int_equal(s.gaps[0], 2);
	/* Beyond the depth nothing is held. */
	seg(&r, &cx, 0, 20, "zz");
	assert_int_equal(cx.held, 0);
	seg(&r, &cx, 0, 11, "BC");
	assert_int_equal(s.gaps[0], 4);
	assert_int_equal(cx.depth_hits, 1);
}

static void test_memory_cap(void **state)
{
	(void)state;
	struct tp_reasm r = {0};
	struct tp_reasm_ctx cx;
	struct sink s;
	uint64_t before = tp_mem_in_use();
	setup_ctx(&cx, &s, 0, 6);
	tp_reasm_segment(&r, &cx, 0, 0, SYN, NULL, 0, 0);
	seg(&r, &cx, 0, 10, "abcd");    /* held: 4 of 6 */
	seg(&r, &cx, 0, 20, "efgh");    /* refused */
	assert_int_equal(cx.held, 1);
	assert_int_equal(cx.memcap_hits, 1);
	assert_int_equal(cx.mem_used, 4);
	assert_true(tp_mem_in_use() > before);
	tp_reasm_free(&r, &cx);
	assert_int_equal(cx.mem_used, 0);
	assert_int_equal(tp_mem_in_use(), before);
	assert_int_equal(s.n[0], 0);
}

static void test_sequence_wrap(void **state)
{
	(void)state;
	struct tp_reasm r = {0};
	struct tp_reasm_ctx cx;
	struct sink s;
	setup_ctx(&cx, &s, 0, 1 << 20);
	tp_reasm_segment(&r, &cx, 0, 0xfffffffdu, SYN, NULL, 0, 0);
	seg(&r, &cx, 0, 0x00000001u, "cde");  /* held, past the wrap */
	seg(&r, &cx, 0, 0xfffffffeu, "ab");
	seg(&r, &cx, 0, 0xfffffffeu, "zz");  /* old: dropped */
	/* Sequence number 0 was never seen: "ab", a hole, "cde". */
	assert_int_equal(s.n[0], 2);
	assert_int_equal(cx.held, 1);
	tp_reasm_ack(&r, &cx, 0, 0x00000004u);
	assert_int_equal(s.n[0], 6);
	assert_memory_equal(s.out[0], "ab_cde", 6);
	tp_reasm_flush(&r, &cx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_in_order),
		cmocka_unit_test(test_out_of_order_held),
		cmocka_unit_test(test_overlap_first_copy_wins),
		cmocka_unit_test(test_acked_hole_is_gap),
		cmocka_unit_test(test_truncated_copy_gap),
		cmocka_unit_test(test_flush_declares_holes),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_memory_cap),
		cmocka_unit_test(test_sequence_wrap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
