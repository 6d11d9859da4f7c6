/* The store in operation: a retention pass over a directory of made-up
 * segments, the flow terms of the expression parser, the conn.log lines a
 * uid is looked up in, the query arguments and store.min_free. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "store/expr.h"
#include "store/flow-terms.h"
#include "store/query-args.h"
#include "store/retention.h"
#include "util/config.h"

static char dir[256];

static void put_file(const char *name, size_t size, int days_old)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	for (size_t i = 0; i < size; i++)
		fputc('x', f);
	fclose(f);
	if (days_old) {
		struct timeval tv[2];
		gettimeofday(&tv[0], NULL);
		tv[0].tv_sec -= days_old * 86400;
		tv[1] = tv[0];
		assert_int_equal(utimes(path, tv), 0);
	}
}

static bool exists(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* Segment n: "seg-<n as 20 digits>-f0-1-<n>" with .pcap and .idx. */
static void put_seg(int n, size_t size, int days_old)
{
	char name[128];
	snprintf(name, sizeof(name), "seg-%020d-f0-1-%d.pcap", n, n);
	put_file(name, size, days_old);
	snprintf(name, sizeof(name), "seg-%020d-f0-1-%d.idx", n, n);
	put_file(name, 100, days_old);
}

static bool seg_exists(int n)
{
	char a[128], b[128];
	snprintf(a, sizeof(a), "seg-%020d-f0-1-%d.pcap", n, n);
	snprintf(b, sizeof(b), "seg-%020d-f0-1-%d.idx", n, n);
	assert_int_equal(exists(a), exists(b));
	return exists(a);
}

static int setup_dir(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/tapir-test-retention-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown_dir(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static void retention_size_and_age(void **state)
{
	static struct tp_config cfg;
	struct tp_retention_stats st;

	(void)state;
	tp_config_default(&cfg);
	snprintf(cfg.store_dir, sizeof(cfg.store_dir), "%s", dir);
	snprintf(cfg.store_min_free, sizeof(cfg.store_min_free), "0");
	cfg.store_max_size = 4000;
	for (int n = 1; n <= 6; n++)
		put_seg(n, 900, n <= 2 ? 10 : 0);   /* 1000 bytes each */
	put_file(".seg-00000000000000000007-f0-1-7.pcap.tmp", 500, 0);
	/* An index whose segment went (a removal cut short), old enough. */
	put_file("seg-00000000000000000000-f0-1-0.idx", 100, 1);
	assert_true(tp_retention_wanted(&cfg));

	struct timeval tv;
	gettimeofday(&tv, NULL);
	uint64_t now = (uint64_t)tv.tv_sec * 1000000000ull;
	struct tp_retention *r = tp_retention_new(&cfg);
	assert_non_null(r);
	assert_int_equal(tp_retention_pass(r, now), 0);
	tp_retention_stats(r, &st);
	/* 6000 + 500 + 100 bytes: the orphan index and the three oldest
	 * segments go, which leaves 3500. */
	assert_int_equal(st.orphans, 1);
	assert_int_equal(st.segments[TP_RET_SIZE], 3);
	assert_int_equal(st.bytes[TP_RET_SIZE], 3000);
	assert_int_equal(st.store_bytes, 3500);
	assert_int_equal(st.store_segments, 3);
	assert_false(seg_exists(1) || seg_exists(2) || seg_exists(3));
	assert_true(seg_exists(4) && seg_exists(5) && seg_exists(6));
	assert_true(exists(".seg-00000000000000000007-f0-1-7.pcap.tmp"));
	assert_false(exists("seg-00000000000000000000-f0-1-0.idx"));

	/* Age: everything old, yet the newest stays. */
	cfg.store_max_size = 0;
	cfg.store_max_age_ns = 86400ull * 1000000000ull;
	for (int n = 4; n <= 6; n++)
		put_seg(n, 900, 5);
	assert_int_equal(tp_retention_pass(r, now), 0);
	tp_retention_stats(r, &st);
	assert_int_equal(st.segments[TP_RET_AGE], 2);
	assert_true(seg_exists(6));
	assert_false(seg_exists(4) || seg_exists(5));
	tp_retention_free(r);

	/* A floor higher than the disk: all but the newest go. */
	put_seg(1, 900, 0);
	cfg.store_max_age_ns = 0;
	snprintf(cfg.store_min_free, sizeof(cfg.store_min_free), "100%%");
	r = tp_retention_new(&cfg);
	assert_int_equal(tp_retention_pass(r, now), 0);
	tp_retention_stats(r, &st);
	assert_int_equal(st.segments[TP_RET_FREE], 1);
	assert_false(seg_exists(1));
	assert_true(seg_exists(6));
	tp_retention_free(r);
}

static void min_free_key(void **state)
{
	static struct tp_config cfg;
	char err[512];

	(void)state;
	tp_config_default(&cfg);
	assert_string_equal(cfg.store_min_free, "10%");
	assert_false(cfg.store_dir_set);
	assert_int_equal(tp_config_set(&cfg, "store.min_free=2GiB", err,
				       sizeof(err)), 0);
	assert_string_equal(cfg.store_min_free, "2147483648");
	assert_int_equal(tp_config_set(&cfg, "store.min_free=5%", err,
				       sizeof(err)), 0);
	assert_string_equal(cfg.store_min_free, "5%");
	assert_int_equal(tp_config_set(&cfg, "store.min_free=101%", err,
				       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "0% to 100%"));
	assert_int_equal(tp_config_set(&cfg, "store.min_free=lots", err,
				       sizeof(err)), -EINVAL);
	assert_int_equal(tp_config_set(&cfg, "store.dir=", err, sizeof(err)),
			 0);
	assert_true(cfg.store_dir_set);
	assert_string_equal(cfg.store_dir, "");
}

static void expr_flow_terms(void **state)
{
	static struct tp_expr e;
	char err[1024];

	(void)state;
	assert_int_equal(tp_expr_parse("zone prod and uid CHhAvVGS1DHFjwGM9 "
				       "and community-id "
				       "1:wCb3OG7yAFWelaUydu0D+125CLM= and tcp",
				       &e, err, sizeof(err)), 0);
	assert_true(e.has_zone && e.has_uid && e.has_cid);
	assert_string_equal(e.zone, "prod");
	assert_string_equal(e.uid, "CHhAvVGS1DHFjwGM9");
	assert_string_equal(e.cid, "1:wCb3OG7yAFWelaUydu0D+125CLM=");
	assert_string_equal(e.bpf, "tcp");
	assert_int_equal(tp_expr_parse("community-id 2:abc", &e, err,
				       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'community-id' takes one"));
	assert_int_equal(tp_expr_parse("uid C1 and uid C2", &e, err,
				       sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "'uid' given twice"));
	assert_int_equal(tp_expr_parse("tcp or zone x", &e, err, sizeof(err)),
			 -EINVAL);
	assert_non_null(strstr(err, "(column 8)"));
}

static void conn_lines(void **state)
{
	struct tp_conn_ref r;
	static const char json[] =
		"{\"ts\":1700000000.046018,\"uid\":\"C3TxIfW6IFng8lQN7O\","
		"\"id.orig_h\":\"fd00::1:a\",\"id.orig_p\":40023,"
		"\"id.resp_h\":\"fd00::1:c\",\"id.resp_p\":8443,\"proto\":"
		"\"tcp\",\"duration\":0.033319,\"history\":\"ShADdFf\","
		"\"ip_proto\":6,\"zone\":\"default\"}\n";
	static const char fields[] = "ts\tuid\tid.orig_h\tid.orig_p\t"
				     "id.resp_h\tid.resp_p\tproto\tduration\t"
				     "ip_proto\tzone";
	static const char tsv[] = "1700000001.5\tCab12\t10.0.0.1\t1234\t"
				  "10.0.0.2\t53\tudp\t-\t17\teast\n";

	(void)state;
	assert_int_equal(tp_conn_ref_parse(json, strlen(json), NULL, &r), 0);
	assert_string_equal(r.uid, "C3TxIfW6IFng8lQN7O");
	assert_int_equal(r.ts_ns, 1700000000046018000ull);
	assert_int_equal(r.duration_ns, 33319000ull);
	assert_int_equal(r.orig_p, 40023);
	assert_int_equal(r.resp_p, 8443);
	assert_int_equal(r.proto, 6);
	assert_int_equal(r.ipver, 6);
	assert_int_equal(r.orig_h.b[15], 0x0a);
	assert_int_equal(tp_conn_ref_parse(tsv, strlen(tsv), fields, &r), 0);
	assert_string_equal(r.uid, "Cab12");
	assert_int_equal(r.ts_ns, 1700000001500000000ull);
	assert_int_equal(r.duration_ns, 0);
	assert_int_equal(r.ipver, 4);
	assert_int_equal(r.orig_h.b[15], 1);
	assert_string_equal(r.zone, "east");
	/* Without the header a TSV line is not read; a cut record is not
	 * one. */
	assert_int_equal(tp_conn_ref_parse(tsv, strlen(tsv), NULL, &r),
			 -EINVAL);
	assert_int_equal(tp_conn_ref_parse(json, 60, NULL, &r), -EINVAL);
}

static void query_arguments(void **state)
{
	uint64_t p, b, t;

	(void)state;
	assert_int_equal(tp_query_parse_limit("1000", &p, &b), 0);
	assert_int_equal(p, 1000);
	assert_int_equal(b, 0);
	assert_int_equal(tp_query_parse_limit("10MB", &p, &b), 0);
	assert_int_equal(p, 0);
	assert_int_equal(b, 10ull << 20);
	assert_int_equal(tp_query_parse_limit("0", &p, &b), -1);
	assert_int_equal(tp_query_parse_limit("-5", &p, &b), -1);
	assert_int_equal(tp_query_parse_limit("5 apples", &p, &b), -1);
	assert_int_equal(tp_query_parse_time("2h", 10000000000000ull, &t), 0);
	assert_int_equal(t, 10000000000000ull - 7200000000000ull);
	assert_int_equal(tp_query_parse_time("1700000000.000000001", 0, &t), 0);
	assert_int_equal(t, 1700000000000000001ull);
	assert_int_equal(tp_query_parse_time("2023-11-14T22:13:20Z", 0, &t), 0);
	assert_int_equal(t, 1700000000000000000ull);
	assert_int_equal(tp_query_parse_time("yesterday", 0, &t), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(retention_size_and_age,
						setup_dir, teardown_dir),
		cmocka_unit_test(min_free_key),
		cmocka_unit_test(expr_flow_terms),
		cmocka_unit_test(conn_lines),
		cmocka_unit_test(query_arguments),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
