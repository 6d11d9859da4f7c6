/* The tcp.analysis classifier on hand-built segment sequences. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "decode/decode.h"
#include "flow/tcp-analysis.h"

#define MS 1000000ull

/* Side 0 is the client (ISN 1000), side 1 the server (ISN 5000). */
static unsigned seg(struct tp_tcpa *a, uint8_t side, uint64_t t, uint32_t seq,
		    uint32_t ack, uint8_t flags, uint16_t win, uint32_t len)
{
	struct tp_pkt p;
	memset(&p, 0, sizeof(p));
	p.ts_ns = t;
	p.seq = seq;
	p.ack = ack;
	p.tcp_flags = flags;
	p.tcp_win = win;
	p.payload_len = len;
	/* the ACK RTT bit is checked through the statistics */
	return tp_tcpa_update(a, side, &p, NULL) & ~(unsigned)TP_TCPA_ACK_RTT;
}

#define A TP_TH_ACK
#define S TP_TH_SYN

/* SYN at 0, SYN-ACK at 10 ms, ACK at 12 ms: iRTT 12 ms. */
static void handshake(struct tp_tcpa *a)
{
	tp_tcpa_init(a);
	assert_int_equal(seg(a, 0, 0, 1000, 0, S, 1000, 0), 0);
	seg(a, 1, 10 * MS, 5000, 1001, S | A, 1000, 0);
	seg(a, 0, 12 * MS, 1001, 5001, A, 1000, 0);
}

static void test_handshake_times(void **state)
{
	struct tp_tcpa a;
	(void)state;
	handshake(&a);
	assert_true(a.have & TP_TCPA_HAVE_FIRST_RTT);
	assert_int_equal(a.first_rtt_us, 12 * MS / 1000);
	assert_int_equal(a.hs_server_us, 10 * MS / 1000);
	assert_int_equal(a.hs_client_us, 2 * MS / 1000);
	/* the SYN-ACK acked the SYN after 10 ms, the ACK the SYN-ACK */
	assert_int_equal(a.d[1].rtt_n, 1);
	assert_int_equal(a.st[1].rtt_min_us, 10 * MS / 1000);
	assert_int_equal(a.st[0].rtt_max_us, 2 * MS / 1000);
}

static void test_retransmission(void **state)
{
	struct tp_tcpa a;
	(void)state;
	handshake(&a);
	assert_int_equal(seg(&a, 0, 20 * MS, 1001, 5001, A, 1000, 100), 0);
	/* the same bytes 300 ms later, not acked: a retransmission */
	unsigned f = seg(&a, 0, 320 * MS, 1001, 5001, A, 1000, 100);
	assert_int_equal(f, TP_TCPA_RETRANSMISSION);
	assert_int_equal(a.st[0].count[TP_TCPA_N_RETRANSMISSION], 1);
	/* acked, then sent again: spurious */
	seg(&a, 1, 330 * MS, 5001, 1101, A, 1000, 0);
	f = seg(&a, 0, 700 * MS, 1001, 5001, A, 1000, 100);
	assert_true(f & TP_TCPA_SPURIOUS_RETRANSMISSION);
	assert_int_equal(a.st[0].count[TP_TCPA_N_RETRANSMISSION], 2);
	assert_int_equal(a.st[0].count[TP_TCPA_N_SPURIOUS_RETRANSMISSION], 1);
}

static void test_fast_retransmission(void **state)
{
	struct tp_tcpa a;
	(void)state;
	handshake(&a);
	seg(&a, 0, 20 * MS, 1001, 5001, A, 1000, 100);   /* lost */
	seg(&a, 0, 21 * MS, 1101, 5001, A, 1000, 100);
	seg(&a, 0, 22 * MS, 1201, 5001, A, 1000, 100);
	seg(&a, 0, 23 * MS, 1301, 5001, A, 1000, 100);
	/* the server's SYN-ACK acked 1001; two pure ACKs repeat it (seq,
	 * ack and window unchanged): duplicate ACKs #1 and #2 */
	assert_int_equal(seg(&a, 1, 41 * MS, 5001, 1001, A, 1000, 0),
			 TP_TCPA_DUPLICATE_ACK);
	assert_int_equal(seg(&a, 1, 42 * MS, 5001, 1001, A, 1000, 0),
			 TP_TCPA_DUPLICATE_ACK);
	assert_int_equal(a.d[1].dupacknum, 2);
	assert_int_equal(seg(&a, 0, 45 * MS, 1001, 5001, A, 1000, 100),
			 TP_TCPA_FAST_RETRANSMISSION);
	assert_int_equal(a.st[1].count[TP_TCPA_N_DUPLICATE_ACK], 2);
	assert_int_equal(a.st[0].count[TP_TCPA_N_FAST_RETRANSMISSION], 1);
	assert_int_equal(a.st[0].count[TP_TCPA_N_RETRANSMISSION], 1);
}

static void test_out_of_order(void **state)
{
	struct tp_tcpa a;
	(void)state;
	tp_tcpa_init(&a);   /* no handshake: the 3 ms threshold */
	seg(&a, 0, 0, 1001, 5001, A, 1000, 100);
	/* 1201 before 1101: previous segment not captured */
	assert_int_equal(seg(&a, 0, 1 * MS, 1201, 5001, A, 1000, 100),
			 TP_TCPA_LOST_PACKET);
	/* 1101 arrives 2 ms after the segment that set nextseq */
	assert_int_equal(seg(&a, 0, 3 * MS, 1101, 5001, A, 1000, 100),
			 TP_TCPA_OUT_OF_ORDER);
	/* another gap filled 5 ms later: past 3 ms, a retransmission */
	seg(&a, 0, 10 * MS, 1401, 5001, A, 1000, 100);
	assert_int_equal(seg(&a, 0, 15 * MS, 1301, 5001, A, 1000, 100),
			 TP_TCPA_RETRANSMISSION);
	/* with a 12 ms iRTT, 5 ms late is still out of order */
	handshake(&a);
	seg(&a, 0, 20 * MS, 1101, 5001, A, 1000, 100);
	seg(&a, 0, 21 * MS, 1001, 5001, A, 1000, 100);
	assert_int_equal(a.st[0].count[TP_TCPA_N_OUT_OF_ORDER], 1);
	assert_int_equal(a.st[0].count[TP_TCPA_N_LOST_SEGMENT], 1);
}

static void test_zero_window(void **state)
{
	struct tp_tcpa a;
	(void)state;
	handshake(&a);
	seg(&a, 0, 20 * MS, 1001, 5001, A, 1000, 100);
	/* the server's window closes */
	assert_int_equal(seg(&a, 1, 30 * MS, 5001, 1101, A, 0, 0),
			 TP_TCPA_ZERO_WINDOW);
	/* one byte at nextseq: a zero window probe, nextseq stays */
	assert_int_equal(seg(&a, 0, 230 * MS, 1101, 5001, A, 1000, 1),
			 TP_TCPA_ZERO_WINDOW_PROBE);
	assert_int_equal(a.d[0].nextseq, 1101);
	/* the repeated zero window answering it is a probe ACK */
	unsigned f = seg(&a, 1, 231 * MS, 5001, 1101, A, 0, 0);
	assert_true(f & TP_TCPA_ZERO_WINDOW_PROBE_ACK);
	assert_true(f & TP_TCPA_ZERO_WINDOW);
	/* the window opens: a window update */
	assert_int_equal(seg(&a, 1, 400 * MS, 5001, 1101, A, 1000, 0),
			 TP_TCPA_WINDOW_UPDATE);
	assert_int_equal(a.st[1].count[TP_TCPA_N_ZERO_WINDOW], 2);
	assert_int_equal(a.st[0].count[TP_TCPA_N_ZERO_WINDOW_PROBE], 1);
	assert_int_equal(a.st[1].count[TP_TCPA_N_WINDOW_UPDATE], 1);
}

static void test_keep_alive(void **state)
{
	struct tp_tcpa a;
	(void)state;
	handshake(&a);
	seg(&a, 0, 20 * MS, 1001, 5001, A, 1000, 100);
	seg(&a, 1, 30 * MS, 5001, 1101, A, 1000, 0);
	/* one byte before nextseq, 0 or 1 byte: a keep-alive, never a
	 * retransmission */
	assert_int_equal(seg(&a, 0, 60000 * MS, 1100, 5001, A, 1000, 1),
			 TP_TCPA_KEEP_ALIVE);
	assert_int_equal(seg(&a, 1, 60001 * MS, 5001, 1101, A, 1000, 0),
			 TP_TCPA_KEEP_ALIVE_ACK);
	assert_int_equal(seg(&a, 0, 120000 * MS, 1100, 5001, A, 1000, 0),
			 TP_TCPA_KEEP_ALIVE);
	assert_int_equal(a.st[0].count[TP_TCPA_N_KEEP_ALIVE], 2);
	assert_int_equal(a.st[0].count[TP_TCPA_N_RETRANSMISSION], 0);
	assert_int_equal(a.st[1].count[TP_TCPA_N_DUPLICATE_ACK], 0);
}

static void test_window_full(void **state)
{
	struct tp_tcpa a;
	struct tp_pkt p;
	static const uint8_t ws2[] = {1, 3, 3, 2};   /* NOP, WS shift 2 */
	(void)state;
	tp_tcpa_init(&a);
	memset(&p, 0, sizeof(p));
	p.tcp_flags = S;
	p.seq = 1000;
	p.tcp_win = 1000;
	p.tcp_opts = ws2;
	p.tcp_opts_len = sizeof(ws2);
	tp_tcpa_update(&a, 0, &p, NULL);
	p.ts_ns = 10 * MS;
	p.tcp_flags = S | A;
	p.seq = 5000;
	p.ack = 1001;
	tp_tcpa_update(&a, 1, &p, NULL);
	assert_int_equal(a.d[0].win_scale, 2);
	assert_int_equal(a.d[1].win_scale, 2);
	seg(&a, 0, 12 * MS, 1001, 5001, A, 1000, 0);
	/* server advertises 100 << 2 = 400 bytes from ack 1001 */
	seg(&a, 1, 13 * MS, 5001, 1001, A, 100, 0);
	assert_int_equal(seg(&a, 0, 14 * MS, 1001, 5001, A, 1000, 400),
			 TP_TCPA_WINDOW_FULL);
}

/* The window scale a decoding thread passes on instead of the options:
 * NOP padding, other options before it, a shift over 14, and options cut
 * or malformed before the window scale, which Wireshark also ignores. */
static void test_wscale_from_options(void **state)
{
	static const uint8_t mss_ws[] = {2, 4, 5, 180, 1, 3, 3, 7};
	static const uint8_t big[] = {3, 3, 20};
	static const uint8_t eol_first[] = {0, 3, 3, 5};
	static const uint8_t cut[] = {2, 4, 5};
	static const uint8_t bad_len[] = {8, 1, 3, 3, 5};
	static const uint8_t ws_short[] = {1, 3, 3};
	(void)state;
	assert_int_equal(tp_tcp_wscale(mss_ws, sizeof(mss_ws)), 7);
	assert_int_equal(tp_tcp_wscale(big, sizeof(big)), 14);
	assert_int_equal(tp_tcp_wscale(eol_first, sizeof(eol_first)), -2);
	assert_int_equal(tp_tcp_wscale(cut, sizeof(cut)), -2);
	assert_int_equal(tp_tcp_wscale(bad_len, sizeof(bad_len)), -2);
	assert_int_equal(tp_tcp_wscale(ws_short, sizeof(ws_short)), -2);
	assert_int_equal(tp_tcp_wscale(NULL, 0), -2);
}

/* First request byte at 20 ms, first response byte at 35 ms. */
static void test_app_response(void **state)
{
	struct tp_tcpa a;
	(void)state;
	handshake(&a);
	seg(&a, 0, 20 * MS, 1001, 5001, A, 1000, 100);
	seg(&a, 0, 21 * MS, 1101, 5001, A, 1000, 100);
	seg(&a, 1, 35 * MS, 5001, 1201, A, 1000, 300);
	assert_int_equal(a.data_ns[0], 20 * MS);
	assert_int_equal(a.reply_ns[1], 35 * MS);
	assert_int_equal(a.reply_ns[0], 0);
}

static void test_failures(void **state)
{
	struct tp_tcpa a;
	(void)state;
	/* SYN answered by RST-ACK: rejected (and Wireshark's iRTT, since a
	 * RST-ACK is an ACK without SYN) */
	tp_tcpa_init(&a);
	seg(&a, 0, 1 * MS, 1000, 0, S, 1000, 0);
	seg(&a, 1, 3 * MS, 0, 1001, A | TP_TH_RST, 0, 0);
	assert_true(a.have & TP_TCPA_REJECTED);
	assert_false(tp_tcpa_syn_unanswered(&a));
	assert_int_equal(a.first_rtt_us, 2000);
	/* SYN sent twice, nothing back */
	tp_tcpa_init(&a);
	seg(&a, 0, 1 * MS, 1000, 0, S, 1000, 0);
	seg(&a, 0, 1001 * MS, 1000, 0, S, 1000, 0);
	assert_true(tp_tcpa_syn_unanswered(&a));
	assert_int_equal(a.st[0].count[TP_TCPA_N_RETRANSMISSION], 1);
	/* answered: neither */
	handshake(&a);
	assert_false(tp_tcpa_syn_unanswered(&a));
	assert_false(a.have & TP_TCPA_REJECTED);
}

/* Times are 32-bit offsets: across hours of a flow, an ACK RTT and the
 * out-of-order window still hold. */
static void test_long_flow(void **state)
{
	struct tp_tcpa a;
	const uint64_t H = 3600000ull * MS;
	(void)state;
	handshake(&a);
	for (uint64_t t = 1; t <= 10; t++) {
		uint32_t s = 1001 + (uint32_t)t * 100;
		seg(&a, 0, t * H, s, 5001, A, 1000, 100);
		seg(&a, 1, t * H + 7 * MS, 5001, s + 100, A, 1000, 0);
	}
	assert_int_equal(a.d[1].rtt_n, 1 + 10);
	assert_int_equal(a.st[1].rtt_max_us, 10 * MS / 1000);
	/* a hole, then filled 5 ms after the segment that set nextseq:
	 * within the 12 ms iRTT, out of order */
	seg(&a, 0, 11 * H, 3001, 5001, A, 1000, 100);
	assert_int_equal(seg(&a, 0, 11 * H + 5 * MS, 2901, 5001, A, 1000, 100),
			 TP_TCPA_OUT_OF_ORDER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_wscale_from_options),
		cmocka_unit_test(test_handshake_times),
		cmocka_unit_test(test_retransmission),
		cmocka_unit_test(test_fast_retransmission),
		cmocka_unit_test(test_out_of_order),
		cmocka_unit_test(test_zero_window),
		cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_window_full),
		cmocka_unit_test(test_app_response),
		cmocka_unit_test(test_failures),
		cmocka_unit_test(test_long_flow),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
