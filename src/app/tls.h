/* TLS (tls.c) → ssl.log, and the certificates of its handshake (x509.c,
 * with OpenSSL) → x509.log. */
#ifndef TP_APP_TLS_H
#define TP_APP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "app/fingerprint.h"
#include "output/writer.h"

extern const struct tp_app_ops tp_app_tls;
extern const struct tp_log_schema tp_ssl_schema;
extern const struct tp_log_schema tp_x509_schema;

/* What ssl.log keeps of one certificate. */
struct tp_x509_seen {
	char fp[TP_FP_SHA256_HEX];   /* SHA-256 of the DER, hex */
	char *subject, *issuer;      /* RFC 2253 forms, when asked; tp_strfree */
	int8_t sni_match;            /* -1 not checked, 0 no, 1 yes */
};

/* Parse one DER certificate (der[0..n)) with OpenSSL, write its x509.log
 * record at ctx->ts_ns (host_cert: first of the chain; client_cert: sent
 * by the client) and fill *seen.  With names, seen->subject and issuer
 * are allocated (the caller frees them); with sni (NUL-terminated, may be
 * NULL), seen->sni_match says whether the certificate covers that name.
 * Returns 0, -EINVAL when the bytes are no certificate (nothing written),
 * or -ENOMEM. */
int tp_x509_log(struct tp_app_ctx *ctx, const uint8_t *der, size_t n,
		bool host_cert, bool client_cert, bool names, const char *sni,
		struct tp_x509_seen *seen);

#endif
