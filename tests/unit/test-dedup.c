/* Duplicate detection (src/mirror/dedup.c): the two copies of a packet
 * that a both-sides mirror delivers are one packet when they agree on the
 * inner IP packet except TTL / hop limit and header checksum, in one zone,
 * within the window, in either order; anything else is a new packet.
 * Packet views are built by hand over byte arrays, as the IP decoders
 * leave them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "mirror/dedup.h"
#include "util/mem.h"

#define NS_US 1000ull
#define NS_MS 1000000ull
#define WINDOW (5 * NS_MS)
#define T0 (1700000000ull * 1000000000ull)

/* An IPv4/UDP datagram with 200 payload bytes. */
#define V4_LEN (20 + 8 + 200)
/* An IPv6/UDP datagram with 200 payload bytes. */
#define V6_LEN (40 + 8 + 200)

static void fill_payload(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(i * 7 + 3);
}

/* 10.0.0.1:40000 -> 10.0.0.2:53, id 0x1234, TTL 64. */
static void build_v4(uint8_t *b)
{
	static const uint8_t hdr[28] = {
		0x45, 0x00, V4_LEN >> 8, V4_LEN & 0xff, /* ver/ihl, tos, len */
		0x12, 0x34, 0x00, 0x00,                 /* id, flags/frag */
		64, 17, 0xab, 0xcd,                     /* ttl, udp, csum */
		10, 0, 0, 1,
		10, 0, 0, 2,
		0x9c, 0x40, 0x00, 0x35,                 /* 40000 -> 53 */
		0x00, 208, 0x55, 0xaa,                  /* udp len, csum */
	};
	memcpy(b, hdr, sizeof(hdr));
	fill_payload(b + 28, V4_LEN - 28);
}

/* 2001:db8::1:40000 -> 2001:db8::2:53, hop limit 64. */
static void build_v6(uint8_t *b)
{
	static const uint8_t hdr[48] = {
		0x60, 0x01, 0x23, 0x45,                 /* ver, class, label */
		0x00, 208, 17, 64,                      /* plen, udp, hlim */
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
		0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
		0x9c, 0x40, 0x00, 0x35,
		0x00, 208, 0x55, 0xaa,
	};
	memcpy(b, hdr, sizeof(hdr));
	fill_payload(b + 48, V6_LEN - 48);
}

static void view(struct tp_pkt *p, const uint8_t *ip, uint32_t len,
		 uint8_t ipver)
{
	memset(p, 0, sizeof(*p));
	p->ipver = ipver;
	p->proto = 17;
	p->ip = ip;
	p->ip_cap = len;
	p->ip_len = len;
	p->ip_hlen = ipver == 4 ? 20 : 40;
	p->ttl = ipver == 4 ? ip[8] : ip[7];
}

static uint64_t hash_v4(const uint8_t *b, uint16_t zone)
{
	struct tp_pkt p;
	view(&p, b, V4_LEN, 4);
	return tp_dedup_hash(&p, zone);
}

static uint64_t hash_v6(const uint8_t *b, uint16_t zone)
{
	struct tp_pkt p;
	view(&p, b, V6_LEN, 6);
	return tp_dedup_hash(&p, zone);
}

static struct tp_dedup *new_table(void)
{
	struct tp_dedup *dd = tp_dedup_new(1024, WINDOW);
	assert_non_null(dd);
	return dd;
}

/* ---- the window ------------------------------------------------------- */

static void test_copy_within_window_is_duplicate(void **state)
{
	(void)state;
	uint8_t a[V4_LEN], b[V4_LEN];
	struct tp_dedup *dd = new_table();
	build_v4(a);
	build_v4(b);

	uint64_t h = hash_v4(a, 0);
	assert_int_not_equal(h, 0);
	assert_int_equal(hash_v4(b, 0), h);
	assert_false(tp_dedup_check(dd, h, T0));
	assert_true(tp_dedup_check(dd, h, T0 + 40 * NS_US));
	/* A third copy is still a duplicate of the first. */
	assert_true(tp_dedup_check(dd, h, T0 + 1 * NS_MS));
	assert_int_equal(tp_dedup_evictions(dd), 0);
	tp_dedup_free(dd);
}

static void test_window_boundary(void **state)
{
	(void)state;
	struct tp_dedup *dd = new_table();
	uint64_t h = 0x1111222233334444ull, g = 0x5555666677778888ull;

	/* Exactly the window after: still a duplicate. */
	assert_false(tp_dedup_check(dd, h, T0));
	assert_true(tp_dedup_check(dd, h, T0 + WINDOW));

	/* One nanosecond more: a new packet, remembered from then on. */
	assert_false(tp_dedup_check(dd, g, T0));
	assert_false(tp_dedup_check(dd, g, T0 + WINDOW + 1));
	assert_true(tp_dedup_check(dd, g, T0 + WINDOW + 1 + 2 * NS_MS));
	assert_int_equal(tp_dedup_evictions(dd), 0);
	tp_dedup_free(dd);
}

static void test_beyond_window_is_new_packet(void **state)
{
	(void)state;
	uint8_t a[V4_LEN];
	struct tp_dedup *dd = new_table();
	build_v4(a);
	uint64_t h = hash_v4(a, 0);

	assert_false(tp_dedup_check(dd, h, T0));
	/* A retransmission 200 ms later that repeats the bytes exactly. */
	assert_false(tp_dedup_check(dd, h, T0 + 200 * NS_MS));
	tp_dedup_free(dd);
}

static void test_reordered_copy_is_duplicate(void **state)
{
	(void)state;
	uint8_t a[V4_LEN];
	struct tp_dedup *dd = new_table();
	build_v4(a);
	uint64_t h = hash_v4(a, 0);

	/* The copy with the earlier timestamp arrives second. */
	assert_false(tp_dedup_check(dd, h, T0 + 300 * NS_US));
	assert_true(tp_dedup_check(dd, h, T0));
	/* Earlier by more than the window: not the same packet. */
	assert_false(tp_dedup_check(dd, 0xabcdefull, T0 + 20 * NS_MS));
	assert_false(tp_dedup_check(dd, 0xabcdefull, T0 + 20 * NS_MS -
							  WINDOW - 1));
	tp_dedup_free(dd);
}

/* ---- what the fingerprint covers -------------------------------------- */

static void test_ttl_and_checksum_ignored_v4(void **state)
{
	(void)state;
	uint8_t a[V4_LEN], b[V4_LEN];
	struct tp_dedup *dd = new_table();
	build_v4(a);
	build_v4(b);
	b[8] = 61;              /* three more hops */
	b[10] = 0xde;           /* and the checksum that goes with them */
	b[11] = 0xad;

	uint64_t h = hash_v4(a, 0);
	assert_int_equal(hash_v4(b, 0), h);
	assert_false(tp_dedup_check(dd, h, T0));
	assert_true(tp_dedup_check(dd, hash_v4(b, 0), T0 + 50 * NS_US));
	tp_dedup_free(dd);
}

static void test_hop_limit_ignored_v6(void **state)
{
	(void)state;
	uint8_t a[V6_LEN], b[V6_LEN];
	struct tp_dedup *dd = new_table();
	build_v6(a);
	build_v6(b);
	b[7] = 255;

	uint64_t h = hash_v6(a, 0);
	assert_int_not_equal(h, 0);
	assert_int_equal(hash_v6(b, 0), h);
	assert_false(tp_dedup_check(dd, h, T0));
	assert_true(tp_dedup_check(dd, hash_v6(b, 0), T0 + 50 * NS_US));
	tp_dedup_free(dd);
}

static void test_ip_id_differs_v4(void **state)
{
	(void)state;
	uint8_t a[V4_LEN], b[V4_LEN];
	struct tp_dedup *dd = new_table();
	build_v4(a);
	build_v4(b);
	b[5] = 0x35;            /* id 0x1235: the next datagram */

	uint64_t h = hash_v4(a, 0), g = hash_v4(b, 0);
	assert_int_not_equal(g, h);
	assert_false(tp_dedup_check(dd, h, T0));
	assert_false(tp_dedup_check(dd, g, T0 + 50 * NS_US));
	tp_dedup_free(dd);
}

static void test_other_header_bytes_differ(void **state)
{
	(void)state;
	uint8_t a[V4_LEN], b[V4_LEN], c[V6_LEN], d[V6_LEN];
	build_v4(a);
	build_v6(c);
	uint64_t h4 = hash_v4(a, 0), h6 = hash_v6(c, 0);

	/* TOS, protocol, addresses: every header byte but TTL and checksum. */
	static const unsigned v4_off[] = {1, 6, 7, 9, 12, 15, 16, 19};
	for (size_t i = 0; i < sizeof(v4_off) / sizeof(v4_off[0]); i++) {
		build_v4(b);
		b[v4_off[i]] ^= 0x01;
		assert_int_not_equal(hash_v4(b, 0), h4);
	}
	/* Traffic class, flow label, next header, addresses. */
	static const unsigned v6_off[] = {1, 3, 6, 8, 23, 24, 39};
	for (size_t i = 0; i < sizeof(v6_off) / sizeof(v6_off[0]); i++) {
		build_v6(d);
		d[v6_off[i]] ^= 0x01;
		assert_int_not_equal(hash_v6(d, 0), h6);
	}
}

static void test_payload_byte_differs(void **state)
{
	(void)state;
	uint8_t a[V4_LEN], b[V4_LEN], c[V6_LEN], d[V6_LEN];
	struct tp_dedup *dd = new_table();
	build_v4(a);
	build_v6(c);
	uint64_t h4 = hash_v4(a, 0), h6 = hash_v6(c, 0);

	/* The first byte after the IP header (UDP source port), a byte
	 * of the UDP checksum, and the 128th byte after the header. */
	static const unsigned off[] = {0, 7, 50, 127};
	for (size_t i = 0; i < sizeof(off) / sizeof(off[0]); i++) {
		build_v4(b);
		b[20 + off[i]] ^= 0x80;
		assert_int_not_equal(hash_v4(b, 0), h4);
		build_v6(d);
		d[40 + off[i]] ^= 0x80;
		assert_int_not_equal(hash_v6(d, 0), h6);
	}

	build_v4(b);
	b[20 + 127] ^= 0x80;
	assert_false(tp_dedup_check(dd, h4, T0));
	assert_false(tp_dedup_check(dd, hash_v4(b, 0), T0 + 10 * NS_US));
	tp_dedup_free(dd);
}

static void test_ipv4_options_count(void **state)
{
	(void)state;
	uint8_t a[V4_LEN + 4], b[V4_LEN + 4];
	struct tp_pkt p;

	/* The same datagram with a 4-byte option (Router Alert). */
	for (int k = 0; k < 2; k++) {
		uint8_t *x = k ? b : a;
		build_v4(x + 4);
		memmove(x, x + 4, 20);
		x[0] = 0x46;
		x[2] = (V4_LEN + 4) >> 8;
		x[3] = (V4_LEN + 4) & 0xff;
		x[20] = 0x94;
		x[21] = 0x04;
		x[22] = 0;
		x[23] = (uint8_t)k;   /* option value differs */
	}
	a[8] = 64;
	b[8] = 63;
	view(&p, a, sizeof(a), 4);
	p.ip_hlen = 24;
	uint64_t ha = tp_dedup_hash(&p, 0);
	view(&p, b, sizeof(b), 4);
	p.ip_hlen = 24;
	uint64_t hb = tp_dedup_hash(&p, 0);
	assert_int_not_equal(ha, hb);

	/* Same option: TTL still does not matter. */
	b[23] = 0;
	view(&p, b, sizeof(b), 4);
	p.ip_hlen = 24;
	assert_int_equal(tp_dedup_hash(&p, 0), ha);
}

static void test_zone_differs(void **state)
{
	(void)state;
	uint8_t a[V4_LEN];
	struct tp_dedup *dd = new_table();
	build_v4(a);

	/* The same addresses in two VPCs are two packets. */
	uint64_t z0 = hash_v4(a, 0), z1 = hash_v4(a, 1), z256 = hash_v4(a, 256);
	assert_int_not_equal(z0, z1);
	assert_int_not_equal(z0, z256);
	assert_int_not_equal(z1, z256);
	assert_false(tp_dedup_check(dd, z0, T0));
	assert_false(tp_dedup_check(dd, z1, T0 + 10 * NS_US));
	assert_true(tp_dedup_check(dd, hash_v4(a, 1), T0 + 20 * NS_US));
	tp_dedup_free(dd);
}

static void test_truncated_copies(void **state)
{
	(void)state;
	uint8_t a[V4_LEN], b[V4_LEN];
	struct tp_pkt p;
	build_v4(a);
	build_v4(b);
	b[8] = 60;

	/* Both copies cut to 64 bytes by the mirror: still one packet. */
	view(&p, a, 64, 4);
	uint64_t h = tp_dedup_hash(&p, 0);
	view(&p, b, 64, 4);
	assert_int_not_equal(h, 0);
	assert_int_equal(tp_dedup_hash(&p, 0), h);

	/* An IPv6 header cut short: the bytes present still count. */
	uint8_t c[V6_LEN];
	build_v6(c);
	view(&p, c, 30, 6);
	uint64_t h6 = tp_dedup_hash(&p, 0);
	assert_int_not_equal(h6, 0);
	c[29] ^= 1;
	assert_int_not_equal(tp_dedup_hash(&p, 0), h6);
}

static void test_no_ip_hashes_to_zero(void **state)
{
	(void)state;
	struct tp_pkt p;
	uint8_t a[V4_LEN];

	memset(&p, 0, sizeof(p));
	assert_int_equal(tp_dedup_hash(&p, 0), 0);
	assert_int_equal(tp_dedup_hash(&p, 7), 0);

	/* An ARP frame: no IP view even if other fields are set. */
	p.ip_cap = 28;
	p.ip_hlen = 20;
	assert_int_equal(tp_dedup_hash(&p, 0), 0);

	/* An IP pointer with no bytes behind it. */
	build_v4(a);
	view(&p, a, 0, 4);
	assert_int_equal(tp_dedup_hash(&p, 0), 0);
}

/* ---- the table -------------------------------------------------------- */

/* Fingerprints whose low 32 bits agree start at the same slot for any
 * table size. */
#define SAME_SLOT(k) (0x00000001ull | (uint64_t)(k) << 32)

/* How many live fingerprints of one start slot the table holds before
 * the next one pushes one out (the probe run or bucket). */
static unsigned run_length(void)
{
	struct tp_dedup *dd = new_table();
	unsigned k;
	for (k = 1; k <= 64; k++) {
		assert_false(tp_dedup_check(dd, SAME_SLOT(k),
					    T0 + (uint64_t)k * NS_US));
		if (tp_dedup_evictions(dd) == 1)
			break;
	}
	tp_dedup_free(dd);
	assert_in_range(k, 3, 64);
	return k - 1;
}

static void test_full_probe_run_evicts_oldest(void **state)
{
	(void)state;
	unsigned run = run_length();
	struct tp_dedup *dd = new_table();

	/* Fill one run, 1 us apart: nothing is pushed out, all are live. */
	for (unsigned k = 1; k <= run; k++)
		assert_false(tp_dedup_check(dd, SAME_SLOT(k),
					    T0 + (uint64_t)k * NS_US));
	assert_int_equal(tp_dedup_evictions(dd), 0);
	for (unsigned k = 1; k <= run; k++)
		assert_true(tp_dedup_check(dd, SAME_SLOT(k), T0 + 100 * NS_US));

	/* One more: the run is full of live entries; the oldest goes. */
	assert_false(tp_dedup_check(dd, SAME_SLOT(run + 1), T0 + 200 * NS_US));
	assert_int_equal(tp_dedup_evictions(dd), 1);
	for (unsigned k = 2; k <= run + 1; k++)
		assert_true(tp_dedup_check(dd, SAME_SLOT(k), T0 + 201 * NS_US));
	assert_int_equal(tp_dedup_evictions(dd), 1);

	/* The first is forgotten: its copy now is a new packet, and makes
	 * room by pushing out the next oldest (the second). */
	assert_false(tp_dedup_check(dd, SAME_SLOT(1), T0 + 300 * NS_US));
	assert_int_equal(tp_dedup_evictions(dd), 2);
	assert_true(tp_dedup_check(dd, SAME_SLOT(3), T0 + 301 * NS_US));
	assert_false(tp_dedup_check(dd, SAME_SLOT(2), T0 + 302 * NS_US));
	assert_int_equal(tp_dedup_evictions(dd), 3);
	tp_dedup_free(dd);
}

static void test_expired_slot_reused_without_eviction(void **state)
{
	(void)state;
	unsigned run = run_length();
	struct tp_dedup *dd = new_table();

	assert_false(tp_dedup_check(dd, SAME_SLOT(1), T0));
	for (unsigned k = 2; k <= run; k++)
		assert_false(tp_dedup_check(dd, SAME_SLOT(k), T0 + 3 * NS_MS));
	/* At T0 + 6 ms the first entry is past its window: its slot is as
	 * good as empty and nothing live is pushed out. */
	assert_false(tp_dedup_check(dd, SAME_SLOT(run + 1), T0 + 6 * NS_MS));
	assert_int_equal(tp_dedup_evictions(dd), 0);
	for (unsigned k = 2; k <= run + 1; k++)
		assert_true(tp_dedup_check(dd, SAME_SLOT(k),
					   T0 + 6 * NS_MS + 1));
	assert_int_equal(tp_dedup_evictions(dd), 0);
	tp_dedup_free(dd);
}

static void set_seq(uint8_t *a, uint32_t i)
{
	a[4] = (uint8_t)(i >> 8);
	a[5] = (uint8_t)i;
	a[40] = (uint8_t)(i >> 16);
}

static void test_light_load_every_copy_found(void **state)
{
	(void)state;
	uint8_t a[V4_LEN];
	struct tp_dedup *dd = tp_dedup_new(65536, WINDOW);
	assert_non_null(dd);
	build_v4(a);

	/* 2000 datagrams of one flow 1 us apart (all within one window),
	 * differing in IP id and payload as consecutive packets do: none
	 * is a duplicate; then the second copy of each, with another TTL,
	 * is. */
	for (uint32_t i = 0; i < 2000; i++) {
		set_seq(a, i);
		assert_false(tp_dedup_check(dd, hash_v4(a, 0),
					    T0 + i * NS_US));
	}
	assert_int_equal(tp_dedup_evictions(dd), 0);
	a[8] = 10;
	for (uint32_t i = 0; i < 2000; i++) {
		set_seq(a, i);
		assert_true(tp_dedup_check(dd, hash_v4(a, 0),
					   T0 + 2 * NS_MS + i * NS_US));
	}
	assert_int_equal(tp_dedup_evictions(dd), 0);
	tp_dedup_free(dd);
}

static void test_free_releases_memory(void **state)
{
	(void)state;
	uint64_t before = tp_mem_in_use();
	struct tp_dedup *dd = tp_dedup_new(5000, WINDOW);
	assert_non_null(dd);
	assert_true(tp_mem_in_use() > before);
	tp_dedup_free(dd);
	assert_int_equal(tp_mem_in_use(), before);
	tp_dedup_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_copy_within_window_is_duplicate),
		cmocka_unit_test(test_window_boundary),
		cmocka_unit_test(test_beyond_window_is_new_packet),
		cmocka_unit_test(test_reordered_copy_is_duplicate),
		cmocka_unit_test(test_ttl_and_checksum_ignored_v4),
		cmocka_unit_test(test_hop_limit_ignored_v6),
		cmocka_unit_test(test_ip_id_differs_v4),
		cmocka_unit_test(test_other_header_bytes_differ),
		cmocka_unit_test(test_payload_byte_differs),
		cmocka_unit_test(test_ipv4_options_count),
		cmocka_unit_test(test_zone_differs),
		cmocka_unit_test(test_truncated_copies),
		cmocka_unit_test(test_no_ip_hashes_to_zero),
		cmocka_unit_test(test_full_probe_run_evicts_oldest),
		cmocka_unit_test(test_expired_slot_reused_without_eviction),
		cmocka_unit_test(test_light_load_every_copy_found),
		cmocka_unit_test(test_free_releases_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
