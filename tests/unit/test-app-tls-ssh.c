/* The TLS, X.509 and SSH parsers on handshakes built here byte by byte:
 * fingerprints against canonical strings worked out by hand (their MD5
 * and SHA-256 computed apart, with Python's hashlib), records cut at every
 * byte, several messages per record and a message over several records,
 * a certificate made with OpenSSL and read back from x509.log, Zeek's SSH
 * authentication inference on packet sizes, and malformed input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "app-logs.h"
#include "app/fingerprint.h"
#include "app/ssh.h"
#include "app/tls.h"

/* ---------------------------------------------------------------- bytes */

struct buf {
	uint8_t b[16384];
	size_t n;
};

static void put(struct buf *b, const void *p, size_t n)
{
	assert_true(b->n + n <= sizeof(b->b));
	memcpy(b->b + b->n, p, n);
	b->n += n;
}

static void put8(struct buf *b, unsigned v)
{
	uint8_t x = (uint8_t)v;
	put(b, &x, 1);
}

static void put16(struct buf *b, unsigned v)
{
	put8(b, v >> 8);
	put8(b, v);
}

static void put24(struct buf *b, unsigned v)
{
	put8(b, v >> 16);
	put16(b, v & 0xffff);
}

static void put32(struct buf *b, uint32_t v)
{
	put16(b, v >> 16);
	put16(b, v & 0xffff);
}

/* A length field of w bytes to fill in later with len_end. */
static size_t len_begin(struct buf *b, int w)
{
	size_t at = b->n;
	for (int i = 0; i < w; i++)
		put8(b, 0);
	return at;
}

static void len_end(struct buf *b, size_t at, int w)
{
	size_t v = b->n - at - (size_t)w;
	for (int i = w - 1; i >= 0; i--, v >>= 8)
		b->b[at + (size_t)i] = (uint8_t)v;
}

/* One TLS record of type t holding body. */
static void record(struct buf *out, uint8_t t, const struct buf *body)
{
	put8(out, t);
	put16(out, 0x0303);
	put16(out, (unsigned)body->n);
	put(out, body->b, body->n);
}

/* A handshake message of type t. */
static void hs(struct buf *out, uint8_t t, const struct buf *body)
{
	put8(out, t);
	put24(out, (unsigned)body->n);
	put(out, body->b, body->n);
}

static void ext(struct buf *b, unsigned type, const struct buf *data)
{
	put16(b, type);
	put16(b, (unsigned)data->n);
	put(b, data->b, data->n);
}

/* The ClientHello of the fingerprint tests, GREASE included:
 *   JA3 string "771,4865-49199-156,0-10-11-13-16-43,29-23,0"
 *   JA4 "t13d0306h2_" + sha256("009c,1301,c02f")[:12] + "_" +
 *       sha256("000a,000b,000d,002b_0403,0804,0401")[:12] */
static void client_hello13(struct buf *m, bool tls13)
{
	struct buf e = {0}, d;
	size_t at;

	put16(m, 0x0303);
	for (int i = 0; i < 32; i++)
		put8(m, 0x11);
	put8(m, 0);                    /* session id */
	put16(m, 8);
	put16(m, 0x0a0a);
	put16(m, 0x1301);
	put16(m, 0xc02f);
	put16(m, 0x009c);
	put8(m, 1);
	put8(m, 0);
	d.n = 0;
	ext(&e, 0x0a0a, &d);
	d.n = 0;
	at = len_begin(&d, 2);
	put8(&d, 0);
	put16(&d, 11);
	put(&d, "example.com", 11);
	len_end(&d, at, 2);
	ext(&e, 0x0000, &d);
	d.n = 0;
	put16(&d, 6);
	put16(&d, 0x0a0a);
	put16(&d, 0x001d);
	put16(&d, 0x0017);
	ext(&e, 0x000a, &d);
	d.n = 0;
	put8(&d, 1);
	put8(&d, 0);
	ext(&e, 0x000b, &d);
	d.n = 0;
	put16(&d, 6);
	put16(&d, 0x0403);
	put16(&d, 0x0804);
	put16(&d, 0x0401);
	ext(&e, 0x000d, &d);
	d.n = 0;
	at = len_begin(&d, 2);
	put8(&d, 2);
	put(&d, "h2", 2);
	put8(&d, 8);
	put(&d, "http/1.1", 8);
	len_end(&d, at, 2);
	ext(&e, 0x0010, &d);
	if (tls13) {
		d.n = 0;
		put8(&d, 6);
		put16(&d, 0x0a0a);
		put16(&d, 0x0304);
		put16(&d, 0x0303);
		ext(&e, 0x002b, &d);
	}
	put16(m, (unsigned)e.n);
	put(m, e.b, e.n);
}

/* A TLS 1.2 hello up to its extensions: random and session id filled
 * with one byte each, one suite (a client's list of one), no
 * compression. */
static void hello12(struct buf *m, uint8_t rnd, uint8_t sid, unsigned suite,
		    bool client)
{
	put16(m, 0x0303);
	for (int i = 0; i < 32; i++)
		put8(m, rnd);
	put8(m, 32);
	for (int i = 0; i < 32; i++)
		put8(m, sid);
	if (client)
		put16(m, 2);
	put16(m, suite);
	if (client)
		put8(m, 1);
	put8(m, 0);
}

/* ----------------------------------------------------------------- runs */

struct run {
	char dir[64];
	struct tp_app_logs logs;
	struct tp_flow flow;
	struct tp_app_ctx ctx;
	const struct tp_app_ops *ops;
	void *st;
};

static void run_begin(struct run *r, const struct tp_app_ops *ops)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "/tmp/tapir-test-app-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	assert_int_equal(app_logs_open(&r->logs, r->dir, TP_FMT_JSON), 0);
	app_flow_v4(&r->flow, 0x0a000001, 40000, 0x0a000002, 443,
		    UINT64_C(1700000000000000000));
	r->ctx.ts_ns = r->flow.first_ns;
	r->ctx.flow = &r->flow;
	r->ctx.logs = &r->logs;
	r->ctx.weird = app_logs_weird;
	r->ops = ops;
	r->st = calloc(1, ops->state_size);
	assert_non_null(r->st);
	ops->init(r->st);
}

/* b[0..n) from dir, in calls of `chunk` bytes (0: one call). */
static void feed(struct run *r, enum tp_app_dir dir, const void *b, size_t n,
		 size_t chunk)
{
	const uint8_t *p = b;
	if (!chunk)
		chunk = n ? n : 1;
	for (size_t i = 0; i < n; i += chunk)
		r->ops->data(r->st, &r->ctx, dir, p + i,
			     n - i < chunk ? n - i : chunk);
}

static void feedb(struct run *r, enum tp_app_dir dir, const struct buf *b,
		  size_t chunk)
{
	feed(r, dir, b->b, b->n, chunk);
}

static void run_end(struct run *r)
{
	r->ops->end(r->st, &r->ctx);
	r->ops->fini(r->st);
	free(r->st);
	app_logs_close(&r->logs);
}

/* The whole of one file of the run (NUL-terminated; "" when absent). */
static char *slurp(const struct run *r, const char *name)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", r->dir, name);
	FILE *f = fopen(path, "r");
	char *s = calloc(1, 1 << 20);
	assert_non_null(s);
	if (f) {
		size_t n = fread(s, 1, (1 << 20) - 1, f);
		s[n] = '\0';
		fclose(f);
	}
	return s;
}

static int lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

static void run_cleanup(struct run *r)
{
	const char *files[] = {"ssl.log", "x509.log", "ssh.log", "weird.txt"};
	char path[128];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", r->dir, files[i]);
		unlink(path);
	}
	rmdir(r->dir);
}

#define assert_has(hay, needle)                                            \
	do {                                                               \
		if (!strstr((hay), (needle)))                              \
			fail_msg("%s\nlacks %s", (hay), (needle));        \
	} while (0)

/* The file holds `n` lines, among them every string given (a NULL ends
 * the list). */
static void expect(const struct run *r, const char *name, int n, ...)
{
	char *s = slurp(r, name);
	va_list ap;
	assert_int_equal(lines(s), n);
	va_start(ap, n);
	for (const char *want; (want = va_arg(ap, const char *));)
		assert_has(s, want);
	va_end(ap);
	free(s);
}

/* ---------------------------------------------------------------- tests */

static void test_fingerprints(void **state)
{
	struct buf m = {0}, sh = {0};
	struct tp_fp_hello h;
	char ja3[TP_FP_MD5_HEX], ja4[TP_FP_JA4_LEN];
	(void)state;

	client_hello13(&m, true);
	/* version 2, random 32, sid 1, ciphers 2+8, compression 2. */
	h.version = 0x0303;
	h.ciphers = m.b + 2 + 32 + 1 + 2;
	h.ciphers_len = 8;
	h.exts = m.b + 2 + 32 + 1 + 10 + 2 + 2;
	h.exts_len = m.n - (2 + 32 + 1 + 10 + 2 + 2);
	tp_fp_ja3(&h, ja3);
	assert_string_equal(ja3, "528100259cb8f1a06d911dd07ce90fc5");
	assert_int_equal(tp_fp_ja4(&h, 't', ja4), 0);
	assert_string_equal(ja4, "t13d0306h2_159d175d8039_0d385148b956");

	/* JA3S of version 771, suite 0x1301, extensions 43 and 51. */
	put16(&sh, 0x002b);
	put16(&sh, 2);
	put16(&sh, 0x0304);
	put16(&sh, 0x0033);
	put16(&sh, 0);
	uint8_t suite[2] = {0x13, 0x01};
	struct tp_fp_hello s = {.version = 0x0303, .ciphers = suite,
				.ciphers_len = 2, .exts = sh.b,
				.exts_len = sh.n};
	tp_fp_ja3s(&s, ja3);
	assert_string_equal(ja3, "f4febc55ea12b31ae17cfb7e614afda8");

	/* No ciphers, no extensions: JA4's zero hashes, "00" ALPN. */
	struct tp_fp_hello z = {.version = 0x0300};
	assert_int_equal(tp_fp_ja4(&z, 't', ja4), 0);
	assert_string_equal(ja4, "ts3i000000_000000000000_000000000000");

	assert_true(tp_fp_grease(0x0a0a) && tp_fp_grease(0xfafa));
	assert_false(tp_fp_grease(0x0a1a) || tp_fp_grease(0x1301));
}

/* A TLS 1.3 handshake: ClientHello, ServerHello + CCS + encrypted
 * records, client CCS + encrypted Finished. */
static void tls13_session(struct run *r, size_t chunk)
{
	struct buf m = {0}, h = {0}, c = {0}, s = {0}, e = {0}, body = {0};

	client_hello13(&m, true);
	hs(&h, 1, &m);
	record(&c, 22, &h);
	feedb(r, TP_APP_ORIG, &c, chunk);

	m.n = h.n = 0;
	put16(&m, 0x0303);
	for (int i = 0; i < 32; i++)
		put8(&m, 0x22);
	put8(&m, 0);
	put16(&m, 0x1301);
	put8(&m, 0);
	put16(&e, 0x002b);
	put16(&e, 2);
	put16(&e, 0x0304);
	put16(&e, 0x0033);
	put16(&e, 36);
	put16(&e, 0x001d);
	put16(&e, 32);
	for (int i = 0; i < 32; i++)
		put8(&e, 0x33);
	put16(&m, (unsigned)e.n);
	put(&m, e.b, e.n);
	hs(&h, 2, &m);
	record(&s, 22, &h);
	body.n = 0;
	put8(&body, 1);
	record(&s, 20, &body);
	body.n = 0;
	for (int i = 0; i < 100; i++)
		put8(&body, i);
	record(&s, 23, &body);
	feedb(r, TP_APP_RESP, &s, chunk);

	c.n = 0;
	body.n = 0;
	put8(&body, 1);
	record(&c, 20, &body);
	body.n = 0;
	for (int i = 0; i < 53; i++)
		put8(&body, i);
	record(&c, 23, &body);
	feedb(r, TP_APP_ORIG, &c, chunk);
}

static void check_tls13_log(const struct run *r)
{
	expect(r, "ssl.log", 1,
	       "\"version\":\"TLSv13\"",
	       "\"cipher\":\"TLS_AES_128_GCM_SHA256\"",
	       "\"curve\":\"x25519\"",
	       "\"server_name\":\"example.com\"",
	       "\"resumed\":false",
	       "\"established\":true",
	       "\"ssl_history\":\"CsiI\"",
	       "\"ja3\":\"528100259cb8f1a06d911dd07ce90fc5\"",
	       "\"ja3s\":\"f4febc55ea12b31ae17cfb7e614afda8\"",
	       "\"ja4\":\"t13d0306h2_159d175d8039_0d385148b956\"",
	       "\"id.orig_h\":\"10.0.0.1\"",
	       "\"id.resp_p\":443",
	       NULL);
}

static void test_tls13_whole(void **state)
{
	struct run r;
	(void)state;
	run_begin(&r, &tp_app_tls);
	tls13_session(&r, 0);
	run_end(&r);
	check_tls13_log(&r);
	char *w = slurp(&r, "weird.txt");
	assert_string_equal(w, "");
	free(w);
	run_cleanup(&r);
}

/* The same bytes one at a time: records and messages cut everywhere. */
static void test_tls13_bytewise(void **state)
{
	struct run r;
	(void)state;
	run_begin(&r, &tp_app_tls);
	tls13_session(&r, 1);
	run_end(&r);
	check_tls13_log(&r);
	run_cleanup(&r);
}

/* A certificate made here, with SANs and basic constraints. */
static size_t make_cert(uint8_t *out, size_t cap)
{
	EVP_PKEY *pk = EVP_RSA_gen(2048);
	X509 *x = X509_new();
	assert_non_null(pk);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234abcd);
	ASN1_TIME_set(X509_getm_notBefore(x), 1700000000);
	ASN1_TIME_set(X509_getm_notAfter(x), 1800000000);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "C", MBSTRING_ASC,
				   (const unsigned char *)"US", -1, -1, 0);
	X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC,
				   (const unsigned char *)"Tapir, Inc.", -1, -1,
				   0);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC,
				   (const unsigned char *)"www.example.com", -1,
				   -1, 0);
	X509_set_issuer_name(x, n);
	X509_set_pubkey(x, pk);
	X509V3_CTX v3;
	X509V3_set_ctx_nodb(&v3);
	X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(
		NULL, &v3, NID_subject_alt_name,
		"DNS:www.example.com,DNS:*.example.org,IP:192.0.2.7,"
		"IP:2001:db8::1,email:ops@example.com,URI:https://example.com/");
	assert_non_null(e);
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	e = X509V3_EXT_conf_nid(NULL, &v3, NID_basic_constraints,
				"critical,CA:TRUE,pathlen:3");
	X509_add_ext(x, e, -1);
	X509_EXTENSION_free(e);
	assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
	int len = i2d_X509(x, NULL);
	assert_true(len > 0 && (size_t)len <= cap);
	uint8_t *p = out;
	i2d_X509(x, &p);
	X509_free(x);
	EVP_PKEY_free(pk);
	return (size_t)len;
}

/* TLS 1.2: hello, Certificate + ServerKeyExchange + ServerHelloDone in
 * one record, ClientKeyExchange, CCS and encrypted Finished each way; the
 * certificate message split over two records. */
static void test_tls12_certificate(void **state)
{
	struct run r;
	struct buf m = {0}, h = {0}, c = {0}, s = {0}, body = {0};
	uint8_t der[4096];
	char fp[TP_FP_SHA256_HEX], want[128];
	(void)state;

	size_t dn = make_cert(der, sizeof(der));
	tp_fp_sha256_hex(der, dn, fp);
	run_begin(&r, &tp_app_tls);
	client_hello13(&m, false);
	hs(&h, 1, &m);
	record(&c, 22, &h);
	feedb(&r, TP_APP_ORIG, &c, 0);

	m.n = h.n = 0;
	hello12(&m, 0x44, 0x55, 0xc02f, false);
	size_t at = len_begin(&m, 2);
	put16(&m, 0x0010);
	put16(&m, 5);
	put16(&m, 3);
	put8(&m, 2);
	put(&m, "h2", 2);
	len_end(&m, at, 2);
	hs(&h, 2, &m);
	m.n = 0;
	at = len_begin(&m, 3);
	put24(&m, (unsigned)dn);
	put(&m, der, dn);
	len_end(&m, at, 3);
	hs(&h, 11, &m);
	m.n = 0;
	put8(&m, 3);
	put16(&m, 0x0017);
	put8(&m, 1);
	put8(&m, 4);
	hs(&h, 12, &m);
	m.n = 0;
	hs(&h, 14, &m);
	/* Split the flight over two records, inside the certificate. */
	size_t cut = 200;
	body.n = 0;
	put(&body, h.b, cut);
	record(&s, 22, &body);
	body.n = 0;
	put(&body, h.b + cut, h.n - cut);
	record(&s, 22, &body);
	feedb(&r, TP_APP_RESP, &s, 0);

	c.n = h.n = m.n = 0;
	put8(&m, 65);
	for (int i = 0; i < 65; i++)
		put8(&m, 4);
	hs(&h, 16, &m);
	record(&c, 22, &h);
	body.n = 0;
	put8(&body, 1);
	record(&c, 20, &body);
	body.n = 0;
	for (int i = 0; i < 40; i++)
		put8(&body, 9);
	record(&c, 22, &body);
	feedb(&r, TP_APP_ORIG, &c, 0);
	s.n = 0;
	body.n = 0;
	put8(&body, 1);
	record(&s, 20, &body);
	body.n = 0;
	for (int i = 0; i < 40; i++)
		put8(&body, 7);
	record(&s, 22, &body);
	feedb(&r, TP_APP_RESP, &s, 0);
	run_end(&r);

	char *ssl = slurp(&r, "ssl.log"), *x = slurp(&r, "x509.log");
	assert_int_equal(lines(ssl), 1);
	assert_int_equal(lines(x), 1);
	assert_has(ssl, "\"version\":\"TLSv12\"");
	assert_has(ssl, "\"cipher\":\"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\"");
	assert_has(ssl, "\"curve\":\"secp256r1\"");
	assert_has(ssl, "\"next_protocol\":\"h2\"");
	assert_has(ssl, "\"established\":true");
	assert_has(ssl, "\"ssl_history\":\"CsxknGIi\"");
	snprintf(want, sizeof(want), "\"cert_chain_fps\":[\"%s\"]", fp);
	assert_has(ssl, want);
	assert_has(ssl, "\"subject\":\"CN=www.example.com,O=Tapir\\\\, Inc.,C=US\"");
	assert_has(ssl, "\"sni_matches_cert\":false");
	snprintf(want, sizeof(want), "\"fingerprint\":\"%s\"", fp);
	assert_has(x, want);
	assert_has(x, "\"certificate.version\":3");
	assert_has(x, "\"certificate.serial\":\"1234ABCD\"");
	assert_has(x, "\"certificate.issuer\":\"CN=www.example.com,O=Tapir\\\\, Inc.,C=US\"");
	assert_has(x, "\"certificate.not_valid_before\":1700000000.000000");
	assert_has(x, "\"certificate.not_valid_after\":1800000000.000000");
	assert_has(x, "\"certificate.key_alg\":\"rsaEncryption\"");
	assert_has(x, "\"certificate.sig_alg\":\"sha256WithRSAEncryption\"");
	assert_has(x, "\"certificate.key_type\":\"rsa\"");
	assert_has(x, "\"certificate.key_length\":2048");
	assert_has(x, "\"certificate.exponent\":\"65537\"");
	assert_has(x, "\"san.dns\":[\"www.example.com\",\"*.example.org\"]");
	assert_has(x, "\"san.uri\":[\"https://example.com/\"]");
	assert_has(x, "\"san.email\":[\"ops@example.com\"]");
	assert_has(x, "\"san.ip\":[\"192.0.2.7\",\"2001:db8::1\"]");
	assert_has(x, "\"basic_constraints.ca\":true");
	assert_has(x, "\"basic_constraints.path_len\":3");
	assert_has(x, "\"host_cert\":true");
	assert_has(x, "\"client_cert\":false");
	free(ssl);
	free(x);
	run_cleanup(&r);
}

/* Resumption by session id, and an alert before the end. */
static void test_tls_resumed_alert(void **state)
{
	struct run r;
	struct buf m = {0}, h = {0}, c = {0}, s = {0}, body = {0};
	(void)state;

	run_begin(&r, &tp_app_tls);
	hello12(&m, 1, 0x77, 0x009c, true);
	hs(&h, 1, &m);
	record(&c, 22, &h);
	feedb(&r, TP_APP_ORIG, &c, 0);
	m.n = h.n = 0;
	hello12(&m, 2, 0x77, 0x009c, false);
	hs(&h, 2, &m);
	record(&s, 22, &h);
	put8(&body, 1);
	record(&s, 20, &body);
	feedb(&r, TP_APP_RESP, &s, 0);
	c.n = body.n = 0;
	put8(&body, 2);
	put8(&body, 40);
	record(&c, 21, &body);
	feedb(&r, TP_APP_ORIG, &c, 0);
	run_end(&r);

	expect(&r, "ssl.log", 1,
	       "\"cipher\":\"TLS_RSA_WITH_AES_128_GCM_SHA256\"",
	       "\"resumed\":true",
	       "\"last_alert\":\"handshake_failure\"",
	       "\"established\":false",
	       "\"ssl_history\":\"CsiL\"",
	       NULL);
	run_cleanup(&r);
}

/* An SSLv2-compatible ClientHello, then an SSLv3 ServerHello. */
static void test_sslv2_hello(void **state)
{
	struct run r;
	struct buf m = {0}, h = {0}, s = {0};
	(void)state;

	run_begin(&r, &tp_app_tls);
	put8(&m, 1);
	put16(&m, 0x0300);
	put16(&m, 6);
	put16(&m, 0);
	put16(&m, 16);
	put24(&m, 0x000005);
	put24(&m, 0x010080);
	for (int i = 0; i < 16; i++)
		put8(&m, i);
	put8(&h, 0x80 | (unsigned)(m.n >> 8));
	put8(&h, (unsigned)(m.n & 0xff));
	put(&h, m.b, m.n);
	assert_true(tp_app_tls.probe(h.b, h.n, TP_APP_ORIG));
	feedb(&r, TP_APP_ORIG, &h, 1);
	m.n = h.n = 0;
	put16(&m, 0x0300);
	for (int i = 0; i < 32; i++)
		put8(&m, 3);
	put8(&m, 0);
	put16(&m, 0x0005);
	put8(&m, 0);
	hs(&h, 2, &m);
	record(&s, 22, &h);
	feedb(&r, TP_APP_RESP, &s, 0);
	run_end(&r);

	expect(&r, "ssl.log", 1,
	       "\"version\":\"SSLv3\"",
	       "\"cipher\":\"TLS_RSA_WITH_RC4_128_SHA\"",
	       "\"ssl_history\":\"Cs\"",
	       NULL);
	run_cleanup(&r);
}

/* Not TLS at all, a record too long, a truncated hello: weird lines and
 * no crash. */
static void test_tls_malformed(void **state)
{
	struct run r;
	struct buf m = {0}, h = {0}, c = {0};
	(void)state;

	run_begin(&r, &tp_app_tls);
	assert_false(tp_app_tls.probe((const uint8_t *)"GET / HTTP/1.1", 14,
				      TP_APP_ORIG));
	feed(&r, TP_APP_ORIG, "GET / HTTP/1.1\r\n\r\n", 18, 0);
	feed(&r, TP_APP_RESP, "\x16\x03\x03\xff\xff", 5, 0);
	run_end(&r);
	char *w = slurp(&r, "weird.txt"), *ssl = slurp(&r, "ssl.log");
	assert_has(w, "SSL_invalid_record\ttype 71 version 0x4554\n");
	assert_has(w, "SSL_record_too_long\t-\n");
	assert_string_equal(ssl, "");
	free(w);
	free(ssl);
	run_cleanup(&r);

	run_begin(&r, &tp_app_tls);
	client_hello13(&m, true);
	m.n = 20;                  /* cut inside the random */
	hs(&h, 1, &m);
	record(&c, 22, &h);
	feedb(&r, TP_APP_ORIG, &c, 0);
	run_end(&r);
	w = slurp(&r, "weird.txt");
	ssl = slurp(&r, "ssl.log");
	assert_has(w, "SSL_malformed_client_hello");
	assert_int_equal(lines(ssl), 1);
	assert_has(ssl, "\"ssl_history\":\"C\"");
	free(w);
	free(ssl);
	run_cleanup(&r);
}

/* ------------------------------------------------------------------ SSH */

static void namelist(struct buf *b, const char *s)
{
	put32(b, (uint32_t)strlen(s));
	put(b, s, strlen(s));
}

/* One binary packet around payload, padded to 8 bytes. */
static void ssh_packet(struct buf *out, const struct buf *payload)
{
	size_t pad = 8 - (payload->n + 5) % 8;
	if (pad < 4)
		pad += 8;
	put32(out, (uint32_t)(payload->n + pad + 1));
	put8(out, (unsigned)pad);
	put(out, payload->b, payload->n);
	for (size_t i = 0; i < pad; i++)
		put8(out, 0);
}

static void kexinit(struct buf *out, const char *kex, const char *enc,
		    const char *mac, const char *cmp)
{
	struct buf p = {0};
	put8(&p, 20);
	for (int i = 0; i < 16; i++)
		put8(&p, i);
	namelist(&p, kex);
	namelist(&p, "ssh-ed25519,rsa-sha2-512");
	namelist(&p, enc);
	namelist(&p, enc);
	namelist(&p, mac);
	namelist(&p, mac);
	namelist(&p, cmp);
	namelist(&p, cmp);
	namelist(&p, "");
	namelist(&p, "");
	put8(&p, 0);
	put32(&p, 0);
	ssh_packet(out, &p);
}

/* Banners, KEXINITs, the ECDH reply with its host key, NEWKEYS; then
 * encrypted segments of the given sizes (positive from the client,
 * negative from the server). */
static void ssh_session(struct run *r, const int *sizes, size_t n)
{
	struct buf c = {0}, s = {0}, p = {0};
	static const uint8_t key[] = "\0\0\0\x0bssh-ed25519\0\0\0\x20"
				     "0123456789abcdef0123456789abcdef";
	uint8_t junk[2048];

	put(&c, "SSH-2.0-OpenSSH_9.6\r\n", 21);
	kexinit(&c, "curve25519-sha256,ecdh-sha2-nistp256",
		"aes128-ctr,chacha20-poly1305@openssh.com", "hmac-sha2-256",
		"none,zlib@openssh.com");
	feedb(r, TP_APP_ORIG, &c, 0);
	put(&s, "Welcome\r\nSSH-2.0-OpenSSH_7.4\r\n", 30);
	kexinit(&s, "curve25519-sha256",
		"chacha20-poly1305@openssh.com,aes256-ctr",
		"hmac-sha2-512,hmac-sha2-256", "none");
	feedb(r, TP_APP_RESP, &s, 7);
	s.n = 0;
	put8(&p, 31);
	put32(&p, sizeof(key) - 1);
	put(&p, key, sizeof(key) - 1);
	put32(&p, 4);
	put32(&p, 0x01020304);
	ssh_packet(&s, &p);
	p.n = 0;
	put8(&p, 21);
	ssh_packet(&s, &p);
	feedb(r, TP_APP_RESP, &s, 0);
	c.n = 0;
	ssh_packet(&c, &p);
	feedb(r, TP_APP_ORIG, &c, 0);
	memset(junk, 0xaa, sizeof(junk));
	for (size_t i = 0; i < n; i++)
		feed(r, sizes[i] > 0 ? TP_APP_ORIG : TP_APP_RESP, junk,
		     (size_t)abs(sizes[i]), 0);
}

static void test_ssh_fields(void **state)
{
	struct run r;
	char want[128], md5[TP_FP_MD5_COLONS];
	static const uint8_t key[] = "\0\0\0\x0bssh-ed25519\0\0\0\x20"
				     "0123456789abcdef0123456789abcdef";
	/* Service request/accept, one failure, one more, then success:
	 * Zeek counts the repeated failure and the success. */
	static const int sizes[] = {52, -52, 100, -68, 100, -68, 120, -36};
	(void)state;

	run_begin(&r, &tp_app_ssh);
	ssh_session(&r, sizes, sizeof(sizes) / sizeof(sizes[0]));
	run_end(&r);
	char *log = slurp(&r, "ssh.log");
	assert_int_equal(lines(log), 1);
	assert_has(log, "\"version\":2");
	assert_has(log, "\"client\":\"SSH-2.0-OpenSSH_9.6\"");
	assert_has(log, "\"server\":\"SSH-2.0-OpenSSH_7.4\"");
	assert_has(log, "\"cipher_alg\":\"chacha20-poly1305@openssh.com\"");
	assert_has(log, "\"mac_alg\":\"hmac-sha2-256\"");
	assert_has(log, "\"compression_alg\":\"none\"");
	assert_has(log, "\"kex_alg\":\"curve25519-sha256\"");
	assert_has(log, "\"host_key_alg\":\"ssh-ed25519\"");
	tp_fp_md5_colons(key, sizeof(key) - 1, md5);
	snprintf(want, sizeof(want), "\"host_key\":\"%s\"", md5);
	assert_has(log, want);
	assert_has(log, "\"hassh\":\"bde9ba2622ff80e1a01f1b82b0d080af\"");
	assert_has(log, "\"hasshServer\":\"8d73708e0f192e137fd4206e44e24ab3\"");
	assert_has(log, "\"hasshAlgorithms\":\"curve25519-sha256,ecdh-sha2-"
			"nistp256;aes128-ctr,chacha20-poly1305@openssh.com;"
			"hmac-sha2-256;none,zlib@openssh.com\"");
	assert_has(log, "\"auth_success\":true");
	assert_has(log, "\"auth_attempts\":2");
	free(log);
	run_cleanup(&r);
}

/* Failures only: the first learns the size, the others count; the
 * record is written at the end with auth_success false. */
static void test_ssh_auth_failures(void **state)
{
	struct run r;
	static const int sizes[] = {52, -52, 100, -68, 100, -68, 100, -68,
				    100, -68};
	(void)state;

	run_begin(&r, &tp_app_ssh);
	ssh_session(&r, sizes, sizeof(sizes) / sizeof(sizes[0]));
	run_end(&r);
	expect(&r, "ssh.log", 1,
	       "\"auth_success\":false",
	       "\"auth_attempts\":3",
	       NULL);
	run_cleanup(&r);
}

static void test_ssh_malformed(void **state)
{
	struct run r;
	struct buf c = {0};
	(void)state;

	run_begin(&r, &tp_app_ssh);
	put(&c, "SSH-2.0-x\r\n", 11);
	put32(&c, 0x7fffffff);      /* a packet length past any limit */
	put16(&c, 0x0414);
	feedb(&r, TP_APP_ORIG, &c, 1);
	feed(&r, TP_APP_RESP, "HTTP/1.1 400 Bad\r\n", 18, 0);
	for (int i = 0; i < 40; i++)
		feed(&r, TP_APP_RESP, "junk\n", 5, 0);
	run_end(&r);
	char *w = slurp(&r, "weird.txt"), *log = slurp(&r, "ssh.log");
	assert_has(w, "SSH_invalid_packet_length\tlength 2147483647\n");
	assert_has(w, "malformed_ssh_identification");
	assert_int_equal(lines(log), 1);
	assert_has(log, "\"client\":\"SSH-2.0-x\"");
	free(w);
	free(log);
	run_cleanup(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fingerprints),
		cmocka_unit_test(test_tls13_whole),
		cmocka_unit_test(test_tls13_bytewise),
		cmocka_unit_test(test_tls12_certificate),
		cmocka_unit_test(test_tls_resumed_alert),
		cmocka_unit_test(test_sslv2_hello),
		cmocka_unit_test(test_tls_malformed),
		cmocka_unit_test(test_ssh_fields),
		cmocka_unit_test(test_ssh_auth_failures),
		cmocka_unit_test(test_ssh_malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
