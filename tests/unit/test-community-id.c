/* Community ID v1: the spec's reference data (corelight/community-id-spec,
 * baseline/), both seeds, every protocol class it covers (TCP, UDP, SCTP,
 * ICMP, ICMPv6 incl. one-way types, a port-less protocol), plus the
 * ID Zeek documents for its handshake-reorder trace. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <cmocka.h>

#include "flow/community-id.h"

struct vec {
	uint8_t proto;
	const char *saddr, *daddr;
	uint16_t sport, dport;
	const char *id;
};

/* baseline/baseline_deflt.json (seed 0) */
static const struct vec seed0[] = {
	{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
	{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135, "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
	{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136, "1:zavyT/cezQr1fmImYCwYnMXbgck="},
	{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135, "1:zavyT/cezQr1fmImYCwYnMXbgck="},
	{58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="},
	{58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4, "1:hLZd0XGWojozrvxqE0dWB1iM6R0="},
	{58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
	{58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128, "1:+TW+HtLHvV1xnGhV1lv7XoJrqQg="},
	{58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="},
	{58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, "1:pkvHqCL88/tg1k4cPigmZXUtL00="},
	{1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
	{1, "192.168.0.1", "192.168.0.89", 0, 8, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
	{1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="},
	{6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
	{6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
	{132, "192.168.170.8", "192.168.170.56", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
	{132, "192.168.170.56", "192.168.170.8", 7, 7, "1:MP2EtRCAUIZvTw6MxJHLV7N7JDs="},
	{6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
	{6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
	{17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
	{17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
	{46, "10.1.12.1", "10.1.12.2", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
	{46, "10.1.12.2", "10.1.12.1", 0, 0, "1:KHlLkgoJW7ifUTyTSgyVfkFHzKw="},
};

/* baseline/baseline_seed1.json (seed 1) */
static const struct vec seed1[] = {
	{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 136, "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="},
	{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 135, "1:kHa1FhMYIT6Ym2Vm2AOtoOARDzY="},
	{58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 136, "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="},
	{58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 136, 135, "1:2hSqmsDZ2kdcY9kbiUzOEBic0iM="},
	{58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0, "1:lVEtCZpYu84Xqaa++3lXFyuu2n4="},
	{58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4, "1:W8MHwXpWzpoSTD+cGcaJr4u0ys8="},
	{58, "3ffe:507:0:1:200:86ff:fe05:80da", "3ffe:501:0:1001::2", 128, 129, "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="},
	{58, "3ffe:501:0:1001::2", "3ffe:507:0:1:200:86ff:fe05:80da", 129, 128, "1:GfZxjAkDk2MkegpBYHV6tadtFXQ="},
	{58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 134, "1:L7Ka0ZMYu+J3bL4ulW2PrqyXNo8="},
	{58, "fe80::260:97ff:fe07:69ea", "ff02::1", 134, 133, "1:K/ee5UCqAMAQXDorP5nSa2CGLjc="},
	{1, "192.168.0.89", "192.168.0.1", 8, 0, "1:03g6IloqVBdcZlPyX8r0hgoE7kA="},
	{1, "192.168.0.1", "192.168.0.89", 0, 8, "1:03g6IloqVBdcZlPyX8r0hgoE7kA="},
	{1, "10.0.0.1", "10.0.0.2", 11, 0, "1:XjUibYHaafLQ3pxQeiMI8g25q20="},
	{6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25, "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
	{6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943, "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
	{132, "192.168.170.8", "192.168.170.56", 7, 7, "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
	{132, "192.168.170.56", "192.168.170.8", 7, 7, "1:5w3ZRjeKBzqT3zsaEECDGjUbYeg="},
	{6, "128.232.110.120", "66.35.250.204", 34855, 80, "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
	{6, "66.35.250.204", "128.232.110.120", 80, 34855, "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
	{17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
	{17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:Q9We8WO3piVF8yEQBNJF4uiSVrI="},
	{46, "10.1.12.1", "10.1.12.2", 0, 0, "1:rYir8gphR31noO9iDRQmF/BteEI="},
	{46, "10.1.12.2", "10.1.12.1", 0, 0, "1:rYir8gphR31noO9iDRQmF/BteEI="},
};

/* Parse a textual address into tapir's form (IPv4 v4-mapped). */
static uint8_t parse_addr(const char *s, struct tp_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (strchr(s, ':')) {
		assert_int_equal(inet_pton(AF_INET6, s, a->b), 1);
		return 6;
	}
	a->b[10] = 0xff;
	a->b[11] = 0xff;
	assert_int_equal(inet_pton(AF_INET, s, a->b + 12), 1);
	return 4;
}

static void check(const struct vec *v, size_t n, uint16_t seed)
{
	for (size_t i = 0; i < n; i++) {
		struct tp_addr s, d;
		char out[64];
		uint8_t ver = parse_addr(v[i].saddr, &s);
		assert_int_equal(parse_addr(v[i].daddr, &d), ver);
		memset(out, 'Z', sizeof(out));
		tp_community_id(ver, &s, &d, v[i].sport, v[i].dport,
				v[i].proto, seed, out);
		assert_string_equal(out, v[i].id);
		assert_true(strlen(out) + 1 <= TP_COMMUNITY_ID_LEN);
	}
}

static void test_baseline_seed0(void **state)
{
	(void)state;
	check(seed0, sizeof(seed0) / sizeof(seed0[0]), 0);
}

static void test_baseline_seed1(void **state)
{
	(void)state;
	check(seed1, sizeof(seed1) / sizeof(seed1[0]), 1);
}

/* conn.log keys ICMP by (type, counterpart type); the packet view by
 * (type, code).  Both must give the packet's ID: echo request 8/0. */
static void test_icmp_key_or_packet(void **state)
{
	struct tp_addr s, d;
	char a[64], b[64], c[64];

	(void)state;
	parse_addr("192.168.0.1", &s);
	parse_addr("192.168.0.89", &d);
	/* Echo reply from .1, code 0, as a packet and as a key (0, 8). */
	tp_community_id(4, &s, &d, 0, 0, 1, 0, a);
	tp_community_id(4, &s, &d, 0, 8, 1, 0, b);
	/* The request in the other direction. */
	tp_community_id(4, &d, &s, 8, 0, 1, 0, c);
	assert_string_equal(a, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
	assert_string_equal(b, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
	assert_string_equal(c, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
}

/* One-way ICMP keeps its direction: the reverse is another flow. */
static void test_icmp_one_way_not_ordered(void **state)
{
	struct tp_addr s, d;
	char a[64], b[64];

	(void)state;
	parse_addr("10.0.0.1", &s);
	parse_addr("10.0.0.2", &d);
	tp_community_id(4, &s, &d, 11, 0, 1, 0, a);
	tp_community_id(4, &d, &s, 11, 0, 1, 0, b);
	assert_string_equal(a, "1:YHxtAirCG//0OzkcVAukqKQN9xM=");
	assert_string_not_equal(a, b);
}

/* The ID Zeek's documentation shows for 141.142.228.5:59856 ->
 * 192.150.187.43:80/tcp (Traces/tcp/handshake-reorder.trace). */
static void test_zeek_doc_example(void **state)
{
	struct tp_addr s, d;
	char a[64];

	(void)state;
	parse_addr("141.142.228.5", &s);
	parse_addr("192.150.187.43", &d);
	tp_community_id(4, &s, &d, 59856, 80, 6, 0, a);
	assert_string_equal(a, "1:yvyB8h+3dnggTZW0UEITWCst97w=");
	tp_community_id(4, &d, &s, 80, 59856, 6, 0, a);
	assert_string_equal(a, "1:yvyB8h+3dnggTZW0UEITWCst97w=");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_baseline_seed0),
		cmocka_unit_test(test_baseline_seed1),
		cmocka_unit_test(test_icmp_key_or_packet),
		cmocka_unit_test(test_icmp_one_way_not_ordered),
		cmocka_unit_test(test_zeek_doc_example),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
