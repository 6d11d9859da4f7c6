/* Mirror sessions and zones (src/mirror/session.c): which tunnel names the
 * session, the session's name as conn.log shows it, zone rules from the
 * configuration, and the table's capacity.  Tunnel records are pushed by
 * hand as the tunnel decoders leave them. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mirror/session.h"
#include "util/config.h"
#include "util/mem.h"

static struct tp_config *cfg;
static struct tp_pkt P;

static int setup(void **state)
{
	(void)state;
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return -1;
	tp_config_default(cfg);
	memset(&P, 0, sizeof(P));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	free(cfg);
	return 0;
}

static struct tp_addr addr(const char *s)
{
	struct tp_addr a;
	uint8_t v4[4];
	memset(&a, 0, sizeof(a));
	if (inet_pton(AF_INET, s, v4) == 1)
		tp_addr_from_v4(&a, v4);
	else
		assert_int_equal(inet_pton(AF_INET6, s, a.b), 1);
	return a;
}

/* Push one tunnel record, outermost first.  id < 0: no id. */
static void push(struct tp_pkt *p, enum tp_encap encap, const char *src,
		 int64_t id)
{
	struct tp_tunnel *t = &p->tun[p->ntun++];
	memset(t, 0, sizeof(*t));
	t->encap = (uint8_t)encap;
	t->src = addr(src);
	t->dst = addr(strchr(src, ':') ? "2001:db8::fe" : "10.255.0.1");
	t->ipver = strchr(src, ':') ? 6 : 4;
	if (encap == TP_ENCAP_VXLAN)
		t->dport = 4789;
	else if (encap == TP_ENCAP_GENEVE)
		t->dport = 6081;
	if (id >= 0) {
		t->has_id = 1;
		t->id = (uint32_t)id;
	}
}

static void vxlan(struct tp_pkt *p, const char *src, uint32_t vni)
{
	memset(p, 0, sizeof(*p));
	push(p, TP_ENCAP_VXLAN, src, vni);
}

static struct tp_sessions *table(uint32_t max)
{
	struct tp_sessions *s = tp_sessions_new(cfg, max);
	assert_non_null(s);
	return s;
}

/* ---- naming and lookup ------------------------------------------------ */

static void test_no_tunnel_is_direct(void **state)
{
	(void)state;
	struct tp_sessions *s = table(16);
	uint32_t before = tp_sessions_count(s);

	assert_int_equal(tp_session_of(s, &P), TP_SESSION_DIRECT);
	assert_int_equal(tp_session_of(s, &P), TP_SESSION_DIRECT);
	/* Outer records past ntun are not tunnels of this packet. */
	P.tun[0].has_id = 1;
	P.tun[0].id = 5;
	assert_int_equal(tp_session_of(s, &P), TP_SESSION_DIRECT);
	assert_int_equal(tp_sessions_count(s), before);
	tp_sessions_free(s);
}

static void test_vxlan_session(void **state)
{
	(void)state;
	struct tp_sessions *s = table(16);
	uint32_t n0 = tp_sessions_count(s);

	vxlan(&P, "10.0.1.10", 1000);
	uint32_t idx = tp_session_of(s, &P);
	assert_int_not_equal(idx, TP_SESSION_DIRECT);
	assert_int_not_equal(idx, TP_SESSION_OVERFLOW);
	assert_int_equal(tp_sessions_count(s), n0 + 1);

	struct tp_session *ss = tp_session_get(s, idx);
	assert_string_equal(ss->name, "10.0.1.10/1000");
	assert_int_equal(ss->zone, 0);
	assert_string_equal(tp_zone_name(s, ss->zone), "default");
	assert_int_equal(ss->encap, TP_ENCAP_VXLAN);
	assert_int_equal(ss->has_id, 1);
	assert_int_equal(ss->id, 1000);
	assert_memory_equal(&ss->outer_src, &P.tun[0].src, sizeof(ss->outer_src));
	assert_int_equal(ss->gwlb_endpoint, 0);

	/* The same session again: the same index, nothing new. */
	vxlan(&P, "10.0.1.10", 1000);
	P.tun[0].sport = 51234;          /* outer source port varies per flow */
	assert_int_equal(tp_session_of(s, &P), idx);
	assert_int_equal(tp_sessions_count(s), n0 + 1);

	/* Another VNI or another source: other sessions. */
	vxlan(&P, "10.0.1.10", 1001);
	uint32_t i2 = tp_session_of(s, &P);
	vxlan(&P, "10.0.1.11", 1000);
	uint32_t i3 = tp_session_of(s, &P);
	assert_int_not_equal(i2, idx);
	assert_int_not_equal(i3, idx);
	assert_int_not_equal(i2, i3);
	assert_string_equal(tp_session_get(s, i2)->name, "10.0.1.10/1001");
	assert_string_equal(tp_session_get(s, i3)->name, "10.0.1.11/1000");
	assert_int_equal(tp_sessions_count(s), n0 + 3);

	/* Each still finds its own. */
	vxlan(&P, "10.0.1.10", 1000);
	assert_int_equal(tp_session_of(s, &P), idx);
	tp_sessions_free(s);
}

static void test_encap_is_part_of_session(void **state)
{
	(void)state;
	struct tp_sessions *s = table(16);

	/* VXLAN VNI 7 and GRE key 7 from one host are two sessions. */
	vxlan(&P, "10.0.1.10", 7);
	uint32_t a = tp_session_of(s, &P);
	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_GRE, "10.0.1.10", 7);
	uint32_t b = tp_session_of(s, &P);
	assert_int_not_equal(a, b);
	assert_string_equal(tp_session_get(s, b)->name, "10.0.1.10/7");
	assert_int_equal(tp_session_get(s, b)->encap, TP_ENCAP_GRE);

	/* GRE without a key: named by the address alone. */
	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_GRE, "10.0.1.10", -1);
	uint32_t c = tp_session_of(s, &P);
	assert_int_not_equal(c, b);
	assert_string_equal(tp_session_get(s, c)->name, "10.0.1.10");
	assert_int_equal(tp_session_get(s, c)->has_id, 0);

	/* GRE key 0 is an id, not the absence of one. */
	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_GRE, "10.0.1.10", 0);
	uint32_t d = tp_session_of(s, &P);
	assert_int_not_equal(d, c);
	assert_string_equal(tp_session_get(s, d)->name, "10.0.1.10/0");
	tp_sessions_free(s);
}

static void test_ipv6_outer_source(void **state)
{
	(void)state;
	struct tp_sessions *s = table(16);

	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_ERSPAN2, "2001:db8:100::17", 1023);
	uint32_t idx = tp_session_of(s, &P);
	assert_string_equal(tp_session_get(s, idx)->name,
			    "2001:db8:100::17/1023");
	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_ERSPAN2, "2001:db8:100::17", 1023);
	assert_int_equal(tp_session_of(s, &P), idx);

	/* The longest IPv6 text form still fits with its id. */
	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_VXLAN,
	     "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 16777215);
	idx = tp_session_of(s, &P);
	assert_string_equal(tp_session_get(s, idx)->name,
			    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/16777215");
	tp_sessions_free(s);
}

/* ---- tunnel stacks ---------------------------------------------------- */

static void test_innermost_tunnel_with_id_wins(void **state)
{
	(void)state;
	struct tp_sessions *s = table(16);

	/* Outer tunnel without an id around VXLAN: the VXLAN one names
	 * the session. */
	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_GRE, "10.9.9.9", -1);
	push(&P, TP_ENCAP_VXLAN, "10.0.1.10", 1000);
	uint32_t a = tp_session_of(s, &P);
	assert_string_equal(tp_session_get(s, a)->name, "10.0.1.10/1000");
	/* ... and it is the same session as plain VXLAN from that host. */
	vxlan(&P, "10.0.1.10", 1000);
	assert_int_equal(tp_session_of(s, &P), a);

	/* VXLAN around an inner tunnel without an id (IP-in-IP): the
	 * VXLAN one, though it is further out. */
	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_VXLAN, "10.0.2.20", 7);
	push(&P, TP_ENCAP_IPIP, "172.16.0.1", -1);
	uint32_t b = tp_session_of(s, &P);
	assert_string_equal(tp_session_get(s, b)->name, "10.0.2.20/7");
	assert_int_equal(tp_session_get(s, b)->encap, TP_ENCAP_VXLAN);

	/* Both with ids: the inner one. */
	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_GENEVE, "10.0.3.30", 0);
	push(&P, TP_ENCAP_VXLAN, "10.0.1.10", 2000);
	uint32_t c = tp_session_of(s, &P);
	assert_string_equal(tp_session_get(s, c)->name, "10.0.1.10/2000");
	assert_int_equal(tp_session_get(s, c)->encap, TP_ENCAP_VXLAN);

	/* None with an id: the innermost. */
	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_GRE, "10.0.4.40", -1);
	push(&P, TP_ENCAP_IPIP, "10.0.4.41", -1);
	uint32_t d = tp_session_of(s, &P);
	assert_string_equal(tp_session_get(s, d)->name, "10.0.4.41");
	assert_int_equal(tp_session_get(s, d)->encap, TP_ENCAP_IPIP);
	tp_sessions_free(s);
}

static void gwlb_pkt(struct tp_pkt *p, uint64_t endpoint, const char *vpc_src,
		     uint32_t vni)
{
	memset(p, 0, sizeof(*p));
	/* A GWLB endpoint: Geneve from the load balancer (its VNI is not
	 * the mirror's), around the mirror's VXLAN. */
	push(p, TP_ENCAP_GENEVE, "10.100.0.5", -1);
	push(p, TP_ENCAP_VXLAN, vpc_src, vni);
	p->gwlb.present = 1 | 2 | 4;
	p->gwlb.endpoint_id = endpoint;
	p->gwlb.attachment_id = 0x0102030405060708ull;
	p->gwlb.flow_cookie = 0xdeadbeef;
}

static void test_gwlb_endpoint_names_session(void **state)
{
	(void)state;
	struct tp_sessions *s = table(16);

	gwlb_pkt(&P, 0x1234abcd5678ef01ull, "10.0.1.10", 1000);
	uint32_t a = tp_session_of(s, &P);
	struct tp_session *ss = tp_session_get(s, a);
	assert_string_equal(ss->name, "gwlb:1234abcd5678ef01");
	assert_int_equal(ss->gwlb_endpoint, 0x1234abcd5678ef01ull);
	assert_int_equal(ss->id, 1000);

	/* Leading zeros are kept: always 16 digits. */
	gwlb_pkt(&P, 0x00000000000000abull, "10.0.1.10", 1000);
	uint32_t b = tp_session_of(s, &P);
	assert_string_equal(tp_session_get(s, b)->name, "gwlb:00000000000000ab");

	/* The same endpoint again (another flow cookie): same session. */
	gwlb_pkt(&P, 0x1234abcd5678ef01ull, "10.0.1.10", 1000);
	P.gwlb.flow_cookie = 1;
	assert_int_equal(tp_session_of(s, &P), a);

	/* Without the endpoint option (bit 0) the endpoint id is not
	 * looked at: the VXLAN session. */
	gwlb_pkt(&P, 0x1234abcd5678ef01ull, "10.0.1.10", 1000);
	P.gwlb.present = 2 | 4;
	uint32_t c = tp_session_of(s, &P);
	assert_int_not_equal(c, a);
	assert_string_equal(tp_session_get(s, c)->name, "10.0.1.10/1000");
	assert_int_equal(tp_session_get(s, c)->gwlb_endpoint, 0);
	/* ... which is plain VXLAN's session from that host. */
	vxlan(&P, "10.0.1.10", 1000);
	assert_int_equal(tp_session_of(s, &P), c);
	tp_sessions_free(s);
}

/* ---- zones ------------------------------------------------------------ */

static void load_zones(const char *yaml)
{
	char err[512] = "";
	int rc = tp_config_load_string(cfg, "zones.yaml", yaml, strlen(yaml),
				       err, sizeof(err));
	if (rc != 0)
		fail_msg("%s", err);
	assert_int_equal(tp_config_validate(cfg, err, sizeof(err)), 0);
}

static const char *zone_of(struct tp_sessions *s, struct tp_pkt *p)
{
	struct tp_session *ss = tp_session_get(s, tp_session_of(s, p));
	return tp_zone_name(s, ss->zone);
}

static void test_zone_rules(void **state)
{
	(void)state;
	load_zones("zones:\n"
		   "  - name: prod-vpc\n"
		   "    match:\n"
		   "      - vni: 4000\n"
		   "      - outer_src: 10.0.1.0/24\n"
		   "      - outer_src: 10.0.2.0/24\n"
		   "        vni: 4001\n"
		   "      - gwlb_endpoint: 0x1234abcd5678ef01\n"
		   "  - name: staging-vpc\n"
		   "    match:\n"
		   "      - outer_src: 2001:db8:100::/56\n"
		   "      - outer_src: 10.0.0.0/8\n");
	assert_int_equal(cfg->nzones, 3);
	struct tp_sessions *s = table(64);

	/* vni alone, from anywhere. */
	vxlan(&P, "192.0.2.1", 4000);
	assert_string_equal(zone_of(s, &P), "prod-vpc");
	/* outer_src alone, any VNI: the /24 is tried before staging's /8. */
	vxlan(&P, "10.0.1.77", 9);
	assert_string_equal(zone_of(s, &P), "prod-vpc");
	/* Both criteria of one entry must match. */
	vxlan(&P, "10.0.2.5", 4001);
	assert_string_equal(zone_of(s, &P), "prod-vpc");
	vxlan(&P, "10.0.2.5", 4002);
	assert_string_equal(zone_of(s, &P), "staging-vpc");
	vxlan(&P, "192.0.2.1", 4001);
	assert_string_equal(zone_of(s, &P), "default");
	/* The GWLB endpoint, whatever the inner VNI and source. */
	gwlb_pkt(&P, 0x1234abcd5678ef01ull, "172.16.0.1", 77);
	assert_string_equal(zone_of(s, &P), "prod-vpc");
	gwlb_pkt(&P, 0x1234abcd5678ef02ull, "172.16.0.1", 77);
	assert_string_equal(zone_of(s, &P), "default");
	/* An IPv6 /56: 2001:db8:100:0:: to 2001:db8:100:ff::. */
	vxlan(&P, "2001:db8:100:ff:ffff::1", 1);
	assert_string_equal(zone_of(s, &P), "staging-vpc");
	vxlan(&P, "2001:db8:100:100::1", 1);
	assert_string_equal(zone_of(s, &P), "default");
	/* An IPv4 /8 does not match an IPv6 source that shares bytes. */
	vxlan(&P, "::a00:1", 1);
	assert_string_equal(zone_of(s, &P), "default");
	/* A tunnel without an id never matches a vni entry. */
	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_GRE, "192.0.2.1", -1);
	assert_string_equal(zone_of(s, &P), "default");
	/* Packets that came through no tunnel are in zone 0. */
	memset(&P, 0, sizeof(P));
	assert_int_equal(tp_session_get(s, tp_session_of(s, &P))->zone, 0);
	tp_sessions_free(s);
}

static void test_zone_rules_by_hand(void **state)
{
	(void)state;
	/* The same structure a caller may fill without YAML. */
	cfg->nzones = 3;
	snprintf(cfg->zones[1], sizeof(cfg->zones[1]), "a");
	snprintf(cfg->zones[2], sizeof(cfg->zones[2]), "b");
	cfg->nrules = 2;
	memset(cfg->rules, 0, 2 * sizeof(cfg->rules[0]));
	cfg->rules[0].zone = 2;
	cfg->rules[0].has_src = true;
	cfg->rules[0].src = addr("10.1.0.0");
	cfg->rules[0].src_plen = 96 + 17;       /* 10.1.0.0/17 */
	cfg->rules[1].zone = 1;
	cfg->rules[1].has_vni = true;
	cfg->rules[1].vni = 0;
	struct tp_sessions *s = table(16);

	vxlan(&P, "10.1.127.255", 5);
	uint32_t i = tp_session_of(s, &P);
	assert_int_equal(tp_session_get(s, i)->zone, 2);
	assert_string_equal(tp_zone_name(s, 2), "b");
	vxlan(&P, "10.1.128.0", 5);
	assert_string_equal(zone_of(s, &P), "default");
	/* VNI 0 is a value a rule can ask for. */
	vxlan(&P, "10.1.128.0", 0);
	assert_string_equal(zone_of(s, &P), "a");
	memset(&P, 0, sizeof(P));
	push(&P, TP_ENCAP_GRE, "10.1.128.0", -1);
	assert_string_equal(zone_of(s, &P), "default");
	tp_sessions_free(s);
}

/* ---- capacity --------------------------------------------------------- */

static void test_capacity_overflow(void **state)
{
	(void)state;
	/* Four entries, two of them reserved: two sessions. */
	struct tp_sessions *s = table(4);
	uint32_t n0 = tp_sessions_count(s);

	vxlan(&P, "10.0.1.1", 1);
	uint32_t a = tp_session_of(s, &P);
	vxlan(&P, "10.0.1.2", 1);
	uint32_t b = tp_session_of(s, &P);
	assert_int_not_equal(a, TP_SESSION_OVERFLOW);
	assert_int_not_equal(b, TP_SESSION_OVERFLOW);
	assert_int_not_equal(a, b);
	assert_int_equal(tp_sessions_count(s), n0 + 2);

	/* A third: counted under the overflow session. */
	vxlan(&P, "10.0.1.3", 1);
	assert_int_equal(tp_session_of(s, &P), TP_SESSION_OVERFLOW);
	assert_string_equal(tp_session_get(s, TP_SESSION_OVERFLOW)->name,
			    "overflow");
	vxlan(&P, "10.0.1.4", 1);
	assert_int_equal(tp_session_of(s, &P), TP_SESSION_OVERFLOW);
	assert_int_equal(tp_sessions_count(s), n0 + 2);

	/* The two known ones are still found. */
	vxlan(&P, "10.0.1.2", 1);
	assert_int_equal(tp_session_of(s, &P), b);
	vxlan(&P, "10.0.1.1", 1);
	assert_int_equal(tp_session_of(s, &P), a);

	/* An index past the table reads as the overflow session. */
	assert_ptr_equal(tp_session_get(s, 1000),
			 tp_session_get(s, TP_SESSION_OVERFLOW));
	tp_sessions_free(s);
}

static void test_many_sessions(void **state)
{
	(void)state;
	enum { N = 5000 };
	uint32_t *idx = calloc(N, sizeof(*idx));
	char name[64], src[32];
	assert_non_null(idx);
	struct tp_sessions *s = table(N + 2);

	/* Sessions that differ in few bits: neighbouring hosts, VNIs, and
	 * the same host with consecutive VNIs. */
	for (uint32_t i = 0; i < N; i++) {
		snprintf(src, sizeof(src), "10.%u.%u.%u", i % 3, (i / 3) >> 8,
			 (i / 3) & 0xff);
		vxlan(&P, src, i % 2 ? 100 : 100 + i);
		idx[i] = tp_session_of(s, &P);
		assert_int_not_equal(idx[i], TP_SESSION_OVERFLOW);
	}
	assert_int_equal(tp_sessions_count(s), N + 2);
	for (uint32_t i = 0; i < N; i++) {
		snprintf(src, sizeof(src), "10.%u.%u.%u", i % 3, (i / 3) >> 8,
			 (i / 3) & 0xff);
		vxlan(&P, src, i % 2 ? 100 : 100 + i);
		assert_int_equal(tp_session_of(s, &P), idx[i]);
		snprintf(name, sizeof(name), "%s/%u", src,
			 i % 2 ? 100 : 100 + i);
		assert_string_equal(tp_session_get(s, idx[i])->name, name);
	}
	/* One more: the table is full. */
	vxlan(&P, "10.200.0.1", 1);
	assert_int_equal(tp_session_of(s, &P), TP_SESSION_OVERFLOW);
	tp_sessions_free(s);
	free(idx);
}

static void test_free_releases_memory(void **state)
{
	(void)state;
	uint64_t before = tp_mem_in_use();
	struct tp_sessions *s = table(1000);
	vxlan(&P, "10.0.1.10", 1000);
	tp_session_of(s, &P);
	tp_sessions_free(s);
	assert_int_equal(tp_mem_in_use(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_no_tunnel_is_direct, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_vxlan_session, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_encap_is_part_of_session,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_ipv6_outer_source, setup,
						teardown),
		cmocka_unit_test_setup_teardown(
			test_innermost_tunnel_with_id_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(
			test_gwlb_endpoint_names_session, setup, teardown),
		cmocka_unit_test_setup_teardown(test_zone_rules, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_zone_rules_by_hand, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_capacity_overflow, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_many_sessions, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_free_releases_memory,
						setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
