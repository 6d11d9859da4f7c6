/* The flow table (src/flow/flow.c): the symmetric key, lookup and
 * creation, timeouts per class on packet time at their exact boundaries,
 * the fixed delays of TCP attempts and closed connections, eviction of the
 * least recently active flow at the pool cap, flush, and slot reuse.  The
 * timeouts are tapir's defaults (tp_config_default). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flow/flow.h"
#include "util/config.h"
#include "util/mem.h"

#define NS_S 1000000000ull
#define NS_M (60 * NS_S)
#define T0 (1700000000ull * NS_S)

/* What the end callback saw, in order. */
#define MAX_ENDED 64
struct ended {
	struct tp_flow_key key;
	uint64_t first_ns, last_ns;
	enum tp_flow_end why;
};

static struct {
	struct tp_config cfg;
	struct tp_flow_table *t;
	struct ended e[MAX_ENDED];
	unsigned n;
} F;

static void on_end(void *arg, struct tp_flow *f, enum tp_flow_end why)
{
	assert_ptr_equal(arg, &F);
	assert_true(F.n < MAX_ENDED);
	F.e[F.n].key = f->key;
	F.e[F.n].first_ns = f->first_ns;
	F.e[F.n].last_ns = f->last_ns;
	F.e[F.n].why = why;
	F.n++;
}

static int setup(void **state)
{
	(void)state;
	memset(&F, 0, sizeof(F));
	tp_config_default(&F.cfg);
	F.t = tp_flow_table_new(1000, &F.cfg, on_end, &F);
	return F.t ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	tp_flow_table_free(F.t);
	return 0;
}

static struct tp_addr v4(const char *s)
{
	struct tp_addr a;
	uint8_t b[4];
	assert_int_equal(inet_pton(AF_INET, s, b), 1);
	tp_addr_from_v4(&a, b);
	return a;
}

static struct tp_addr v6(const char *s)
{
	struct tp_addr a;
	assert_int_equal(inet_pton(AF_INET6, s, a.b), 1);
	return a;
}

/* The flow of an IPv4 packet from src:sport to dst:dport at now. */
struct fk {
	struct tp_flow_key k;
	uint32_t h;
	uint8_t side;
};

static struct fk key4(const char *src, uint16_t sport, const char *dst,
		      uint16_t dport, uint8_t proto)
{
	struct fk r;
	struct tp_addr s = v4(src), d = v4(dst);
	r.h = tp_flow_key_make(&r.k, &r.side, &s, sport, &d, dport, proto, 4,
			       0);
	return r;
}

static struct tp_flow *get(const struct fk *k, uint64_t now, bool *created)
{
	struct tp_flow *f = tp_flow_get(F.t, &k->k, k->h, now, created);
	assert_non_null(f);
	return f;
}

static struct tp_flow *create(const struct fk *k, uint64_t now)
{
	bool created;
	struct tp_flow *f = get(k, now, &created);
	assert_true(created);
	return f;
}

static bool key_equal(const struct tp_flow_key *a, const struct tp_flow_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

/* The i-th UDP flow of a set: 10.0.0.1:(1000 + i) -> 10.0.0.2:53. */
static struct fk udp_n(unsigned i)
{
	return key4("10.0.0.1", (uint16_t)(1000 + i), "10.0.0.2", 53, 17);
}

static struct tp_flow_stats stats(void)
{
	struct tp_flow_stats st;
	tp_flow_stats(F.t, &st);
	return st;
}

/* ---- the key ---------------------------------------------------------- */

static void test_key_symmetric(void **state)
{
	(void)state;
	struct fk ab = key4("10.0.0.1", 40000, "10.0.0.2", 80, 6);
	struct fk ba = key4("10.0.0.2", 80, "10.0.0.1", 40000, 6);

	assert_true(key_equal(&ab.k, &ba.k));
	assert_int_equal(ab.h, ba.h);
	assert_int_equal(ab.side, 0);
	assert_int_equal(ba.side, 1);
	/* The lower address first, with its port. */
	struct tp_addr lo = v4("10.0.0.1"), hi = v4("10.0.0.2");
	assert_memory_equal(&ab.k.a[0], &lo, sizeof(lo));
	assert_memory_equal(&ab.k.a[1], &hi, sizeof(hi));
	assert_int_equal(ab.k.port[0], 40000);
	assert_int_equal(ab.k.port[1], 80);
	assert_int_equal(ab.k.proto, 6);
	assert_int_equal(ab.k.ipver, 4);
	assert_int_equal(ab.k.zone, 0);

	/* Addresses compare as numbers, byte by byte: 10.0.0.10 > 10.0.0.9
	 * and 9.255.255.255 < 10.0.0.0. */
	struct fk c = key4("10.0.0.10", 1, "10.0.0.9", 2, 17);
	assert_int_equal(c.side, 1);
	struct fk d = key4("9.255.255.255", 9, "10.0.0.0", 1, 17);
	assert_int_equal(d.side, 0);

	/* IPv6 both ways. */
	struct tp_addr x = v6("2001:db8::1"), y = v6("2001:db8::1:0");
	struct tp_flow_key k1, k2;
	uint8_t s1, s2;
	uint32_t h1 = tp_flow_key_make(&k1, &s1, &x, 5353, &y, 5353, 17, 6, 3);
	uint32_t h2 = tp_flow_key_make(&k2, &s2, &y, 5353, &x, 5353, 17, 6, 3);
	assert_true(key_equal(&k1, &k2));
	assert_int_equal(h1, h2);
	assert_int_equal(s1, 0);
	assert_int_equal(s2, 1);
	assert_int_equal(k1.zone, 3);
}

static void test_key_ports_break_ties(void **state)
{
	(void)state;
	/* One host talking to itself: the lower port is side 0. */
	struct fk a = key4("127.0.0.1", 6000, "127.0.0.1", 5000, 6);
	struct fk b = key4("127.0.0.1", 5000, "127.0.0.1", 6000, 6);
	assert_true(key_equal(&a.k, &b.k));
	assert_int_equal(a.h, b.h);
	assert_int_equal(a.side, 1);
	assert_int_equal(b.side, 0);
	assert_int_equal(a.k.port[0], 5000);
	assert_int_equal(a.k.port[1], 6000);

	/* Same address and port both ways (a reflected packet): one key,
	 * side 0 either way. */
	struct fk c = key4("127.0.0.1", 7, "127.0.0.1", 7, 17);
	assert_int_equal(c.side, 0);
	assert_int_equal(c.k.port[0], 7);
	assert_int_equal(c.k.port[1], 7);
}

static void test_key_fields_distinguish(void **state)
{
	(void)state;
	struct tp_addr s = v4("10.0.0.1"), d = v4("10.0.0.2");
	struct tp_flow_key k0, k;
	uint8_t side;
	uint32_t h0 = tp_flow_key_make(&k0, &side, &s, 1, &d, 2, 6, 4, 0);

	/* Zone: the same 5-tuple in two VPCs. */
	uint32_t h = tp_flow_key_make(&k, &side, &s, 1, &d, 2, 6, 4, 1);
	assert_false(key_equal(&k, &k0));
	assert_int_not_equal(h, h0);
	/* Protocol. */
	h = tp_flow_key_make(&k, &side, &s, 1, &d, 2, 17, 4, 0);
	assert_false(key_equal(&k, &k0));
	assert_int_not_equal(h, h0);
	/* Port. */
	h = tp_flow_key_make(&k, &side, &s, 1, &d, 3, 6, 4, 0);
	assert_false(key_equal(&k, &k0));
	assert_int_not_equal(h, h0);

	/* Two flows whose ports cross (1->2 vs 2->1 between the same
	 * hosts) are different flows. */
	h = tp_flow_key_make(&k, &side, &s, 2, &d, 1, 6, 4, 0);
	assert_false(key_equal(&k, &k0));
	assert_int_not_equal(h, h0);
}

/* ---- lookup ----------------------------------------------------------- */

static void test_get_creates_then_finds(void **state)
{
	(void)state;
	struct fk ab = key4("10.0.0.1", 40000, "10.0.0.2", 80, 6);
	struct fk ba = key4("10.0.0.2", 80, "10.0.0.1", 40000, 6);
	bool created;

	struct tp_flow *f = get(&ab, T0, &created);
	assert_true(created);
	assert_true(key_equal(&f->key, &ab.k));
	assert_int_equal(f->hash, ab.h);
	assert_int_equal(f->first_ns, T0);
	assert_int_equal(f->last_ns, T0);
	assert_int_equal(f->conn.d[0].pkts, 0);

	/* The reply finds it; times do not move on lookup. */
	assert_ptr_equal(get(&ba, T0 + 5, &created), f);
	assert_false(created);
	assert_int_equal(f->last_ns, T0);
	assert_ptr_equal(get(&ab, T0 + 6, &created), f);
	assert_false(created);

	/* Another flow is another entry. */
	struct fk other = key4("10.0.0.1", 40001, "10.0.0.2", 80, 6);
	struct tp_flow *g = get(&other, T0 + 7, &created);
	assert_true(created);
	assert_ptr_not_equal(g, f);

	struct tp_flow_stats st = stats();
	assert_int_equal(st.active, 2);
	assert_int_equal(st.created, 2);
	assert_int_equal(st.ended, 0);
	assert_int_equal(st.evicted, 0);
	assert_int_equal(st.peak, 2);
	assert_int_equal(F.n, 0);
}

static void test_same_bucket_chain(void **state)
{
	(void)state;
	/* Three keys forced onto one hash: each is found, and ending the
	 * middle one of the chain leaves the others. */
	struct fk k[3];
	struct tp_flow *f[3];
	bool created;
	for (int i = 0; i < 3; i++) {
		k[i] = udp_n((unsigned)i);
		k[i].h = 0x12345678;
		f[i] = create(&k[i], T0 + (uint64_t)i);
	}
	for (int i = 0; i < 3; i++)
		assert_ptr_equal(get(&k[i], T0 + 10, &created), f[i]);
	tp_flow_end(F.t, f[1], TP_FLOW_END_TIMEOUT);
	assert_ptr_equal(get(&k[0], T0 + 11, &created), f[0]);
	assert_false(created);
	assert_ptr_equal(get(&k[2], T0 + 11, &created), f[2]);
	assert_false(created);
	get(&k[1], T0 + 12, &created);
	assert_true(created);
}

/* ---- timeouts --------------------------------------------------------- */

static void test_default_timeouts(void **state)
{
	(void)state;
	assert_int_equal(F.cfg.tcp_timeout_ns, 5 * NS_M);
	assert_int_equal(F.cfg.udp_timeout_ns, 1 * NS_M);
	assert_int_equal(F.cfg.icmp_timeout_ns, 1 * NS_M);
	assert_int_equal(F.cfg.other_timeout_ns, 1 * NS_M);
	assert_int_equal(F.cfg.tcp_attempt_timeout_ns, 5 * NS_S);
	assert_int_equal(F.cfg.tcp_close_delay_ns, 5 * NS_S);
}

/* One flow of protocol proto created at T0 lives exactly timeout. */
static void check_timeout(uint8_t proto, uint64_t timeout)
{
	struct fk k = key4("192.168.0.1", 1234, "192.168.0.2", 4321, proto);
	create(&k, T0);

	tp_flow_expire(F.t, T0 + timeout);
	assert_int_equal(F.n, 0);
	assert_int_equal(stats().active, 1);
	tp_flow_expire(F.t, T0 + timeout + 1);
	assert_int_equal(F.n, 1);
	assert_true(key_equal(&F.e[0].key, &k.k));
	assert_int_equal(F.e[0].why, TP_FLOW_END_TIMEOUT);
	assert_int_equal(F.e[0].last_ns, T0);
	assert_int_equal(stats().active, 0);
	assert_int_equal(stats().ended, 1);
}

static void test_timeout_tcp(void **state)
{
	(void)state;
	check_timeout(6, 5 * NS_M);
}

static void test_timeout_udp(void **state)
{
	(void)state;
	check_timeout(17, 1 * NS_M);
}

static void test_timeout_icmp(void **state)
{
	(void)state;
	check_timeout(1, 1 * NS_M);
}

static void test_timeout_icmp6(void **state)
{
	(void)state;
	check_timeout(58, 1 * NS_M);
}

static void test_timeout_other(void **state)
{
	(void)state;
	check_timeout(132, 1 * NS_M);
}

static void test_timeout_configured(void **state)
{
	(void)state;
	char err[256];
	tp_flow_table_free(F.t);
	assert_int_equal(tp_config_set(&F.cfg, "flow.udp_timeout=30s", err,
				       sizeof(err)), 0);
	F.t = tp_flow_table_new(1000, &F.cfg, on_end, &F);
	assert_non_null(F.t);
	check_timeout(17, 30 * NS_S);
}

static void test_activity_extends(void **state)
{
	(void)state;
	struct fk a = udp_n(0), b = udp_n(1);
	struct tp_flow *fa = create(&a, T0);
	create(&b, T0 + 10 * NS_S);

	/* a sees a packet at T0 + 30 s: now b is the older. */
	tp_flow_touch(F.t, fa, T0 + 30 * NS_S);
	assert_int_equal(fa->last_ns, T0 + 30 * NS_S);
	assert_int_equal(fa->first_ns, T0);

	tp_flow_expire(F.t, T0 + 1 * NS_M + 1);
	assert_int_equal(F.n, 0);
	tp_flow_expire(F.t, T0 + 10 * NS_S + 1 * NS_M + 1);
	assert_int_equal(F.n, 1);
	assert_true(key_equal(&F.e[0].key, &b.k));
	tp_flow_expire(F.t, T0 + 30 * NS_S + 1 * NS_M);
	assert_int_equal(F.n, 1);
	tp_flow_expire(F.t, T0 + 30 * NS_S + 1 * NS_M + 1);
	assert_int_equal(F.n, 2);
	assert_true(key_equal(&F.e[1].key, &a.k));
	assert_int_equal(F.e[1].first_ns, T0);
	assert_int_equal(F.e[1].last_ns, T0 + 30 * NS_S);
}

static void test_touch_never_moves_time_back(void **state)
{
	(void)state;
	struct fk a = udp_n(0);
	struct tp_flow *f = create(&a, T0 + 10 * NS_S);

	/* A reordered packet from before the last one. */
	tp_flow_touch(F.t, f, T0 + 5 * NS_S);
	assert_int_equal(f->last_ns, T0 + 10 * NS_S);
	tp_flow_expire(F.t, T0 + 10 * NS_S + 1 * NS_M);
	assert_int_equal(F.n, 0);
	tp_flow_expire(F.t, T0 + 10 * NS_S + 1 * NS_M + 1);
	assert_int_equal(F.n, 1);
}

static void test_classes_expire_independently(void **state)
{
	(void)state;
	struct fk tcp = key4("10.1.0.1", 1, "10.1.0.2", 2, 6);
	struct fk udp = key4("10.1.0.1", 1, "10.1.0.2", 2, 17);
	struct fk icmp = key4("10.1.0.1", 8, "10.1.0.2", 0, 1);
	create(&tcp, T0);
	create(&udp, T0 + 1);
	create(&icmp, T0 + 2);

	/* Two minutes later: UDP and ICMP are gone, TCP is not. */
	tp_flow_expire(F.t, T0 + 2 * NS_M);
	assert_int_equal(F.n, 2);
	assert_int_equal(F.e[0].key.proto + F.e[1].key.proto, 17 + 1);
	assert_int_equal(stats().active, 1);
	tp_flow_expire(F.t, T0 + 5 * NS_M + 1);
	assert_int_equal(F.n, 3);
	assert_int_equal(F.e[2].key.proto, 6);
}

static void test_attempt_fixed_delay(void **state)
{
	(void)state;
	struct fk k = key4("10.0.0.1", 40000, "10.0.0.2", 80, 6);
	struct tp_flow *f = create(&k, T0);
	tp_flow_set_phase(F.t, f, TP_FLOW_ATTEMPT, T0);

	/* Retransmitted SYNs do not keep an unanswered attempt alive. */
	tp_flow_touch(F.t, f, T0 + 1 * NS_S);
	tp_flow_touch(F.t, f, T0 + 3 * NS_S);
	tp_flow_expire(F.t, T0 + 5 * NS_S);
	assert_int_equal(F.n, 0);
	tp_flow_expire(F.t, T0 + 5 * NS_S + 1);
	assert_int_equal(F.n, 1);
	assert_int_equal(F.e[0].why, TP_FLOW_END_TIMEOUT);
	assert_int_equal(F.e[0].last_ns, T0 + 3 * NS_S);
}

static void test_closed_fixed_delay(void **state)
{
	(void)state;
	struct fk k = key4("10.0.0.1", 40000, "10.0.0.2", 80, 6);
	struct tp_flow *f = create(&k, T0);
	tp_flow_touch(F.t, f, T0 + 20 * NS_S);
	/* Closed at T0 + 30 s; its last data was at T0 + 20 s. */
	tp_flow_set_phase(F.t, f, TP_FLOW_CLOSED, T0 + 30 * NS_S);

	/* A late packet within the delay counts but does not extend it. */
	tp_flow_touch(F.t, f, T0 + 33 * NS_S);
	assert_int_equal(f->last_ns, T0 + 33 * NS_S);
	tp_flow_expire(F.t, T0 + 35 * NS_S);
	assert_int_equal(F.n, 0);
	tp_flow_expire(F.t, T0 + 35 * NS_S + 1);
	assert_int_equal(F.n, 1);
	assert_int_equal(F.e[0].why, TP_FLOW_END_TIMEOUT);
	assert_int_equal(F.e[0].last_ns, T0 + 33 * NS_S);

	/* The same phase set again does not restart the delay. */
	f = create(&k, T0 + 40 * NS_S);
	tp_flow_set_phase(F.t, f, TP_FLOW_CLOSED, T0 + 40 * NS_S);
	tp_flow_set_phase(F.t, f, TP_FLOW_CLOSED, T0 + 44 * NS_S);
	tp_flow_expire(F.t, T0 + 45 * NS_S + 1);
	assert_int_equal(F.n, 2);
}

static void test_attempt_answered_reopens(void **state)
{
	(void)state;
	struct fk k = key4("10.0.0.1", 40000, "10.0.0.2", 80, 6);
	struct tp_flow *f = create(&k, T0);
	tp_flow_set_phase(F.t, f, TP_FLOW_ATTEMPT, T0);

	/* The SYN-ACK at T0 + 4 s: an open connection, inactivity
	 * timeout from its last packet. */
	tp_flow_touch(F.t, f, T0 + 4 * NS_S);
	tp_flow_set_phase(F.t, f, TP_FLOW_OPEN, T0 + 4 * NS_S);
	tp_flow_expire(F.t, T0 + 6 * NS_S);
	assert_int_equal(F.n, 0);
	tp_flow_expire(F.t, T0 + 4 * NS_S + 5 * NS_M);
	assert_int_equal(F.n, 0);
	tp_flow_expire(F.t, T0 + 4 * NS_S + 5 * NS_M + 1);
	assert_int_equal(F.n, 1);
}

static void test_expire_order_and_partial(void **state)
{
	(void)state;
	/* Ten UDP flows one second apart: an expiry at a time in between
	 * ends exactly the older ones, oldest first. */
	for (unsigned i = 0; i < 10; i++) {
		struct fk k = udp_n(i);
		create(&k, T0 + i * NS_S);
	}
	tp_flow_expire(F.t, T0 + 4 * NS_S + 1 * NS_M);
	assert_int_equal(F.n, 4);
	for (unsigned i = 0; i < 4; i++) {
		struct fk k = udp_n(i);
		assert_true(key_equal(&F.e[i].key, &k.k));
	}
	assert_int_equal(stats().active, 6);
}

/* ---- the pool cap ----------------------------------------------------- */

static void small_table(uint64_t max)
{
	tp_flow_table_free(F.t);
	F.t = tp_flow_table_new(max, &F.cfg, on_end, &F);
	assert_non_null(F.t);
}

static void test_pool_cap_evicts_least_recent(void **state)
{
	(void)state;
	enum { CAP = 16 };
	struct tp_flow *f[CAP];
	small_table(CAP);

	for (unsigned i = 0; i < CAP; i++) {
		struct fk k = udp_n(i);
		f[i] = create(&k, T0 + i * NS_S);
	}
	/* Flow 0 saw a packet again: flow 1 is now the least recent. */
	tp_flow_touch(F.t, f[0], T0 + 100 * NS_S);
	assert_int_equal(F.n, 0);

	struct fk extra = udp_n(CAP);
	create(&extra, T0 + 101 * NS_S);
	assert_int_equal(F.n, 1);
	struct fk k1 = udp_n(1);
	assert_true(key_equal(&F.e[0].key, &k1.k));
	assert_int_equal(F.e[0].why, TP_FLOW_END_EVICTED);

	struct tp_flow_stats st = stats();
	assert_int_equal(st.active, CAP);
	assert_int_equal(st.created, CAP + 1);
	assert_int_equal(st.ended, 1);
	assert_int_equal(st.evicted, 1);
	assert_int_equal(st.peak, CAP);

	/* The evicted flow comes back as a new one, pushing out the next. */
	bool created;
	get(&k1, T0 + 102 * NS_S, &created);
	assert_true(created);
	struct fk k2 = udp_n(2);
	assert_true(key_equal(&F.e[1].key, &k2.k));
	assert_int_equal(stats().evicted, 2);
	/* Flow 0 and the extra one are still there. */
	struct fk k0 = udp_n(0);
	assert_ptr_equal(get(&k0, T0 + 103 * NS_S, &created), f[0]);
	assert_false(created);
}

static void test_pool_cap_across_classes(void **state)
{
	(void)state;
	enum { CAP = 16 };
	small_table(CAP);

	/* The least recent flow is a TCP one among newer UDP flows. */
	struct fk tcp = key4("10.9.0.1", 1, "10.9.0.2", 2, 6);
	create(&tcp, T0);
	for (unsigned i = 1; i < CAP; i++) {
		struct fk k = udp_n(i);
		create(&k, T0 + i * NS_S);
	}
	struct fk extra = udp_n(CAP);
	create(&extra, T0 + 100 * NS_S);
	assert_int_equal(F.n, 1);
	assert_true(key_equal(&F.e[0].key, &tcp.k));
	assert_int_equal(F.e[0].why, TP_FLOW_END_EVICTED);
}

static void test_pool_cap_fixed_delay_classes(void **state)
{
	(void)state;
	enum { CAP = 16 };
	struct tp_flow *f[CAP];
	small_table(CAP);

	/* Two reset TCP connections: A reset at T0 + 1 s with a late packet
	 * from its peer at T0 + 4 s, B reset at T0 + 2 s and silent since.
	 * The rest are UDP flows active at T0 + 3 s and later. */
	struct fk a = key4("10.9.0.1", 1, "10.9.0.2", 2, 6);
	struct fk b = key4("10.9.0.1", 3, "10.9.0.2", 4, 6);
	f[0] = create(&a, T0 + 1 * NS_S);
	tp_flow_set_phase(F.t, f[0], TP_FLOW_CLOSED, T0 + 1 * NS_S);
	f[1] = create(&b, T0 + 2 * NS_S);
	tp_flow_set_phase(F.t, f[1], TP_FLOW_CLOSED, T0 + 2 * NS_S);
	for (unsigned i = 2; i < CAP; i++) {
		struct fk k = udp_n(i);
		f[i] = create(&k, T0 + 3 * NS_S + i);
	}
	tp_flow_touch(F.t, f[0], T0 + 4 * NS_S);

	/* The pool is full: a closed connection goes first, the first to
	 * have closed (A, even though a late packet touched it since). */
	struct fk extra = udp_n(CAP);
	create(&extra, T0 + 4 * NS_S + 1);
	assert_int_equal(F.n, 1);
	assert_int_equal(F.e[0].why, TP_FLOW_END_EVICTED);
	assert_int_equal(F.e[0].last_ns, T0 + 4 * NS_S);
	assert_true(key_equal(&F.e[0].key, &a.k));
	/* Then B, the other closed one, before any open flow. */
	struct fk extra2 = udp_n(CAP + 1);
	create(&extra2, T0 + 4 * NS_S + 2);
	assert_int_equal(F.n, 2);
	assert_true(key_equal(&F.e[1].key, &b.k));
}

/* ---- ending ----------------------------------------------------------- */

static void test_flush_ends_all(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 20; i++) {
		struct fk k = key4("10.0.0.1", (uint16_t)(2000 + i), "10.0.0.2",
				   80, i % 2 ? 6 : 17);
		struct tp_flow *f = create(&k, T0 + i);
		if (i % 4 == 1)
			tp_flow_set_phase(F.t, f, TP_FLOW_ATTEMPT, T0 + i);
		if (i % 4 == 3)
			tp_flow_set_phase(F.t, f, TP_FLOW_CLOSED, T0 + i);
	}
	tp_flow_flush(F.t);
	assert_int_equal(F.n, 20);
	/* Each flow once, whatever its class. */
	unsigned seen[20] = {0};
	for (unsigned i = 0; i < 20; i++) {
		assert_int_equal(F.e[i].why, TP_FLOW_END_FLUSH);
		unsigned port = F.e[i].key.port[0];
		assert_in_range(port, 2000, 2019);
		seen[port - 2000]++;
	}
	for (unsigned i = 0; i < 20; i++)
		assert_int_equal(seen[i], 1);
	struct tp_flow_stats st = stats();
	assert_int_equal(st.active, 0);
	assert_int_equal(st.ended, 20);
	assert_int_equal(st.evicted, 0);
	assert_int_equal(st.peak, 20);

	/* Nothing left to end. */
	tp_flow_flush(F.t);
	tp_flow_expire(F.t, T0 + 365 * 24 * 3600 * NS_S);
	assert_int_equal(F.n, 20);
}

static void test_end_and_slot_reuse(void **state)
{
	(void)state;
	enum { CAP = 16 };
	struct tp_flow *f[CAP];
	small_table(CAP);
	for (unsigned i = 0; i < CAP; i++) {
		struct fk k = udp_n(i);
		f[i] = create(&k, T0 + i);
	}
	f[5]->conn.d[0].pkts = 7;

	/* A new connection on the 5-tuple of flow 5. */
	tp_flow_end(F.t, f[5], TP_FLOW_END_REUSED);
	assert_int_equal(F.n, 1);
	assert_int_equal(F.e[0].why, TP_FLOW_END_REUSED);
	struct fk k5 = udp_n(5);
	assert_true(key_equal(&F.e[0].key, &k5.k));
	assert_int_equal(F.e[0].first_ns, T0 + 5);
	assert_int_equal(stats().active, CAP - 1);

	/* The freed slot takes the new flow: nothing evicted, and the
	 * flow starts afresh. */
	bool created;
	struct tp_flow *g = get(&k5, T0 + 100, &created);
	assert_true(created);
	assert_int_equal(F.n, 1);
	assert_int_equal(g->first_ns, T0 + 100);
	assert_int_equal(g->last_ns, T0 + 100);
	assert_int_equal(g->conn.d[0].pkts, 0);
	assert_int_equal(g->tclass, f[0]->tclass);
	struct tp_flow_stats st = stats();
	assert_int_equal(st.active, CAP);
	assert_int_equal(st.created, CAP + 1);
	assert_int_equal(st.ended, 1);
	assert_int_equal(st.evicted, 0);

	/* It times out from its own start, not the old flow's. */
	tp_flow_expire(F.t, T0 + 15 + 1 * NS_M + 1);
	assert_int_equal(F.n, 1 + CAP - 1);
	assert_int_equal(stats().active, 1);
	assert_ptr_equal(get(&k5, T0 + 1 * NS_M + 100, &created), g);
	assert_false(created);
}

static void test_end_from_fixed_class(void **state)
{
	(void)state;
	struct fk a = key4("10.0.0.1", 1, "10.0.0.2", 2, 6);
	struct fk b = key4("10.0.0.1", 3, "10.0.0.2", 4, 6);
	struct tp_flow *fa = create(&a, T0);
	struct tp_flow *fb = create(&b, T0 + 1);
	tp_flow_set_phase(F.t, fa, TP_FLOW_ATTEMPT, T0);
	tp_flow_set_phase(F.t, fb, TP_FLOW_ATTEMPT, T0 + 1);

	/* Ending the head of the attempt list keeps the rest in order. */
	tp_flow_end(F.t, fa, TP_FLOW_END_REUSED);
	tp_flow_expire(F.t, T0 + 1 + 5 * NS_S);
	assert_int_equal(F.n, 1);
	tp_flow_expire(F.t, T0 + 2 + 5 * NS_S);
	assert_int_equal(F.n, 2);
	assert_true(key_equal(&F.e[1].key, &b.k));
	assert_int_equal(stats().active, 0);
}

static void test_free_releases_memory(void **state)
{
	(void)state;
	tp_flow_table_free(F.t);
	uint64_t before = tp_mem_in_use();
	F.t = tp_flow_table_new(5000, &F.cfg, on_end, &F);
	assert_non_null(F.t);
	struct fk k = udp_n(0);
	create(&k, T0);
	tp_flow_table_free(F.t);
	assert_int_equal(tp_mem_in_use(), before);
	F.t = NULL;
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_key_symmetric),
		T(test_key_ports_break_ties),
		T(test_key_fields_distinguish),
		T(test_get_creates_then_finds),
		T(test_same_bucket_chain),
		T(test_default_timeouts),
		T(test_timeout_tcp),
		T(test_timeout_udp),
		T(test_timeout_icmp),
		T(test_timeout_icmp6),
		T(test_timeout_other),
		T(test_timeout_configured),
		T(test_activity_extends),
		T(test_touch_never_moves_time_back),
		T(test_classes_expire_independently),
		T(test_attempt_fixed_delay),
		T(test_closed_fixed_delay),
		T(test_attempt_answered_reopens),
		T(test_expire_order_and_partial),
		T(test_pool_cap_evicts_least_recent),
		T(test_pool_cap_across_classes),
		T(test_pool_cap_fixed_delay_classes),
		T(test_flush_ends_all),
		T(test_end_and_slot_reuse),
		T(test_end_from_fixed_class),
		T(test_free_releases_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
