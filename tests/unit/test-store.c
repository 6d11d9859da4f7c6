/* The store's index format (write, read back, damage detected) and the
 * query expression parser's answers and errors. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "store/expr.h"
#include "store/index.h"
#include "util/mem.h"

/* A small index and the arrays it points into. */
struct sample {
	struct tp_index ix;
	struct tp_idx_pkt pk[2];
	struct tp_idx_flow fl[1];
	uint32_t fp[2];
	struct tp_idx_ip ip[1];
	struct tp_idx_post port[1], vni[1];
	struct tp_idx_sess ss[1];
};

static void sample(struct sample *sm)
{
	struct tp_index *ix = &sm->ix;
	struct tp_idx_pkt *pk = sm->pk;
	struct tp_idx_flow *fl = sm->fl;
	uint32_t *fp = sm->fp;
	struct tp_idx_ip *ip = sm->ip;
	struct tp_idx_post *port = sm->port, *vni = sm->vni;
	struct tp_idx_sess *ss = sm->ss;

	memset(sm, 0, sizeof(*sm));
	pk[0] = (struct tp_idx_pkt){24, 1700000000123456789ull, 0};
	pk[1] = (struct tp_idx_pkt){24 + 16 + 60, 1700000001000000000ull,
				    TP_IDX_NO_FLOW};
	fl->hash = 0xdeadbeef;
	fl->zone = 3;
	fl->proto = 6;
	fl->ipver = 4;
	fl->a[0].b[15] = 1;
	fl->a[1].b[15] = 2;
	fl->port[0] = 443;
	fl->port[1] = 50000;
	fl->flags = TP_IDX_F_PORTS;
	fl->first = 0;
	fl->npkts = 1;
	fp[0] = 0;
	fp[1] = 1;
	ip[0] = (struct tp_idx_ip){fl->a[0], 0};
	port[0] = (struct tp_idx_post){443, 0};
	vni[0] = (struct tp_idx_post){1004, 1};
	ss[0].no = 7;
	strcpy(ss[0].name, "10.0.1.10/1004");
	ix->first_ns = pk[0].ts_ns;
	ix->last_ns = pk[1].ts_ns;
	ix->seg_bytes = 12345;
	ix->linktype = 1;
	ix->npkts = 2;
	ix->nflows = 1;
	ix->nip = 1;
	ix->nport = 1;
	ix->nvni = 1;
	ix->nsess = 1;
	ix->pkts = pk;
	ix->flows = fl;
	ix->flow_pkts = fp;
	ix->ip = ip;
	ix->port = port;
	ix->vni = vni;
	ix->sess = ss;
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
	/* header + 2 packets + 1 flow + 2 flow packets + 1 ip + 2 postings
	 * + 1 session + CRC */
	assert_int_equal(len, 72 + 2 * 20 + 56 + 2 * 4 + 20 + 2 * 8 + 68 + 4);
	assert_memory_equal(buf, "TPSI\x01\x00\x48\x00", 8);
	assert_int_equal(tp_index_decode(&back, buf, len, err, sizeof(err)), 0);
	assert_int_equal(back.first_ns, 1700000000123456789ull);
	assert_int_equal(back.last_ns, 1700000001000000000ull);
	assert_int_equal(back.seg_bytes, 12345);
	assert_int_equal(back.npkts, 2);
	assert_int_equal(back.pkts[1].off, 100);
	assert_int_equal(back.pkts[1].flow, TP_IDX_NO_FLOW);
	assert_int_equal(back.flows[0].hash, 0xdeadbeef);
	assert_int_equal(back.flows[0].zone, 3);
	assert_int_equal(back.flows[0].port[1], 50000);
	assert_int_equal(back.port[0].key, 443);
	assert_int_equal(back.vni[0].key, 1004);
	assert_int_equal(back.vni[0].id, 1);
	assert_string_equal(back.sess[0].name, "10.0.1.10/1004");
	tp_index_free(&back);

	/* One flipped bit anywhere: the CRC says so. */
	buf[100] ^= 0x10;
	assert_int_equal(tp_index_decode(&back, buf, len, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "CRC"));
	buf[100] ^= 0x10;
	/* Cut short: the sizes do not add up (checked before the CRC's
	 * place is trusted). */
	assert_int_equal(tp_index_decode(&back, buf, len - 8, err, sizeof(err)),
			 -EINVAL);
	/* Another version. */
	buf[4] = 2;
	assert_int_equal(tp_index_decode(&back, buf, len, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "version 2"));
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

	sample(&sm);
	sm.vni[0].id = 9;   /* past the packets, with a valid CRC */
	assert_int_equal(tp_index_encode(&sm.ix, &buf, &len), 0);
	assert_int_equal(tp_index_decode(&back, buf, len, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "refers past"));
	tp_free(buf, len);
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
	expect_err("uid CAbc", "not supported yet", "(column 1)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(index_round_trip),
		cmocka_unit_test(index_bad_reference),
		cmocka_unit_test(expr_split),
		cmocka_unit_test(expr_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
