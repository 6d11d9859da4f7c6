/* Client and server fingerprints of TLS and SSH handshakes, and the
 * digests they are made of (OpenSSL's libcrypto):
 *
 *   JA3   MD5 of "version,ciphers,extensions,groups,point_formats" of a
 *         ClientHello, decimal values joined by '-', GREASE removed
 *         (https://github.com/salesforce/ja3)
 *   JA3S  MD5 of "version,cipher,extensions" of a ServerHello
 *   JA4   FoxIO's "t13d1516h2_8daaf6152771_b186095e22b6": protocol,
 *         version, SNI, counts, ALPN; truncated SHA-256 of the sorted
 *         ciphers; of the sorted extensions and the signature algorithms
 *         (https://github.com/FoxIO-LLC/ja4, technical details)
 *   HASSH MD5 of "kex;ciphers;macs;compression" of an SSH KEXINIT
 *         (https://github.com/salesforce/hassh)
 *
 * The TLS functions read a ClientHello or ServerHello body as it is on
 * the wire; they never read past the lengths given. */
#ifndef TP_APP_FINGERPRINT_H
#define TP_APP_FINGERPRINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TP_FP_MD5_HEX 33      /* 32 hex digits and NUL */
#define TP_FP_SHA256_HEX 65
#define TP_FP_MD5_COLONS 48   /* "aa:bb:...": 16 pairs, 15 colons, NUL */
#define TP_FP_JA4_LEN 37      /* "t13d1516h2_" + 12 + "_" + 12, NUL */

/* TLS extension types read by the fingerprints and the TLS parser. */
enum tp_tls_ext {
	TP_TLS_EXT_SNI = 0x0000,
	TP_TLS_EXT_GROUPS = 0x000a,
	TP_TLS_EXT_POINT_FORMATS = 0x000b,
	TP_TLS_EXT_SIG_ALGS = 0x000d,
	TP_TLS_EXT_ALPN = 0x0010,
	TP_TLS_EXT_SESSION_TICKET = 0x0023,
	TP_TLS_EXT_PRE_SHARED_KEY = 0x0029,
	TP_TLS_EXT_SUPPORTED_VERSIONS = 0x002b,
	TP_TLS_EXT_KEY_SHARE = 0x0033,
};

/* Lower-case hex digests of p[0..n). */
void tp_fp_md5_hex(const void *p, size_t n, char out[TP_FP_MD5_HEX]);
void tp_fp_sha256_hex(const void *p, size_t n, char out[TP_FP_SHA256_HEX]);
/* MD5 as colon-separated pairs (Zeek's ssh.log host_key). */
void tp_fp_md5_colons(const void *p, size_t n, char out[TP_FP_MD5_COLONS]);

/* RFC 8701 GREASE values (0x0a0a, 0x1a1a, ... 0xfafa). */
static inline bool tp_fp_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

/* The parts of a hello that fingerprints read: pointers into the message
 * body.  ciphers holds 2-byte suites (ClientHello) or the one chosen
 * (ServerHello); exts is the extension block after its length (type,
 * length, data, ...), empty when the hello has none. */
struct tp_fp_hello {
	uint16_t version;            /* legacy_version of the hello */
	const uint8_t *ciphers;
	size_t ciphers_len;
	const uint8_t *exts;
	size_t exts_len;
};

/* Walks an extension block: each call gives the next extension's type
 * and data; false at the end or when an extension overruns the block
 * (then *bad is set, if given). */
struct tp_fp_ext_iter {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};
void tp_fp_ext_begin(struct tp_fp_ext_iter *it, const uint8_t *p, size_t n);
bool tp_fp_ext_next(struct tp_fp_ext_iter *it, uint16_t *type,
		    const uint8_t **data, size_t *dlen);
/* The data of the first extension of this type, or NULL. */
const uint8_t *tp_fp_ext_find(const uint8_t *p, size_t n, uint16_t type,
			      size_t *dlen);

/* JA3 and JA3S hashes of a ClientHello and a ServerHello. */
void tp_fp_ja3(const struct tp_fp_hello *h, char out[TP_FP_MD5_HEX]);
void tp_fp_ja3s(const struct tp_fp_hello *h, char out[TP_FP_MD5_HEX]);
/* JA4 of a ClientHello; proto is 't' (TCP), 'q' (QUIC) or 'd' (DTLS).
 * Returns 0, or -ENOMEM when its scratch space cannot be had (out is then
 * empty). */
int tp_fp_ja4(const struct tp_fp_hello *h, char proto,
	      char out[TP_FP_JA4_LEN]);

/* HASSH of the four name-lists of a KEXINIT (each as on the wire,
 * comma-separated, not NUL-terminated): MD5 of "kex;enc;mac;cmp" into
 * md5.  Returns that string (hasshAlgorithms; the caller frees it with
 * tp_strfree()), or NULL when it cannot be allocated (md5 is then empty). */
struct tp_fp_namelist {
	const char *s;
	size_t n;
};
char *tp_fp_hassh(const struct tp_fp_namelist *kex,
		  const struct tp_fp_namelist *enc,
		  const struct tp_fp_namelist *mac,
		  const struct tp_fp_namelist *cmp, char md5[TP_FP_MD5_HEX]);

#endif
