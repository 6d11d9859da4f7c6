/* Connection semantics against Zeek: every conn_state, the common history
 * strings, byte counts by sequence number (wrap, > 4 GiB), content gaps
 * and truncated copies, role flips, UDP and ICMP.  The replays at the end
 * are Zeek test traces (testing/btest/Traces/tcp/...) reduced to the
 * fields conn.c reads; their expected values are Zeek's btest baselines,
 * quoted in each test. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "flow/conn.h"

#define S  TP_TH_SYN
#define F  TP_TH_FIN
#define R  TP_TH_RST
#define P  TP_TH_PSH
#define A  TP_TH_ACK

/* One TCP packet as conn.c sees it. */
struct seg {
	uint8_t side, flags;
	uint32_t seq, ack, len, cap;
	uint16_t win;
	uint32_t ip_len;
};

static struct tp_conn C;
static bool last_extends;

static void tcp_pkt(struct tp_pkt *p, const struct seg *s)
{
	memset(p, 0, sizeof(*p));
	p->ipver = 4;
	p->proto = 6;
	p->ip_len = s->ip_len;
	p->ip_cap = s->ip_len;
	p->ip_hlen = 20;
	p->tcp_flags = s->flags;
	p->seq = s->seq;
	p->ack = s->ack;
	p->tcp_win = s->win;
	p->tcp_hlen = 20;
	p->payload_len = s->len;
	p->payload_cap = s->cap;
}

/* A fully captured segment from side `side` with a non-zero window. */
static void tx(int side, uint8_t flags, uint32_t seq, uint32_t ack,
	       uint32_t len)
{
	struct seg s = {(uint8_t)side, flags, seq, ack, len, len, 65535,
			40 + len};
	struct tp_pkt p;
	tcp_pkt(&p, &s);
	last_extends = tp_conn_update(&C, (uint8_t)side, &p);
}

static void txs(const struct seg *s)
{
	struct tp_pkt p;
	tcp_pkt(&p, s);
	last_extends = tp_conn_update(&C, s->side, &p);
}

static void replay(const struct seg *v, size_t n, uint8_t orig_side)
{
	tp_conn_init(&C, orig_side);
	for (size_t i = 0; i < n; i++)
		txs(&v[i]);
}

static const char *hist(void)
{
	static char buf[TP_CONN_HISTORY_MAX + 1];
	tp_conn_history(&C, buf, sizeof(buf));
	return buf;
}

/* Client side 0 (ISN 1000), server side 1 (ISN 5000). */
static void handshake(void)
{
	tp_conn_init(&C, 0);
	tx(0, S, 1000, 0, 0);
	tx(1, S | A, 5000, 1001, 0);
	tx(0, A, 1001, 5001, 0);
}

/* ... plus 100 bytes each way: "ShADad", both established. */
static void established(void)
{
	handshake();
	tx(0, P | A, 1001, 5001, 100);
	tx(1, A, 5001, 1101, 0);
	tx(1, P | A, 5001, 1101, 200);
	tx(0, A, 1101, 5201, 0);
}

/* ---- conn_state ---------------------------------------------------------- */

static void test_s0(void **state)
{
	(void)state;
	tp_conn_init(&C, 0);
	tx(0, S, 1000, 0, 0);
	tx(0, S, 1000, 0, 0);           /* retransmitted SYN */
	assert_string_equal(hist(), "S");
	assert_string_equal(tp_conn_state(&C, 6), "S0");
	assert_int_equal(tp_conn_bytes(&C, 0), 0);
	assert_int_equal(C.d[0].pkts, 2);
	assert_int_equal(C.d[0].ip_bytes, 80);
	assert_int_equal(tp_conn_tcp_state(&C, 0), TP_TCP_SYN_SENT);
	assert_true(last_extends);
}

static void test_rej(void **state)
{
	(void)state;
	tp_conn_init(&C, 0);
	tx(0, S, 1000, 0, 0);
	tx(1, R | A, 0, 1001, 0);
	assert_string_equal(hist(), "Sr");
	assert_string_equal(tp_conn_state(&C, 6), "REJ");
	assert_int_equal(tp_conn_tcp_state(&C, 1), TP_TCP_RESET);
}

static void test_sf(void **state)
{
	(void)state;
	established();
	tx(0, F | A, 1101, 5201, 0);
	tx(1, F | A, 5201, 1102, 0);
	assert_true(last_extends);
	tx(0, A, 1102, 5202, 0);
	/* The last ACK of the teardown is not part of the duration. */
	assert_false(last_extends);
	assert_string_equal(hist(), "ShADadFf");
	assert_string_equal(tp_conn_state(&C, 6), "SF");
	assert_int_equal(tp_conn_bytes(&C, 0), 100);
	assert_int_equal(tp_conn_bytes(&C, 1), 200);
	assert_int_equal(C.d[0].pkts, 6);
	assert_int_equal(C.d[0].ip_bytes, 6 * 40 + 100);
	assert_int_equal(C.d[1].pkts, 4);
	assert_int_equal(C.d[1].ip_bytes, 4 * 40 + 200);
	assert_int_equal(C.missed_bytes, 0);
}

static void test_sf_responder_speaks_first(void **state)
{
	(void)state;
	handshake();
	tx(1, P | A, 5001, 1001, 20);   /* banner */
	tx(0, P | A, 1001, 5021, 10);
	tx(1, A, 5021, 1011, 0);
	tx(0, F | A, 1011, 5021, 0);
	tx(1, F | A, 5021, 1012, 0);
	tx(0, A, 1012, 5022, 0);
	assert_string_equal(hist(), "ShAdDaFf");
	assert_string_equal(tp_conn_state(&C, 6), "SF");
	assert_int_equal(tp_conn_bytes(&C, 0), 10);
	assert_int_equal(tp_conn_bytes(&C, 1), 20);
}

static void test_s1(void **state)
{
	(void)state;
	established();
	assert_string_equal(hist(), "ShADad");
	assert_string_equal(tp_conn_state(&C, 6), "S1");
}

static void test_s2(void **state)
{
	(void)state;
	established();
	tx(0, F | A, 1101, 5201, 0);
	assert_string_equal(hist(), "ShADadF");
	assert_string_equal(tp_conn_state(&C, 6), "S2");
}

static void test_s3(void **state)
{
	(void)state;
	established();
	tx(1, F | A, 5201, 1101, 0);
	assert_string_equal(hist(), "ShADadf");
	assert_string_equal(tp_conn_state(&C, 6), "S3");
}

static void test_rsto(void **state)
{
	(void)state;
	established();
	tx(0, R | A, 1101, 5201, 0);
	assert_string_equal(hist(), "ShADadR");
	assert_string_equal(tp_conn_state(&C, 6), "RSTO");
	assert_int_equal(tp_conn_bytes(&C, 0), 100);
	assert_int_equal(tp_conn_bytes(&C, 1), 200);
}

static void test_rstr(void **state)
{
	(void)state;
	established();
	tx(1, R, 5201, 0, 0);
	assert_string_equal(hist(), "ShADadr");
	assert_string_equal(tp_conn_state(&C, 6), "RSTR");
}

static void test_rstos0(void **state)
{
	(void)state;
	/* Zeek Traces/tcp/syn-then-rst.pcap: "SR", RSTOS0. */
	tp_conn_init(&C, 0);
	tx(0, S, 0, 0, 0);
	tx(0, R, 0, 0, 0);
	assert_string_equal(hist(), "SR");
	assert_string_equal(tp_conn_state(&C, 6), "RSTOS0");
}

static void test_rstrh(void **state)
{
	(void)state;
	/* Only the server's SYN-ACK and RST: the roles were chosen against
	 * the first packet (server port), hence '^'. */
	tp_conn_init(&C, 0);
	tx(1, S | A, 5000, 1001, 0);
	tx(1, R, 5001, 0, 0);
	assert_string_equal(hist(), "^hr");
	assert_string_equal(tp_conn_state(&C, 6), "RSTRH");
	assert_int_equal(C.flipped, 1);
}

static void test_sh(void **state)
{
	(void)state;
	tp_conn_init(&C, 0);
	tx(0, S, 1000, 0, 0);
	tx(0, F, 1001, 0, 0);
	assert_string_equal(hist(), "SF");
	assert_string_equal(tp_conn_state(&C, 6), "SH");
}

static void test_shr(void **state)
{
	(void)state;
	tp_conn_init(&C, 0);
	tx(1, S | A, 5000, 1001, 0);
	tx(1, F | A, 5001, 1001, 0);
	assert_string_equal(hist(), "^hf");
	assert_string_equal(tp_conn_state(&C, 6), "SHR");
}

static void test_oth_midstream(void **state)
{
	(void)state;
	tp_conn_init(&C, 0);
	tx(0, P | A, 100000, 200000, 50);
	tx(1, A, 200000, 100050, 0);
	assert_string_equal(hist(), "Da");
	assert_string_equal(tp_conn_state(&C, 6), "OTH");
	assert_int_equal(tp_conn_tcp_state(&C, 0), TP_TCP_PARTIAL);
	assert_int_equal(tp_conn_tcp_state(&C, 1), TP_TCP_PARTIAL);
	/* Numbered as though a SYN had preceded. */
	assert_int_equal(tp_conn_bytes(&C, 0), 50);
	assert_int_equal(tp_conn_bytes(&C, 1), 0);
}

static void test_oth_single_rst(void **state)
{
	(void)state;
	/* Zeek Traces/tcp/single-rst.pcap: "R", OTH. */
	tp_conn_init(&C, 0);
	tx(0, R, 12345, 0, 0);
	assert_string_equal(hist(), "R");
	assert_string_equal(tp_conn_state(&C, 6), "OTH");
}

/* ---- History ------------------------------------------------------------- */

static void test_missed_syn_history(void **state)
{
	(void)state;
	/* Zeek core.tcp.missing-syn baseline history: "^hADdFaf" (SF). */
	tp_conn_init(&C, 0);
	tx(1, S | A, 5000, 1001, 0);
	tx(0, A, 1001, 5001, 0);
	tx(0, P | A, 1001, 5001, 98);
	tx(1, P | A, 5001, 1099, 1400);
	tx(0, F | A, 1099, 6401, 0);
	tx(1, A, 6401, 1100, 0);
	tx(1, F | A, 6401, 1100, 0);
	tx(0, A, 1100, 6402, 0);
	assert_string_equal(hist(), "^hADdFaf");
	assert_string_equal(tp_conn_state(&C, 6), "SF");
	assert_int_equal(tp_conn_bytes(&C, 0), 98);
	assert_int_equal(tp_conn_bytes(&C, 1), 1400);
}

static void test_retransmissions_scale(void **state)
{
	(void)state;
	handshake();
	tx(0, P | A, 1001, 5001, 100);
	for (int i = 0; i < 9; i++)
		tx(0, P | A, 1001, 5001, 100);
	/* 1st and 10th retransmission... */
	tx(0, P | A, 1001, 5001, 100);
	assert_string_equal(hist(), "ShADTT");
	for (int i = 0; i < 90; i++)
		tx(0, P | A, 1001, 5001, 100);
	/* ... and the 100th. */
	assert_string_equal(hist(), "ShADTTT");
	tx(1, P | A, 5001, 1101, 10);
	tx(1, P | A, 5001, 1101, 10);
	assert_string_equal(hist(), "ShADTTTdt");
}

static void test_zero_window(void **state)
{
	(void)state;
	established();
	struct seg w = {1, A, 5201, 1101, 0, 0, 0, 40};
	txs(&w);
	txs(&w);
	assert_string_equal(hist(), "ShADadw");
	for (int i = 0; i < 8; i++)
		txs(&w);
	assert_string_equal(hist(), "ShADadww");
}

static void test_syn_retry_new_isn(void **state)
{
	(void)state;
	tp_conn_init(&C, 0);
	tx(0, S, 1000, 0, 0);
	/* A SYN with another ISN is a new connection, not more history. */
	struct seg s = {0, S, 777, 0, 0, 0, 65535, 40};
	struct tp_pkt p;
	tcp_pkt(&p, &s);
	assert_true(tp_conn_is_reuse(&C, &p));
	s.seq = 1000;
	tcp_pkt(&p, &s);
	assert_false(tp_conn_is_reuse(&C, &p));
}

static void test_multi_flag(void **state)
{
	(void)state;
	tp_conn_init(&C, 0);
	tx(0, S | F, 1000, 0, 0);       /* 'Q' once only */
	tx(0, S | F, 1000, 0, 0);
	tx(1, F | R, 5000, 0, 0);       /* 'i' */
	assert_string_equal(hist(), "Qi");
}

static void test_note_partial(void **state)
{
	(void)state;
	handshake();
	tp_conn_note_partial(&C);
	tp_conn_note_partial(&C);
	assert_string_equal(hist(), "ShAX");
}

/* ---- Bytes, gaps, truncation ------------------------------------------------ */

static void test_seq_wrap(void **state)
{
	(void)state;
	const uint32_t isn = 0xffffff00u;
	tp_conn_init(&C, 0);
	tx(0, S, isn, 0, 0);
	tx(1, S | A, 5000, isn + 1, 0);
	tx(0, A, isn + 1, 5001, 0);
	for (uint32_t i = 0; i < 3; i++) {
		tx(0, A, isn + 1 + 200 * i, 5001, 200);
		tx(1, A, 5001, isn + 1 + 200 * (i + 1), 0);
	}
	tx(0, F | A, isn + 601, 5001, 0);
	tx(1, F | A, 5001, isn + 602, 0);
	assert_string_equal(hist(), "ShADaFf");
	assert_int_equal(tp_conn_bytes(&C, 0), 600);
	assert_int_equal(C.missed_bytes, 0);
	assert_string_equal(tp_conn_state(&C, 6), "SF");
}

static void test_over_4gib(void **state)
{
	(void)state;
	const uint32_t seg = 1u << 20;          /* 1 MiB */
	const uint32_t n = 5 * 1024;            /* 5 GiB */
	uint32_t seq = 0x80000000u;

	tp_conn_init(&C, 0);
	tx(0, S, seq - 1, 0, 0);
	tx(1, S | A, 5000, seq, 0);
	tx(0, A, seq, 5001, 0);
	for (uint32_t i = 0; i < n; i++) {
		tx(0, A, seq, 5001, seg);
		seq += seg;
		tx(1, A, 5001, seq, 0);
	}
	tx(0, F | A, seq, 5001, 0);
	tx(1, F | A, 5001, seq + 1, 0);
	assert_int_equal(tp_conn_bytes(&C, 0), (uint64_t)n * seg);
	assert_int_equal(tp_conn_bytes(&C, 1), 0);
	assert_int_equal(C.missed_bytes, 0);
	assert_string_equal(hist(), "ShADaFf");
	assert_string_equal(tp_conn_state(&C, 6), "SF");
}

static void test_gap_missed_bytes(void **state)
{
	(void)state;
	handshake();
	tx(0, P | A, 1001, 5001, 1000);
	tx(1, A, 5001, 2001, 0);
	/* [2001, 3001) never reaches the capture; the server acks it. */
	tx(0, P | A, 3001, 5001, 1000);
	tx(1, A, 5001, 4001, 0);
	tx(0, F | A, 4001, 5001, 0);
	tx(1, F | A, 5001, 4002, 0);
	assert_string_equal(hist(), "ShADaGFf");
	assert_int_equal(C.missed_bytes, 1000);
	assert_int_equal(tp_conn_bytes(&C, 0), 3000);
	assert_string_equal(tp_conn_state(&C, 6), "SF");
}

static void test_gap_filled_by_retransmission(void **state)
{
	(void)state;
	handshake();
	tx(0, P | A, 1001, 5001, 1000);
	tx(0, P | A, 3001, 5001, 1000); /* ahead of a hole */
	tx(1, A, 5001, 2001, 0);
	tx(0, P | A, 2001, 5001, 1000); /* the hole, late */
	tx(1, A, 5001, 4001, 0);
	assert_int_equal(C.missed_bytes, 0);
	/* Below the highest sequence sent: a retransmission to Zeek. */
	assert_string_equal(hist(), "ShADaT");
	assert_int_equal(tp_conn_bytes(&C, 0), 3000);
}

static void test_truncated_payload(void **state)
{
	(void)state;
	handshake();
	/* A mirror copy cut to 100 of 1400 payload bytes. */
	struct seg t = {0, P | A, 1001, 5001, 1400, 100, 65535, 1440};
	txs(&t);
	tx(1, A, 5001, 2401, 0);
	tx(0, F | A, 2401, 5001, 0);
	tx(1, F | A, 5001, 2402, 0);
	/* Bytes come from sequence numbers; the copy's missing part is a
	 * content gap once acknowledged, as Zeek counts it. */
	assert_int_equal(tp_conn_bytes(&C, 0), 1400);
	assert_int_equal(C.missed_bytes, 1400);
	assert_int_equal(C.d[0].ip_bytes, 40 + 40 + 1440 + 40);
	assert_string_equal(hist(), "ShADaGFf");
	assert_string_equal(tp_conn_state(&C, 6), "SF");
}

static void test_header_cut_counted(void **state)
{
	(void)state;
	handshake();
	struct seg t = {0, P | A, 1001, 5001, 100, 0, 65535, 152};
	struct tp_pkt p;
	tcp_pkt(&p, &t);
	p.tcp_hlen = 32;                /* options cut off: no tcp_opts */
	p.payload_cap = 0;
	assert_true(tp_conn_update(&C, 0, &p));
	assert_int_equal(C.d[0].pkts, 3);
	assert_int_equal(C.d[0].ip_bytes, 40 + 40 + 152);
	assert_int_equal(tp_conn_bytes(&C, 0), 100);
	assert_string_equal(hist(), "ShAD");
}

/* ---- Roles ------------------------------------------------------------------ */

static void test_first_is_resp(void **state)
{
	struct tp_pkt p;

	(void)state;
	memset(&p, 0, sizeof(p));
	p.proto = 6;
	p.sport = 80;
	p.dport = 40000;
	p.tcp_flags = S;
	assert_false(tp_conn_first_is_resp(&p));        /* a SYN names it */
	p.tcp_flags = A;
	assert_true(tp_conn_first_is_resp(&p));         /* mid-stream */
	p.tcp_flags = S | A;
	assert_true(tp_conn_first_is_resp(&p));
	p.dport = 443;                                  /* both servers */
	assert_false(tp_conn_first_is_resp(&p));        /* SYN-ACK: stay */
	p.tcp_flags = A;
	assert_true(tp_conn_first_is_resp(&p));         /* 80 < 443 */
	p.sport = 443;
	p.dport = 80;
	assert_false(tp_conn_first_is_resp(&p));
	p.sport = 40000;
	p.dport = 80;
	assert_false(tp_conn_first_is_resp(&p));

	p.proto = 17;
	p.tcp_flags = 0;
	p.sport = 53;
	p.dport = 33000;
	assert_true(tp_conn_first_is_resp(&p));         /* DNS reply */
	p.dport = 123;
	assert_false(tp_conn_first_is_resp(&p));        /* both servers */
	p.sport = 33000;
	p.dport = 53;
	assert_false(tp_conn_first_is_resp(&p));
	p.sport = 4789;
	p.dport = 40000;
	assert_true(tp_conn_first_is_resp(&p));

	p.proto = 1;
	p.sport = 0;                                    /* echo reply */
	p.dport = 0;
	assert_false(tp_conn_first_is_resp(&p));

	assert_true(tp_conn_likely_server_port(6, 22));
	assert_true(tp_conn_likely_server_port(6, 443));
	assert_false(tp_conn_likely_server_port(6, 4789));
	assert_true(tp_conn_likely_server_port(17, 4789));
	assert_true(tp_conn_likely_server_port(17, 6081));
	assert_false(tp_conn_likely_server_port(17, 22));
}

static void udp(int side, uint32_t payload)
{
	struct tp_pkt p;
	memset(&p, 0, sizeof(p));
	p.ipver = 4;
	p.proto = 17;
	p.ip_len = 28 + payload;
	p.payload_len = payload;
	p.payload_cap = payload;
	last_extends = tp_conn_update(&C, (uint8_t)side, &p);
}

static void test_udp(void **state)
{
	(void)state;
	/* Query from side 0, then the answer. */
	tp_conn_init(&C, 0);
	udp(0, 30);
	udp(1, 90);
	udp(0, 30);
	assert_string_equal(hist(), "Dd");
	assert_string_equal(tp_conn_state(&C, 17), "SF");
	assert_int_equal(tp_conn_bytes(&C, 0), 60);
	assert_int_equal(tp_conn_bytes(&C, 1), 90);
	assert_int_equal(C.d[0].ip_bytes, 116);

	/* The answer first: the flow is created with the client as
	 * originator (tp_conn_first_is_resp), hence '^'. */
	tp_conn_init(&C, 0);
	udp(1, 90);
	assert_string_equal(hist(), "^d");
	assert_string_equal(tp_conn_state(&C, 17), "SHR");
	udp(0, 30);
	assert_string_equal(hist(), "^dD");
	assert_string_equal(tp_conn_state(&C, 17), "SF");

	/* One direction only. */
	tp_conn_init(&C, 0);
	udp(0, 106);
	assert_string_equal(tp_conn_state(&C, 17), "S0");
	assert_int_equal(tp_conn_bytes(&C, 1), 0);
}

static void test_icmp(void **state)
{
	uint16_t op, rp;
	bool one_way;

	(void)state;
	tp_icmp_ports(4, 8, 0, &op, &rp, &one_way);     /* echo request */
	assert_int_equal(op, 8);
	assert_int_equal(rp, 0);
	assert_false(one_way);
	tp_icmp_ports(4, 0, 0, &op, &rp, &one_way);     /* echo reply */
	assert_int_equal(op, 0);
	assert_int_equal(rp, 8);
	assert_false(one_way);
	tp_icmp_ports(4, 3, 1, &op, &rp, &one_way);     /* unreachable */
	assert_int_equal(op, 3);
	assert_int_equal(rp, 1);
	assert_true(one_way);
	tp_icmp_ports(4, 13, 0, &op, &rp, &one_way);
	assert_int_equal(rp, 14);
	tp_icmp_ports(4, 9, 0, &op, &rp, &one_way);
	assert_int_equal(rp, 10);
	tp_icmp_ports(6, 128, 0, &op, &rp, &one_way);
	assert_int_equal(op, 128);
	assert_int_equal(rp, 129);
	assert_false(one_way);
	tp_icmp_ports(6, 135, 0, &op, &rp, &one_way);
	assert_int_equal(rp, 136);
	tp_icmp_ports(6, 1, 4, &op, &rp, &one_way);
	assert_int_equal(op, 1);
	assert_int_equal(rp, 4);
	assert_true(one_way);

	/* Four pings and replies of 56 bytes (the Zeek vxlan baseline's
	 * inner ICMP flow: 224 / 224 bytes, 4 / 336 packets / IP bytes). */
	tp_conn_init(&C, 0);
	for (int i = 0; i < 4; i++) {
		struct tp_pkt p;
		memset(&p, 0, sizeof(p));
		p.ipver = 4;
		p.proto = 1;
		p.ip_len = 84;
		p.payload_len = 56;
		tp_conn_update(&C, 0, &p);
		tp_conn_update(&C, 1, &p);
	}
	assert_int_equal(tp_conn_bytes(&C, 0), 224);
	assert_int_equal(tp_conn_bytes(&C, 1), 224);
	assert_int_equal(C.d[0].ip_bytes, 336);
	assert_int_equal(C.d[1].pkts, 4);
	assert_string_equal(tp_conn_state(&C, 1), "OTH");
	assert_string_equal(hist(), "");
}

static void test_history_capacity(void **state)
{
	char small[4];

	(void)state;
	established();
	assert_int_equal(tp_conn_history(&C, small, sizeof(small)), 3);
	assert_string_equal(small, "ShA");
	/* Distinct RST sequence numbers each give a letter, up to the cap. */
	for (uint32_t i = 0; i < 40; i++)
		tx(1, R, 5201 + i, 0, 0);
	assert_int_equal(strlen(hist()), TP_CONN_HISTORY_MAX);
}

static void test_reuse(void **state)
{
	struct tp_pkt p;
	struct seg s = {0, S, 9000, 0, 0, 0, 65535, 40};

	(void)state;
	established();
	tcp_pkt(&p, &s);
	/* Open, and not the ISN: a new connection (SYN_seq_jump). */
	assert_true(tp_conn_is_reuse(&C, &p));
	s.seq = 1000;
	tcp_pkt(&p, &s);
	assert_false(tp_conn_is_reuse(&C, &p));     /* a retransmission */
	tx(0, F | A, 1101, 5201, 0);
	/* Closed: any SYN starts over. */
	assert_true(tp_conn_is_reuse(&C, &p));
	s.flags = A;
	tcp_pkt(&p, &s);
	assert_false(tp_conn_is_reuse(&C, &p));
}

/* ---- Zeek traces ------------------------------------------------------------
 * {side, flags, seq, ack, payload length, payload captured, window,
 *  IP total length}; side 0 sent the first packet. */

/* Traces/tcp/retransmit-fast009.trace (headers only: no payload captured).
 * Baseline core.tcp.rxmit-history/conn-1.log:
 *   60.991770  474  23783  RSTO  missed 24257  ShADaGdgtR  17 1250 22 28961 */
static const struct seg fast009[] = {
	{0, 0x02, 414291386, 0, 0, 0, 65535, 48},
	{1, 0x12, 4249385775, 414291387, 0, 0, 5720, 48},
	{0, 0x10, 414291387, 4249385776, 0, 0, 65535, 40},
	{0, 0x18, 414291387, 4249385776, 474, 0, 65535, 514},
	{1, 0x10, 4249385776, 414291861, 0, 0, 6432, 40},
	{1, 0x10, 4249385776, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249387222, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249388668, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249390114, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249391560, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249393006, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249394452, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249395898, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249397344, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249398790, 414291861, 1286, 0, 6432, 1326},
	{0, 0x10, 414291861, 4249388636, 0, 0, 65535, 40},
	{0, 0x10, 414291861, 4249390066, 0, 0, 65535, 40},
	{1, 0x10, 4249400076, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249401522, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249402968, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249404414, 414291861, 1446, 0, 6432, 1486},
	{1, 0x10, 4249405860, 414291861, 1366, 0, 6432, 1406},
	{0, 0x10, 414291861, 4249392926, 0, 0, 65535, 40},
	{0, 0x10, 414291861, 4249394356, 0, 0, 65535, 40},
	{1, 0x10, 4249407226, 414291861, 1430, 0, 6432, 1470},
	{1, 0x18, 4249408656, 414291861, 903, 0, 6432, 943},
	{0, 0x10, 414291861, 4249397216, 0, 0, 65535, 40},
	{0, 0x10, 414291861, 4249398646, 0, 0, 65535, 40},
	{0, 0x10, 414291861, 4249398646, 0, 0, 65535, 52},
	{0, 0x10, 414291861, 4249398646, 0, 0, 65535, 52},
	{0, 0x10, 414291861, 4249398646, 0, 0, 65535, 52},
	{1, 0x10, 4249398646, 414291861, 1430, 0, 6432, 1470},
	{0, 0x10, 414291861, 4249398646, 0, 0, 65535, 60},
	{1, 0x10, 4249404366, 414291861, 1430, 0, 6432, 1470},
	{0, 0x10, 414291861, 4249398646, 0, 0, 65535, 60},
	{1, 0x10, 4249405796, 414291861, 1430, 0, 6432, 1470},
	{0, 0x10, 414291861, 4249404366, 0, 0, 65535, 52},
	{0, 0x10, 414291861, 4249409559, 0, 0, 65535, 40},
	{0, 0x14, 414291861, 4249409559, 0, 0, 0, 40},
};

static void test_zeek_retransmit_fast009(void **state)
{
	(void)state;
	replay(fast009, sizeof(fast009) / sizeof(fast009[0]), 0);
	assert_int_equal(tp_conn_bytes(&C, 0), 474);
	assert_int_equal(tp_conn_bytes(&C, 1), 23783);
	assert_string_equal(tp_conn_state(&C, 6), "RSTO");
	assert_int_equal(C.missed_bytes, 24257);
	assert_string_equal(hist(), "ShADaGdgtR");
	assert_int_equal(C.d[0].pkts, 17);
	assert_int_equal(C.d[0].ip_bytes, 1250);
	assert_int_equal(C.d[1].pkts, 22);
	assert_int_equal(C.d[1].ip_bytes, 28961);
}

/* Traces/tcp/fin_retransmission.pcap.  Baseline core.tcp.fin-retransmit:
 *   orig [size=0, state=5, num_pkts=3, num_bytes_ip=156]
 *   resp [size=0, state=6, num_pkts=2, num_bytes_ip=92] */
static const struct seg finrx[] = {
	{0, 0x02, 2187051757, 0, 0, 0, 65535, 64},
	{0, 0x01, 2187051757, 0, 0, 0, 65535, 52},
	{1, 0x12, 1539553752, 2187051758, 0, 0, 8190, 52},
	{0, 0x11, 2187051757, 1539553753, 0, 0, 16384, 40},
	{1, 0x04, 1539553753, 2397663729, 0, 0, 8201, 40},
};

static void test_zeek_fin_retransmission(void **state)
{
	(void)state;
	replay(finrx, sizeof(finrx) / sizeof(finrx[0]), 0);
	assert_int_equal(tp_conn_bytes(&C, 0), 0);
	assert_int_equal(tp_conn_tcp_state(&C, 0), TP_TCP_CLOSED);
	assert_int_equal(C.d[0].pkts, 3);
	assert_int_equal(C.d[0].ip_bytes, 156);
	assert_int_equal(tp_conn_bytes(&C, 1), 0);
	assert_int_equal(tp_conn_tcp_state(&C, 1), TP_TCP_RESET);
	assert_int_equal(C.d[1].pkts, 2);
	assert_int_equal(C.d[1].ip_bytes, 92);
	assert_string_equal(tp_conn_state(&C, 6), "RSTR");
}

/* Traces/tcp/rst-inject-rae.trace: a RST injected before the SYN-ACK must
 * not seed the responder's numbers.  Baseline core.tcp.rst-after-syn:
 *   orig [size=175, state=1, num_pkts=4, num_bytes_ip=395]
 *   resp [size=0, state=6, num_pkts=5, num_bytes_ip=236] */
static const struct seg rae[] = {
	{0, 0x02, 1569339004, 0, 0, 0, 16384, 64},
	{1, 0x14, 0, 1569339004, 0, 0, 16384, 40},
	{1, 0x12, 1616457233, 1569339005, 0, 0, 65535, 64},
	{0, 0x10, 1569339005, 1616457234, 0, 0, 17232, 52},
	{0, 0x18, 1569339005, 1616457234, 25, 25, 17232, 77},
	{1, 0x10, 1616457234, 1569339030, 0, 0, 64134, 52},
	{1, 0x14, 1616457234, 1569339030, 0, 0, 0, 40},
	{0, 0x18, 1569339030, 1616457234, 150, 150, 17232, 202},
	{1, 0x04, 1616457234, 1616457234, 0, 0, 0, 40},
};

static void test_zeek_rst_inject(void **state)
{
	(void)state;
	replay(rae, sizeof(rae) / sizeof(rae[0]), 0);
	assert_int_equal(tp_conn_bytes(&C, 0), 175);
	assert_int_equal(tp_conn_tcp_state(&C, 0), TP_TCP_SYN_SENT);
	assert_int_equal(C.d[0].pkts, 4);
	assert_int_equal(C.d[0].ip_bytes, 395);
	assert_int_equal(tp_conn_bytes(&C, 1), 0);
	assert_int_equal(tp_conn_tcp_state(&C, 1), TP_TCP_RESET);
	assert_int_equal(C.d[1].pkts, 5);
	assert_int_equal(C.d[1].ip_bytes, 236);
	assert_string_equal(tp_conn_state(&C, 6), "REJ");
}

/* Traces/tcp/handshake-reorder.trace: the SYN-ACK is captured before the
 * SYN.  With the first packet's sender as originator (Zeek's test empties
 * likely_server_ports to get there), the SYN flips the roles: the client
 * 141.142.228.5:59856 (side 1) ends up originator, as that test's
 * connection_state_remove shows. */
static const struct seg reorder[] = {
	{0, 0x12, 2779762238, 4263588411, 0, 0, 14480, 60},
	{1, 0x02, 4263588410, 0, 0, 0, 65535, 64},
	{1, 0x10, 4263588411, 2779762239, 0, 0, 8235, 52},
	{1, 0x18, 4263588411, 2779762239, 136, 136, 8235, 188},
	{0, 0x10, 2779762239, 4263588547, 0, 0, 122, 52},
	{0, 0x10, 2779762239, 4263588547, 1448, 1448, 122, 1500},
	{0, 0x10, 2779763687, 4263588547, 1448, 1448, 122, 1500},
	{0, 0x10, 2779765135, 4263588547, 1448, 1448, 122, 1500},
	{0, 0x18, 2779766583, 4263588547, 663, 663, 122, 715},
	{1, 0x10, 4263588547, 2779765135, 0, 0, 8054, 52},
	{1, 0x10, 4263588547, 2779767246, 0, 0, 7922, 52},
	{1, 0x11, 4263588547, 2779767246, 0, 0, 8192, 52},
	{0, 0x11, 2779767246, 4263588548, 0, 0, 122, 52},
	{1, 0x10, 4263588548, 2779767247, 0, 0, 8192, 52},
};

static void test_zeek_handshake_reorder(void **state)
{
	(void)state;
	replay(reorder, sizeof(reorder) / sizeof(reorder[0]), 0);
	assert_int_equal(C.orig_side, 1);
	assert_int_equal(C.flipped, 1);
	assert_string_equal(hist(), "Hs^ADadFf");
	assert_string_equal(tp_conn_state(&C, 6), "SF");
	assert_int_equal(tp_conn_bytes(&C, 0), 136);
	assert_int_equal(tp_conn_bytes(&C, 1), 5007);
	/* The SYN that caused the flip is counted on the side it arrived
	 * as (the responder's), as Zeek's size analyzer does. */
	assert_int_equal(C.d[0].pkts, 6);
	assert_int_equal(C.d[1].pkts, 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_s0),
		cmocka_unit_test(test_rej),
		cmocka_unit_test(test_sf),
		cmocka_unit_test(test_sf_responder_speaks_first),
		cmocka_unit_test(test_s1),
		cmocka_unit_test(test_s2),
		cmocka_unit_test(test_s3),
		cmocka_unit_test(test_rsto),
		cmocka_unit_test(test_rstr),
		cmocka_unit_test(test_rstos0),
		cmocka_unit_test(test_rstrh),
		cmocka_unit_test(test_sh),
		cmocka_unit_test(test_shr),
		cmocka_unit_test(test_oth_midstream),
		cmocka_unit_test(test_oth_single_rst),
		cmocka_unit_test(test_missed_syn_history),
		cmocka_unit_test(test_retransmissions_scale),
		cmocka_unit_test(test_zero_window),
		cmocka_unit_test(test_syn_retry_new_isn),
		cmocka_unit_test(test_multi_flag),
		cmocka_unit_test(test_note_partial),
		cmocka_unit_test(test_seq_wrap),
		cmocka_unit_test(test_over_4gib),
		cmocka_unit_test(test_gap_missed_bytes),
		cmocka_unit_test(test_gap_filled_by_retransmission),
		cmocka_unit_test(test_truncated_payload),
		cmocka_unit_test(test_header_cut_counted),
		cmocka_unit_test(test_first_is_resp),
		cmocka_unit_test(test_udp),
		cmocka_unit_test(test_icmp),
		cmocka_unit_test(test_history_capacity),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_zeek_retransmit_fast009),
		cmocka_unit_test(test_zeek_fin_retransmission),
		cmocka_unit_test(test_zeek_rst_inject),
		cmocka_unit_test(test_zeek_handshake_reorder),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
