/* Log writers (src/output/writer.c): JSON lines as Zeek writes them (keys
 * in schema order, unset fields left out, escaping, times as seconds with
 * six decimals, sets as arrays) and Zeek TSV (the header zeek-cut reads,
 * "-" for unset, "(empty)", escapes, T/F, the #close footer).  Every test
 * writes a real file in a fresh directory and reads it back; the last ones
 * write one log from two threads and check that no line is torn. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "output/writer.h"
#include "util/mem.h"

#define NS_S UINT64_C(1000000000)
/* 2023-11-14 22:13:20 UTC. */
#define T0 (UINT64_C(1700000000) * NS_S)

enum {
	F_TS, F_UID, F_ORIG_H, F_ORIG_P, F_PROTO, F_DURATION, F_BYTES,
	F_DELTA, F_LOCAL, F_PARENTS, F_NOTE,
};

static const struct tp_field fields[] = {
	[F_TS] = {"ts", TP_FT_TIME},
	[F_UID] = {"uid", TP_FT_STRING},
	[F_ORIG_H] = {"id.orig_h", TP_FT_ADDR},
	[F_ORIG_P] = {"id.orig_p", TP_FT_PORT},
	[F_PROTO] = {"proto", TP_FT_ENUM},
	[F_DURATION] = {"duration", TP_FT_INTERVAL},
	[F_BYTES] = {"orig_bytes", TP_FT_COUNT},
	[F_DELTA] = {"delta", TP_FT_INT},
	[F_LOCAL] = {"local_orig", TP_FT_BOOL},
	[F_PARENTS] = {"tunnel_parents", TP_FT_SET_STRING},
	[F_NOTE] = {"note", TP_FT_STRING},
};

static const struct tp_log_schema schema = {
	.path = "test",
	.fields = fields,
	.nfields = sizeof(fields) / sizeof(fields[0]),
};

static struct {
	char dir[64];
	char path[128];
	struct tp_log *log;
	struct tp_rec r;
	char *text;               /* the file read back */
} W;

static int setup(void **state)
{
	(void)state;
	memset(&W, 0, sizeof(W));
	snprintf(W.dir, sizeof(W.dir), "/tmp/tp-test-writer.XXXXXX");
	if (!mkdtemp(W.dir))
		return -1;
	snprintf(W.path, sizeof(W.path), "%s/test.log", W.dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (W.r.buf)
		tp_rec_fini(&W.r);
	if (W.log)
		tp_log_close(W.log, T0);
	free(W.text);
	unlink(W.path);
	rmdir(W.dir);
	return 0;
}

static void open_log(enum tp_log_format fmt, size_t cap)
{
	W.log = tp_log_open(W.dir, &schema, fmt, T0);
	assert_non_null(W.log);
	assert_int_equal(tp_rec_init(&W.r, W.log, cap), 0);
}

/* Flush, close (footer at close_ns) and read the file back into W.text. */
static const char *close_and_read(uint64_t close_ns)
{
	tp_rec_fini(&W.r);
	assert_int_equal(tp_log_close(W.log, close_ns), 0);
	W.log = NULL;

	FILE *f = fopen(W.path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	W.text = malloc((size_t)n + 1);
	assert_non_null(W.text);
	assert_int_equal(fread(W.text, 1, (size_t)n, f), (size_t)n);
	W.text[n] = '\0';
	fclose(f);
	return W.text;
}

/* The file without the 8 TSV header lines. */
static const char *tsv_body(const char *text)
{
	for (int i = 0; i < 8; i++) {
		assert_int_equal(text[0], '#');
		text = strchr(text, '\n');
		assert_non_null(text);
		text++;
	}
	return text;
}

static struct tp_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct tp_addr x;
	const uint8_t q[4] = {a, b, c, d};
	tp_addr_from_v4(&x, q);
	return x;
}

/* Every field set. */
static void full_record(void)
{
	struct tp_addr a = v4(192, 168, 1, 1);
	static const char *const parents[] = {"CHhAvVGS1DHFjwGM9", "Cabc"};
	tp_rec_begin(&W.r);
	tp_rec_time(&W.r, F_TS, T0 + 524997000);
	tp_rec_str(&W.r, F_UID, "CXWv6p3arKYeMETxOg");
	tp_rec_addr(&W.r, F_ORIG_H, &a);
	tp_rec_uint(&W.r, F_ORIG_P, 40000);
	tp_rec_str(&W.r, F_PROTO, "tcp");
	tp_rec_interval(&W.r, F_DURATION, 200000);
	tp_rec_uint(&W.r, F_BYTES, UINT64_MAX);
	tp_rec_int(&W.r, F_DELTA, -5);
	tp_rec_bool(&W.r, F_LOCAL, true);
	tp_rec_strset(&W.r, F_PARENTS, parents, 2);
	tp_rec_str(&W.r, F_NOTE, "ok");
	tp_rec_end(&W.r);
}

/* A few fields, with gaps at the start, middle and end. */
static void sparse_record(void)
{
	tp_rec_begin(&W.r);
	tp_rec_str(&W.r, F_UID, "C1");
	tp_rec_str(&W.r, F_PROTO, "udp");
	tp_rec_bool(&W.r, F_LOCAL, false);
	tp_rec_end(&W.r);
}

/* ---- JSON ------------------------------------------------------------- */

static void test_json_full_record(void **state)
{
	(void)state;
	open_log(TP_FMT_JSON, 4096);
	full_record();
	assert_int_equal(tp_log_records(W.log), 0);   /* still buffered */
	assert_string_equal(
		close_and_read(T0),
		"{\"ts\":1700000000.524997,\"uid\":\"CXWv6p3arKYeMETxOg\","
		"\"id.orig_h\":\"192.168.1.1\",\"id.orig_p\":40000,"
		"\"proto\":\"tcp\",\"duration\":0.000200,"
		"\"orig_bytes\":18446744073709551615,\"delta\":-5,"
		"\"local_orig\":true,"
		"\"tunnel_parents\":[\"CHhAvVGS1DHFjwGM9\",\"Cabc\"],"
		"\"note\":\"ok\"}\n");
}

static void test_json_unset_fields_omitted(void **state)
{
	(void)state;
	open_log(TP_FMT_JSON, 4096);
	sparse_record();
	/* No field at all. */
	tp_rec_begin(&W.r);
	tp_rec_end(&W.r);
	/* Only the last field. */
	tp_rec_begin(&W.r);
	tp_rec_str(&W.r, F_NOTE, "");
	tp_rec_end(&W.r);
	tp_rec_flush(&W.r);
	assert_int_equal(tp_log_records(W.log), 3);
	assert_string_equal(close_and_read(T0),
			    "{\"uid\":\"C1\",\"proto\":\"udp\","
			    "\"local_orig\":false}\n"
			    "{}\n"
			    "{\"note\":\"\"}\n");
}

static void test_json_escaping(void **state)
{
	(void)state;
	static const char *const set[] = {"a,b", "q\"", "", "\xff"};
	static const char note[] = "\x01\ttab\nnl\x1f\x7f caf\xc3\xa9 \0z";
	open_log(TP_FMT_JSON, 4096);
	tp_rec_begin(&W.r);
	tp_rec_str(&W.r, F_UID, "say \"hi\" C:\\dir");
	tp_rec_strset(&W.r, F_PARENTS, set, 4);
	tp_rec_strn(&W.r, F_NOTE, note, sizeof(note) - 1);
	tp_rec_end(&W.r);
	assert_string_equal(
		close_and_read(T0),
		"{\"uid\":\"say \\\"hi\\\" C:\\\\dir\","
		"\"tunnel_parents\":[\"a,b\",\"q\\\"\",\"\",\"\\\\xff\"],"
		"\"note\":\"\\\\x01\\\\x09tab\\\\x0anl\\\\x1f\\\\x7f "
		"caf\\\\xc3\\\\xa9 \\\\x00z\"}\n");
}

static void test_json_numbers_and_times(void **state)
{
	(void)state;
	struct tp_addr v6;
	memset(&v6, 0, sizeof(v6));
	v6.b[0] = 0x20;
	v6.b[1] = 0x01;
	v6.b[2] = 0x0d;
	v6.b[3] = 0xb8;
	v6.b[15] = 1;
	struct tp_addr bc = v4(255, 255, 255, 255), z = v4(0, 0, 0, 0);

	open_log(TP_FMT_JSON, 4096);
	/* Leading zeros of the fraction, whole seconds, zero. */
	tp_rec_begin(&W.r);
	tp_rec_time(&W.r, F_TS, T0 + 1000);
	tp_rec_addr(&W.r, F_ORIG_H, &v6);
	tp_rec_uint(&W.r, F_ORIG_P, 0);
	tp_rec_interval(&W.r, F_DURATION, 3600 * NS_S + 5000);
	tp_rec_uint(&W.r, F_BYTES, 0);
	tp_rec_int(&W.r, F_DELTA, INT64_MIN);
	tp_rec_end(&W.r);
	tp_rec_begin(&W.r);
	tp_rec_time(&W.r, F_TS, 0);
	tp_rec_addr(&W.r, F_ORIG_H, &bc);
	tp_rec_interval(&W.r, F_DURATION, 0);
	tp_rec_int(&W.r, F_DELTA, INT64_MAX);
	tp_rec_end(&W.r);
	tp_rec_begin(&W.r);
	tp_rec_time(&W.r, F_TS, T0);
	tp_rec_addr(&W.r, F_ORIG_H, &z);
	tp_rec_interval(&W.r, F_DURATION, 999000);
	tp_rec_int(&W.r, F_DELTA, 0);
	tp_rec_end(&W.r);
	assert_string_equal(
		close_and_read(T0),
		"{\"ts\":1700000000.000001,\"id.orig_h\":\"2001:db8::1\","
		"\"id.orig_p\":0,\"duration\":3600.000005,\"orig_bytes\":0,"
		"\"delta\":-9223372036854775808}\n"
		"{\"ts\":0.000000,\"id.orig_h\":\"255.255.255.255\","
		"\"duration\":0.000000,\"delta\":9223372036854775807}\n"
		"{\"ts\":1700000000.000000,\"id.orig_h\":\"0.0.0.0\","
		"\"duration\":0.000999,\"delta\":0}\n");
}

static void test_json_empty_set(void **state)
{
	(void)state;
	open_log(TP_FMT_JSON, 4096);
	tp_rec_begin(&W.r);
	tp_rec_strset(&W.r, F_PARENTS, NULL, 0);
	tp_rec_end(&W.r);
	assert_string_equal(close_and_read(T0), "{\"tunnel_parents\":[]}\n");
}

static void test_json_has_no_header_or_footer(void **state)
{
	(void)state;
	open_log(TP_FMT_JSON, 4096);
	assert_string_equal(close_and_read(T0 + 3600 * NS_S), "");
}

/* ---- Zeek TSV --------------------------------------------------------- */

#define TSV_HEADER                                                        \
	"#separator \\x09\n"                                              \
	"#set_separator\t,\n"                                             \
	"#empty_field\t(empty)\n"                                         \
	"#unset_field\t-\n"                                               \
	"#path\ttest\n"                                                   \
	"#open\t2023-11-14-22-13-20\n"                                    \
	"#fields\tts\tuid\tid.orig_h\tid.orig_p\tproto\tduration\t"       \
	"orig_bytes\tdelta\tlocal_orig\ttunnel_parents\tnote\n"          \
	"#types\ttime\tstring\taddr\tport\tenum\tinterval\tcount\tint\t"  \
	"bool\tset[string]\tstring\n"

static void test_tsv_header_and_footer(void **state)
{
	(void)state;
	open_log(TP_FMT_ZEEK, 4096);
	/* Closed 1 h 1 min 1 s later. */
	assert_string_equal(close_and_read(T0 + 3661 * NS_S),
			    TSV_HEADER "#close\t2023-11-14-23-14-21\n");
}

static void test_tsv_records(void **state)
{
	(void)state;
	open_log(TP_FMT_ZEEK, 4096);
	full_record();
	sparse_record();
	tp_rec_begin(&W.r);
	tp_rec_end(&W.r);
	assert_string_equal(
		close_and_read(T0 + 60 * NS_S),
		TSV_HEADER
		"1700000000.524997\tCXWv6p3arKYeMETxOg\t192.168.1.1\t40000\t"
		"tcp\t0.000200\t18446744073709551615\t-5\tT\t"
		"CHhAvVGS1DHFjwGM9,Cabc\tok\n"
		"-\tC1\t-\t-\tudp\t-\t-\t-\tF\t-\t-\n"
		"-\t-\t-\t-\t-\t-\t-\t-\t-\t-\t-\n"
		"#close\t2023-11-14-22-14-20\n");
}

static void test_tsv_escaping(void **state)
{
	(void)state;
	static const char *const set[] = {"a,b", "x\ty", "q\"", "\\"};
	open_log(TP_FMT_ZEEK, 4096);
	/* Empty string, a lone "-", a string that only starts with "-". */
	tp_rec_begin(&W.r);
	tp_rec_str(&W.r, F_UID, "");
	tp_rec_str(&W.r, F_PROTO, "-");
	tp_rec_str(&W.r, F_NOTE, "-x");
	tp_rec_end(&W.r);
	/* Tab, newline, backslash, control and non-ASCII bytes; commas
	 * only inside a set. */
	tp_rec_begin(&W.r);
	tp_rec_str(&W.r, F_UID, "a\tb\nc\\d,e\x01\xc3\xa9");
	tp_rec_strset(&W.r, F_PARENTS, set, 4);
	tp_rec_end(&W.r);
	/* An empty set. */
	tp_rec_begin(&W.r);
	tp_rec_strset(&W.r, F_PARENTS, NULL, 0);
	tp_rec_end(&W.r);
	const char *body = tsv_body(close_and_read(T0));
	assert_string_equal(
		body,
		"-\t(empty)\t-\t-\t\\x2d\t-\t-\t-\t-\t-\t-x\n"
		"-\ta\\x09b\\x0ac\\x5cd,e\\x01\\xc3\\xa9\t-\t-\t-\t-\t-\t-\t-\t"
		"a\\x2cb,x\\x09y,q\",\\x5c\t-\n"
		"-\t-\t-\t-\t-\t-\t-\t-\t-\t(empty)\t-\n"
		"#close\t2023-11-14-22-13-20\n");
}

/* ---- buffering -------------------------------------------------------- */

static void test_record_larger_than_buffer(void **state)
{
	(void)state;
	enum { BIG = 20000 };
	char *s = malloc(BIG + 1);
	assert_non_null(s);
	for (size_t i = 0; i < BIG; i++)
		s[i] = (char)('a' + i % 26);
	s[BIG] = '\0';

	open_log(TP_FMT_JSON, 4096);
	/* A small record first, so that the big one starts mid-buffer. */
	sparse_record();
	tp_rec_begin(&W.r);
	tp_rec_str(&W.r, F_UID, "big");
	tp_rec_str(&W.r, F_NOTE, s);
	tp_rec_end(&W.r);
	sparse_record();
	const char *text = close_and_read(T0);

	const char *small = "{\"uid\":\"C1\",\"proto\":\"udp\","
			    "\"local_orig\":false}\n";
	size_t sl = strlen(small);
	assert_int_equal(strlen(text), 2 * sl + strlen("{\"uid\":\"big\","
							"\"note\":\"\"}\n") + BIG);
	assert_memory_equal(text, small, sl);
	assert_memory_equal(text + sl, "{\"uid\":\"big\",\"note\":\"", 21);
	assert_memory_equal(text + sl + 21, s, BIG);
	assert_memory_equal(text + sl + 21 + BIG, "\"}\n", 3);
	assert_string_equal(text + sl + 21 + BIG + 3, small);
	free(s);
}

static void test_records_counted_when_written(void **state)
{
	(void)state;
	open_log(TP_FMT_JSON, 4096);
	for (int i = 0; i < 1000; i++)
		full_record();
	/* Records reach the file as the buffer fills, whole. */
	uint64_t written = tp_log_records(W.log);
	assert_true(written > 0 && written < 1000);
	tp_rec_flush(&W.r);
	assert_int_equal(tp_log_records(W.log), 1000);
	tp_rec_flush(&W.r);
	assert_int_equal(tp_log_records(W.log), 1000);
	const char *text = close_and_read(T0);
	size_t line = strlen(text) / 1000;
	assert_int_equal(strlen(text), line * 1000);
	for (int i = 0; i < 1000; i++)
		assert_memory_equal(text + (size_t)i * line, text, line);
}

static void test_open_fails_in_missing_dir(void **state)
{
	(void)state;
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/no-such-dir", W.dir);
	errno = 0;
	assert_null(tp_log_open(missing, &schema, TP_FMT_JSON, T0));
	assert_int_equal(errno, ENOENT);
}

/* ---- two threads, one log --------------------------------------------- */

enum { PER_THREAD = 20000 };

struct writer_arg {
	struct tp_log *log;
	unsigned id;
};

/* Record i of thread id: a note whose length and content vary, with
 * bytes that need escaping, so records straddle buffer boundaries. */
static size_t note_of(unsigned id, unsigned i, char *buf)
{
	size_t n = (size_t)(i * 37u + id * 11u) % 300u;
	for (size_t k = 0; k < n; k++)
		buf[k] = k % 50 == 49 ? '\t' : (char)('A' + (k + i) % 26);
	buf[n] = '\0';
	return n;
}

static void *writer_main(void *argp)
{
	struct writer_arg *a = argp;
	struct tp_rec r;
	char uid[32], note[320];
	if (tp_rec_init(&r, a->log, 4096) != 0)
		return argp;
	for (unsigned i = 0; i < PER_THREAD; i++) {
		snprintf(uid, sizeof(uid), "T%u-%u", a->id, i);
		note_of(a->id, i, note);
		tp_rec_begin(&r);
		tp_rec_time(&r, F_TS, T0 + i * UINT64_C(1000));
		tp_rec_str(&r, F_UID, uid);
		tp_rec_uint(&r, F_BYTES, i);
		tp_rec_str(&r, F_NOTE, note);
		tp_rec_end(&r);
	}
	tp_rec_fini(&r);
	return NULL;
}

/* The exact line record i of thread id must be, in format fmt. */
static void expected_line(enum tp_log_format fmt, unsigned id, unsigned i,
			  char *out, size_t outlen)
{
	char note[320], esc[1024];
	size_t n = note_of(id, i, note), e = 0;
	uint64_t ns = T0 + i * UINT64_C(1000);
	for (size_t k = 0; k < n; k++) {
		if (note[k] == '\t')
			e += (size_t)snprintf(esc + e, sizeof(esc) - e,
					      fmt == TP_FMT_JSON ? "\\\\x09"
								 : "\\x09");
		else
			esc[e++] = note[k];
	}
	esc[e] = '\0';
	if (fmt == TP_FMT_JSON)
		snprintf(out, outlen,
			 "{\"ts\":%" PRIu64 ".%06" PRIu64 ",\"uid\":\"T%u-%u\","
			 "\"orig_bytes\":%u,\"note\":\"%s\"}",
			 ns / NS_S, ns % NS_S / 1000, id, i, i, esc);
	else
		snprintf(out, outlen,
			 "%" PRIu64 ".%06" PRIu64 "\tT%u-%u\t-\t-\t-\t-\t%u\t-\t-"
			 "\t-\t%s",
			 ns / NS_S, ns % NS_S / 1000, id, i, i,
			 n ? esc : "(empty)");
}

static void check_two_threads(enum tp_log_format fmt)
{
	pthread_t th[2];
	struct writer_arg args[2];

	W.log = tp_log_open(W.dir, &schema, fmt, T0);
	assert_non_null(W.log);
	for (unsigned t = 0; t < 2; t++) {
		args[t].log = W.log;
		args[t].id = t;
		assert_int_equal(pthread_create(&th[t], NULL, writer_main,
						&args[t]), 0);
	}
	for (unsigned t = 0; t < 2; t++) {
		void *ret;
		assert_int_equal(pthread_join(th[t], &ret), 0);
		assert_null(ret);
	}
	assert_int_equal(tp_log_records(W.log), 2 * PER_THREAD);
	assert_int_equal(tp_log_close(W.log, T0), 0);
	W.log = NULL;

	/* Read back: every line is exactly one record, each once, and each
	 * thread's records in the order it wrote them. */
	FILE *f = fopen(W.path, "rb");
	assert_non_null(f);
	char line[2048], want[2048];
	unsigned next[2] = {0, 0}, header = 0, footer = 0;
	while (fgets(line, sizeof(line), f)) {
		size_t len = strlen(line);
		assert_true(len > 0 && line[len - 1] == '\n');
		line[len - 1] = '\0';
		if (fmt == TP_FMT_ZEEK && line[0] == '#') {
			if (strncmp(line, "#close\t", 7) == 0)
				footer++;
			else
				header++;
			continue;
		}
		assert_int_equal(footer, 0);
		const char *p = strstr(line, "T");
		unsigned id, i;
		assert_non_null(p);
		assert_int_equal(sscanf(p, "T%u-%u", &id, &i), 2);
		assert_in_range(id, 0, 1);
		assert_int_equal(i, next[id]);
		next[id]++;
		expected_line(fmt, id, i, want, sizeof(want));
		assert_string_equal(line, want);
	}
	fclose(f);
	assert_int_equal(next[0], PER_THREAD);
	assert_int_equal(next[1], PER_THREAD);
	assert_int_equal(header, fmt == TP_FMT_ZEEK ? 8 : 0);
	assert_int_equal(footer, fmt == TP_FMT_ZEEK ? 1 : 0);
}

static void test_two_threads_json(void **state)
{
	(void)state;
	check_two_threads(TP_FMT_JSON);
}

static void test_two_threads_tsv(void **state)
{
	(void)state;
	check_two_threads(TP_FMT_ZEEK);
}

static void test_free_releases_memory(void **state)
{
	(void)state;
	uint64_t before = tp_mem_in_use();
	open_log(TP_FMT_ZEEK, 8192);
	for (int i = 0; i < 500; i++)
		full_record();
	close_and_read(T0);
	assert_int_equal(tp_mem_in_use(), before);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_json_full_record),
		T(test_json_unset_fields_omitted),
		T(test_json_escaping),
		T(test_json_numbers_and_times),
		T(test_json_empty_set),
		T(test_json_has_no_header_or_footer),
		T(test_tsv_header_and_footer),
		T(test_tsv_records),
		T(test_tsv_escaping),
		T(test_record_larger_than_buffer),
		T(test_records_counted_when_written),
		T(test_open_fails_in_missing_dir),
		T(test_two_threads_json),
		T(test_two_threads_tsv),
		T(test_free_releases_memory),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
