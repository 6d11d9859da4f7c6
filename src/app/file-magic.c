/* MIME types from a file's first bytes: a table of signatures in the
 * manner of Zeek's base/frameworks/files/magic/ signature files
 * (and Zeek's type names), for app.file_mime = signatures.
 *
 * Debian's libmagic (app.file_mime = libmagic) knows far more types but
 * costs about 600 us a file on this machine (5.44 compiles the regular
 * expressions of its database at every call): at one body every few
 * kilobytes, that alone is more than a core.  The table costs a few
 * hundred nanoseconds.  The first match wins: binary formats by their
 * magic bytes, then markup and JSON after leading blank space, then
 * Zeek's plain text rule (ten printable or space characters). */
#include "app/file-magic.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

struct sig {
	const char *mime;
	const char *magic;       /* bytes, compared exactly */
	unsigned char len;
	unsigned short off;      /* at this offset */
};

#define SIG(m, b, o) {m, b, sizeof(b) - 1, o}

static const struct sig binary[] = {
	SIG("application/x-dosexec", "MZ", 0),
	SIG("application/x-executable", "\x7f" "ELF", 0),
	SIG("application/x-mach-o-executable", "\xcf\xfa\xed\xfe", 0),
	SIG("application/x-java-applet", "\xca\xfe\xba\xbe", 0),
	SIG("application/pdf", "%PDF-", 0),
	SIG("application/zip", "PK\x03\x04", 0),
	SIG("application/x-gzip", "\x1f\x8b", 0),
	SIG("application/x-bzip2", "BZh", 0),
	SIG("application/x-xz", "\xfd" "7zXZ\x00", 0),
	SIG("application/x-7z-compressed", "7z\xbc\xaf\x27\x1c", 0),
	SIG("application/x-rar", "Rar!\x1a\x07", 0),
	SIG("application/vnd.ms-cab-compressed", "MSCF\x00\x00\x00\x00", 0),
	SIG("application/x-ole-storage", "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0),
	SIG("application/x-shockwave-flash", "FWS", 0),
	SIG("application/x-shockwave-flash", "CWS", 0),
	SIG("application/x-shockwave-flash", "ZWS", 0),
	SIG("application/x-tar", "ustar", 257),
	SIG("application/ogg", "OggS", 0),
	SIG("application/font-woff", "wOFF", 0),
	SIG("application/font-woff", "wOF2", 0),
	SIG("application/x-x509-ca-cert", "-----BEGIN CERTIFICATE", 0),
	SIG("image/png", "\x89PNG\r\n\x1a\n", 0),
	SIG("image/jpeg", "\xff\xd8\xff", 0),
	SIG("image/gif", "GIF87a", 0),
	SIG("image/gif", "GIF89a", 0),
	SIG("image/bmp", "BM", 0),
	SIG("image/x-icon", "\x00\x00\x01\x00", 0),
	SIG("image/tiff", "II*\x00", 0),
	SIG("image/tiff", "MM\x00*", 0),
	SIG("image/webp", "WEBP", 8),
	SIG("video/mp4", "ftyp", 4),
	SIG("video/webm", "\x1a\x45\xdf\xa3", 0),
	SIG("audio/mpeg", "ID3", 0),
	SIG("audio/x-wav", "WAVE", 8),
};

/* Markup after blank space, any case. */
static const struct sig text[] = {
	SIG("application/xml", "<?xml", 0),
	SIG("text/html", "<!doctype html", 0),
	SIG("text/html", "<html", 0),
	SIG("text/html", "<head", 0),
	SIG("text/html", "<title", 0),
	SIG("text/html", "<body", 0),
	SIG("text/html", "<script", 0),
	SIG("text/html", "<iframe", 0),
	SIG("text/html", "<!--", 0),
	SIG("image/svg+xml", "<svg", 0),
	SIG("application/x-sh", "#!/bin/sh", 0),
	SIG("application/x-sh", "#!/bin/bash", 0),
};

static bool is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool is_text(unsigned char c)
{
	return (c >= 0x20 && c < 0x7f) || is_space(c) || c == '\f' ||
	       c == '\v';
}

const char *tp_file_magic(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < sizeof(binary) / sizeof(binary[0]); i++) {
		const struct sig *s = &binary[i];
		if (n >= (size_t)s->off + s->len &&
		    memcmp(b + s->off, s->magic, s->len) == 0)
			return s->mime;
	}
	size_t p = 0;
	if (n >= 3 && memcmp(b, "\xef\xbb\xbf", 3) == 0)
		p = 3;                  /* a UTF-8 byte order mark */
	while (p < n && is_space(b[p]))
		p++;
	for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
		const struct sig *s = &text[i];
		if (n - p >= s->len &&
		    strncasecmp((const char *)b + p, s->magic, s->len) == 0)
			return s->mime;
	}
	/* Zeek's file-json: an object's first key or an array's first
	 * value. */
	if (p < n && (b[p] == '{' || b[p] == '[')) {
		size_t q = p + 1;
		while (q < n && is_space(b[q]))
			q++;
		if (q < n && (b[q] == '"' || (b[p] == '[' &&
					      (b[q] == '{' || b[q] == '[' ||
					       (b[q] >= '0' && b[q] <= '9')))))
			return "text/json";
	}
	/* Zeek's file-plaintext: ten printable or space characters. */
	if (n < 10)
		return NULL;
	for (size_t i = 0; i < 10; i++)
		if (!is_text(b[i]))
			return NULL;
	return "text/plain";
}
