/* Files in application streams → files.log (Zeek's files framework).
 *
 *   body bytes as sent ─► Content-Encoding ─► bof buffer ─► signatures ─► mime_type
 *   (in order, gaps)      (gzip / deflate,    (first 4 KiB)
 *                          zlib, bounded)  └─► MD5 / SHA1 / SHA256 (EVP)
 *                                          └─► seen_bytes
 *
 * A file is one message body.  Its fuid is "F" + base62 of a hash of the
 * flow (key, first packet time), the source, the direction and the
 * parser's sequence number, so the same capture gives the same fuids
 * whatever the number of workers (as conn uids).
 *
 * As Zeek: the MIME type is sniffed once the first bof_buffer_size bytes
 * (4 KiB) are in, or at the first gap, or at the end (app/file-magic.c's
 * signatures, or libmagic: app.file_mime); a gap stops the hashes (Zeek's
 * hash analyzers drop out at an undelivered range) and is counted in
 * missing_bytes.  libmagic's "data" verdict
 * (application/octet-stream) is left unset, as Zeek's signatures find no
 * match there.  Decoding stops at app.file_decompress_max decoded bytes
 * (weird file_decompress_limit) or at a stream zlib refuses (weird
 * inflate_failed); the hashes of such a file are not logged, since they
 * would not be those of the whole file. */
#include "app/files.h"

#include <magic.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "app/app.h"
#include "app/file-magic.h"
#include "output/logs.h"
#include "output/writer.h"
#include "util/log.h"
#include "util/mem.h"

#define BOF_SIZE 4096            /* Zeek's default_file_bof_buffer_size */

enum { H_MD5, H_SHA1, H_SHA256, NHASH };
static const char *const hash_names[NHASH] = {"md5", "sha1", "sha256"};
static const char *const analyzer_names[NHASH] = {"MD5", "SHA1", "SHA256"};

enum {
	F_TS, F_FUID, F_UID, F_ORIG_H, F_ORIG_P, F_RESP_H, F_RESP_P, F_SOURCE,
	F_DEPTH, F_ANALYZERS, F_MIME_TYPE, F_FILENAME, F_DURATION,
	F_LOCAL_ORIG, F_IS_ORIG, F_SEEN_BYTES, F_TOTAL_BYTES,
	F_MISSING_BYTES, F_OVERFLOW_BYTES, F_TIMEDOUT, F_PARENT_FUID, F_MD5,
	F_SHA1, F_SHA256,
};

static const struct tp_field files_fields[] = {
	[F_TS] = {"ts", TP_FT_TIME},
	[F_FUID] = {"fuid", TP_FT_STRING},
	[F_UID] = {"uid", TP_FT_STRING},
	[F_ORIG_H] = {"id.orig_h", TP_FT_ADDR},
	[F_ORIG_P] = {"id.orig_p", TP_FT_PORT},
	[F_RESP_H] = {"id.resp_h", TP_FT_ADDR},
	[F_RESP_P] = {"id.resp_p", TP_FT_PORT},
	[F_SOURCE] = {"source", TP_FT_STRING},
	[F_DEPTH] = {"depth", TP_FT_COUNT},
	[F_ANALYZERS] = {"analyzers", TP_FT_SET_STRING},
	[F_MIME_TYPE] = {"mime_type", TP_FT_STRING},
	[F_FILENAME] = {"filename", TP_FT_STRING},
	[F_DURATION] = {"duration", TP_FT_INTERVAL},
	[F_LOCAL_ORIG] = {"local_orig", TP_FT_BOOL},
	[F_IS_ORIG] = {"is_orig", TP_FT_BOOL},
	[F_SEEN_BYTES] = {"seen_bytes", TP_FT_COUNT},
	[F_TOTAL_BYTES] = {"total_bytes", TP_FT_COUNT},
	[F_MISSING_BYTES] = {"missing_bytes", TP_FT_COUNT},
	[F_OVERFLOW_BYTES] = {"overflow_bytes", TP_FT_COUNT},
	[F_TIMEDOUT] = {"timedout", TP_FT_BOOL},
	[F_PARENT_FUID] = {"parent_fuid", TP_FT_STRING},
	[F_MD5] = {"md5", TP_FT_STRING},
	[F_SHA1] = {"sha1", TP_FT_STRING},
	[F_SHA256] = {"sha256", TP_FT_STRING},
};

const struct tp_log_schema tp_files_schema = {
	.path = "files",
	.fields = files_fields,
	.nfields = sizeof(files_fields) / sizeof(files_fields[0]),
};

struct tp_files {
	uint32_t mime;               /* enum tp_file_mime */
	magic_t magic;               /* TP_FILE_MIME_LIBMAGIC */
	EVP_MD *md[NHASH];           /* NULL: that hash is off */
	uint64_t decompress_max;     /* 0: bodies are not decoded */
	struct tp_files_stats st;
};

enum { DEC_OFF = 0, DEC_START, DEC_ON, DEC_DONE, DEC_STOPPED };

struct tp_file {
	char fuid[TP_FILE_FUID_MAX];
	const char *source;
	char *filename;
	uint64_t first_ns, last_ns;
	uint64_t seen, missing, total, decoded_in;
	uint32_t depth;
	bool is_orig, has_total, hashing, sniffed;
	uint8_t dec;                 /* DEC_* */
	uint8_t enc;                 /* enum tp_file_encoding */
	z_stream *z;
	EVP_MD_CTX *md[NHASH];
	char mime[TP_FILE_MIME_MAX];
	uint32_t bof_len;
	uint8_t bof[BOF_SIZE];
};

struct tp_files *tp_files_new(const struct tp_config *cfg)
{
	struct tp_files *fs = tp_calloc(1, sizeof(*fs));
	if (!fs)
		return NULL;
	fs->decompress_max = cfg->app_file_decompress_max;
	/* cfg's text is canonical: names from hash_names, comma-separated. */
	for (int h = 0; h < NHASH; h++) {
		const char *p = cfg->app_file_hashes;
		size_t n = strlen(hash_names[h]);
		for (; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
			if (strncmp(p, hash_names[h], n) == 0 &&
			    (p[n] == ',' || p[n] == 0))
				break;
		if (p && *p) {
			fs->md[h] = EVP_MD_fetch(NULL, analyzer_names[h], NULL);
			if (!fs->md[h])
				tp_log_warn("files: OpenSSL has no %s: files.log "
					    "goes without it", analyzer_names[h]);
		}
	}
	fs->mime = cfg->app_file_mime;
	if (fs->mime != TP_FILE_MIME_LIBMAGIC)
		return fs;
	/* MIME types only: no compressed-file or encoding detail. */
	fs->magic = magic_open(MAGIC_MIME_TYPE | MAGIC_ERROR);
	if (!fs->magic || magic_load(fs->magic, NULL) != 0) {
		tp_log_warn("files: libmagic cannot load its database (%s): "
			    "mime_type from tapir's signatures instead",
			    fs->magic ? magic_error(fs->magic) : "no memory");
		if (fs->magic)
			magic_close(fs->magic);
		fs->magic = NULL;
		fs->mime = TP_FILE_MIME_SIGNATURES;
	}
	return fs;
}

void tp_files_free(struct tp_files *fs)
{
	if (!fs)
		return;
	if (fs->magic)
		magic_close(fs->magic);
	for (int h = 0; h < NHASH; h++)
		EVP_MD_free(fs->md[h]);
	tp_free(fs, sizeof(*fs));
}

void tp_files_stats(const struct tp_files *fs, struct tp_files_stats *st)
{
	if (fs)
		*st = fs->st;
	else
		memset(st, 0, sizeof(*st));
}

struct tp_file *tp_file_open(struct tp_files *fs, struct tp_app_ctx *ctx,
			     const struct tp_file_desc *d)
{
	struct tp_file *f = tp_malloc(sizeof(*f));
	if (!f)
		return NULL;
	memset(f, 0, offsetof(struct tp_file, bof));
	struct {
		struct tp_flow_key k;
		uint64_t ts;
		uint32_t seq;
		uint8_t is_orig;
		char source[7];
	} seed;
	memset(&seed, 0, sizeof(seed));
	seed.k = ctx->flow->key;
	seed.ts = ctx->flow->first_ns;
	seed.seq = d->seq;
	seed.is_orig = d->is_orig;
	snprintf(seed.source, sizeof(seed.source), "%s", d->source);
	tp_id_str('F', &seed, sizeof(seed), f->fuid);
	f->source = d->source;
	f->depth = d->depth;
	f->is_orig = d->is_orig;
	f->total = d->total;
	f->has_total = d->has_total;
	f->first_ns = f->last_ns = ctx->ts_ns;
	f->enc = (uint8_t)d->encoding;
	if (d->filename && d->filename[0])
		f->filename = tp_strdup(d->filename);
	if (d->encoding != TP_FILE_IDENTITY && fs->decompress_max)
		f->dec = DEC_START;
	f->hashing = true;
	for (int h = 0; h < NHASH; h++) {
		if (!fs->md[h])
			continue;
		f->md[h] = EVP_MD_CTX_new();
		if (!f->md[h] || !EVP_DigestInit_ex(f->md[h], fs->md[h], NULL))
			f->hashing = false;
	}
	return f;
}

const char *tp_file_fuid(const struct tp_file *f)
{
	return f->fuid;
}

static void sniff(struct tp_files *fs, struct tp_file *f)
{
	f->sniffed = true;
	if (fs->mime == TP_FILE_MIME_OFF || !f->bof_len)
		return;
	const char *m = fs->magic ? magic_buffer(fs->magic, f->bof, f->bof_len)
				  : tp_file_magic(f->bof, f->bof_len);
	if (!m || strcmp(m, "application/octet-stream") == 0)
		return;
	snprintf(f->mime, sizeof(f->mime), "%s", m);
	fs->st.sniffed++;
}

/* Decoded bytes of the file. */
static void take(struct tp_files *fs, struct tp_file *f, const uint8_t *b,
		 size_t n)
{
	f->seen += n;
	fs->st.bytes += n;
	if (f->hashing)
		for (int h = 0; h < NHASH; h++)
			if (f->md[h])
				EVP_DigestUpdate(f->md[h], b, n);
	if (!f->sniffed) {
		size_t k = BOF_SIZE - f->bof_len;
		if (k > n)
			k = n;
		memcpy(f->bof + f->bof_len, b, k);
		f->bof_len += (uint32_t)k;
		if (f->bof_len == BOF_SIZE)
			sniff(fs, f);
	}
}

static void dec_stop(struct tp_file *f)
{
	if (f->z) {
		inflateEnd(f->z);
		tp_free(f->z, sizeof(*f->z));
		f->z = NULL;
	}
	f->dec = DEC_STOPPED;
}

/* zlib's stream for the first bytes b[0..n) of an encoded body.  A
 * "deflate" body is zlib-wrapped (RFC 9110) but often raw deflate (RFC
 * 1951): told apart by the zlib header check. */
static bool dec_start(struct tp_file *f, const uint8_t *b, size_t n)
{
	int wbits = 15 + 16;
	if (f->enc == TP_FILE_DEFLATE) {
		bool zhdr = (b[0] & 0x0f) == 8 && (b[0] >> 4) <= 7 &&
			    (n < 2 || ((b[0] << 8) | b[1]) % 31 == 0);
		wbits = zhdr ? 15 : -15;
	}
	f->z = tp_calloc(1, sizeof(*f->z));
	if (!f->z)
		return false;
	if (inflateInit2(f->z, wbits) != Z_OK) {
		tp_free(f->z, sizeof(*f->z));
		f->z = NULL;
		return false;
	}
	f->dec = DEC_ON;
	return true;
}

static void decode(struct tp_files *fs, struct tp_file *f,
		   struct tp_app_ctx *ctx, const uint8_t *b, size_t n)
{
	if (f->dec == DEC_START) {
		fs->st.decoded++;
		if (!dec_start(f, b, n)) {
			f->hashing = false;
			dec_stop(f);
			return;
		}
	}
	if (f->dec != DEC_ON)
		return;          /* done (trailing bytes ignored) or stopped */
	z_stream *z = f->z;
	uint8_t out[16384];
	z->next_in = (uint8_t *)b;
	z->avail_in = (uInt)n;
	do {
		z->next_out = out;
		z->avail_out = sizeof(out);
		int rc = inflate(z, Z_NO_FLUSH);
		size_t got = sizeof(out) - z->avail_out;
		uint64_t room = fs->decompress_max - f->seen;
		if (got > room) {
			take(fs, f, out, (size_t)room);
			fs->st.decode_capped++;
			ctx->weird(ctx, "file_decompress_limit", f->fuid);
			f->hashing = false;
			dec_stop(f);
			return;
		}
		take(fs, f, out, got);
		if (rc == Z_STREAM_END) {
			/* gzip members may follow one another. */
			if (z->avail_in && f->enc == TP_FILE_GZIP &&
			    z->next_in[0] == 0x1f) {
				inflateReset(z);
				continue;
			}
			inflateEnd(z);
			tp_free(z, sizeof(*z));
			f->z = NULL;
			f->dec = DEC_DONE;
			return;
		}
		if (rc == Z_BUF_ERROR)
			return;      /* no progress: more input is needed */
		if (rc != Z_OK) {
			fs->st.decode_errors++;
			ctx->weird(ctx, "inflate_failed", z->msg ? z->msg : NULL);
			f->hashing = false;
			dec_stop(f);
			return;
		}
	} while (z->avail_in || z->avail_out == 0);
}

void tp_file_data(struct tp_files *fs, struct tp_file *f,
		  struct tp_app_ctx *ctx, const uint8_t *b, size_t n)
{
	if (!n)
		return;
	f->last_ns = ctx->ts_ns;
	if (f->dec == DEC_OFF) {
		take(fs, f, b, n);
		return;
	}
	f->decoded_in += n;
	decode(fs, f, ctx, b, n);
}

void tp_file_gap(struct tp_files *fs, struct tp_file *f,
		 struct tp_app_ctx *ctx, uint64_t n)
{
	(void)ctx;
	if (!n)
		return;
	f->missing += n;
	fs->st.missing_bytes += n;
	f->hashing = false;
	if (f->dec == DEC_ON || f->dec == DEC_START)
		dec_stop(f);
	if (!f->sniffed)
		sniff(fs, f);
}

static void file_free(struct tp_file *f)
{
	if (f->z) {
		inflateEnd(f->z);
		tp_free(f->z, sizeof(*f->z));
	}
	for (int h = 0; h < NHASH; h++)
		EVP_MD_CTX_free(f->md[h]);
	if (f->filename)
		tp_strfree(f->filename);
	tp_free(f, sizeof(*f));
}

void tp_file_discard(struct tp_files *fs, struct tp_file *f)
{
	(void)fs;
	if (f)
		file_free(f);
}

static void write_rec(struct tp_files *fs, struct tp_file *f,
		      struct tp_app_ctx *ctx)
{
	struct tp_rec *r = tp_app_rec(ctx->logs, &tp_files_schema);
	if (!r)
		return;
	const char *an[NHASH];
	size_t nan = 0;
	for (int h = 0; h < NHASH; h++)
		if (f->md[h])
			an[nan++] = analyzer_names[h];
	tp_rec_begin(r);
	tp_rec_time(r, F_TS, f->first_ns);
	tp_rec_str(r, F_FUID, f->fuid);
	tp_rec_flow_id(r, F_UID, ctx->flow);
	tp_rec_str(r, F_SOURCE, f->source);
	tp_rec_uint(r, F_DEPTH, f->depth);
	tp_rec_strset(r, F_ANALYZERS, an, nan);
	if (f->mime[0])
		tp_rec_str(r, F_MIME_TYPE, f->mime);
	if (f->filename)
		tp_rec_str(r, F_FILENAME, f->filename);
	tp_rec_interval(r, F_DURATION, f->last_ns - f->first_ns);
	tp_rec_bool(r, F_IS_ORIG, f->is_orig);
	tp_rec_uint(r, F_SEEN_BYTES, f->seen);
	if (f->has_total)
		tp_rec_uint(r, F_TOTAL_BYTES, f->total);
	tp_rec_uint(r, F_MISSING_BYTES, f->missing);
	tp_rec_uint(r, F_OVERFLOW_BYTES, 0);
	tp_rec_bool(r, F_TIMEDOUT, false);
	if (f->hashing && f->seen) {
		for (int h = 0; h < NHASH; h++) {
			if (!f->md[h])
				continue;
			uint8_t dg[EVP_MAX_MD_SIZE];
			unsigned dn = 0;
			char hex[2 * EVP_MAX_MD_SIZE + 1];
			if (!EVP_DigestFinal_ex(f->md[h], dg, &dn))
				continue;
			for (unsigned i = 0; i < dn; i++)
				snprintf(hex + 2 * i, 3, "%02x", dg[i]);
			hex[2 * dn] = 0;
			tp_rec_str(r, F_MD5 + (unsigned)h, hex);
		}
	}
	tp_rec_end(r);
	fs->st.files++;
}

void tp_file_close(struct tp_files *fs, struct tp_file *f,
		   struct tp_app_ctx *ctx, char *mime)
{
	if (!f->sniffed)
		sniff(fs, f);
	write_rec(fs, f, ctx);
	if (mime)
		memcpy(mime, f->mime, TP_FILE_MIME_MAX);
	file_free(f);
}
