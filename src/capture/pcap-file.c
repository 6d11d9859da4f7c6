/* Capture files: pcap and pcapng, plain or gzip-compressed (detected by
 * magic, not by name), from a path or "-" for stdin.
 *
 * A classic pcap in a regular file is read in 4 MiB blocks and walked in
 * place: no library call per packet.  Blocks, not a mapping: reading the
 * frames through a mapping of the page cache made `tapir read` 1.5 times
 * slower on the benchmark machine than the kernel's copy into a reused
 * buffer (bench/RESULTS.md), and a mapping counts in the resident set.
 * Its record header:
 *
 *  +---------------+---------------+---------------+---------------+
 *  |                 timestamp seconds                             |
 *  |          timestamp microseconds (nanoseconds: a1b23c4d)       |
 *  |                 captured length                               |
 *  |                 original length                               |
 *  +---------------+---------------+---------------+---------------+
 *
 * Everything else (pcapng, compressed, pipes) goes through libpcap over a
 * cookie stream that counts bytes for progress. */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "capture/source.h"
#include "util/mem.h"

/* Largest record accepted from a classic pcap file (libpcap allows
 * 256 KiB for most link types; BIG TCP super-packets need more). */
#define MAX_RECORD (16u << 20)
/* Read size of a classic pcap file. */
#define BLOCK (4u << 20)

struct pf {
	/* classic pcap read in blocks: two buffers, so that the frames of
	 * one block stay valid while the next is read into the other */
	bool blocks;
	int fd;
	uint8_t *buf[2];
	size_t buf_size[2];
	unsigned cur;
	size_t pos, len;  /* unread bytes of buf[cur]: [pos, len) */
	uint64_t off;     /* file offset of buf[cur] + pos */
	bool swapped;
	/* libpcap */
	pcap_t *pcap;
	FILE *raw;        /* the file as opened */
	z_stream *z;      /* when gzip-compressed */
	unsigned char *zin;
	FILE *stream;     /* what libpcap reads */
	struct tp_source *src;
	int linktype;
	int nsec;
};

#define ZIN_SIZE (1u << 17)

/* gzip through inflate over the stdio stream, so that pipes work and the
 * peeked magic bytes are not lost; concatenated members are read on. */
static ssize_t gz_read(void *cookie, char *buf, size_t n)
{
	struct pf *pf = cookie;
	z_stream *z = pf->z;

	z->next_out = (unsigned char *)buf;
	z->avail_out = (uInt)(n > (1u << 30) ? 1u << 30 : n);
	while (z->avail_out > 0) {
		if (z->avail_in == 0) {
			size_t r = fread(pf->zin, 1, ZIN_SIZE, pf->raw);
			if (r == 0)
				break;
			pf->src->bytes_read += r;
			z->next_in = pf->zin;
			z->avail_in = (uInt)r;
		}
		int rc = inflate(z, Z_NO_FLUSH);
		if (rc == Z_STREAM_END) {
			if (inflateReset(z) != Z_OK)
				break;
		} else if (rc != Z_OK && rc != Z_BUF_ERROR) {
			errno = EIO;
			return -1;
		} else if (rc == Z_BUF_ERROR && z->avail_in == 0 &&
			   feof(pf->raw)) {
			break;
		}
	}
	return (ssize_t)((char *)z->next_out - buf);
}

static ssize_t plain_read(void *cookie, char *buf, size_t n)
{
	struct pf *pf = cookie;
	size_t r = fread(buf, 1, n, pf->raw);
	if (r == 0 && ferror(pf->raw)) {
		errno = EIO;
		return -1;
	}
	pf->src->bytes_read += r;
	return (ssize_t)r;
}

static int plain_close(void *cookie)
{
	(void)cookie;
	return 0;
}

static uint32_t rd32(const struct pf *pf, const uint8_t *q)
{
	uint32_t v;
	memcpy(&v, q, 4);
	return pf->swapped ? __builtin_bswap32(v) : v;
}

/* Take fd when it is a regular file holding a classic pcap; it is then
 * read in blocks and closed with the source. */
static bool try_blocks(struct pf *pf, int fd, struct tp_source *s)
{
	struct stat st;
	uint8_t hdr[24];
	uint32_t magic;

	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 24)
		return false;
	/* pread: the file offset stays at 0 for libpcap if this is not one. */
	if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr))
		return false;
	memcpy(&magic, hdr, 4);
	if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d) {
		pf->swapped = false;
	} else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1) {
		pf->swapped = true;
		magic = __builtin_bswap32(magic);
	} else {
		return false;
	}
	for (unsigned i = 0; i < 2; i++) {
		pf->buf[i] = tp_malloc(BLOCK);
		if (!pf->buf[i])
			return false; /* pf_close frees the other */
		pf->buf_size[i] = BLOCK;
	}
	if (lseek(fd, 24, SEEK_SET) != 24)
		return false;
	pf->blocks = true;
	pf->fd = fd;
	pf->off = 24;
	pf->nsec = magic == 0xa1b23c4d;
	/* LINKTYPE in the low 28 bits; the rest is FCS information. */
	int lt = (int)(rd32(pf, hdr + 20) & 0x0fffffff);
	pf->linktype = lt; /* the decode loop knows LINKTYPE_RAW and friends */
	posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	s->bytes_read = 24;
	return true;
}

/* Make at least need unread bytes present, short only at the end of the
 * file: the unread rest moves to the other buffer, which is then filled.
 * 0, or -errno of a failed read. */
static int fill(struct pf *pf, size_t need)
{
	unsigned nx = pf->cur ^ 1;
	size_t rest = pf->len - pf->pos;

	if (rest >= need)
		return 0;
	if (pf->buf_size[nx] < need) {
		size_t n = pf->buf_size[nx];
		while (n < need)
			n *= 2;
		uint8_t *b = tp_realloc(pf->buf[nx], pf->buf_size[nx], n);
		if (!b)
			return -ENOMEM;
		pf->buf[nx] = b;
		pf->buf_size[nx] = n;
	}
	memcpy(pf->buf[nx], pf->buf[pf->cur] + pf->pos, rest);
	pf->cur = nx;
	pf->pos = 0;
	pf->len = rest;
	while (pf->len < pf->buf_size[nx]) {
		ssize_t r = read(pf->fd, pf->buf[nx] + pf->len,
				 pf->buf_size[nx] - pf->len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		pf->len += (size_t)r;
		if (pf->len >= need && pf->len >= BLOCK / 2)
			break;
	}
	return 0;
}

static int block_next(struct tp_source *s, struct pf *pf, struct tp_pkt *p,
		      char *err, size_t errlen)
{
	int rc = fill(pf, 16);
	size_t left = pf->len - pf->pos;
	if (rc < 0) {
		snprintf(err, errlen, "%s: read error after %llu packets: %s",
			 s->spec, (unsigned long long)s->frames, strerror(-rc));
		return rc;
	}
	if (left == 0)
		return 0;
	if (left < 16) {
		snprintf(err, errlen,
			 "%s: corrupt capture after %llu packets: truncated "
			 "record header (%zu of 16 bytes)",
			 s->spec, (unsigned long long)s->frames, left);
		return -EINVAL;
	}
	const uint8_t *h = pf->buf[pf->cur] + pf->pos;
	uint32_t sec = rd32(pf, h), frac = rd32(pf, h + 4);
	uint32_t caplen = rd32(pf, h + 8), len = rd32(pf, h + 12);
	if (caplen <= MAX_RECORD && caplen > left - 16) {
		rc = fill(pf, 16 + (size_t)caplen);
		if (rc < 0) {
			snprintf(err, errlen,
				 "%s: read error after %llu packets: %s",
				 s->spec, (unsigned long long)s->frames,
				 strerror(-rc));
			return rc;
		}
		left = pf->len - pf->pos;
		h = pf->buf[pf->cur] + pf->pos;
	}
	if (caplen > MAX_RECORD || caplen > left - 16) {
		snprintf(err, errlen,
			 "%s: corrupt capture after %llu packets: record of "
			 "%u bytes with %zu left in the file",
			 s->spec, (unsigned long long)s->frames, caplen,
			 left - 16);
		return -EINVAL;
	}
	p->data = h + 16;
	p->caplen = caplen;
	p->wirelen = len < caplen ? caplen : len;
	p->ts_ns = (uint64_t)sec * 1000000000ull +
		   (pf->nsec ? (uint64_t)frac : (uint64_t)frac * 1000ull);
	p->linktype = (uint32_t)pf->linktype;
	pf->pos += 16 + (size_t)caplen;
	pf->off += 16 + (size_t)caplen;
	s->bytes_read = pf->off;
	s->frames++;
	return 1;
}

static int pf_open(struct tp_source *s, const char *spec, char *err,
		   size_t errlen)
{
	struct pf *pf = tp_calloc(1, sizeof(*pf));
	char perr[PCAP_ERRBUF_SIZE];
	unsigned char magic[2] = {0, 0};
	int fd;

	if (!pf)
		return -ENOMEM;
	pf->src = s;
	s->priv = pf;
	s->spec = spec;
	if (strcmp(spec, "-") == 0) {
		fd = dup(STDIN_FILENO);
	} else {
		fd = open(spec, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", spec,
			 strerror(errno));
		return -errno;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		s->bytes_total = (uint64_t)st.st_size;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		close(fd);
		snprintf(err, errlen, "%s is a directory, not a capture file",
			 spec);
		return -EISDIR;
	}
	if (try_blocks(pf, fd, s))
		return 0;
	pf->raw = fdopen(fd, "rb");
	if (!pf->raw) {
		close(fd);
		snprintf(err, errlen, "cannot open %s: %s", spec,
			 strerror(errno));
		return -errno;
	}
	/* Peek at the magic without losing it on a pipe. */
	int c0 = fgetc(pf->raw), c1 = c0 == EOF ? EOF : fgetc(pf->raw);
	if (c1 != EOF)
		ungetc(c1, pf->raw);
	if (c0 != EOF)
		ungetc(c0, pf->raw);
	magic[0] = (unsigned char)c0;
	magic[1] = (unsigned char)c1;
	if (c0 == EOF) {
		snprintf(err, errlen, "%s is empty, not a capture file", spec);
		return -EINVAL;
	}

	cookie_io_functions_t io = {.read = plain_read, .close = plain_close};
	if (magic[0] == 0x1f && magic[1] == 0x8b) {
		pf->z = tp_calloc(1, sizeof(*pf->z));
		pf->zin = tp_malloc(ZIN_SIZE);
		if (!pf->z || !pf->zin ||
		    inflateInit2(pf->z, 15 + 32) != Z_OK) {
			snprintf(err, errlen, "%s: cannot start gzip decoding",
				 spec);
			return -ENOMEM;
		}
		io.read = gz_read;
	}
	pf->stream = fopencookie(pf, "rb", io);
	if (!pf->stream) {
		snprintf(err, errlen, "%s: %s", spec, strerror(errno));
		return -errno;
	}
	setvbuf(pf->stream, NULL, _IOFBF, 1 << 18);
	pf->pcap = pcap_fopen_offline_with_tstamp_precision(
		pf->stream, PCAP_TSTAMP_PRECISION_NANO, perr);
	if (!pf->pcap) {
		/* libpcap closed nothing on failure; the stream is ours. */
		fclose(pf->stream);
		pf->stream = NULL;
		snprintf(err, errlen, "%s: not a pcap or pcapng capture (%s)",
			 spec, perr);
		return -EINVAL;
	}
	pf->linktype = pcap_datalink(pf->pcap);
	return 0;
}

static int pf_next(struct tp_source *s, struct tp_pkt *p, char *err,
		   size_t errlen)
{
	struct pf *pf = s->priv;
	struct pcap_pkthdr *h;
	const u_char *data;

	if (pf->blocks)
		return block_next(s, pf, p, err, errlen);

	int r = pcap_next_ex(pf->pcap, &h, &data);
	if (r == 1) {
		p->data = data;
		p->caplen = h->caplen;
		p->wirelen = h->len < h->caplen ? h->caplen : h->len;
		p->ts_ns = (uint64_t)h->ts.tv_sec * 1000000000ull +
			   (uint64_t)h->ts.tv_usec;
		/* pcapng may change link type per interface. */
		p->linktype = (uint32_t)pcap_datalink(pf->pcap);
		s->frames++;
		return 1;
	}
	if (r == PCAP_ERROR_BREAK)
		return 0;
	snprintf(err, errlen, "%s: corrupt capture after %llu packets: %s",
		 s->spec, (unsigned long long)s->frames,
		 pcap_geterr(pf->pcap));
	return -EINVAL;
}

static void pf_close(struct tp_source *s)
{
	struct pf *pf = s->priv;
	if (!pf)
		return;
	for (unsigned i = 0; i < 2; i++)
		if (pf->buf[i])
			tp_free(pf->buf[i], pf->buf_size[i]);
	if (pf->blocks)
		close(pf->fd);
	if (pf->pcap)
		pcap_close(pf->pcap); /* closes pf->stream */
	else if (pf->stream)
		fclose(pf->stream);
	if (pf->z) {
		inflateEnd(pf->z);
		tp_free(pf->z, sizeof(*pf->z));
	}
	if (pf->zin)
		tp_free(pf->zin, ZIN_SIZE);
	if (pf->raw)
		fclose(pf->raw);
	tp_free(pf, sizeof(*pf));
	s->priv = NULL;
}

const struct tp_source_ops tp_source_pcap_file = {
	.name = "pcap-file",
	.open = pf_open,
	.next = pf_next,
	.close = pf_close,
};
