/* X.509 certificates (RFC 5280) of a TLS handshake → x509.log, parsed by
 * OpenSSL (d2i_X509), with the field names and forms of Zeek's x509.log:
 *
 *   certificate.serial     hex of the serial, upper case (i2a_ASN1_INTEGER)
 *   certificate.subject    the name in RFC 2253 form ("CN=a,O=b,C=US")
 *   certificate.key_alg    long name of the key's algorithm ("rsaEncryption")
 *   certificate.sig_alg    long name of the signature's ("sha256WithRSAEncryption")
 *   certificate.key_type   "rsa", "dsa" or "ecdsa"
 *   certificate.exponent   RSA public exponent in decimal
 *   certificate.curve      short name of an EC key's curve ("prime256v1")
 *   fingerprint            SHA-256 of the DER, as Zeek's default
 *
 * Parsed certificates are kept per thread by SHA-256 (cert_get).
 *
 * Zeek logs a certificate once a day per (fingerprint, host_cert,
 * client_cert); tapir logs it with every connection that carries it, so
 * that each line can be joined with its ssl.log line by fingerprint. */
#include "app/tls.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "decode/decode.h"
#include "util/log.h"
#include "util/mem.h"

enum {
	F_TS, F_FINGERPRINT, F_VERSION, F_SERIAL, F_SUBJECT, F_ISSUER,
	F_NOT_BEFORE, F_NOT_AFTER, F_KEY_ALG, F_SIG_ALG, F_KEY_TYPE,
	F_KEY_LENGTH, F_EXPONENT, F_CURVE, F_SAN_DNS, F_SAN_URI, F_SAN_EMAIL,
	F_SAN_IP, F_BC_CA, F_BC_PATH_LEN, F_HOST_CERT, F_CLIENT_CERT,
};

static const struct tp_field x509_fields[] = {
	[F_TS] = {"ts", TP_FT_TIME},
	[F_FINGERPRINT] = {"fingerprint", TP_FT_STRING},
	[F_VERSION] = {"certificate.version", TP_FT_COUNT},
	[F_SERIAL] = {"certificate.serial", TP_FT_STRING},
	[F_SUBJECT] = {"certificate.subject", TP_FT_STRING},
	[F_ISSUER] = {"certificate.issuer", TP_FT_STRING},
	[F_NOT_BEFORE] = {"certificate.not_valid_before", TP_FT_TIME},
	[F_NOT_AFTER] = {"certificate.not_valid_after", TP_FT_TIME},
	[F_KEY_ALG] = {"certificate.key_alg", TP_FT_STRING},
	[F_SIG_ALG] = {"certificate.sig_alg", TP_FT_STRING},
	[F_KEY_TYPE] = {"certificate.key_type", TP_FT_STRING},
	[F_KEY_LENGTH] = {"certificate.key_length", TP_FT_COUNT},
	[F_EXPONENT] = {"certificate.exponent", TP_FT_STRING},
	[F_CURVE] = {"certificate.curve", TP_FT_STRING},
	[F_SAN_DNS] = {"san.dns", TP_FT_VEC_STRING},
	[F_SAN_URI] = {"san.uri", TP_FT_VEC_STRING},
	[F_SAN_EMAIL] = {"san.email", TP_FT_VEC_STRING},
	[F_SAN_IP] = {"san.ip", TP_FT_VEC_ADDR},
	[F_BC_CA] = {"basic_constraints.ca", TP_FT_BOOL},
	[F_BC_PATH_LEN] = {"basic_constraints.path_len", TP_FT_COUNT},
	[F_HOST_CERT] = {"host_cert", TP_FT_BOOL},
	[F_CLIENT_CERT] = {"client_cert", TP_FT_BOOL},
};

const struct tp_log_schema tp_x509_schema = {
	.path = "x509",
	.fields = x509_fields,
	.nfields = TP_ARRAY_SIZE(x509_fields),
};

/* What a memory BIO holds, as a NUL-terminated string in buf (cut to
 * fit), then emptied. */
static const char *bio_take(BIO *b, char *buf, size_t n)
{
	char *p;
	long len = BIO_get_mem_data(b, &p);
	size_t k = len > 0 ? TP_MIN((size_t)len, n - 1) : 0;
	memcpy(buf, p, k);
	buf[k] = '\0';
	(void)BIO_reset(b);
	return buf;
}

static bool asn1_time_ns(const ASN1_TIME *t, uint64_t *ns)
{
	struct tm tm;
	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return false;
	time_t s = timegm(&tm);
	if (s < 0)
		return false;
	*ns = (uint64_t)s * 1000000000ull;
	return true;
}

/* Long name of an object as OBJ_obj2txt gives it ("rsaEncryption"),
 * dotted numbers when OpenSSL does not know it. */
static const char *obj_name(const ASN1_OBJECT *o, char *buf, size_t n)
{
	if (!o || OBJ_obj2txt(buf, (int)n, o, 0) <= 0)
		return NULL;
	return buf;
}

#define SAN_MAX 64   /* names of one kind kept per certificate */

struct san_list {
	const char *v[SAN_MAX];
	size_t n;
};

static void san_add(struct san_list *l, const char *s)
{
	if (l->n < SAN_MAX)
		l->v[l->n++] = s;
}

static void write_sans(struct tp_rec *r, const X509 *x, struct tp_app_ctx *ctx)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL,
					       NULL);
	struct san_list dns = {0}, uri = {0}, email = {0}, ip = {0};
	/* Text of IP addresses: room for SAN_MAX of them. */
	char ipbuf[SAN_MAX][48];
	size_t nip = 0;
	bool dropped = false;

	if (!gens)
		return;
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const ASN1_STRING *s;
		switch (g->type) {
		case GEN_DNS:
		case GEN_URI:
		case GEN_EMAIL: {
			s = g->type == GEN_DNS ? g->d.dNSName
			    : g->type == GEN_URI ? g->d.uniformResourceIdentifier
			    : g->d.rfc822Name;
			/* IA5String bytes; an embedded NUL would cut the
			 * name short, so such a name is left out. */
			const char *p = (const char *)ASN1_STRING_get0_data(s);
			int len = ASN1_STRING_length(s);
			if (!p || len < 0 || memchr(p, '\0', (size_t)len) ||
			    p[len] != '\0') {
				dropped = true;
				break;
			}
			san_add(g->type == GEN_DNS ? &dns
				: g->type == GEN_URI ? &uri : &email, p);
			break;
		}
		case GEN_IPADD: {
			s = g->d.iPAddress;
			const uint8_t *a = ASN1_STRING_get0_data(s);
			int len = ASN1_STRING_length(s);
			if (nip >= SAN_MAX || (len != 4 && len != 16)) {
				dropped = true;
				break;
			}
			struct tp_addr ad;
			memset(&ad, 0, sizeof(ad));
			if (len == 4) {
				ad.b[10] = ad.b[11] = 0xff;
				memcpy(ad.b + 12, a, 4);
			} else {
				memcpy(ad.b, a, 16);
			}
			tp_addr_str(&ad, ipbuf[nip]);
			san_add(&ip, ipbuf[nip++]);
			break;
		}
		default:
			break;
		}
	}
	if (dns.n)
		tp_rec_strset(r, F_SAN_DNS, dns.v, dns.n);
	if (uri.n)
		tp_rec_strset(r, F_SAN_URI, uri.v, uri.n);
	if (email.n)
		tp_rec_strset(r, F_SAN_EMAIL, email.v, email.n);
	if (ip.n)
		tp_rec_strset(r, F_SAN_IP, ip.v, ip.n);
	GENERAL_NAMES_free(gens);
	if (dropped)
		ctx->weird(ctx, "x509_san_unusable", NULL);
}

static void write_key(struct tp_rec *r, X509 *x)
{
	char buf[128];
	EVP_PKEY *pk = X509_get0_pubkey(x);
	const char *type = NULL;

	if (!pk)
		return;
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
		type = "rsa";
		break;
	case EVP_PKEY_DSA:
		type = "dsa";
		break;
	case EVP_PKEY_EC:
		type = "ecdsa";
		break;
	default:
		break;
	}
	if (type)
		tp_rec_str(r, F_KEY_TYPE, type);
	if (type && EVP_PKEY_get_bits(pk) > 0)
		tp_rec_uint(r, F_KEY_LENGTH, (uint64_t)EVP_PKEY_get_bits(pk));
	if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA) {
		BIGNUM *e = NULL;
		if (EVP_PKEY_get_bn_param(pk, "e", &e) && e) {
			char *d = BN_bn2dec(e);
			if (d)
				tp_rec_str(r, F_EXPONENT, d);
			OPENSSL_free(d);
		}
		BN_free(e);
	} else if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_EC) {
		size_t gl = 0;
		if (EVP_PKEY_get_group_name(pk, buf, sizeof(buf), &gl) && gl)
			tp_rec_str(r, F_CURVE, buf);
	}
}

/* The certificates last parsed by this thread, by SHA-256: a server's
 * chain comes again with every connection to it, and OpenSSL 3's d2i_X509
 * spends most of its time setting up a decoder for the public key (some
 * 150 us a certificate).  Direct-mapped; a slot's X509 is the cache's. */
#define CACHE_SLOTS 256

struct cache_slot {
	char fp[TP_FP_SHA256_HEX];
	bool trailing;               /* bytes after the certificate */
	X509 *x;
};

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static __thread struct cache_slot *cache;

static void cache_free(void *p)
{
	struct cache_slot *c = p;
	for (size_t i = 0; c && i < CACHE_SLOTS; i++)
		X509_free(c[i].x);
	tp_free(c, CACHE_SLOTS * sizeof(*c));
}

static void cache_init(void)
{
	(void)pthread_key_create(&cache_key, cache_free);
}

/* The certificate of der (whose SHA-256 is fp), from the cache or parsed
 * into it; NULL when it is none.  The X509 stays the cache's. */
static X509 *cert_get(const uint8_t *der, size_t n, const char *fp,
		      bool *trailing)
{
	uint32_t h = 2166136261u;
	for (int i = 0; i < 16; i++)
		h = (h ^ (uint8_t)fp[i]) * 16777619u;
	pthread_once(&cache_once, cache_init);
	if (!cache && (cache = tp_calloc(CACHE_SLOTS, sizeof(*cache))))
		(void)pthread_setspecific(cache_key, cache);
	struct cache_slot *s = cache ? &cache[h % CACHE_SLOTS] : NULL;
	if (s && s->x && !strcmp(s->fp, fp)) {
		*trailing = s->trailing;
		return s->x;
	}
	const unsigned char *p = der;
	X509 *x = n > LONG_MAX ? NULL : d2i_X509(NULL, &p, (long)n);
	if (!x)
		return NULL;
	*trailing = (size_t)(p - der) != n;
	if (!s) {
		/* No cache (no memory): the caller frees it. */
		return x;
	}
	X509_free(s->x);
	memcpy(s->fp, fp, sizeof(s->fp));
	s->trailing = *trailing;
	s->x = x;
	return x;
}

int tp_x509_log(struct tp_app_ctx *ctx, const uint8_t *der, size_t n,
		bool host_cert, bool client_cert, bool names, const char *sni,
		struct tp_x509_seen *seen)
{
	char buf[1024], name[4096];
	X509 *x;
	BIO *b = NULL;
	bool trailing = false;
	int rc = 0;

	memset(seen, 0, sizeof(*seen));
	seen->sni_match = -1;
	tp_fp_sha256_hex(der, n, seen->fp);
	if (!(x = cert_get(der, n, seen->fp, &trailing))) {
		seen->fp[0] = '\0';
		return -EINVAL;
	}
	if (trailing)
		ctx->weird(ctx, "x509_trailing_bytes", NULL);

	struct tp_rec *r = tp_app_rec(ctx->logs, &tp_x509_schema);
	b = BIO_new(BIO_s_mem());
	if (!b) {
		rc = -ENOMEM;
		goto out;
	}
	char serial[256] = "";
	if (i2a_ASN1_INTEGER(b, X509_get0_serialNumber(x)) > 0)
		bio_take(b, serial, sizeof(serial));
	(void)BIO_reset(b);
	if (r) {
		tp_rec_begin(r);
		tp_rec_time(r, F_TS, ctx->ts_ns);
		tp_rec_str(r, F_FINGERPRINT, seen->fp);
		tp_rec_uint(r, F_VERSION, (uint64_t)X509_get_version(x) + 1);
		if (serial[0])
			tp_rec_str(r, F_SERIAL, serial);
	}
	const char *subject = NULL, *issuer = NULL;
	if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
			       XN_FLAG_RFC2253) >= 0)
		subject = bio_take(b, name, sizeof(name) / 2);
	if (X509_NAME_print_ex(b, X509_get_issuer_name(x), 0,
			       XN_FLAG_RFC2253) >= 0)
		issuer = bio_take(b, name + sizeof(name) / 2, sizeof(name) / 2);
	if (r) {
		uint64_t t;
		if (subject)
			tp_rec_str(r, F_SUBJECT, subject);
		if (issuer)
			tp_rec_str(r, F_ISSUER, issuer);
		if (asn1_time_ns(X509_get0_notBefore(x), &t))
			tp_rec_time(r, F_NOT_BEFORE, t);
		if (asn1_time_ns(X509_get0_notAfter(x), &t))
			tp_rec_time(r, F_NOT_AFTER, t);
		const ASN1_OBJECT *ko = NULL;
		X509_PUBKEY_get0_param((ASN1_OBJECT **)&ko, NULL, NULL, NULL,
				       X509_get_X509_PUBKEY(x));
		if (obj_name(ko, buf, sizeof(buf)))
			tp_rec_str(r, F_KEY_ALG, buf);
		const X509_ALGOR *sa = NULL;
		const ASN1_OBJECT *so = NULL;
		X509_get0_signature(NULL, &sa, x);
		if (sa)
			X509_ALGOR_get0(&so, NULL, NULL, sa);
		if (obj_name(so, buf, sizeof(buf)))
			tp_rec_str(r, F_SIG_ALG, buf);
		write_key(r, x);
		write_sans(r, x, ctx);
		BASIC_CONSTRAINTS *bc = X509_get_ext_d2i(
			x, NID_basic_constraints, NULL, NULL);
		if (bc) {
			tp_rec_bool(r, F_BC_CA, bc->ca != 0);
			if (bc->pathlen) {
				long pl = ASN1_INTEGER_get(bc->pathlen);
				if (pl >= 0)
					tp_rec_uint(r, F_BC_PATH_LEN,
						    (uint64_t)pl);
			}
			BASIC_CONSTRAINTS_free(bc);
		}
		tp_rec_bool(r, F_HOST_CERT, host_cert);
		tp_rec_bool(r, F_CLIENT_CERT, client_cert);
		tp_rec_end(r);
	}
	/* The server's own certificate is TLS's share of the passive
	 * inventory (Zeek's known-certs.zeek). */
	if (host_cert && !client_cert && ctx->cert)
		ctx->cert(ctx, seen->fp, subject, issuer, serial);
	if (names) {
		seen->subject = tp_strdup(subject ? subject : "");
		seen->issuer = tp_strdup(issuer ? issuer : "");
		if (!seen->subject || !seen->issuer) {
			tp_strfree(seen->subject);
			tp_strfree(seen->issuer);
			seen->subject = seen->issuer = NULL;
			rc = -ENOMEM;
		}
	}
	if (sni && sni[0])
		seen->sni_match =
			X509_check_host(x, sni, strlen(sni), 0, NULL) == 1;
out:
	BIO_free(b);
	if (!cache)
		X509_free(x);
	return rc;
}
