/* TLS and SSL (RFC 8446, 5246, 4346, 2246, 6101; SSLv2-compatible
 * ClientHello, RFC 6101 appendix E.2) → ssl.log, with Zeek's fields and
 * semantics, JA3, JA3S and JA4, and the certificates of TLS ≤ 1.2 to
 * x509.log (x509.c).
 *
 * Record layer (5-byte header; a record may hold several handshake
 * messages, and a message may span several records):
 *
 *   +--------+--------+--------+--------+--------+-------------------+
 *   |  type  |    version      |     length      | fragment ...      |
 *   +--------+--------+--------+--------+--------+-------------------+
 *   20 change_cipher_spec  21 alert  22 handshake  23 application_data
 *   24 heartbeat
 *
 * Handshake message: 1-byte type, 3-byte length, body.
 *
 * SSLv2-compatible ClientHello: 2-byte header (high bit set, 15-bit
 * length), msg_type 1, version, three 2-byte lengths, 3-byte cipher specs,
 * session id, challenge.
 *
 * As Zeek: a side is encrypted after its ChangeCipherSpec (TLS 1.3: after
 * its first application_data record instead); the connection is established
 * at the first encrypted record once both sides are, and its ssl.log line
 * is written then (Zeek's disable_analyzer_after_detection: nothing after
 * it is read).  ssl_history has Zeek's letters, upper case from the
 * client. */
#include "app/tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/ssl.h>

#include "app/conn-fields.h"
#include "util/cursor.h"
#include "util/log.h"
#include "util/mem.h"

enum {
	F_TS, F_UID, F_ORIG_H, F_ORIG_P, F_RESP_H, F_RESP_P, F_VERSION,
	F_CIPHER, F_CURVE, F_SERVER_NAME, F_RESUMED, F_LAST_ALERT,
	F_NEXT_PROTOCOL, F_ESTABLISHED, F_SSL_HISTORY, F_CERT_CHAIN_FPS,
	F_CLIENT_CERT_CHAIN_FPS, F_SUBJECT, F_ISSUER, F_CLIENT_SUBJECT,
	F_CLIENT_ISSUER, F_SNI_MATCHES_CERT, F_JA3, F_JA3S, F_JA4,
	F_COMMUNITY_ID,
};

static const struct tp_field ssl_fields[] = {
	TP_APP_CONN_FIELDS,
	[F_VERSION] = {"version", TP_FT_STRING},
	[F_CIPHER] = {"cipher", TP_FT_STRING},
	[F_CURVE] = {"curve", TP_FT_STRING},
	[F_SERVER_NAME] = {"server_name", TP_FT_STRING},
	[F_RESUMED] = {"resumed", TP_FT_BOOL},
	[F_LAST_ALERT] = {"last_alert", TP_FT_STRING},
	[F_NEXT_PROTOCOL] = {"next_protocol", TP_FT_STRING},
	[F_ESTABLISHED] = {"established", TP_FT_BOOL},
	[F_SSL_HISTORY] = {"ssl_history", TP_FT_STRING},
	[F_CERT_CHAIN_FPS] = {"cert_chain_fps", TP_FT_VEC_STRING},
	[F_CLIENT_CERT_CHAIN_FPS] = {"client_cert_chain_fps",
				     TP_FT_VEC_STRING},
	[F_SUBJECT] = {"subject", TP_FT_STRING},
	[F_ISSUER] = {"issuer", TP_FT_STRING},
	[F_CLIENT_SUBJECT] = {"client_subject", TP_FT_STRING},
	[F_CLIENT_ISSUER] = {"client_issuer", TP_FT_STRING},
	[F_SNI_MATCHES_CERT] = {"sni_matches_cert", TP_FT_BOOL},
	[F_JA3] = {"ja3", TP_FT_STRING},
	[F_JA3S] = {"ja3s", TP_FT_STRING},
	[F_JA4] = {"ja4", TP_FT_STRING},
	[F_COMMUNITY_ID] = {"community_id", TP_FT_STRING},
};

const struct tp_log_schema tp_ssl_schema = {
	.path = "ssl",
	.fields = ssl_fields,
	.nfields = TP_ARRAY_SIZE(ssl_fields),
};

enum {
	REC_CCS = 20,
	REC_ALERT = 21,
	REC_HANDSHAKE = 22,
	REC_APPDATA = 23,
	REC_HEARTBEAT = 24,
	REC_SSLV2 = 0x100,           /* not on the wire: an SSLv2 record */
};

enum {
	HS_CLIENT_HELLO = 1,
	HS_SERVER_HELLO = 2,
	HS_CERTIFICATE = 11,
	HS_SERVER_KEY_EXCHANGE = 12,
	HS_CLIENT_KEY_EXCHANGE = 16,
};


#define TLS_REC_MAX (16384 + 2048)   /* TLSCiphertext.length limit */
#define TLS_MSG_MAX (1u << 20)       /* largest handshake message kept */
#define TLS_CHAIN_MAX 10             /* certificates kept per side */
#define TLS_HISTORY_MAX 100          /* Zeek's max_ssl_history_length */
#define TLS_NAME_MAX 1024            /* server_name, next_protocol */

struct tls_dir {
	uint8_t hdr[5];
	uint8_t hdr_n;
	bool in_body;
	bool cipher_rec;             /* the current record is encrypted */
	bool encrypted;              /* after this side's ChangeCipherSpec */
	bool skip;                   /* lost: nothing more read this way */
	bool any;                    /* a record header was read */
	uint16_t rec_type;
	uint32_t rec_left;
	uint8_t alert[2];
	uint8_t alert_n;
	/* The handshake message being assembled. */
	uint8_t mh[4];
	uint8_t mh_n;
	uint32_t m_left;
	bool m_keep;                 /* buffer it (a type that is read) */
	uint8_t *msg;
	size_t msg_len, msg_cap;
	/* Certificates (their SHA-256) this side sent. */
	char (*fps)[TP_FP_SHA256_HEX];
	uint8_t nfps;
};

struct tls_state {
	struct tls_dir d[2];
	uint64_t ts_ns;
	bool seen;                   /* some TLS was read: log at the end */
	bool logged, done;
	bool established, resumed;
	bool flipped;                /* the client is the responder */
	bool client_hello_seen;
	bool hrr;
	bool client_ticket_empty_session, client_kex_seen, client_psk;
	bool have_version, version_from_ext, have_cipher, have_curve;
	uint16_t version, cipher, curve;
	int16_t last_alert;          /* -1: none */
	int8_t sni_match;            /* -1: unknown */
	uint8_t session_id_len;
	uint8_t session_id[32];
	char *server_name, *next_protocol;
	char *subject, *issuer, *client_subject, *client_issuer;
	char history[TLS_HISTORY_MAX + 1];
	uint8_t hist_n;
	char ja3[TP_FP_MD5_HEX], ja3s[TP_FP_MD5_HEX], ja4[TP_FP_JA4_LEN];
};

/* Names: Zeek's version_strings, alert_descriptions and ec_curves. */

static const char *version_name(uint16_t v, char *buf, size_t n)
{
	switch (v) {
	case 0x0002: return "SSLv2";
	case 0x0300: return "SSLv3";
	case 0x0301: return "TLSv10";
	case 0x0302: return "TLSv11";
	case 0x0303: return "TLSv12";
	case 0x0304: return "TLSv13";
	case 0xfeff: return "DTLSv10";
	case 0xfefd: return "DTLSv12";
	case 0xfefc: return "DTLSv13";
	default: break;
	}
	if ((v >> 8) == 0x7f)
		snprintf(buf, n, "TLSv13-draft%u", v & 0xff);
	else
		snprintf(buf, n, "unknown-%u", v);
	return buf;
}

static const char *alert_name(unsigned d, char *buf, size_t n)
{
	static const struct {
		uint8_t code;
		const char *name;
	} t[] = {
		{0, "close_notify"}, {10, "unexpected_message"},
		{20, "bad_record_mac"}, {21, "decryption_failed"},
		{22, "record_overflow"}, {30, "decompression_failure"},
		{40, "handshake_failure"}, {41, "no_certificate"},
		{42, "bad_certificate"}, {43, "unsupported_certificate"},
		{44, "certificate_revoked"}, {45, "certificate_expired"},
		{46, "certificate_unknown"}, {47, "illegal_parameter"},
		{48, "unknown_ca"}, {49, "access_denied"},
		{50, "decode_error"}, {51, "decrypt_error"},
		{60, "export_restriction"}, {70, "protocol_version"},
		{71, "insufficient_security"}, {80, "internal_error"},
		{86, "inappropriate_fallback"}, {90, "user_canceled"},
		{100, "no_renegotiation"}, {109, "missing_extension"},
		{110, "unsupported_extension"},
		{111, "certificate_unobtainable"},
		{112, "unrecognized_name"},
		{113, "bad_certificate_status_response"},
		{114, "bad_certificate_hash_value"},
		{115, "unknown_psk_identity"},
		{116, "certificate_required"},
		{120, "no_application_protocol"}, {121, "ech_required"},
	};
	for (size_t i = 0; i < TP_ARRAY_SIZE(t); i++)
		if (t[i].code == d)
			return t[i].name;
	snprintf(buf, n, "unknown-%u", d);
	return buf;
}

static const char *curve_name(uint16_t c, char *buf, size_t n)
{
	static const char *const ec[] = {
		[1] = "sect163k1", [2] = "sect163r1", [3] = "sect163r2",
		[4] = "sect193r1", [5] = "sect193r2", [6] = "sect233k1",
		[7] = "sect233r1", [8] = "sect239k1", [9] = "sect283k1",
		[10] = "sect283r1", [11] = "sect409k1", [12] = "sect409r1",
		[13] = "sect571k1", [14] = "sect571r1", [15] = "secp160k1",
		[16] = "secp160r1", [17] = "secp160r2", [18] = "secp192k1",
		[19] = "secp192r1", [20] = "secp224k1", [21] = "secp224r1",
		[22] = "secp256k1", [23] = "secp256r1", [24] = "secp384r1",
		[25] = "secp521r1", [26] = "brainpoolP256r1",
		[27] = "brainpoolP384r1", [28] = "brainpoolP512r1",
		[29] = "x25519", [30] = "x448",
	};
	if (c < TP_ARRAY_SIZE(ec) && ec[c])
		return ec[c];
	switch (c) {
	case 256: return "ffdhe2048";
	case 257: return "ffdhe3072";
	case 258: return "ffdhe4096";
	case 259: return "ffdhe6144";
	case 260: return "ffdhe8192";
	case 0x11eb: return "SecP256r1MLKEM768";
	case 0x11ec: return "X25519MLKEM768";
	case 0x11ed: return "SecP384r1MLKEM1024";
	case 0x6399: return "X25519Kyber768Draft00";
	case 0xff01: return "arbitrary_explicit_prime_curves";
	case 0xff02: return "arbitrary_explicit_char2_curves";
	default:
		snprintf(buf, n, "unknown-%u", c);
		return buf;
	}
}

/* The IANA name of a cipher suite, from OpenSSL's table (one SSL object
 * made once, only read after). */
static SSL_CTX *names_ctx;
static SSL *names_ssl;
static pthread_once_t names_once = PTHREAD_ONCE_INIT;

static void names_init(void)
{
	names_ctx = SSL_CTX_new(TLS_method());
	if (names_ctx)
		names_ssl = SSL_new(names_ctx);
}

/* IANA names of suites OpenSSL 3 does not build (RC4, DES, export,
 * fixed DH and ECDH, Kerberos) and of pre-standard ChaCha20 ones, sorted:
 * servers still choose them, and Zeek names them. */
struct legacy_suite {
	uint16_t id;
	const char *name;
};

static const struct legacy_suite legacy_suites[] = {
		{0x0000, "TLS_NULL_WITH_NULL_NULL"},
		{0x0001, "TLS_RSA_WITH_NULL_MD5"},
		{0x0002, "TLS_RSA_WITH_NULL_SHA"},
		{0x0003, "TLS_RSA_EXPORT_WITH_RC4_40_MD5"},
		{0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
		{0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
		{0x0006, "TLS_RSA_EXPORT_WITH_RC2_CBC_40_MD5"},
		{0x0007, "TLS_RSA_WITH_IDEA_CBC_SHA"},
		{0x0008, "TLS_RSA_EXPORT_WITH_DES40_CBC_SHA"},
		{0x0009, "TLS_RSA_WITH_DES_CBC_SHA"},
		{0x000b, "TLS_DH_DSS_EXPORT_WITH_DES40_CBC_SHA"},
		{0x000c, "TLS_DH_DSS_WITH_DES_CBC_SHA"},
		{0x000d, "TLS_DH_DSS_WITH_3DES_EDE_CBC_SHA"},
		{0x000e, "TLS_DH_RSA_EXPORT_WITH_DES40_CBC_SHA"},
		{0x000f, "TLS_DH_RSA_WITH_DES_CBC_SHA"},
		{0x0010, "TLS_DH_RSA_WITH_3DES_EDE_CBC_SHA"},
		{0x0011, "TLS_DHE_DSS_EXPORT_WITH_DES40_CBC_SHA"},
		{0x0012, "TLS_DHE_DSS_WITH_DES_CBC_SHA"},
		{0x0014, "TLS_DHE_RSA_EXPORT_WITH_DES40_CBC_SHA"},
		{0x0015, "TLS_DHE_RSA_WITH_DES_CBC_SHA"},
		{0x0017, "TLS_DH_anon_EXPORT_WITH_RC4_40_MD5"},
		{0x0018, "TLS_DH_anon_WITH_RC4_128_MD5"},
		{0x0019, "TLS_DH_anon_EXPORT_WITH_DES40_CBC_SHA"},
		{0x001a, "TLS_DH_anon_WITH_DES_CBC_SHA"},
		{0x001e, "TLS_KRB5_WITH_DES_CBC_SHA"},
		{0x001f, "TLS_KRB5_WITH_3DES_EDE_CBC_SHA"},
		{0x0020, "TLS_KRB5_WITH_RC4_128_SHA"},
		{0x0021, "TLS_KRB5_WITH_IDEA_CBC_SHA"},
		{0x0022, "TLS_KRB5_WITH_DES_CBC_MD5"},
		{0x0023, "TLS_KRB5_WITH_3DES_EDE_CBC_MD5"},
		{0x0024, "TLS_KRB5_WITH_RC4_128_MD5"},
		{0x0025, "TLS_KRB5_WITH_IDEA_CBC_MD5"},
		{0x0026, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_SHA"},
		{0x0027, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_SHA"},
		{0x0028, "TLS_KRB5_EXPORT_WITH_RC4_40_SHA"},
		{0x0029, "TLS_KRB5_EXPORT_WITH_DES_CBC_40_MD5"},
		{0x002a, "TLS_KRB5_EXPORT_WITH_RC2_CBC_40_MD5"},
		{0x002b, "TLS_KRB5_EXPORT_WITH_RC4_40_MD5"},
		{0x0030, "TLS_DH_DSS_WITH_AES_128_CBC_SHA"},
		{0x0031, "TLS_DH_RSA_WITH_AES_128_CBC_SHA"},
		{0x0036, "TLS_DH_DSS_WITH_AES_256_CBC_SHA"},
		{0x0037, "TLS_DH_RSA_WITH_AES_256_CBC_SHA"},
		{0x003e, "TLS_DH_DSS_WITH_AES_128_CBC_SHA256"},
		{0x003f, "TLS_DH_RSA_WITH_AES_128_CBC_SHA256"},
		{0x0042, "TLS_DH_DSS_WITH_CAMELLIA_128_CBC_SHA"},
		{0x0043, "TLS_DH_RSA_WITH_CAMELLIA_128_CBC_SHA"},
		{0x0068, "TLS_DH_DSS_WITH_AES_256_CBC_SHA256"},
		{0x0069, "TLS_DH_RSA_WITH_AES_256_CBC_SHA256"},
		{0x0085, "TLS_DH_DSS_WITH_CAMELLIA_256_CBC_SHA"},
		{0x0086, "TLS_DH_RSA_WITH_CAMELLIA_256_CBC_SHA"},
		{0x008a, "TLS_PSK_WITH_RC4_128_SHA"},
		{0x008e, "TLS_DHE_PSK_WITH_RC4_128_SHA"},
		{0x0092, "TLS_RSA_PSK_WITH_RC4_128_SHA"},
		{0x00ff, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
		{0x5600, "TLS_FALLBACK_SCSV"},
		{0xc001, "TLS_ECDH_ECDSA_WITH_NULL_SHA"},
		{0xc002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"},
		{0xc003, "TLS_ECDH_ECDSA_WITH_3DES_EDE_CBC_SHA"},
		{0xc004, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA"},
		{0xc005, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA"},
		{0xc007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
		{0xc00b, "TLS_ECDH_RSA_WITH_NULL_SHA"},
		{0xc00c, "TLS_ECDH_RSA_WITH_RC4_128_SHA"},
		{0xc00d, "TLS_ECDH_RSA_WITH_3DES_EDE_CBC_SHA"},
		{0xc00e, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA"},
		{0xc00f, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA"},
		{0xc011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
		{0xc016, "TLS_ECDH_anon_WITH_RC4_128_SHA"},
		{0xc025, "TLS_ECDH_ECDSA_WITH_AES_128_CBC_SHA256"},
		{0xc026, "TLS_ECDH_ECDSA_WITH_AES_256_CBC_SHA384"},
		{0xc029, "TLS_ECDH_RSA_WITH_AES_128_CBC_SHA256"},
		{0xc02a, "TLS_ECDH_RSA_WITH_AES_256_CBC_SHA384"},
		{0xc02d, "TLS_ECDH_ECDSA_WITH_AES_128_GCM_SHA256"},
		{0xc02e, "TLS_ECDH_ECDSA_WITH_AES_256_GCM_SHA384"},
		{0xc031, "TLS_ECDH_RSA_WITH_AES_128_GCM_SHA256"},
		{0xc032, "TLS_ECDH_RSA_WITH_AES_256_GCM_SHA384"},
		{0xc033, "TLS_ECDHE_PSK_WITH_RC4_128_SHA"},
		{0xcc13, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD"},
		{0xcc14, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256_OLD"},
		{0xcc15, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256_OLD"},
};

static int cmp_suite(const void *k, const void *e)
{
	uint16_t a = *(const uint16_t *)k;
	uint16_t b = ((const struct legacy_suite *)e)->id;
	return (a > b) - (a < b);
}

static const char *cipher_name(uint16_t c, char *buf, size_t n)
{
	const SSL_CIPHER *ci = NULL;
	uint8_t b[2] = {(uint8_t)(c >> 8), (uint8_t)c};

	pthread_once(&names_once, names_init);
	if (names_ssl)
		ci = SSL_CIPHER_find(names_ssl, b);
	const char *s = ci ? SSL_CIPHER_standard_name(ci) : NULL;
	if (s && strcmp(s, "(NONE)") != 0)
		return s;
	const struct legacy_suite *e =
		bsearch(&c, legacy_suites, TP_ARRAY_SIZE(legacy_suites),
			sizeof(legacy_suites[0]), cmp_suite);
	if (e)
		return e->name;
	snprintf(buf, n, "unknown-%u", c);
	return buf;
}

static bool is_client(const struct tls_state *st, enum tp_app_dir dir)
{
	return (dir == TP_APP_ORIG) != st->flipped;
}

static void history(struct tls_state *st, struct tp_app_ctx *ctx,
		    enum tp_app_dir dir, char letter)
{
	if (st->hist_n >= TLS_HISTORY_MAX)
		return;
	if (is_client(st, dir) && letter >= 'a' && letter <= 'z')
		letter = (char)(letter - 'a' + 'A');
	st->history[st->hist_n++] = letter;
	st->history[st->hist_n] = '\0';
	if (st->hist_n == TLS_HISTORY_MAX)
		ctx->weird(ctx, "SSL_max_ssl_history_length_reached", NULL);
}

static char hs_letter(uint8_t type, bool hrr)
{
	switch (type) {
	case 0: return 'h';
	case 1: return 'c';
	case 2: return hrr ? 'j' : 's';
	case 3: return 'v';
	case 4: return 't';
	case 5: return 'e';
	case 6: return 'j';
	case 8: return 'o';
	case 11: return 'x';
	case 12: return 'k';
	case 13: return 'r';
	case 14: return 'n';
	case 15: return 'y';
	case 16: return 'g';
	case 20: return 'f';
	case 21: return 'w';
	case 22: return 'u';
	case 23: return 'a';
	case 24: return 'p';
	case 254: return 'm';
	default: return 'z';
	}
}

/* A name from the wire into *dst (replacing it), cut at a NUL and at
 * TLS_NAME_MAX bytes. */
static void set_str(char **dst, const uint8_t *p, size_t n)
{
	const uint8_t *z = memchr(p, 0, n);
	if (z)
		n = (size_t)(z - p);
	if (n > TLS_NAME_MAX)
		n = TLS_NAME_MAX;
	char *s = tp_malloc(n + 1);
	if (!s)
		return;
	memcpy(s, p, n);
	s[n] = '\0';
	tp_strfree(*dst);
	*dst = s;
}

static void write_log(struct tls_state *st, struct tp_app_ctx *ctx)
{
	struct tp_rec *r;
	char buf[32];
	const char *v[TLS_CHAIN_MAX];

	st->logged = true;
	if (!(r = tp_app_rec(ctx->logs, &tp_ssl_schema)))
		return;
	tp_rec_begin(r);
	tp_app_rec_conn(r, F_TS, ctx->flow, st->ts_ns);
	if (st->have_version)
		tp_rec_str(r, F_VERSION,
			   version_name(st->version, buf, sizeof(buf)));
	if (st->have_cipher)
		tp_rec_str(r, F_CIPHER,
			   cipher_name(st->cipher, buf, sizeof(buf)));
	if (st->have_curve)
		tp_rec_str(r, F_CURVE, curve_name(st->curve, buf, sizeof(buf)));
	if (st->server_name)
		tp_rec_str(r, F_SERVER_NAME, st->server_name);
	tp_rec_bool(r, F_RESUMED, st->resumed);
	if (st->last_alert >= 0)
		tp_rec_str(r, F_LAST_ALERT,
			   alert_name((unsigned)st->last_alert, buf,
				      sizeof(buf)));
	if (st->next_protocol)
		tp_rec_str(r, F_NEXT_PROTOCOL, st->next_protocol);
	tp_rec_bool(r, F_ESTABLISHED, st->established);
	tp_rec_str(r, F_SSL_HISTORY, st->history);
	for (int side = 0; side < 2; side++) {
		/* d[] is by direction; the fields are by role. */
		bool client = side == 1;
		enum tp_app_dir dir = (client != st->flipped) ? TP_APP_ORIG
							      : TP_APP_RESP;
		const struct tls_dir *d = &st->d[dir];
		if (!d->nfps)
			continue;
		for (unsigned i = 0; i < d->nfps; i++)
			v[i] = d->fps[i];
		tp_rec_strset(r, client ? F_CLIENT_CERT_CHAIN_FPS
					: F_CERT_CHAIN_FPS, v, d->nfps);
	}
	if (st->subject)
		tp_rec_str(r, F_SUBJECT, st->subject);
	if (st->issuer)
		tp_rec_str(r, F_ISSUER, st->issuer);
	if (st->client_subject)
		tp_rec_str(r, F_CLIENT_SUBJECT, st->client_subject);
	if (st->client_issuer)
		tp_rec_str(r, F_CLIENT_ISSUER, st->client_issuer);
	if (st->sni_match >= 0)
		tp_rec_bool(r, F_SNI_MATCHES_CERT, st->sni_match == 1);
	if (st->ja3[0])
		tp_rec_str(r, F_JA3, st->ja3);
	if (st->ja3s[0])
		tp_rec_str(r, F_JA3S, st->ja3s);
	if (st->ja4[0])
		tp_rec_str(r, F_JA4, st->ja4);
	tp_app_rec_community_id(r, F_COMMUNITY_ID, ctx->flow);
	tp_rec_end(r);
}

/* The hello's fixed part up to its extensions, into h; false when it is
 * cut short (the extension block may be absent: SSLv3). */
static bool hello_fixed(struct tp_cur *c, bool client, struct tp_fp_hello *h,
			const uint8_t **sid, size_t *sid_n,
			const uint8_t **random)
{
	memset(h, 0, sizeof(*h));
	h->version = tp_cur_be16(c);
	*random = tp_cur_take(c, 32);
	*sid_n = 0;
	*sid = NULL;
	if (!client && (h->version >> 8) == 0x7f) {
		/* TLS 1.3 drafts: no session id, no compression method. */
		h->ciphers = tp_cur_take(c, 2);
		h->ciphers_len = 2;
	} else {
		*sid_n = tp_cur_u8(c);
		*sid = tp_cur_take(c, *sid_n);
	}
	if (client) {
		size_t n = tp_cur_be16(c);
		h->ciphers = tp_cur_take(c, n);
		h->ciphers_len = n & ~(size_t)1;
		size_t cm = tp_cur_u8(c);
		tp_cur_skip(c, cm);
	} else if (*sid) {
		h->ciphers = tp_cur_take(c, 2);
		h->ciphers_len = 2;
		(void)tp_cur_u8(c);  /* compression method */
	}
	if (c->err)
		return false;
	if (tp_cur_left(c) >= 2) {
		size_t n = tp_cur_be16(c);
		h->exts = tp_cur_take(c, n);
		h->exts_len = h->exts ? n : 0;
		if (!h->exts)
			return false;
	}
	return true;
}

/* hello_fixed over a whole message, with a weird when it is cut short. */
static bool hello_read(struct tp_app_ctx *ctx, const uint8_t *m, size_t n,
		       bool client, struct tp_fp_hello *h, const uint8_t **sid,
		       size_t *sid_n, const uint8_t **random)
{
	struct tp_cur c;
	tp_cur_init(&c, m, n);
	if (hello_fixed(&c, client, h, sid, sid_n, random))
		return true;
	ctx->weird(ctx, client ? "SSL_malformed_client_hello"
			       : "SSL_malformed_server_hello", NULL);
	return false;
}

static void client_hello(struct tls_state *st, struct tp_app_ctx *ctx,
			 const uint8_t *m, size_t n)
{
	struct tp_fp_hello h;
	const uint8_t *sid, *random, *d;
	size_t sid_n, dn;
	uint16_t t;
	bool ticket = false;

	if (!hello_read(ctx, m, n, true, &h, &sid, &sid_n, &random))
		return;
	struct tp_fp_ext_iter it;
	tp_fp_ext_begin(&it, h.exts, h.exts_len);
	while (tp_fp_ext_next(&it, &t, &d, &dn)) {
		if (t == TP_TLS_EXT_SNI && !st->server_name) {
			/* server_name_list: type 0 (host_name) entries. */
			struct tp_cur s;
			tp_cur_init(&s, d, dn);
			size_t ln = tp_cur_be16(&s);
			const uint8_t *l = tp_cur_take(&s, ln);
			struct tp_cur e;
			unsigned names = 0;
			tp_cur_init(&e, l, l ? ln : 0);
			while (tp_cur_left(&e) >= 3) {
				uint8_t nt = tp_cur_u8(&e);
				size_t nn = tp_cur_be16(&e);
				const uint8_t *np = tp_cur_take(&e, nn);
				if (!np)
					break;
				if (nt == 0 && names++ == 0)
					set_str(&st->server_name, np, nn);
			}
			if (names > 1)
				ctx->weird(ctx, "SSL_many_server_names", NULL);
		} else if (t == TP_TLS_EXT_SESSION_TICKET && dn > 0) {
			ticket = true;
		} else if (t == TP_TLS_EXT_PRE_SHARED_KEY) {
			st->client_psk = true;
		}
	}
	if (it.bad)
		ctx->weird(ctx, "SSL_malformed_extension", NULL);

	bool zero_sid = sid_n == 32;
	for (size_t i = 0; zero_sid && i < 32; i++)
		zero_sid = sid[i] == 0;
	if (sid_n > 0 && sid_n <= 32 && !zero_sid) {
		memcpy(st->session_id, sid, sid_n);
		st->session_id_len = (uint8_t)sid_n;
		st->client_ticket_empty_session = false;
	} else if (ticket) {
		st->client_ticket_empty_session = true;
	}
	/* The fingerprints of the first ClientHello: a second one (after a
	 * HelloRetryRequest) answers the server, it does not describe the
	 * client. */
	if (!st->ja3[0]) {
		tp_fp_ja3(&h, st->ja3);
		if (tp_fp_ja4(&h, 't', st->ja4) < 0)
			ctx->weird(ctx, "SSL_fingerprint_no_memory", NULL);
	}
}

static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c,
	0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb,
	0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

static void server_hello(struct tls_state *st, struct tp_app_ctx *ctx,
			 const uint8_t *m, size_t n)
{
	struct tp_fp_hello h;
	const uint8_t *sid, *random, *d;
	size_t sid_n, dn;
	uint16_t t;
	bool psk = false;

	if (!hello_read(ctx, m, n, false, &h, &sid, &sid_n, &random))
		return;
	struct tp_fp_ext_iter it;
	tp_fp_ext_begin(&it, h.exts, h.exts_len);
	while (tp_fp_ext_next(&it, &t, &d, &dn)) {
		if (t == TP_TLS_EXT_SUPPORTED_VERSIONS && dn == 2) {
			st->version = tp_load_be16(d);
			st->have_version = st->version_from_ext = true;
		} else if (t == TP_TLS_EXT_KEY_SHARE && dn >= 2) {
			/* ServerHello: the group and its key; HRR: the
			 * group alone. */
			st->curve = tp_load_be16(d);
			st->have_curve = true;
		} else if (t == TP_TLS_EXT_ALPN) {
			struct tp_cur a;
			tp_cur_init(&a, d, dn);
			(void)tp_cur_be16(&a);
			size_t pn = tp_cur_u8(&a);
			const uint8_t *pp = tp_cur_take(&a, pn);
			if (pp)
				set_str(&st->next_protocol, pp, pn);
		} else if (t == TP_TLS_EXT_PRE_SHARED_KEY) {
			psk = true;
		}
	}
	if (it.bad)
		ctx->weird(ctx, "SSL_malformed_extension", NULL);
	if (psk && st->client_psk)
		st->resumed = true;
	if (!st->version_from_ext) {
		st->version = h.version;
		st->have_version = true;
	}
	st->cipher = tp_load_be16(h.ciphers);
	st->have_cipher = true;
	st->hrr = memcmp(random, hrr_random, 32) == 0;
	if (st->session_id_len && sid_n == st->session_id_len &&
	    memcmp(sid, st->session_id, sid_n) == 0 &&
	    (st->version >> 8) != 0x7f && st->version != 0x0304)
		st->resumed = true;
	tp_fp_ja3s(&h, st->ja3s);
}

static void certificates(struct tls_state *st, struct tp_app_ctx *ctx,
			 enum tp_app_dir dir, const uint8_t *m, size_t n)
{
	struct tls_dir *d = &st->d[dir];
	bool client = is_client(st, dir);
	struct tp_cur c;

	/* TLS 1.3 sends its certificates encrypted: one seen in the clear
	 * there is the client's or a confused peer's; read it all the same. */
	tp_cur_init(&c, m, n);
	size_t total = tp_cur_be24(&c);
	const uint8_t *l = tp_cur_take(&c, total);
	if (!l) {
		ctx->weird(ctx, "SSL_malformed_certificate_list", NULL);
		return;
	}
	struct tp_cur e;
	tp_cur_init(&e, l, total);
	unsigned idx = 0;
	while (tp_cur_left(&e) > 0) {
		size_t cn = tp_cur_be24(&e);
		const uint8_t *der = tp_cur_take(&e, cn);
		if (!der) {
			ctx->weird(ctx, "SSL_malformed_certificate_list",
				   NULL);
			return;
		}
		struct tp_x509_seen seen;
		bool host = idx++ == 0;
		int rc = tp_x509_log(ctx, der, cn, host, client, host,
				     host && !client ? st->server_name : NULL,
				     &seen);
		if (rc == -EINVAL) {
			ctx->weird(ctx, "x509_certificate_parse_error", NULL);
			continue;
		}
		if (host) {
			tp_strfree(client ? st->client_subject : st->subject);
			tp_strfree(client ? st->client_issuer : st->issuer);
			if (client) {
				st->client_subject = seen.subject;
				st->client_issuer = seen.issuer;
			} else {
				st->subject = seen.subject;
				st->issuer = seen.issuer;
				st->sni_match = seen.sni_match;
			}
		}
		if (!d->fps &&
		    !(d->fps = tp_calloc(TLS_CHAIN_MAX, sizeof(*d->fps))))
			continue;
		if (d->nfps < TLS_CHAIN_MAX)
			memcpy(d->fps[d->nfps++], seen.fp, sizeof(seen.fp));
		else if (d->nfps++ == TLS_CHAIN_MAX)
			ctx->weird(ctx, "SSL_many_certificates", NULL);
	}
	if (d->nfps > TLS_CHAIN_MAX)
		d->nfps = TLS_CHAIN_MAX;
}

/* ServerKeyExchange of an (EC)DHE suite: ECParameters start with
 * curve_type 3 (named_curve) and the group. */
static void server_key_exchange(struct tls_state *st, const uint8_t *m,
				size_t n)
{
	char buf[32];
	if (!st->have_cipher || n < 3 || m[0] != 3)
		return;
	if (!strstr(cipher_name(st->cipher, buf, sizeof(buf)), "_ECDH"))
		return;
	st->curve = tp_load_be16(m + 1);
	st->have_curve = true;
}

static void handshake_msg(struct tls_state *st, struct tp_app_ctx *ctx,
			  enum tp_app_dir dir, uint8_t type, const uint8_t *m,
			  size_t n)
{
	bool client = is_client(st, dir);

	switch (type) {
	case HS_CLIENT_HELLO:
		if (!st->client_hello_seen && dir == TP_APP_RESP) {
			/* The responder speaks first as a client. */
			st->flipped = true;
			client = true;
			if (st->hist_n < TLS_HISTORY_MAX) {
				st->history[st->hist_n++] = '^';
				st->history[st->hist_n] = '\0';
			}
		}
		st->client_hello_seen = true;
		if (client)
			client_hello(st, ctx, m, n);
		break;
	case HS_SERVER_HELLO:
		if (!client)
			server_hello(st, ctx, m, n);
		break;
	case HS_CERTIFICATE:
		certificates(st, ctx, dir, m, n);
		break;
	case HS_SERVER_KEY_EXCHANGE:
		if (!client)
			server_key_exchange(st, m, n);
		break;
	case HS_CLIENT_KEY_EXCHANGE:
		if (client)
			st->client_kex_seen = true;
		break;
	default:
		break;
	}
	history(st, ctx, dir, hs_letter(type, type == HS_SERVER_HELLO &&
					      st->hrr));
	if (type == HS_SERVER_HELLO)
		st->hrr = false;
}

/* Which messages are read (and so buffered); the others are counted
 * through. */
static bool keep_msg(uint8_t type)
{
	return type == HS_CLIENT_HELLO || type == HS_SERVER_HELLO ||
	       type == HS_CERTIFICATE || type == HS_SERVER_KEY_EXCHANGE;
}

static void handshake_bytes(struct tls_state *st, struct tp_app_ctx *ctx,
			    enum tp_app_dir dir, const uint8_t *b, size_t n)
{
	struct tls_dir *d = &st->d[dir];

	while (n > 0 && !d->skip && !st->done) {
		if (d->mh_n < 4) {
			d->mh[d->mh_n++] = *b++;
			n--;
			if (d->mh_n < 4)
				continue;
			d->m_left = (uint32_t)d->mh[1] << 16 |
				    (uint32_t)d->mh[2] << 8 | d->mh[3];
			d->m_keep = keep_msg(d->mh[0]);
			d->msg_len = 0;
			if (d->m_keep && d->m_left > TLS_MSG_MAX) {
				ctx->weird(ctx, "SSL_handshake_message_too_long",
					   NULL);
				d->m_keep = false;
			}
			if (d->m_keep && d->m_left > d->msg_cap) {
				uint8_t *q = tp_realloc(d->msg, d->msg_cap,
							d->m_left);
				if (!q) {
					ctx->weird(ctx, "SSL_no_memory", NULL);
					d->m_keep = false;
				} else {
					d->msg = q;
					d->msg_cap = d->m_left;
				}
			}
		} else {
			size_t k = TP_MIN(n, (size_t)d->m_left);
			if (d->m_keep)
				memcpy(d->msg + d->msg_len, b, k);
			d->msg_len += k;
			d->m_left -= (uint32_t)k;
			b += k;
			n -= k;
		}
		if (d->mh_n == 4 && d->m_left == 0) {
			d->mh_n = 0;
			if (d->m_keep)
				handshake_msg(st, ctx, dir, d->mh[0], d->msg,
					      d->msg_len);
			else
				handshake_msg(st, ctx, dir, d->mh[0], NULL, 0);
		}
	}
}

/* TLS 1.3 or one of its drafts (0x7fNN). */
static bool tls13(const struct tls_state *st)
{
	return st->have_version &&
	       (st->version == 0x0304 || (st->version >> 8) == 0x7f);
}

static void ciphertext(struct tls_state *st, struct tp_app_ctx *ctx,
		       enum tp_app_dir dir)
{
	struct tls_dir *d = &st->d[dir];
	if (d->rec_type == REC_APPDATA && tls13(st))
		d->encrypted = true;
	if (!st->established && st->d[0].encrypted && st->d[1].encrypted) {
		st->established = true;
		write_log(st, ctx);
		st->done = true;
		/* Nothing more is read: the message buffers can go now. */
		for (int i = 0; i < 2; i++) {
			tp_free(st->d[i].msg, st->d[i].msg_cap);
			st->d[i].msg = NULL;
			st->d[i].msg_cap = 0;
		}
	}
}

static void record_end(struct tls_state *st, struct tp_app_ctx *ctx,
		       enum tp_app_dir dir);

/* The SSLv2-compatible ClientHello (its body, after the 2-byte header). */
static void sslv2_hello(struct tls_state *st, struct tp_app_ctx *ctx,
			const uint8_t *m, size_t n)
{
	struct tp_cur c;
	tp_cur_init(&c, m, n);
	uint8_t type = tp_cur_u8(&c);
	uint16_t version = tp_cur_be16(&c);
	size_t cs = tp_cur_be16(&c), sl = tp_cur_be16(&c),
	       chl = tp_cur_be16(&c);
	tp_cur_skip(&c, cs + sl + chl);
	if (c.err || type != 1 || cs % 3) {
		ctx->weird(ctx, "SSL_malformed_v2_client_hello", NULL);
		st->d[TP_APP_ORIG].skip = true;
		return;
	}
	(void)version;
	st->client_hello_seen = true;
	history(st, ctx, TP_APP_ORIG, 'c');
}

static void record_end(struct tls_state *st, struct tp_app_ctx *ctx,
		       enum tp_app_dir dir)
{
	struct tls_dir *d = &st->d[dir];

	d->in_body = false;
	d->hdr_n = 0;
	if (d->cipher_rec) {
		ciphertext(st, ctx, dir);
		return;
	}
	switch (d->rec_type) {
	case REC_CCS:
		history(st, ctx, dir, 'i');
		/* TLS 1.3 sends it for middleboxes only (RFC 8446 D.4);
		 * its sides are encrypted from their first application_data
		 * record (ciphertext()). */
		if (!tls13(st))
			d->encrypted = true;
		if (is_client(st, dir) && st->client_ticket_empty_session &&
		    !st->client_kex_seen)
			st->resumed = true;
		break;
	case REC_ALERT:
		if (d->alert_n == 2) {
			history(st, ctx, dir, 'l');
			st->last_alert = d->alert[1];
		} else {
			ctx->weird(ctx, "SSL_truncated_alert", NULL);
		}
		d->alert_n = 0;
		break;
	case REC_HEARTBEAT:
		history(st, ctx, dir, 'b');
		break;
	case REC_APPDATA:
		/* Application data in the clear before the handshake is
		 * over (Zeek's name). */
		if (st->have_version && !st->established)
			ctx->weird(ctx, "ssl_early_application_data", NULL);
		break;
	case REC_SSLV2:
		sslv2_hello(st, ctx, d->msg, d->msg_len);
		d->msg_len = 0;
		break;
	default:
		break;
	}
}

static bool record_header(struct tls_state *st, struct tp_app_ctx *ctx,
			  enum tp_app_dir dir)
{
	struct tls_dir *d = &st->d[dir];
	char addl[64];

	if (d->rec_type == REC_SSLV2) {
		d->rec_left = (uint32_t)(d->hdr[0] & 0x7f) << 8 | d->hdr[1];
		if (d->rec_left < 9) {
			ctx->weird(ctx, "SSL_malformed_v2_client_hello", NULL);
			return false;
		}
		if (d->rec_left > d->msg_cap) {
			uint8_t *q = tp_realloc(d->msg, d->msg_cap, d->rec_left);
			if (!q) {
				ctx->weird(ctx, "SSL_no_memory", NULL);
				return false;
			}
			d->msg = q;
			d->msg_cap = d->rec_left;
		}
		d->msg_len = 0;
		d->cipher_rec = false;
		return true;
	}
	d->rec_type = d->hdr[0];
	d->rec_left = (uint32_t)d->hdr[3] << 8 | d->hdr[4];
	if (d->rec_type < REC_CCS || d->rec_type > REC_HEARTBEAT ||
	    d->hdr[1] != 3) {
		snprintf(addl, sizeof(addl), "type %u version 0x%02x%02x",
			 d->hdr[0], d->hdr[1], d->hdr[2]);
		ctx->weird(ctx, "SSL_invalid_record", addl);
		return false;
	}
	if (d->rec_left > TLS_REC_MAX) {
		ctx->weird(ctx, "SSL_record_too_long", NULL);
		return false;
	}
	d->cipher_rec = d->encrypted ||
			(d->rec_type == REC_APPDATA && tls13(st));
	d->alert_n = 0;
	st->seen = true;
	return true;
}

static void record_bytes(struct tls_state *st, struct tp_app_ctx *ctx,
			 enum tp_app_dir dir, const uint8_t *b, size_t k)
{
	struct tls_dir *d = &st->d[dir];

	if (d->cipher_rec)
		return;
	switch (d->rec_type) {
	case REC_HANDSHAKE:
		handshake_bytes(st, ctx, dir, b, k);
		break;
	case REC_ALERT:
		for (size_t i = 0; i < k && d->alert_n < 2; i++)
			d->alert[d->alert_n++] = b[i];
		break;
	case REC_SSLV2:
		memcpy(d->msg + d->msg_len, b, k);
		d->msg_len += k;
		break;
	default:
		break;
	}
}

static void tls_data(void *stp, struct tp_app_ctx *ctx, enum tp_app_dir dir,
		     const uint8_t *b, size_t n)
{
	struct tls_state *st = stp;
	struct tls_dir *d = &st->d[dir];

	if (!st->ts_ns)
		st->ts_ns = ctx->ts_ns;
	while (n > 0 && !d->skip && !st->done) {
		if (!d->in_body) {
			d->hdr[d->hdr_n++] = *b++;
			n--;
			/* An SSLv2 record header: the first record of the
			 * client, high bit set, then msg_type 1. */
			if (d->hdr_n == 3 && !d->any && dir == TP_APP_ORIG &&
			    (d->hdr[0] & 0x80) && d->hdr[2] == 1) {
				d->rec_type = REC_SSLV2;
				st->seen = true;
				/* The msg_type byte is part of the body. */
				d->hdr_n = 2;
				if (!record_header(st, ctx, dir)) {
					d->skip = true;
					break;
				}
				d->any = d->in_body = true;
				record_bytes(st, ctx, dir, &d->hdr[2], 1);
				d->rec_left--;
				continue;
			}
			if (d->hdr_n < 5)
				continue;
			d->any = true;
			if (!record_header(st, ctx, dir)) {
				d->skip = true;
				break;
			}
			d->in_body = true;
			if (d->rec_left == 0)
				record_end(st, ctx, dir);
			continue;
		}
		size_t k = TP_MIN(n, (size_t)d->rec_left);
		record_bytes(st, ctx, dir, b, k);
		d->rec_left -= (uint32_t)k;
		b += k;
		n -= k;
		if (d->rec_left == 0)
			record_end(st, ctx, dir);
	}
}

static void tls_gap(void *stp, struct tp_app_ctx *ctx, enum tp_app_dir dir,
		    uint64_t n)
{
	struct tls_state *st = stp;
	(void)n;
	if (st->done || st->d[dir].skip)
		return;
	/* Records cannot be found again after a hole. */
	st->d[dir].skip = true;
	ctx->weird(ctx, "SSL_content_gap", NULL);
}

static void tls_end(void *stp, struct tp_app_ctx *ctx)
{
	struct tls_state *st = stp;
	if (st->seen && !st->logged)
		write_log(st, ctx);
	st->done = true;
}

static void tls_init(void *stp)
{
	struct tls_state *st = stp;
	memset(st, 0, sizeof(*st));
	st->last_alert = -1;
	st->sni_match = -1;
}

static void tls_fini(void *stp)
{
	struct tls_state *st = stp;
	for (int i = 0; i < 2; i++) {
		tp_free(st->d[i].msg, st->d[i].msg_cap);
		tp_free(st->d[i].fps, TLS_CHAIN_MAX * sizeof(*st->d[i].fps));
	}
	tp_strfree(st->server_name);
	tp_strfree(st->next_protocol);
	tp_strfree(st->subject);
	tp_strfree(st->issuer);
	tp_strfree(st->client_subject);
	tp_strfree(st->client_issuer);
	memset(st, 0, sizeof(*st));
}

/* A TLS record carrying a ClientHello or ServerHello, or an SSLv2
 * ClientHello. */
static bool tls_probe(const uint8_t *b, size_t n, enum tp_app_dir dir)
{
	(void)dir;
	if (n >= 3 && b[0] == REC_HANDSHAKE && b[1] == 3 && b[2] <= 4)
		return n < 6 || b[5] == HS_CLIENT_HELLO ||
		       b[5] == HS_SERVER_HELLO;
	if (n >= 5 && (b[0] & 0x80) && b[2] == 1 &&
	    (b[3] == 0 || b[3] == 2 || b[3] == 3))
		return true;
	return false;
}

const struct tp_app_ops tp_app_tls = {
	.name = "ssl",
	.ipproto = 6,
	.state_size = sizeof(struct tls_state),
	.probe = tls_probe,
	.init = tls_init,
	.data = tls_data,
	.gap = tls_gap,
	.end = tls_end,
	.fini = tls_fini,
};
