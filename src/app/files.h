/* Files seen in application streams → files.log (Zeek's files framework,
 * base/frameworks/files/main.zeek, with the hashes of
 * policy/frameworks/files/hash-all-files.zeek).
 *
 * A protocol parser (HTTP today; SMTP or FTP later) opens a file for each
 * body it finds, hands it the body's bytes in order and the gaps between
 * them, and closes it when the body ends.  The file decodes a
 * Content-Encoding (gzip, deflate: zlib, bounded), sniffs the MIME type
 * from its first bytes (libmagic), hashes it (OpenSSL EVP) and writes one
 * files.log record when closed.  See docs/internals/app.md. */
#ifndef TP_APP_FILES_H
#define TP_APP_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/config.h"

struct tp_app_ctx;
struct tp_files;            /* one worker's: libmagic, digests, counters */
struct tp_file;             /* one file being seen */

#define TP_FILE_MIME_MAX 96     /* longest MIME type kept, with the NUL */
#define TP_FILE_FUID_MAX 24     /* "F" + base62, with the NUL */

enum tp_file_encoding {
	TP_FILE_IDENTITY = 0,
	TP_FILE_GZIP,
	TP_FILE_DEFLATE,            /* zlib-wrapped or raw, as sent */
};

/* What the protocol knows of a file when it opens it. */
struct tp_file_desc {
	const char *source;         /* "HTTP": files.log's source */
	bool is_orig;               /* sent by the originator */
	uint32_t seq;               /* unique per flow and source: the fuid */
	uint32_t depth;             /* files.log's depth (0 for HTTP) */
	const char *filename;       /* or NULL */
	enum tp_file_encoding encoding;
	uint64_t total;             /* size announced, 0 when unknown */
	bool has_total;
};

/* Counters of a worker's files, summed for stats.log. */
struct tp_files_stats {
	uint64_t files;             /* files.log records */
	uint64_t bytes;             /* decoded bytes seen */
	uint64_t missing_bytes;     /* gaps */
	uint64_t decoded;           /* files with a Content-Encoding decoded */
	uint64_t decode_capped;     /* stopped at app.file_decompress_max */
	uint64_t decode_errors;     /* not a valid gzip/deflate stream */
	uint64_t sniffed;           /* MIME types found */
};

/* A worker's files context from cfg (app.file_hashes,
 * app.file_decompress_max); libmagic's database is loaded once here.
 * NULL on ENOMEM. */
struct tp_files *tp_files_new(const struct tp_config *cfg);
void tp_files_free(struct tp_files *fs);
void tp_files_stats(const struct tp_files *fs, struct tp_files_stats *st);

/* Open a file of the flow in ctx; its fuid is fixed by the flow and d->seq.
 * NULL on ENOMEM (counted nowhere else: the body is then not a file). */
struct tp_file *tp_file_open(struct tp_files *fs, struct tp_app_ctx *ctx,
			     const struct tp_file_desc *d);
/* The file's fuid text ("F" + base62). */
const char *tp_file_fuid(const struct tp_file *f);
/* Bytes b[0..n) of the body as sent (still encoded), in order. */
void tp_file_data(struct tp_files *fs, struct tp_file *f,
		  struct tp_app_ctx *ctx, const uint8_t *b, size_t n);
/* n bytes of the body will never come: missing_bytes; the hashes and any
 * decoding stop there. */
void tp_file_gap(struct tp_files *fs, struct tp_file *f,
		 struct tp_app_ctx *ctx, uint64_t n);
/* The body ended: sniff what is left, write the files.log record, copy the
 * MIME type ("" when none was found) to mime[TP_FILE_MIME_MAX] if mime is
 * not NULL, and free f. */
void tp_file_close(struct tp_files *fs, struct tp_file *f,
		   struct tp_app_ctx *ctx, char *mime);
/* Free f without a record (the parser's state is torn down). */
void tp_file_discard(struct tp_files *fs, struct tp_file *f);

extern const struct tp_log_schema tp_files_schema;

#endif
